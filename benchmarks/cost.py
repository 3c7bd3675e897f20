"""AWS cost per 1M payments, measured: each flow driven through the real handlers in one process (moto,
the Daraja simulator over loopback, both timeout state machines run by moto's interpreter), every AWS
call counted through botocore hooks, DynamoDB's request units computed from the items each write
touched, priced at the list prices of benchmarks/prices.py (aws-prices.md). After each scenario's
payments the scheduled sweep runs once, as it does every minute: it checks each payment whose wait is
over (its share of that run is counted per payment), and starts a timeout flow only for one still
pending.

    .venv/bin/python -m benchmarks.cost [--payments 20] [--scenario callback ...]   (from the repo root)

Scenarios (one warm-up payment first, not counted, so the figures are those of warm containers):
  callback   STK Push settled by its callback: push, the customer pays, the callback; the sweep's pass
             reads it once (settled: nothing more)
  query      STK Push settled by query: the callback is lost; the sweep's check queries M-Pesa once
  duplicate  the same callback delivered a second time (per duplicate delivery)
  status     one GET /v1/payments/{id} by the merchant (per read: add as many as your client polls)
  payout     a B2C payout settled by its Result; the sweep's pass reads it once
  c2b        a Pay Bill payment: Daraja's validation request, then its confirmation (the URLs registered
             once, with external validation on)
See docs/cost.md for what is counted and how.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "mpesa"))  # the layer, as on Lambda

from benchmarks import costing, prices
from benchmarks.costing import Execution, ScenarioRun
from benchmarks.inprocess import FUNCTIONS, Stack, memory_mb, running_stack, wait_until

SCENARIOS = ("callback", "query", "duplicate", "status", "payout", "c2b")
TITLES = {
    "callback": "STK payment settled by callback",
    "query": "STK payment settled by query (callback lost)",
    "duplicate": "duplicate STK callback (the second delivery)",
    "status": "status read (GET /v1/payments/{id})",
    "payout": "B2C payout settled by its Result",
    "c2b": "C2B Pay Bill payment (validation and confirmation)",
}
PER = {
    "callback": "payment",
    "query": "payment",
    "duplicate": "duplicate",
    "status": "read",
    "payout": "payout",
    "c2b": "payment",
}
QUIET_PHONE = "254712345678"  # the simulator's customer who pays only when told to (accept_prompt)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=20, help="payments (or deliveries, reads) per scenario")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS, help="repeatable; default: all")
    parser.add_argument("--xray-sampled", type=float, default=costing.XRAY_SAMPLED, help="share of traces recorded")
    args = parser.parse_args(argv)
    chosen = args.scenario or list(SCENARIOS)
    if "duplicate" in chosen or "status" in chosen:  # both replay payments settled by callback
        chosen = ["callback", *[s for s in chosen if s != "callback"]]
    started = time.perf_counter()
    with running_stack() as stack:
        out: TextIO = stack.report
        runs: dict[str, ScenarioRun] = {}
        first_payment: ScenarioRun | None = None
        settled: list[str] = []
        for name in chosen:
            run, cold, ids = SCENARIO_RUNNERS[name](stack, args.payments, settled)
            if name == "callback":
                settled = ids
            first_payment = first_payment or cold
            runs[name] = run
        if stack.meter.errors:
            print(f"the meter failed {len(stack.meter.errors)} times; figures not trusted:", file=out)
            for error in stack.meter.errors[:10]:
                print(f"  {error}", file=out)
            return 1
        report(out, runs, first_payment, args.xray_sampled, time.perf_counter() - started)
    return 0


# --- scenarios ---------------------------------------------------------------------------------------


def stk_payment(stack: Stack, *, by: str) -> str:
    """One STK payment the customer pays, its callback delivered (`by` "callback") or lost ("query")."""
    from tests.support.stack import accept_prompt
    from tests.support.stk import body_for, push

    stack.simulator.configure(callback_mode="normal" if by == "callback" else "drop")
    code, accepted = push(stack.handlers, body_for(phone=QUIET_PHONE))
    if code != 202:
        raise RuntimeError(f"push answered {code}: {accepted}")
    txn = str(accepted["transaction_id"])
    accept_prompt(stack.simulator, accepted["checkout_request_id"])  # the customer pays now
    if by == "callback":
        wait_until(lambda: (stack.item(txn) or {}).get("settled_by"), "the callback to settle the payment")
    stack.quiesce()  # its invocation has ended: no two handlers ever run at once (they share Powertools' metrics)
    return txn


def checked_by_sweep(stack: Stack, ids: list[str], *, by: str) -> list[Execution]:
    """The sweep's run after the payments' wait: it checks each once (a lost callback: one query), and
    starts a timeout flow only for one still pending (none here); every payment ends SUCCESS by `by`."""
    counts = stack.sweep()
    executions = [Execution.from_history(stack.history(flow, name)) for flow, name in stack.started_flows(ids)]
    for txn in ids:
        item = stack.item(txn) or {}
        if (item.get("status"), item.get("settled_by")) != ("SUCCESS", by):
            raise RuntimeError(f"{txn} ended {item.get('status')} by {item.get('settled_by')} (sweep: {counts})")
    return executions


def run_stk(by: str) -> Callable[[Stack, int, list[str]], tuple[ScenarioRun, ScenarioRun, list[str]]]:
    settled_by = "callback" if by == "callback" else "query"

    def runner(stack: Stack, payments: int, _settled: list[str]) -> tuple[ScenarioRun, ScenarioRun, list[str]]:
        warm_up = [stk_payment(stack, by=by)]
        cold = ScenarioRun("first", 1, stack.meter.take(), checked_by_sweep(stack, warm_up, by=settled_by))
        stack.meter.take()  # the warm-up's sweep: not counted
        ids = [stk_payment(stack, by=by) for _n in range(payments)]
        executions = checked_by_sweep(stack, ids, by=settled_by)
        return ScenarioRun(by, payments, stack.meter.take(), executions), cold, ids

    return runner


def run_duplicate(stack: Stack, payments: int, settled: list[str]) -> tuple[ScenarioRun, ScenarioRun, list[str]]:
    from tests.support.apigw import Context

    before = {txn: (stack.item(txn) or {}).get("updated_at") for txn in settled}
    stack.meter.take()
    for txn in settled[:payments]:
        response = stack.handlers["stk_callback"](stack.callbacks[txn], Context())
        if response["statusCode"] != 200:
            raise RuntimeError(f"duplicate callback answered {response['statusCode']}")
    stack.quiesce()
    changed = [txn for txn in settled if (stack.item(txn) or {}).get("updated_at") != before[txn]]
    if changed:
        raise RuntimeError(f"a duplicate callback changed {len(changed)} records")
    run = ScenarioRun("duplicate", len(settled[:payments]), stack.meter.take())
    return run, run, settled


def run_status(stack: Stack, payments: int, settled: list[str]) -> tuple[ScenarioRun, ScenarioRun, list[str]]:
    from tests.support.stk import status

    stack.meter.take()
    for txn in settled[:payments]:
        code, body = status(stack.handlers, txn)
        if code != 200 or body["status"] != "SUCCESS":
            raise RuntimeError(f"status read answered {code}: {body}")
    run = ScenarioRun("status", len(settled[:payments]), stack.meter.take())
    return run, run, settled


def payout(stack: Stack) -> str:
    from tests.support.b2c import pay, payout_body

    stack.simulator.configure(callback_mode="normal", b2c_processing_delay_s=0.2)
    code, accepted = pay(stack.handlers, payout_body())
    if code != 202:
        raise RuntimeError(f"payout answered {code}: {accepted}")
    payout_id = str(accepted["payout_id"])
    wait_until(lambda: (stack.item(payout_id) or {}).get("settled_by"), "the Result to settle the payout")
    stack.quiesce()
    return payout_id


def run_payout(stack: Stack, payments: int, _settled: list[str]) -> tuple[ScenarioRun, ScenarioRun, list[str]]:
    warm_up = [payout(stack)]
    cold = ScenarioRun("first", 1, stack.meter.take(), checked_by_sweep(stack, warm_up, by="callback"))
    stack.meter.take()
    ids = [payout(stack) for _n in range(payments)]
    executions = checked_by_sweep(stack, ids, by="callback")
    return ScenarioRun("payout", payments, stack.meter.take(), executions), cold, ids


def c2b_payment(stack: Stack, delivered: int) -> None:
    """One Pay Bill payment: the simulator asks our validation URL, then confirms; returns once both ran."""
    from mpesa import runtime
    from tests.support.c2b import SHORT_CODE
    from tests.support.stack import control

    with stack.meter.unmetered():  # the customer pays (Daraja's C2B simulate): not our cost
        answer = runtime.daraja().c2b_simulate(
            amount=150, msisdn="254708374149", bill_ref_number="INV001", short_code=SHORT_CODE
        )
    if answer.response_code != "0":
        raise RuntimeError(f"the simulator refused the payment: {answer}")

    def confirmations() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = control(stack.simulator, "GET", "callbacks?kind=c2b_confirmation")
        return [c for c in sent if c.get("response_status") is not None]

    done = wait_until(lambda: len(c := confirmations()) > delivered and c, "the confirmation")
    stack.quiesce()
    if done[-1]["response_status"] != 200:
        raise RuntimeError(f"the confirmation was answered {done[-1]['response_status']}")


def run_c2b(stack: Stack, payments: int, _settled: list[str]) -> tuple[ScenarioRun, ScenarioRun, list[str]]:
    from tests.support.apigw import call_route
    from tests.support.c2b import SHORT_CODE
    from tests.support.stack import control

    code, answer = call_route(stack.handlers["c2b_register"], "POST", "/v1/c2b/register", body={})
    if code != 200:
        raise RuntimeError(f"C2B registration answered {code}: {answer}")
    control(stack.simulator, "PUT", f"c2b/registrations/{SHORT_CODE}", {"external_validation": True})
    c2b_payment(stack, 0)
    cold = ScenarioRun("first", 1, stack.meter.take())
    for n in range(payments):
        c2b_payment(stack, n + 1)
    return ScenarioRun("c2b", payments, stack.meter.take()), cold, []


SCENARIO_RUNNERS: dict[str, Callable[[Stack, int, list[str]], tuple[ScenarioRun, ScenarioRun, list[str]]]] = {
    "callback": run_stk("callback"),
    "query": run_stk("query"),
    "duplicate": run_duplicate,
    "status": run_status,
    "payout": run_payout,
    "c2b": run_c2b,
}


# --- report ------------------------------------------------------------------------------------------


def report(
    out: TextIO, runs: dict[str, ScenarioRun], first: ScenarioRun | None, xray_sampled: float, elapsed: float
) -> None:
    from benchmarks.inprocess import ROOT
    from local.cfn import load_template

    template = load_template(ROOT / "template.yaml")
    log_format = template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]["Format"]
    memory = {logical: memory_mb(logical) for logical, _ in FUNCTIONS.values()}
    totals: dict[str, float] = {}
    for name, run in runs.items():
        lines = costing.bill(run, memory.__getitem__, log_format, xray_sampled)
        totals[name] = costing.total(lines) * 1e6
        print_scenario(out, name, run, lines)
    print_targets(out, runs, totals)
    if first is not None and "callback" in runs:
        print_first_payment(out, first, runs["callback"])
    print(
        f"\nprices: {prices.SOURCE}. Lambda duration model: {costing.BASE_MS:.0f} ms + {costing.AWS_CALL_MS:.0f} ms"
        f" per AWS call + {costing.DARAJA_CALL_MS:.0f} ms per Daraja call, at each function's MemorySize;"
        f" in-process wall time is shown, not totalled.\nlogs: handler output + {costing.PLATFORM_LOG_BYTES} B of"
        f" Lambda platform lines per invocation + one API access log line per request. X-Ray: one trace per API"
        f" request and per execution, {xray_sampled:.0%} recorded (below ~1 request/s the 1/s reservoir records"
        f" all: x{1 / xray_sampled:.0f}). Not per payment: the sweep's idle runs, alarms, dashboard, metrics,"
        f" secret-month, storage. Run took {elapsed:.0f} s.",
        file=out,
    )


def print_scenario(out: TextIO, name: str, run: ScenarioRun, lines: list[costing.Line]) -> None:
    per = PER[name]
    print(f"\n== {TITLES[name]}: {run.payments} {per}s, figures per {per} ==", file=out)
    print(f"{'service':<36}{'calls':>8}{'units':>12} {'unit':<12}{'$ per 1M':>10}{'share':>7}", file=out)
    total = costing.total(lines)
    for line in lines:
        share = f"{line.dollars / total:>6.0%}" if line.in_total and total else "     -"
        mark = "" if line.in_total else " *"
        print(
            f"{line.service + mark:<36}{line.calls:>8.2f}{_num(line.units):>12} {line.unit:<12}"
            f"{line.per_million:>10.2f}{share:>7}",
            file=out,
        )
    print(f"{'total':<36}{'':>8}{'':>12} {'':<12}{total * 1e6:>10.2f}", file=out)
    if run.executions:
        paths = Counter(" > ".join(e.states_entered) for e in run.executions)
        for path, count in paths.most_common():
            print(f"  flow path x{count}: {path}", file=out)
    print(
        f"  {'function':<24}{'invocations':>12}{'AWS calls':>10}{'Daraja':>8}{'wall ms':>9}{'model ms':>9}{'log B':>8}",
        file=out,
    )
    for row in costing.by_function(run):
        print(
            f"  {row.function:<24}{row.invocations:>12.2f}{row.aws_calls:>10.2f}{row.daraja_calls:>8.2f}"
            f"{row.median_ms:>9.1f}{row.model_ms:>9.0f}{row.log_bytes:>8.0f}",
            file=out,
        )
    print(f"  {'AWS call (per ' + per + ')':<62}{'calls':>7}{'WRU':>6}{'GSI WRU':>9}{'RRU':>6}", file=out)
    for call in costing.by_call(run):
        what = f"{call.function} {call.service}.{call.operation} {call.table}".strip()
        gsi = sum(call.index_wru.values())
        detail = ", ".join(f"{k} {v:.2g}" for k, v in sorted(call.index_wru.items()))
        print(
            f"  {what:<62}{call.calls:>7.2f}{call.wru:>6.2f}{gsi:>9.2f}{call.rru:>6.2f}"
            + (f"  ({detail})" if detail else ""),
            file=out,
        )


def print_targets(out: TextIO, runs: dict[str, ScenarioRun], totals: dict[str, float]) -> None:
    print("\n== targets ==", file=out)
    if "callback" in totals:
        value = totals["callback"]
        print(f"≤ $15 per 1M STK payments settled by callback: {_yes(value <= 15)} ({value:.2f})", file=out)
        wru = costing.write_units_per_payment(runs["callback"])
        print(f"write units per STK payment settled by callback: {wru:.1f} (target ≤ 6): {_yes(wru <= 6)}", file=out)
    if "query" in totals:
        value = totals["query"]
        print(f"≤ $25 per 1M STK payments settled by query: {_yes(value <= 25)} ({value:.2f})", file=out)


def print_first_payment(out: TextIO, first: ScenarioRun, steady: ScenarioRun) -> None:
    """What the first payment of a fresh process (cold containers) asked for beyond a warm one."""
    cold = Counter(
        f"{c.function} {c.service}.{c.operation} {c.table or ''}".strip() for i in first.invocations for c in i.calls
    )
    warm = Counter(
        f"{c.function} {c.service}.{c.operation} {c.table or ''}".strip() for i in steady.invocations for c in i.calls
    )
    extra = {k: v - warm.get(k, 0) / steady.payments for k, v in cold.items()}
    extra = {k: v for k, v in extra.items() if v >= 0.5}
    print("\n== once per cold process (the warm-up payment, beyond a warm one; not in the totals) ==", file=out)
    for what, count in sorted(extra.items(), key=lambda kv: -kv[1]):
        print(f"  {count:>5.1f}  {what}", file=out)
    if not extra:
        print("  nothing", file=out)


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 1000 else f"{value:.2f}" if value < 100 else f"{value:.1f}"


def _yes(ok: bool) -> str:
    return "yes" if ok else "no"


if __name__ == "__main__":
    raise SystemExit(main())
