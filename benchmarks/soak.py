"""A fault soak of the local stack: STK payments, B2C payouts and C2B receipts under Daraja's faults, checked
against the simulator's own truth (issue 16).

Each record has its own customer (a distinct MSISDN), scripted on the simulator to pay, enter a wrong PIN,
cancel, let the prompt expire, ...; payouts end in success, failure or a queue timeout. The records go in
rounds; each round has a theme (faults on one Daraja endpoint, or callbacks dropped, duplicated, reordered,
delayed, oddly shaped, ...) and random faults and callback-mode flips are sprinkled on top. Then the soak
clears the faults, waits for the timeout flows, runs the sweep, asks about what is still UNKNOWN, runs the
reconciliation, and checks the invariants (benchmarks/soak_checks.py). It prints a figures table and every
violation with the sequence that produced it, and exits 1 on any violation.

    .venv/bin/python -m benchmarks.soak --records 1000 --seed 7          (from the repository root)
    .venv/bin/python -m benchmarks.soak --short                          (about 60 records, what `make test` runs)
    .venv/bin/python -m benchmarks.soak --api URL --simulator URL --aws URL --events-log PATH   (a running `make run`)

`--seed` fixes the plan: who does what, the amounts, the themes and the faults. Threads interleave as they
will, so two runs with one seed see the same faults but not always on the same records.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import re
import sys
import tempfile
import threading
import time
import urllib.error
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks.soak_checks import (
    B2C,
    B2C_PATH,
    C2B,
    FINAL,
    ID_FIELDS,
    KINDS,
    NOT_SENT,
    PUSH,
    QUERY,
    STATUS,
    STK,
    Answer,
    Observed,
    Planned,
    Truth,
    Verdict,
    check,
    mask,
    record_status,
)
from tests.local.process import REPO_ROOT, StackProcess, http

NAIROBI = ZoneInfo("Africa/Nairobi")
OAUTH = "/oauth/v1/generate"
BALANCE = "/mpesa/accountbalance/v1/query"
REGISTER = "/mpesa/c2b/v2/registerurl"
PULL = "/pulltransactions/v1/query"
RESULT_PATHS = {B2C_PATH, STATUS, BALANCE}
WRONG_ID_PATHS = {QUERY, B2C_PATH, STATUS}
TRAFFIC_PATHS = (PUSH, QUERY, B2C_PATH, STATUS)  # what records hit on their own: random faults go there
SHORT_CODE = "174379"  # the simulator's paybill, where the local stack registers its C2B URLs

# The stack this soak starts: short timeout flows and a short read timeout, so faults cost seconds.
STK_WAIT, STK_INTERVAL, STK_ATTEMPTS = 4, 2, 5
B2C_WAIT, B2C_INTERVAL, B2C_QUERIES = 4, 2, 5
READ_TIMEOUT_S = 5
# The flows retry a Daraja outage at +10, +20, +40 s (statemachines/*.asl.json): the slowest flow's end.
FLOW_RETRY_SLACK_S = 75
STACK_ENV = {
    "LOCAL_ENV_STK_TIMEOUT_WAIT_SECONDS": str(STK_WAIT),
    "LOCAL_ENV_STK_QUERY_INTERVAL_SECONDS": str(STK_INTERVAL),
    "LOCAL_ENV_STK_QUERY_MAX_ATTEMPTS": str(STK_ATTEMPTS),
    "LOCAL_ENV_B2C_RESULT_WAIT_SECONDS": str(B2C_WAIT),
    "LOCAL_ENV_B2C_STATUS_INTERVAL_SECONDS": str(B2C_INTERVAL),
    "LOCAL_ENV_B2C_STATUS_MAX_QUERIES": str(B2C_QUERIES),
    "LOCAL_ENV_MPESA_READ_TIMEOUT_S": str(READ_TIMEOUT_S),
    "LOCAL_ENV_POWERTOOLS_LOG_LEVEL": "WARNING",
    "SIMULATOR_AUTO_ACT_DELAY_S": "0.3",
    "SIMULATOR_CALLBACK_DELAY_S": "0.1",
    "SIMULATOR_B2C_PROCESSING_DELAY_S": "0.3",
    "SIMULATOR_OUT_OF_ORDER_MAX_HOLD_S": "2",
}
# Simulator settings a theme may change; each round puts them back as they were at the start.
RESTORED_CONFIG = (
    "callback_mode",
    "duplicate_count",
    "callback_delay_s",
    "callback_shape",
    "result_code_as_string",
    "stk_also_confirms_c2b",
)

STK_ACTIONS = {  # planned action: (weight, the simulator's script, delay range in seconds)
    "pay": (40, "pay", (0.2, 1.5)),
    "pay_late": (10, "pay", (STK_WAIT + 0.5, STK_WAIT + 2 * STK_INTERVAL + 1)),  # after the flow's first query
    "wrong_pin": (10, "wrong_pin", (0.2, 1.5)),
    "cancel": (12, "cancel", (0.2, 1.5)),
    "expire": (12, "expire", (1.0, 3.0)),
    "insufficient_funds": (8, "insufficient_funds", (0.2, 1.5)),
    "unreachable": (8, "unreachable", (0.2, 1.0)),
}
B2C_ACTIONS = {
    "success": (45, "success", (0.1, 1.0)),
    "success_slow": (10, "success", (B2C_WAIT + 0.5, B2C_WAIT + 2.5)),  # still queued at the first status query
    "fail": (15, "fail", (0.1, 1.0)),
    "queue_timeout": (12, "queue_timeout", (0.1, 1.0)),
    "queue_timeout_paid": (18, "queue_timeout_paid", (0.1, 1.0)),
}
C2B_ACTIONS = {"paybill": (80, "paybill", (0.0, 0.0)), "buygoods": (20, "buygoods", (0.0, 0.0))}
ACTIONS = {STK: STK_ACTIONS, B2C: B2C_ACTIONS, C2B: C2B_ACTIONS}


# --- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    path: str
    spec: Mapping[str, Any]

    @property
    def label(self) -> str:
        spec = self.spec
        kind = str(spec["kind"])
        extra = {
            "status": str(spec.get("status", "")),
            "slow": f"{spec.get('delay_s')}s",
            "queue_timeout": ("paid" if spec.get("after_processing") else "")
            + ("+result" if spec.get("late_result") else ""),
            "wrong_id": str(spec.get("id_field", "")),
        }.get(kind, "after" if spec.get("after_processing") else "before")
        return f"{kind}:{extra}" if extra else kind


@dataclass(frozen=True)
class Theme:
    name: str
    paths: tuple[str, ...] = ()  # endpoints whose faults the round injects
    config: Mapping[str, Any] = field(default_factory=dict)  # simulator config for the round
    favours: str | None = None  # the flow most of the round's records belong to
    revoke_tokens: bool = False
    side_calls: tuple[str, ...] = ()  # "balance", "register": API calls that reach the themed endpoints
    external_validation: bool = False
    per_path: int | None = None  # faults per endpoint and round (None: the endpoint's menu over the theme's rounds)


def themes(stk_wait: int) -> list[Theme]:
    return [
        Theme("clean"),
        Theme("STK push faults", (PUSH,), favours=STK),
        Theme("callbacks dropped", config={"callback_mode": "drop"}),
        Theme("B2C faults", (B2C_PATH,), favours=B2C),
        Theme("callbacks duplicated", config={"callback_mode": "duplicate", "duplicate_count": 3}),
        Theme("STK query faults", (QUERY,), config={"callback_mode": "drop"}, favours=STK),
        Theme("callbacks reordered", config={"callback_mode": "out_of_order"}),
        Theme("Transaction Status faults", (STATUS,), config={"callback_mode": "drop"}, favours=B2C),
        Theme("callbacks delayed past the timeout flow's wait", config={"callback_delay_s": stk_wait + 3}),
        Theme("token faults (tokens revoked)", (OAUTH,), revoke_tokens=True),
        Theme("callbacks in odd shapes", config={"callback_shape": "random", "result_code_as_string": True}),
        Theme("balance and C2B register faults", (BALANCE, REGISTER), side_calls=("balance", "register"), favours=C2B),
        Theme("C2B external validation", favours=C2B, external_validation=True),
        Theme("STK payments also confirmed as C2B", config={"stk_also_confirms_c2b": True}, favours=STK),
        Theme(
            "mixed",
            (PUSH, QUERY, B2C_PATH, STATUS),
            config={"callback_mode": "duplicate", "duplicate_count": 2},
            per_path=2,
        ),
    ]


def fault_menu(path: str) -> list[Fault]:
    """Every fault kind the simulator supports that applies to `path`."""
    specs: list[dict[str, Any]] = [{"kind": "status", "status": s} for s in (400, 401, 429, 500, 502, 503, 504)]
    specs += [
        {"kind": "slow", "delay_s": READ_TIMEOUT_S + 1},
        {"kind": "malformed", "after_processing": False},
        {"kind": "malformed", "after_processing": True},
        {"kind": "disconnect", "after_processing": False},
        {"kind": "disconnect", "after_processing": True},
    ]
    if path in RESULT_PATHS:
        specs += [
            {"kind": "queue_timeout"},
            {"kind": "queue_timeout", "after_processing": True},
            {"kind": "queue_timeout", "after_processing": True, "late_result": True},
        ]
    if path in WRONG_ID_PATHS:
        specs.append({"kind": "wrong_id"})
        if path != QUERY:
            specs += [{"kind": "wrong_id", "id_field": "conversation_id"}, {"kind": "wrong_id", "id_field": "both"}]
    return [Fault(path, spec) for spec in specs]


@dataclass
class Round:
    index: int
    theme: Theme
    records: list[Planned]
    faults: list[Fault]  # injected when the round starts (endpoints records do not reach by themselves)
    before: dict[str, list[Fault]]  # by record name: faults injected just before it (themed, then random)
    flips: dict[str, str]  # by record name: a callback mode flipped just before it


@dataclass
class Plan:
    run_salt: int
    rounds: list[Round]

    @property
    def records(self) -> list[Planned]:
        return [record for round_ in self.rounds for record in round_.records]


def make_plan(counts: Mapping[str, int], rounds: int, seed: int, *, fault_rate: float, flip_rate: float) -> Plan:
    rng = random.Random(seed)
    salt = rng.randrange(100)
    records: dict[str, list[Planned]] = {}
    for kind_code, kind in enumerate(KINDS, 1):
        records[kind] = [_planned(kind, kind_code, i, salt, rng) for i in range(counts.get(kind, 0))]
    menu = themes(STK_WAIT)
    occurrences = Counter(menu[r % len(menu)].name for r in range(rounds))
    cursors: dict[str, int] = defaultdict(int)
    total = sum(counts.values())
    plan_rounds: list[Round] = []
    for r in range(rounds):
        theme = menu[r % len(menu)]
        size = total // rounds + (1 if r < total % rounds else 0)
        chosen = _take(records, size, theme.favours, rng)
        for record in chosen:
            record.round = r
        themed: list[Fault] = []
        for path in theme.paths:
            # Over the theme's rounds, every fault the endpoint can get, each once at least.
            variants = fault_menu(path)
            share = theme.per_path or math.ceil(len(variants) / occurrences[theme.name])
            for _ in range(share):
                themed.append(variants[cursors[path] % len(variants)])
                cursors[path] += 1
        at_start = [f for f in themed if f.path not in TRAFFIC_PATHS or not chosen]
        spread = [f for f in themed if f not in at_start]
        before: dict[str, list[Fault]] = defaultdict(list)
        for i, fault in enumerate(spread):  # spread over the round, not one burst that only opens the breaker
            before[chosen[i * len(chosen) // len(spread)].name].append(fault)
        flips: dict[str, str] = {}
        for record in chosen:
            if rng.random() < fault_rate:
                before[record.name].append(rng.choice([f for p in TRAFFIC_PATHS for f in fault_menu(p)]))
            elif not theme.config and rng.random() < flip_rate:
                flips[record.name] = rng.choice(["drop", "duplicate", "out_of_order"])
        plan_rounds.append(Round(r, theme, chosen, at_start, dict(before), flips))
    return Plan(salt, plan_rounds)


def _planned(kind: str, kind_code: int, index: int, salt: int, rng: random.Random) -> Planned:
    actions = ACTIONS[kind]
    action = rng.choices(list(actions), weights=[w for w, _, _ in actions.values()])[0]
    low, high = actions[action][2]
    amount = rng.randint(10, 500) if kind == B2C else rng.randint(1, 999)
    replay = ""
    if kind != C2B:
        roll = rng.random()
        replay = "sequential" if roll < 0.06 else "concurrent" if roll < 0.10 else ""
    return Planned(
        kind=kind,
        index=index,
        msisdn=f"2547{kind_code}{salt:02d}{index:05d}",  # one customer per record
        amount=amount,
        action=action,
        delay_s=round(rng.uniform(low, high), 2),
        key=f"soak-{salt:02d}-{kind}-{index:05d}",
        reference=f"SK{kind_code}{index:05d}" if kind != C2B else f"SOAK-{salt:02d}-{index:05d}",
        round=0,
        replay=replay,
    )


def _take(records: dict[str, list[Planned]], size: int, favours: str | None, rng: random.Random) -> list[Planned]:
    """`size` records for a round: two thirds of the favoured flow where it has some, the rest by turns."""
    chosen: list[Planned] = []
    if favours is not None:
        for _ in range(min(len(records[favours]), (2 * size) // 3)):
            chosen.append(records[favours].pop(0))
    kinds = [kind for kind in KINDS if records[kind]]
    while len(chosen) < size and kinds:
        kind = kinds[len(chosen) % len(kinds)]
        chosen.append(records[kind].pop(0))
        kinds = [kind for kind in KINDS if records[kind]]
    rng.shuffle(chosen)
    return chosen


# --- talking to the stack ----------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def now(self) -> float:
        return round(time.monotonic() - self.start, 2)


def call(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 60
) -> tuple[int, Any]:
    """(status, JSON or text); a connection that failed is status 0 with the error."""
    try:
        return http(method, url, body, headers, timeout=timeout)
    except (urllib.error.URLError, OSError) as exc:
        return 0, f"{type(exc).__name__}: {exc}"


@dataclass
class Timeline:
    clock: Clock
    entries: list[tuple[float, float, str]] = field(default_factory=list)  # (soak seconds, epoch, what)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, what: str) -> None:
        with self.lock:
            self.entries.append((self.clock.now(), time.time(), what))


class Simulator:
    def __init__(self, url: str, timeline: Timeline) -> None:
        self.url = url
        self.timeline = timeline

    def control(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = call(method, f"{self.url}/simulator{path}", body)
        if not 200 <= status < 300:
            raise RuntimeError(f"simulator {method} {path}: {status} {answer}")
        return answer

    def inject(self, fault: Fault, why: str) -> None:
        created = self.control("POST", "/faults", {"path": fault.path, "count": 1, **fault.spec})
        self.timeline.add(f"fault #{created['id']} {fault.label} on {fault.path} ({why})")

    def configure(self, changes: Mapping[str, Any], why: str) -> None:
        if changes:
            self.control("PATCH", "/config", dict(changes))
            self.timeline.add(f"simulator {json.dumps(dict(changes), sort_keys=True)} ({why})")

    def leftover_faults(self) -> list[dict[str, Any]]:
        pending: list[dict[str, Any]] = self.control("GET", "/faults")
        self.control("DELETE", "/faults")
        return pending


@dataclass
class Endpoints:
    api: str
    simulator: str
    aws: str | None
    events_log: Path
    pid: int | None
    stack_log: Path | None = None  # its console, to tell the local stack's crashes from the product's

    def stack_log_text(self) -> str | None:
        return self.stack_log.read_text(encoding="utf-8", errors="replace") if self.stack_log else None


# --- driving the records -----------------------------------------------------------------------


class Driver:
    def __init__(self, ends: Endpoints, sim: Simulator, clock: Clock, timeline: Timeline) -> None:
        self.ends = ends
        self.sim = sim
        self.clock = clock
        self.timeline = timeline
        self.side_answers: list[Answer] = []

    def run(self, seen: Observed) -> None:
        plan = seen.plan
        if plan.kind == C2B:
            self._pay_bill(seen)
            return
        script = {"stk": STK_ACTIONS[plan.action][1]} if plan.kind == STK else {"b2c": B2C_ACTIONS[plan.action][1]}
        self.sim.control("PUT", f"/customers/{plan.msisdn}", {**script, "delay_s": plan.delay_s})
        if plan.replay == "concurrent":
            threads = [threading.Thread(target=self._initiate, args=(seen, what)) for what in ("push", "concurrent")]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        else:
            self._initiate(seen, "push")
        for attempt in range(3):  # "503: retry with the same key" (README), as a caller would
            last = seen.answers[-1]
            if last.status != 503 or not isinstance(last.body, dict) or not last.body.get("retryable", True):
                break
            time.sleep(0.5 * (attempt + 1))
            self._initiate(seen, "retry")
        if plan.replay == "sequential":
            self._initiate(seen, "replay")

    def _initiate(self, seen: Observed, what: str) -> None:
        plan = seen.plan
        if plan.kind == STK:
            path = "/v1/payments/stk-push"
            body: dict[str, Any] = {
                "phone_number": plan.msisdn,
                "amount": str(plan.amount),
                "account_reference": plan.reference,
                "transaction_desc": "Soak",
            }
        else:
            path = "/v1/payouts"
            body = {
                "phone_number": plan.msisdn,
                "amount": str(plan.amount),
                "command_id": "BusinessPayment",
                "remarks": f"Soak payout {plan.index}",
            }
        status, answer = call("POST", f"{self.ends.api}{path}", body, {"Idempotency-Key": plan.key})
        seen.answers.append(Answer(what, status, answer, self.clock.now()))
        if isinstance(answer, dict) and answer.get(ID_FIELDS[plan.kind]):
            seen.record_id = str(answer[ID_FIELDS[plan.kind]])

    def _pay_bill(self, seen: Observed) -> None:
        plan = seen.plan
        body = {
            "type": plan.action,
            "msisdn": plan.msisdn,
            "shortcode": SHORT_CODE,
            "amount": str(plan.amount),
            "pin": "1234",
        }
        if plan.action == "paybill":
            body["account"] = plan.reference
        status, answer = call("POST", f"{self.sim.url}/simulator/phone/paybill", body)
        seen.answers.append(Answer("paybill", status, answer, self.clock.now()))
        if status == 200 and isinstance(answer, dict):
            seen.c2b_answer = answer
            if answer.get("status") == "completed" and answer.get("receipt"):
                seen.record_id = str(answer["receipt"])

    def side_call(self, which: str) -> None:
        path = {"balance": "/v1/balance", "register": "/v1/c2b/register"}[which]
        status, answer = call("POST", f"{self.ends.api}{path}", {})
        self.side_answers.append(Answer(which, status, answer, self.clock.now()))


def run_rounds(
    plan: Plan,
    driver: Driver,
    sim: Simulator,
    concurrency: int,
    baseline: Mapping[str, Any],
    log: Callable[[str], None],
) -> tuple[list[Observed], list[dict[str, Any]], float]:
    observed = {record.name: Observed(record) for record in plan.records}
    leftovers: list[dict[str, Any]] = []
    waited = 0.0
    dwell = STK_WAIT + STK_INTERVAL + 1  # long enough for the round's timeout flows to ask once
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="soak") as pool:
        for round_ in plan.rounds:
            # A round starts once Daraja calls go through again (a breaker a fault burst opened stays open
            # 60 s, and its 503s would hide the round's theme), before its own faults are queued.
            waited += wait_reachable(driver.ends, sim.timeline, limit_s=75.0)
            started = time.monotonic()
            theme = round_.theme
            sim.timeline.add(f"round {round_.index} begins: {theme.name}")
            sim.configure(theme.config, f"round {round_.index}")
            if theme.external_validation:
                sim.control("PUT", f"/c2b/registrations/{SHORT_CODE}", {"external_validation": True})
                sim.timeline.add("C2B external validation on")
            for fault in round_.faults:
                sim.inject(fault, f"round {round_.index}")
            if theme.revoke_tokens:
                sim.control("POST", "/tokens/revoke")
                sim.timeline.add("tokens revoked")
            for which in theme.side_calls:
                driver.side_call(which)

            flips: list[threading.Timer] = []

            def one(record: Planned, faults: list[Fault], flip: str | None, timers: list[threading.Timer]) -> None:
                for fault in faults:
                    sim.inject(fault, f"before {record.name}")
                if flip is not None:
                    timers.append(flip_callbacks(sim, flip, baseline))
                driver.run(observed[record.name])

            futures = [
                pool.submit(one, record, round_.before.get(record.name, []), round_.flips.get(record.name), flips)
                for record in round_.records
            ]
            for future in futures:
                future.result()
            for timer in flips:  # a flip ends within its round, never inside the next round's theme
                timer.join()
            for which in theme.side_calls:
                driver.side_call(which)
            time.sleep(max(0.0, dwell - (time.monotonic() - started)))
            leftovers += [dict(f, round=round_.index) for f in sim.leftover_faults()]
            sim.configure({k: baseline[k] for k in theme.config}, f"round {round_.index} ends")
            if theme.external_validation:
                sim.control("PUT", f"/c2b/registrations/{SHORT_CODE}", {"external_validation": False})
                sim.timeline.add("C2B external validation off")
            log(
                f"round {round_.index:>3} {theme.name:<48} {len(round_.records):>4} records "
                f"{time.monotonic() - started:6.1f} s"
            )
    return list(observed.values()), leftovers, waited


_flip_lock = threading.Lock()


def flip_callbacks(sim: Simulator, mode: str, baseline: Mapping[str, Any]) -> threading.Timer:
    """Callbacks `mode` for a moment, then back (only in rounds whose theme leaves callbacks alone)."""
    with _flip_lock:
        sim.configure({"callback_mode": mode}, "random flip")
    timer = threading.Timer(1.5, lambda: sim.configure({"callback_mode": baseline["callback_mode"]}, "flip ends"))
    timer.daemon = True
    timer.start()
    return timer


# --- after the rounds: let everything settle, then resolve what can be resolved -------------------


def view_of(ends: Endpoints, seen: Observed) -> dict[str, Any] | None:
    """The record as the API shows it; None only when the API says it does not exist (404). A failed
    read is kept among the record's answers (a 5xx is checked like any other) and the last view stays."""
    if seen.record_id is None:
        return None
    path = {STK: "/v1/payments/", B2C: "/v1/payouts/", C2B: "/v1/c2b/transactions/"}[seen.plan.kind]
    status, body = call("GET", f"{ends.api}{path}{seen.record_id}")
    if status == 200 and isinstance(body, dict):
        return body
    if status == 404:
        return None
    seen.answers.append(Answer("status", status, body, 0.0))
    return seen.view


