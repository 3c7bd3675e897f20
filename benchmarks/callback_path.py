"""Measures the STK callback path: the real handler over moto (in-process DynamoDB and EventBridge).

Prints latency percentiles and throughput for first deliveries and for duplicates, and the peak memory
the path allocates. moto is much slower than DynamoDB, so read the figures as relative costs of our
code path (e.g. duplicate vs first delivery), not as production latencies.

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
        "IDEMPOTENCY_TABLE_NAME": "IdempotencyTable",
        "STATE_TABLE_NAME": "StateTable",
        "EVENT_BUS_NAME": "payments-bus",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
        "POWERTOOLS_METRICS_DISABLED": "true",  # keep stdout for the table (EMF goes to stdout)
        "POWERTOOLS_SERVICE_NAME": "bench",
    }
    os.environ.update(env)
    from moto import mock_aws

    from tests.support.stack import MOTO_CONFIG, EventTap, create_tables

    with mock_aws(config=MOTO_CONFIG):
        create_tables()
        EventTap.install()
        run(args.payments)


def run(payments: int) -> None:
    import logging
    from datetime import timedelta

    from functions.stk_callback import app
    from mpesa import runtime
    from mpesa.clock import now_utc
    from mpesa.edge.signed_urls import sign
    from mpesa.flows.stk import transaction_id_for
    from mpesa.records import Kind, NewRecord, Ref
    from tests.support.apigw import Context, http_event

    logging.getLogger("mpesa").setLevel(logging.ERROR)
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

    app.handler(events[0], Context())  # warm-up: imports, clients
    rows = []
    for label, batch in (("first delivery", events[1:]), ("duplicate", events[1:])):
        timings = []
        started = time.perf_counter()
        for event in batch:
            t0 = time.perf_counter()
            response = app.handler(event, Context())
            timings.append(time.perf_counter() - t0)
            assert response["statusCode"] == 200
        elapsed = time.perf_counter() - started
        rows.append((label, len(batch), timings, elapsed))
    # Memory in a separate pass (tracemalloc slows everything it watches): one more duplicate each.
    tracemalloc.start()
    baseline, _ = tracemalloc.get_traced_memory()
    for event in events[1:]:
        app.handler(event, Context())
    current, peak = tracemalloc.get_traced_memory()
    if os.environ.get("BENCH_TOP"):
        for stat in tracemalloc.take_snapshot().statistics("filename")[:8]:
            print(stat)
    tracemalloc.stop()

    print(f"{'case':<16}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}{'per s':>10}")
    for label, n, timings, elapsed in rows:
        ordered = sorted(timings)
        p95 = ordered[int(0.95 * (len(ordered) - 1))]
        print(
            f"{label:<16}{n:>6}{statistics.median(ordered) * 1e3:>10.2f}{p95 * 1e3:>10.2f}"
            f"{ordered[-1] * 1e3:>10.2f}{n / elapsed:>10.1f}"
        )
    print(
        f"memory over {len(events) - 1} more deliveries: peak {(peak - baseline) / 1024:.0f} KiB above the start, "
        f"{(current - baseline) / 1024:.0f} KiB retained (mostly moto's DynamoDB model; BENCH_TOP=1 lists)"
    )


if __name__ == "__main__":
    main()
