"""Measures the STK callback path: the real handler over moto (in-process DynamoDB and EventBridge).

Prints latency percentiles and throughput for first deliveries and for duplicates, the log bytes each
writes, and the peak memory the path allocates. moto is much slower than DynamoDB, so read the figures as
relative costs of our code path (e.g. duplicate vs first delivery), not as production latencies.

Logging and metrics run as deployed (INFO, EMF metrics on), so their cost is in the timings; what the
handler prints (JSON log lines, EMF documents) is counted per delivery and kept out of the table
(benchmarks.meter.CountingStream). No botocore hooks are installed: nothing but the handler is timed.

    .venv/bin/python -m benchmarks.callback_path [--payments 300]    (from the repository root)
"""

import argparse
import os
import secrets
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "mpesa"))  # the layer, as on Lambda

import moto  # noqa: F401  (before any boto3 client)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payments", type=int, default=300)
    args = parser.parse_args()
    env = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MMO_MPESA_CONSUMER_KEY": "k",
        "MMO_MPESA_CONSUMER_SECRET": "s",
        "MMO_MPESA_BUSINESS_SHORT_CODE": "174379",
        "MMO_MPESA_PASSKEY": "p",
        "MPESA_CALLBACK_SECRET": secrets.token_hex(24),
        "MPESA_CALLBACK_ALLOWED_IPS": "127.0.0.1",
        "TRANSACTIONS_TABLE_NAME": "TransactionsTable",
        "STATE_TABLE_NAME": "StateTable",
        "EVENT_BUS_NAME": "payments-bus",
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
        "POWERTOOLS_LOG_LEVEL": "INFO",  # as deployed (the template's LogLevel default)
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
        "POWERTOOLS_METRICS_DISABLED": "false",  # as deployed: EMF lines are counted, not shown
        "POWERTOOLS_SERVICE_NAME": "bench",
    }
    os.environ.update(env)
    from moto import mock_aws

    from benchmarks.meter import Meter, counting_streams
    from tests.support.stack import MOTO_CONFIG, EventTap, create_tables

    meter = Meter({})  # not installed: used for its handler wrapper and output counting only
    # The streams are replaced before the handler module is imported: Powertools' Logger keeps the stream it sees.
    with counting_streams(meter) as out, mock_aws(config=MOTO_CONFIG):
        create_tables()
        EventTap.install()
        run(args.payments, meter, out)


def run(payments: int, meter: Any, out: TextIO) -> None:
    from datetime import timedelta

    from functions.stk_callback import app
    from mpesa import runtime
    from mpesa.clock import now_utc
    from mpesa.edge.signed_urls import sign
    from mpesa.flows.stk import transaction_id_for
    from mpesa.records import Kind, NewRecord, Ref
    from tests.support.apigw import Context, http_event

    handler = meter.handler("StkCallbackFunction", app.handler, "api")
    store = runtime.store()
    secret = runtime.settings().callback_secret
    assert secret is not None
    events = []
    for n in range(payments):
        txn_id = transaction_id_for(f"bench\n{n}")
        store.create_pending(
            NewRecord(
                kind=Kind.STK,
                transaction_id=txn_id,
                country="KE",
                currency="KES",
                amount=100,
                msisdn="254712345678",
                details={"account_reference": "BENCH", "transaction_desc": "Bench"},
                next_check_at=now_utc() + timedelta(minutes=10),
            )
        )
        cid = f"ws_CO_bench{n:08d}"
        store.attach_refs(txn_id, {Ref.CHECKOUT_REQUEST_ID: cid, Ref.MERCHANT_REQUEST_ID: f"m-{n}"})
        body = {
            "Body": {
                "stkCallback": {
                    "MerchantRequestID": f"m-{n}",
                    "CheckoutRequestID": cid,
                    "ResultCode": 0,
                    "ResultDesc": "ok",
                    "CallbackMetadata": {
                        "Item": [
                            {"Name": "Amount", "Value": 100},
                            {"Name": "MpesaReceiptNumber", "Value": f"B{n:09d}"},
                            {"Name": "TransactionDate", "Value": 20261126102115},
                            {"Name": "PhoneNumber", "Value": 254712345678},
                        ]
                    },
                }
            }
        }
        path = f"/v1/hooks/stk/{txn_id}/{sign(secret.get_secret_value(), 'stk', txn_id)}"
        events.append(http_event("POST", path, route="/v1/hooks/stk/{transaction_id}/{signature}", body=body))

    handler(events[0], Context())  # warm-up: imports, clients
    meter.take()
    rows = []
    for label, batch in (("first delivery", events[1:]), ("duplicate", events[1:])):
        timings = []
        started = time.perf_counter()
        for event in batch:
            t0 = time.perf_counter()
            response = handler(event, Context())
            timings.append(time.perf_counter() - t0)
            assert response["statusCode"] == 200
        elapsed = time.perf_counter() - started
        log_bytes = sum(i.log_bytes for i in meter.take()) / len(batch)
        rows.append((label, len(batch), timings, elapsed, log_bytes))
    # Memory in a separate pass (tracemalloc slows everything it watches): one more duplicate each.
    tracemalloc.start()
    baseline, _ = tracemalloc.get_traced_memory()
    for event in events[1:]:
        handler(event, Context())
    current, peak = tracemalloc.get_traced_memory()
    if os.environ.get("BENCH_TOP"):
        for stat in tracemalloc.take_snapshot().statistics("filename")[:8]:
            print(stat, file=out)
    tracemalloc.stop()

    print(f"{'case':<16}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}{'per s':>10}{'log B':>8}", file=out)
    for label, n, timings, elapsed, log_bytes in rows:
        ordered = sorted(timings)
        p95 = ordered[int(0.95 * (len(ordered) - 1))]
        print(
            f"{label:<16}{n:>6}{statistics.median(ordered) * 1e3:>10.2f}{p95 * 1e3:>10.2f}"
            f"{ordered[-1] * 1e3:>10.2f}{n / elapsed:>10.1f}{log_bytes:>8.0f}",
            file=out,
        )
    print(
        f"memory over {len(events) - 1} more deliveries: peak {(peak - baseline) / 1024:.0f} KiB above the start, "
        f"{(current - baseline) / 1024:.0f} KiB retained (mostly moto's DynamoDB model; BENCH_TOP=1 lists)",
        file=out,
    )


if __name__ == "__main__":
    main()