def refresh(ends: Endpoints, observed: Sequence[Observed], concurrency: int) -> None:
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        views = list(pool.map(lambda seen: view_of(ends, seen), observed))
        for seen, view in zip(observed, views, strict=True):
            seen.view = view
        paid = [s for s in observed if s.plan.kind == STK and s.view and s.view.get("receipt")]
        twins = list(pool.map(lambda seen: twin_of(ends, seen), paid))
    for seen, twin in zip(paid, twins, strict=True):
        seen.twin = twin


def twin_of(ends: Endpoints, seen: Observed) -> dict[str, Any] | None:
    """The C2B record of an STK payment's receipt (Daraja may confirm an STK payment as C2B too)."""
    status, body = call("GET", f"{ends.api}/v1/c2b/transactions/{(seen.view or {}).get('receipt')}")
    return body if status == 200 and isinstance(body, dict) else None


def open_records(observed: Sequence[Observed]) -> list[Observed]:
    return [s for s in observed if s.view is not None and s.plan.kind != C2B and s.view.get("status") == "PENDING"]


def settle(
    ends: Endpoints, observed: Sequence[Observed], concurrency: int, timeout_s: float, log: Callable[[str], None]
) -> None:
    """Wait until no record is PENDING (the timeout flows' work), or `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    refresh(ends, observed, concurrency)
    while open_records(observed) and time.monotonic() < deadline:
        time.sleep(2)
        pending = open_records(observed)
        refresh(ends, pending, concurrency)
    log(f"settled: {len(open_records(observed))} still PENDING")


def run_schedule(ends: Endpoints, target: str, timeline: Timeline) -> Any:
    status, schedules = call("GET", f"{ends.api}/_local/schedules")
    if status != 200:
        raise RuntimeError(f"GET /_local/schedules: {status} {schedules}")
    name = next(s["name"] for s in schedules if s["target"] == target)
    status, answer = call("POST", f"{ends.api}/_local/schedules/{name}/run", timeout=900)
    timeline.add(f"schedule {name} run: {status}")
    return answer


def reconcile(ends: Endpoints, day: date, timeline: Timeline, *, stack_name: str) -> dict[str, Any]:
    """The reconciliation of `day`, as an operator runs it on demand: the function invoked with {"date"}."""
    import boto3
    from botocore.config import Config

    if ends.aws is None:
        raise RuntimeError("--aws is needed to run the reconciliation on demand")
    # The local AWS takes any credentials; these are its documented dummies (docs/local-stack.md).
    session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")  # noqa: S106
    ensure_reports_bucket(session.client("s3", endpoint_url=ends.aws), stack_name, timeline)
    # A day's reconciliation reads the whole statement: let it take the function's own timeout.
    lam = session.client("lambda", endpoint_url=ends.aws, config=Config(read_timeout=900, retries={"max_attempts": 1}))
    answer = lam.invoke(FunctionName="ReconciliationFunction", Payload=json.dumps({"date": day.isoformat()}).encode())
    result: dict[str, Any] = json.loads(answer["Payload"].read() or b"{}")
    timeline.add(f"reconciliation of {day}: {answer.get('FunctionError') or 'ok'} {json.dumps(result)[:200]}")
    if answer.get("FunctionError"):
        result = {"error": result.get("errorType"), "message": str(result.get("errorMessage"))[:300]}
    return result


def reconcile_clean(ends: Endpoints, day: date, timeline: Timeline, *, stack_name: str) -> dict[str, Any]:
    """The reconciliation with no fault injected; run again (as the schedule's retries do) while M-Pesa is
    still unreachable, e.g. behind a breaker the faulty run opened."""
    for _ in range(3):
        result = reconcile(ends, day, timeline, stack_name=stack_name)
        if "error" not in result:
            break
        wait_reachable(ends, timeline)
    return result


def ensure_reports_bucket(s3: Any, stack_name: str, timeline: Timeline) -> None:
    """The local stack creates no S3 bucket (docs/local-stack.md: only functions, tables, secrets, queues,
    buses and state machines), so the reports bucket the reconciliation writes to is made here."""
    from local.template import StackModel

    model = StackModel.load(REPO_ROOT / "template.yaml", stack_name, {})
    bucket = model.function_environment("ReconciliationFunction")["REPORTS_BUCKET_NAME"]
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=bucket)
        timeline.add(f"reports bucket {bucket} created (the local stack makes none)")


def resolve_phase(
    ends: Endpoints,
    observed: Sequence[Observed],
    concurrency: int,
    timeline: Timeline,
    sim: Simulator,
    args: argparse.Namespace,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """What an operator's stack does after an outage, in order: the flows finish, the sweep runs, UNKNOWN
    records are asked about again, the reconciliation runs (once under faults, then clean), and the
    outbox owes nothing more."""
    figures: dict[str, Any] = {"M-Pesa reachable again after (s)": wait_reachable(ends, timeline)}
    settle(ends, observed, concurrency, STK_WAIT + STK_INTERVAL * STK_ATTEMPTS + FLOW_RETRY_SLACK_S + 20, log)
    if open_records(observed):
        # Their timeout flow never ended: the sweep looks at them after its slack (initiate.py SWEEP_SLACK_S).
        log(f"{len(open_records(observed))} records still PENDING: waiting for the sweep's slack, then the sweep")
        time.sleep(args.sweep_slack)
    figures["sweep"] = run_schedule(ends, "PendingSweepFunction", timeline).get("last_error") or "ok"
    refresh(ends, observed, concurrency)
    unknown = [
        s
        for s in observed
        if s.plan.kind == STK and s.view and s.view.get("status") == "UNKNOWN" and s.view.get("checkout_request_id")
    ]
    for seen in unknown:  # the sweep's look at an UNKNOWN push (every 15 min), done now through the public route
        status, body = call("POST", f"{ends.api}/v1/payments/{seen.record_id}/query")
        seen.answers.append(Answer("query", status, body, 0.0))
    figures["UNKNOWN STK asked again by query"] = len(unknown)
    days = sorted({datetime.now(UTC).astimezone(NAIROBI).date(), args.started_day})
    for fault in [
        Fault(PULL, {"kind": "status", "status": 503}),
        Fault(PULL, {"kind": "disconnect"}),
        Fault(PULL, {"kind": "malformed"}),
        Fault(STATUS, {"kind": "status", "status": 500}),
    ]:
        sim.inject(fault, "reconciliation under faults")
    figures["reconciliation under faults"] = reconcile(ends, days[-1], timeline, stack_name=args.stack_name)
    sim.leftover_faults()
    figures["M-Pesa reachable again after (s), after it"] = wait_reachable(ends, timeline)
    figures["reconciliation"] = [reconcile_clean(ends, day, timeline, stack_name=args.stack_name) for day in days]
    # Transaction Status answers by webhook: give them the payout flow's interval, twice.
    time.sleep(2 * B2C_INTERVAL + 2)
    refresh(ends, observed, concurrency)
    quiet_events(ends.events_log)  # the local stack drains the bus into the log with some lag
    owed = unannounced(observed, read_events(ends.events_log))
    if owed:
        # The outbox re-sends an event the sweep finds owed OUTBOX_GRACE (2 min) after the settlement.
        latest = max(_epoch(str((s.view or {}).get("updated_at") or (s.view or {}).get("received_at"))) for s in owed)
        wait = max(0.0, latest + 125 - time.time())
        log(
            f"{len(owed)} final records not announced yet: the sweep re-sends them after the outbox's grace "
            f"({wait:.0f} s)"
        )
        time.sleep(wait)
    figures["final records awaiting their event before the last sweep"] = len(owed)
    figures["sweep after reconciliation"] = (
        run_schedule(ends, "PendingSweepFunction", timeline).get("last_error") or "ok"
    )
    quiet_events(ends.events_log)
    refresh(ends, observed, concurrency)
    return figures


def wait_reachable(ends: Endpoints, timeline: Timeline, limit_s: float = 200.0) -> float:
    """Seconds until a Daraja call goes through again (an open circuit breaker answers 503 until it closes):
    an Account Balance request, which moves no money, is the probe."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        status, _ = call("POST", f"{ends.api}/v1/balance", {})
        if status == 202:
            break
        time.sleep(5)
    waited = round(time.monotonic() - started, 1)
    timeline.add(f"M-Pesa reachable again after {waited} s")
    return waited


def unannounced(observed: Sequence[Observed], events: Sequence[Mapping[str, Any]]) -> list[Observed]:
    """Final records whose final event is not in the events log (yet)."""
    announced = {
        (str(e.get("detail-type", "")).split(".")[0], str(value))
        for e in events
        for key in ID_FIELDS.values()
        if (value := (e.get("detail") or {}).get(key))
    }
    prefix = {STK: "payment", B2C: "payout", C2B: "c2b"}
    return [
        s
        for s in observed
        if s.record_id
        and record_status(s) in FINAL
        and (s.view or {}).get("result_code") != NOT_SENT
        and (prefix[s.plan.kind], s.record_id) not in announced
    ]


def quiet_events(path: Path, quiet_s: float = 3.0, limit_s: float = 30.0) -> None:
    """Wait until the events log stops growing (the local stack drains the bus into it every second)."""
    deadline = time.monotonic() + limit_s
    size = -1
    while time.monotonic() < deadline:
        current = path.stat().st_size if path.exists() else 0
        if current == size:
            return
        size = current
        time.sleep(quiet_s)


# --- the truth, and what each record saw ---------------------------------------------------------


def collect_truth(sim: Simulator, observed: Sequence[Observed], concurrency: int) -> Truth:
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        views = list(pool.map(lambda s: sim.control("GET", f"/customers/{s.plan.msisdn}"), observed))
    payouts = {str(line["originator_conversation_id"]): line for line in sim.control("GET", "/payouts")}
    return Truth(
        customers={s.plan.msisdn: view for s, view in zip(observed, views, strict=True)},
        payouts=payouts,
        journal=sim.control("GET", "/requests"),
        callbacks=sim.control("GET", "/callbacks"),
    )


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def journal_for(seen: Observed, truth: Truth) -> list[Mapping[str, Any]]:
    plan, view = seen.plan, seen.view or {}
    customer = truth.customers.get(plan.msisdn, {})
    checkouts = {p.get("checkout_request_id") for p in customer.get("stk", [])} | {view.get("checkout_request_id")}
    ocids = {e.get("originator_conversation_id") for e in customer.get("b2c", [])} | {
        view.get("originator_conversation_id")
    }
    checkouts.discard(None)
    ocids.discard(None)
    mine = []
    for entry in truth.journal:
        body = entry.get("body")
        if not isinstance(body, dict):
            continue
        if (
            (entry["path"] == PUSH and body.get("PhoneNumber") == plan.msisdn)
            or (entry["path"] == QUERY and body.get("CheckoutRequestID") in checkouts)
            or (
                entry["path"] == B2C_PATH
                and (body.get("PartyB") == plan.msisdn or body.get("OriginatorConversationID") in ocids)
            )
            or (entry["path"] == STATUS and body.get("OriginalConversationID") in ocids)
        ):
            mine.append(entry)
    return mine


def callbacks_for(seen: Observed, truth: Truth) -> list[Mapping[str, Any]]:
    if seen.record_id is None:
        return []
    return [
        c
        for c in truth.callbacks
        if seen.record_id in str(c.get("url")) or seen.record_id in json.dumps(c.get("payload"))
    ]


def sequence(seen: Observed, truth: Truth, events: Sequence[Mapping[str, Any]], timeline: Timeline) -> list[str]:
    """What the record went through, in order: the plan, its API calls, the Daraja requests about it (with
    the fault each consumed), its callbacks, the simulator settings in force, its events, its final view."""
    plan = seen.plan
    lines = [
        f"plan: customer {mask(plan.msisdn)} {plan.action} after {plan.delay_s}s, KES {plan.amount}, round {plan.round}"
        + (f", {plan.replay} replay" if plan.replay else "")
    ]
    stamped: list[tuple[float, str]] = []
    for answer in seen.answers:
        stamped.append((answer.at, f"api {answer.what} -> {answer.status} {_brief(answer.body)}"))
    base = timeline.entries[0][1] - timeline.entries[0][0] if timeline.entries else time.time()
    for entry in journal_for(seen, truth):
        fault = entry.get("fault")
        label = f" FAULT {fault['kind']}{'(after)' if fault.get('after_processing') else ''}" if fault else ""
        stamped.append((_epoch(entry["time"]) - base, f"daraja {entry['path']} -> {entry['status']}{label}"))
    for callback in callbacks_for(seen, truth):
        state = (
            f"-> {callback.get('response_status')}"
            if callback.get("delivered")
            else f"not delivered ({callback.get('error')})"
        )
        stamped.append(
            (_epoch(callback["time"]) - base, f"callback {callback.get('kind')} [{callback.get('shape')}] {state}")
        )
    times = [t for t, _ in stamped] or [0.0]
    for at, _, what in timeline.entries:
        if min(times) - 3 <= at <= max(times) + 1 and ("simulator" in what or "flip" in what or "fault" in what):
            stamped.append((at, f"stack-wide: {what}"))
    lines += [f"{at:8.2f}s {what}" for at, what in sorted(stamped, key=lambda x: x[0])]
    id_field = ID_FIELDS[plan.kind]
    for event in events:
        if seen.record_id and (event.get("detail") or {}).get(id_field) == seen.record_id:
            lines.append(f"event {event.get('detail-type')} {event['detail'].get('event_id')}")
    view = seen.view
    if view is not None:
        keys = ("status", "result_code", "settled_by", "flags", "checkout_request_id")
        lines.append(
            "final: "
            + ", ".join(f"{k}={view.get(k)}" for k in keys if k in view)
            + f", receipt={'yes' if view.get('receipt') or plan.kind == C2B else 'no'}"
        )
    customer = truth.customers.get(plan.msisdn, {})
    lines.append(
        "M-Pesa: "
        + json.dumps(
            {
                "prompts": [(p.get("action"), p.get("receipt")) for p in customer.get("stk", [])],
                "payouts": [(e.get("state"), e.get("result_code"), e.get("paid")) for e in customer.get("b2c", [])],
                "receipts": [(r.get("kind"), r.get("receipt")) for r in customer.get("receipts", [])],
            }
        )
    )
    return lines


def _epoch(iso_text: str) -> float:
    return datetime.fromisoformat(iso_text).timestamp()


def _brief(body: Any) -> str:
    if isinstance(body, dict):
        keep = ("status", "error", "mpesa_error_code", "detail", "message", "retryable")
        return json.dumps({k: body[k] for k in keep if k in body})[:160]
    return str(body)[:160]


# --- memory ------------------------------------------------------------------------------------


def stack_pids(pid: int) -> list[int]:
    pids, stack = [], [pid]
    while stack:
        current = stack.pop()
        pids.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                stack += [int(child) for child in children.read_text().split()]
    return pids


def rss_mb(pid: int) -> float:
    total = 0
    for one in stack_pids(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return round(total / 1024, 1)


def listening_pid(port: int) -> int | None:
    """The process listening on 127.0.0.1:`port` (a running `make run`), from /proc."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[3] == "0A" and int(parts[1].split(":")[1], 16) == port:
            inode = parts[9]
    if inode is None:
        return None
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        with contextlib.suppress(OSError):
            if os.readlink(fd) == f"socket:[{inode}]":
                return int(fd.parts[2])
    return None


class MemorySampler:
    def __init__(self, pid: int | None, every_s: float = 5.0) -> None:
        self.pid = pid
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._every = every_s

    def __enter__(self) -> MemorySampler:
        if self.pid is not None:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.pid is not None:
            self.samples.append(rss_mb(self.pid))

    def _run(self) -> None:
        assert self.pid is not None
        while True:
            self.samples.append(rss_mb(self.pid))
            if self._stop.wait(self._every):
                return


# --- the report --------------------------------------------------------------------------------


def print_report(
    verdict: Verdict,
    observed: Sequence[Observed],
    truth: Truth,
    events: Sequence[Mapping[str, Any]],
    timeline: Timeline,
    extra: Mapping[str, Any],
    out: Callable[[str], None],
) -> None:
    figures: dict[str, Any] = dict(extra)
    figures["records (stk/b2c/c2b)"] = "/".join(str(sum(1 for s in observed if s.plan.kind == k)) for k in KINDS)
    statuses: Counter[str] = Counter()
    for seen in observed:
        state = "no record" if seen.view is None else ("SUCCESS" if seen.plan.kind == C2B else seen.view.get("status"))
        statuses[f"{seen.plan.kind} {state}"] += 1
    figures["final states"] = ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
    settled_by = Counter(
        f"{s.plan.kind}:{s.view.get('settled_by')}" for s in observed if s.view and s.view.get("settled_by")
    )
    figures["settled by"] = ", ".join(f"{k} {v}" for k, v in sorted(settled_by.items()))
    answers = Counter(a.status for s in observed for a in s.answers if a.what != "paybill")
    figures["API answers by status"] = ", ".join(f"{k}: {v}" for k, v in sorted(answers.items()))
    consumed = Counter(f"{e['path'].rsplit('/', 3)[-3]}/{e['fault']['kind']}" for e in truth.journal if e.get("fault"))
    figures["faults consumed (endpoint/kind)"] = ", ".join(f"{k} {v}" for k, v in sorted(consumed.items()))
    figures["faults consumed / injected"] = (
        f"{sum(consumed.values())} / {sum(1 for _, _, w in timeline.entries if w.startswith('fault #'))}"
    )
    figures["STK prompts per key (max)"] = max(
        (len(truth.customers.get(s.plan.msisdn, {}).get("stk", [])) for s in observed if s.plan.kind == STK), default=0
    )
    figures["payouts per OCID (max)"] = max((int(line.get("payouts", 0)) for line in truth.payouts.values()), default=0)
    figures.update(verdict.figures)
    width = max(len(k) for k in figures) + 2
    out("")
    out("Soak figures")
    out("-" * 100)
    for key, value in figures.items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        out(f"{key:<{width}}{text}")
    out("-" * 100)
    out("How each record ended, against M-Pesa's truth:")
    for name, count in sorted(verdict.classes.items()):
        out(f"  {count:>6}  {name}")
    by_invariant = Counter(v.invariant for v in verdict.violations)
    out(f"Violations: {len(verdict.violations)}")
    for invariant, count in sorted(by_invariant.items()):
        out(f"  {count:>6}  {invariant}")
    by_name = {s.plan.name: s for s in observed}
    for violation in verdict.violations:
        out("")
        out(f"VIOLATION [{violation.invariant}] {violation.record}: {violation.detail}")
        culprit = by_name.get(violation.record)
        if culprit is not None:
            for line in sequence(culprit, truth, events, timeline):
                out(f"    {line}")


# --- main --------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000, help="STK, payouts and C2B together (40/30/30)")
    parser.add_argument("--short", action="store_true", help="about 60 records in a few minutes (make test)")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=None, help="default: one per 25 records, at least one per theme")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--fault-rate", type=float, default=0.12, help="share of records preceded by a random fault")
    parser.add_argument("--flip-rate", type=float, default=0.05, help="share preceded by a callback-mode flip")
    parser.add_argument("--api", help="a running stack's API (else the soak starts one)")
    parser.add_argument("--simulator", help="its simulator")
    parser.add_argument("--aws", help="its local AWS (moto), to run the reconciliation on demand")
    parser.add_argument("--events-log", type=Path, help="its events log (LOCAL_EVENTS_LOG)")
    parser.add_argument("--stack-name", default="mpesa-local")
    parser.add_argument("--stack-log", type=Path, help="its console output, to tell the local stack's crashes")
    parser.add_argument(
        "--sweep-slack", type=float, default=130.0, help="seconds before the sweep looks at a PENDING record"
    )
    parser.add_argument(
        "--report", type=Path, help="write the verdict as JSON here, and what was observed beside it (.run.json)"
    )
    parser.add_argument("--recheck", type=Path, help="check a run saved beside a report (.run.json) again")
    args = parser.parse_args(argv)
    if args.short:
        args.records = min(args.records, 60)
    if args.rounds is None:
        args.rounds = max(len(themes(STK_WAIT)), args.records // 25)
    args.started_day = datetime.now(UTC).astimezone(NAIROBI).date()
    return args


@contextlib.contextmanager
def stack(args: argparse.Namespace, log: Callable[[str], None]) -> Iterator[Endpoints]:
    if args.api:
        if not (args.simulator and args.events_log):
            raise SystemExit("--api needs --simulator and --events-log (and --aws for the reconciliation)")
        port = int(args.api.rsplit(":", 1)[1].split("/")[0])
        yield Endpoints(args.api, args.simulator, args.aws, args.events_log, listening_pid(port), args.stack_log)
        return
    with tempfile.TemporaryDirectory(prefix="soak-") as work:
        events_log = Path(work) / "events.log"
        process = StackProcess({**STACK_ENV, "LOCAL_EVENTS_LOG": str(events_log)}, Path(work) / "stack.log")
        log("starting the local stack...")
        process.start()
        try:
            assert process.process is not None
            yield Endpoints(
                process.api, process.simulator, process.aws, events_log, process.process.pid, process.log_path
            )
        finally:
            code = process.stop()
            log(f"local stack stopped ({code})")
            if args.report:  # kept beside the report for a post-mortem
                args.report.with_suffix(".stack.log").write_text(process.output(), encoding="utf-8")
                if events_log.exists():
                    args.report.with_suffix(".events.log").write_text(events_log.read_text(), encoding="utf-8")


def say(line: str) -> None:
    print(line, flush=True)  # progress shows while the soak runs, also through a pipe


@dataclass
class Run:
    """Everything a soak observed: enough to check it again later (`--recheck`) without driving anything."""

    observed: list[Observed]
    truth: Truth
    events: list[dict[str, Any]]
    stack_log: str | None
    timeline: list[tuple[float, float, str]]
    side_answers: list[Answer]
    figures: dict[str, Any]

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), default=str), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Run:
        raw = json.loads(path.read_text(encoding="utf-8"))
        observed = [
            Observed(
                Planned(**item["plan"]),
                [Answer(**a) for a in item["answers"]],
                item["record_id"],
                item["view"],
                item["c2b_answer"],
                item.get("twin"),
            )
            for item in raw["observed"]
        ]
        timeline = [(float(a), float(b), str(c)) for a, b, c in raw["timeline"]]
        side = [Answer(**a) for a in raw["side_answers"]]
        return cls(observed, Truth(**raw["truth"]), raw["events"], raw["stack_log"], timeline, side, raw["figures"])


def drive(args: argparse.Namespace, log: Callable[[str], None], clock: Clock) -> Run:
    total = args.records
    counts = {STK: round(total * 0.4), B2C: round(total * 0.3)}
    counts[C2B] = total - counts[STK] - counts[B2C]
    plan = make_plan(counts, args.rounds, args.seed, fault_rate=args.fault_rate, flip_rate=args.flip_rate)
    timeline = Timeline(clock)
    with stack(args, log) as ends, MemorySampler(ends.pid) as memory:
        sim = Simulator(ends.simulator, timeline)
        config = sim.control("GET", "/config")
        baseline = {key: config[key] for key in RESTORED_CONFIG}
        driver = Driver(ends, sim, clock, timeline)
        log(
            f"{total} records (stk {counts[STK]}, b2c {counts[B2C]}, c2b {counts[C2B]}) "
            f"in {len(plan.rounds)} rounds, seed {args.seed}"
        )
        driving = time.monotonic()
        observed, leftovers, waited = run_rounds(plan, driver, sim, args.concurrency, baseline, log)
        driven_s = time.monotonic() - driving
        sim.configure(baseline, "rounds over")
        try:
            extra = resolve_phase(ends, observed, args.concurrency, timeline, sim, args, log)
        except Exception as exc:  # noqa: BLE001 (still check and report what was seen)
            log(f"the resolution phase failed: {type(exc).__name__}: {exc}")
            extra = {"resolution phase failed": f"{type(exc).__name__}: {exc}"}
        truth = collect_truth(sim, observed, args.concurrency)
        events = read_events(ends.events_log)
        stack_log = ends.stack_log_text()
    figures = {
        "seed / rounds / concurrency": f"{args.seed} / {len(plan.rounds)} / {args.concurrency}",
        "wall time (s): total / driving": f"{clock.now():.0f} / {driven_s:.0f}",
        "records per second (driving)": round(total / driven_s, 1) if driven_s else 0,
        "faults left unconsumed (cleared)": len(leftovers),
        "waited for M-Pesa to be reachable before rounds (s)": round(waited),
        "stack RSS MB: first / peak / last": rss_figure(memory.samples),
        "side calls (balance/register) by status": dict(Counter(f"{a.what} {a.status}" for a in driver.side_answers)),
        **extra,
    }
    return Run(observed, truth, events, stack_log, timeline.entries, driver.side_answers, figures)


def judge(run: Run, out: Callable[[str], None]) -> Verdict:
    verdict = check(run.observed, run.truth, run.events)
    for answer in run.side_answers:
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status >= 500 and not (answer.status in (502, 503) and body.get("error")):
            verdict.violate(
                "no undocumented 5xx", "-", f"{answer.what} answered {answer.status}: {str(answer.body)[:160]}"
            )
    found = crashes(run.stack_log) if run.stack_log is not None else Counter()
    figures = {
        **run.figures,
        "handler crashes in the stack log": dict(found) if run.stack_log is not None else "n/a (no stack log)",
    }
    timeline = Timeline(Clock(), list(run.timeline))
    print_report(verdict, run.observed, run.truth, run.events, timeline, figures, out)
    verdict.figures = figures | verdict.figures
    return verdict


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = say) -> int:
    args = parse_args(argv)
    clock = Clock()

    def log(message: str) -> None:
        out(f"[{clock.now():7.1f}s] {message}")

    if args.recheck:
        run = Run.load(args.recheck)
    else:
        if args.report:
            args.report.parent.mkdir(parents=True, exist_ok=True)
        run = drive(args, log, clock)
        if args.report:
            run.dump(args.report.with_suffix(".run.json"))
    verdict = judge(run, out)
    if args.report:
        summary = {
            "figures": verdict.figures,
            "classes": verdict.classes,
            "violations": [asdict(v) for v in verdict.violations],
        }
        args.report.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return 1 if verdict.violations else 0


def rss_figure(samples: Sequence[float]) -> str:
    return f"{samples[0]} / {max(samples)} / {samples[-1]}" if samples else "n/a (no stack process found)"


CRASH_MARKS = ("failed; the client gets 502:", "unhandled error (returned to the caller")


def crashes(stack_log: str) -> Counter[str]:
    """Handler crashes in the stack's log (an API or callback answered 502, a task failed), by cause."""
    lines = stack_log.splitlines()
    found: Counter[str] = Counter()
    for i, line in enumerate(lines):
        if not any(mark in line for mark in CRASH_MARKS):
            continue
        block = []
        for following in lines[i + 1 : i + 200]:
            if following.startswith(("api    ", "[", "sched  ", "event  ")):
                break
            block.append(following)
        where = "answered 502" if CRASH_MARKS[0] in line else "task error"
        finals = [b.strip() for b in block if re.match(r"^[\w.]+(Error|Exception)\b", b.strip())]
        cause = (finals[-1] if finals else "unknown").split(":")[0].rsplit(".", 1)[-1]
        found[f"{where}: {cause}"] += 1
    return found


if __name__ == "__main__":
    sys.exit(main())
