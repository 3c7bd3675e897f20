"""Load on the local stack: STK payments end to end at several concurrencies, and its memory.

Each payment is what a merchant and a customer do: POST /v1/payments/stk-push (a distinct, valid Kenyan
number per payment, so the simulator's one-prompt-per-subscriber rule is never the limit), the
customer accepts the prompt with PIN 1234 (the simulator's control API), and the merchant polls
GET /v1/payments/<id> until it settles. The table gives, per concurrency: settled payments/s, API
requests/s (pushes and polls), p50/p95/p99 of the push and of push-to-settled, and the memory of the
stack (RSS of the stack process and its worker processes, from /proc) before and after.
`--soak N` then runs N more payments at the highest concurrency and prints the memory every
`--report-every` payments. It prints figures and asserts nothing.

    .venv/bin/python -m benchmarks.load                                  # starts `python -m local` itself
    .venv/bin/python -m benchmarks.load --payments 300 --concurrency 1,4,16
    .venv/bin/python -m benchmarks.load --payments 100 --soak 10000     # memory every 1,000 payments
    .venv/bin/python -m benchmarks.load --api-url http://127.0.0.1:3000  # a running `make run`
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.local.process import StackProcess

SANDBOX_NUMBERS = frozenset({"254708374149", "254111111111", "254222222222", "254333333333"})
SETTLE_TIMEOUT_S = 120.0
FINAL = frozenset({"SUCCESS", "FAILED", "CANCELLED", "TIMEOUT"})


# -- HTTP: one keep-alive connection per thread and host ----------------------------------------
class Http:
    def __init__(self) -> None:
        self._local = threading.local()
        self.requests = 0
        self._count_lock = threading.Lock()

    def _connection(self, netloc: str) -> http.client.HTTPConnection:
        connections: dict[str, http.client.HTTPConnection] = self._local.__dict__.setdefault("connections", {})
        if netloc not in connections:
            host, _, port = netloc.partition(":")
            connections[netloc] = http.client.HTTPConnection(host, int(port or 80), timeout=60)
        return connections[netloc]

    def call(self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        data = None if body is None else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        with self._count_lock:
            self.requests += 1
        for attempt in (1, 2):
            connection = self._connection(parts.netloc)
            try:
                connection.request(method, path, body=data, headers=all_headers)
                response = connection.getresponse()
                raw = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                connection.close()  # the server closed a kept-alive connection: once more, on a new one
                if attempt == 2:
                    raise
        if response.getheader("Connection", "").lower() == "close":
            connection.close()
        try:
            return response.status, json.loads(raw)
        except json.JSONDecodeError:
            return response.status, raw.decode("utf-8", "replace")


# -- memory, from /proc -------------------------------------------------------------------------
def process_tree(root: int) -> list[int]:
    """`root` and every process descending from it (the stack and its workers)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
    tree, frontier = [root], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        tree.extend(children)
        frontier = children
    return tree


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int, *, with_children: bool = False) -> float:
    """utime + stime (and, for the stack, its exited children's) from /proc/<pid>/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if with_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: workers already stopped
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Cpu:
    stack_s: float
    workers_s: float

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(self.stack_s - other.stack_s, self.workers_s - other.workers_s)


def cpu(pid: int | None) -> Cpu | None:
    if pid is None or not Path(f"/proc/{pid}").exists():
        return None
    tree = process_tree(pid)
    workers = sum(_cpu_seconds(child) for child in tree if child != pid)
    own = _cpu_seconds(pid)
    exited = _cpu_seconds(pid, with_children=True) - own
    return Cpu(own, workers + exited)


@dataclass
class Memory:
    stack_mib: float
    workers_mib: float
    workers: int

    @property
    def total_mib(self) -> float:
        return self.stack_mib + self.workers_mib

    def __str__(self) -> str:
        return f"{self.total_mib:7.0f} MiB (stack {self.stack_mib:.0f} + {self.workers} workers {self.workers_mib:.0f})"


def memory(pid: int | None) -> Memory | None:
    if pid is None or not Path(f"/proc/{pid}").exists():
        return None
    tree = process_tree(pid)
    workers = [child for child in tree if child != pid]
    return Memory(
        _status_kib(pid, "VmRSS") / 1024, sum(_status_kib(child, "VmRSS") for child in workers) / 1024, len(workers)
    )


# -- payments -----------------------------------------------------------------------------------
class Phones:
    """Distinct valid Kenyan numbers (2547XXXXXXXX), none of the simulator's sandbox numbers."""

    def __init__(self) -> None:
        self._next = random.randrange(10**8)
        self._lock = threading.Lock()

    def take(self) -> str:
        with self._lock:
            while True:
                number = f"2547{self._next % 10**8:08d}"
                self._next += 1
                if number not in SANDBOX_NUMBERS:
                    return number


@dataclass
class Outcome:
    push_s: float
    settle_s: float | None  # None: did not reach SUCCESS
    status: str


@dataclass
class Target:
    api: str
    simulator: str
    pid: int | None
    client: Http = field(default_factory=Http)
    phones: Phones = field(default_factory=Phones)
    poll_interval_s: float = 0.2

    def pay(self) -> Outcome:
        started = time.monotonic()
        status, body = self.client.call(
            "POST",
            f"{self.api}/v1/payments/stk-push",
            {
                "phone_number": self.phones.take(),
                "amount": "10",
                "account_reference": "LOAD",
                "transaction_desc": "Load",
            },
            {"Idempotency-Key": f"load-{uuid.uuid4()}"},
        )
        push_s = time.monotonic() - started
        if status != 202:
            return Outcome(push_s, None, f"push {status} {_error_code(body)}")
        checkout, transaction = body["checkout_request_id"], body["transaction_id"]
        status, answer = self.client.call(
            "POST", f"{self.simulator}/simulator/prompts/{checkout}/accept", {"pin": "1234"}
        )
        if status != 200:
            return Outcome(push_s, None, f"accept {status} {_error_code(answer)}")
        deadline = started + SETTLE_TIMEOUT_S
        while time.monotonic() < deadline:
            status, payment = self.client.call("GET", f"{self.api}/v1/payments/{transaction}")
            state = payment.get("status") if status == 200 and isinstance(payment, dict) else f"get {status}"
            if state == "SUCCESS":
                return Outcome(push_s, time.monotonic() - started, "SUCCESS")
            if state in FINAL:
                return Outcome(push_s, None, str(state))
            time.sleep(self.poll_interval_s)
        return Outcome(push_s, None, "not settled in time")


def _error_code(body: Any) -> str:
    """What kind of error an answer is (its code, not its ids), so that failures group in the table."""
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or sorted(body))
    return str(body)[:60]


def run(target: Target, payments: int, concurrency: int, on_done: Callable[[int], None] | None = None) -> list[Outcome]:
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def one(_: int) -> None:
        outcome = target.pay()
        with lock:
            outcomes.append(outcome)
            done = len(outcomes)
        if on_done is not None:
            on_done(done)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(payments)))
    return outcomes


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


@dataclass
class Level:
    concurrency: int
    payments: int
    seconds: float
    requests: int
    outcomes: list[Outcome]
    before: Memory | None
    after: Memory | None
    cpu: Cpu | None

    @property
    def settled_per_s(self) -> float:
        return sum(1 for o in self.outcomes if o.settle_s is not None) / self.seconds

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds


def measure(target: Target, payments: int, concurrency: int) -> Level:
    before, cpu_before = memory(target.pid), cpu(target.pid)
    requests_before = target.client.requests
    started = time.monotonic()
    outcomes = run(target, payments, concurrency)
    seconds = time.monotonic() - started
    cpu_after = cpu(target.pid)
    used = cpu_after - cpu_before if cpu_after is not None and cpu_before is not None else None
    requests = target.client.requests - requests_before
    return Level(concurrency, payments, seconds, requests, outcomes, before, memory(target.pid), used)


def table(levels: list[Level]) -> str:
    ms = 1000.0
    header = (
        f"{'conc':>4} {'pays':>5} {'ok':>5} {'pay/s':>6} {'req/s':>6} "
        f"{'push p50':>8} {'p95':>6} {'p99':>6} {'settle p50':>10} {'p95':>6} {'p99':>6}  memory before -> after"
    )
    lines = [header, "-" * len(header)]
    for level in levels:
        push = [o.push_s * ms for o in level.outcomes]
        settle = [o.settle_s * ms for o in level.outcomes if o.settle_s is not None]
        ok = len(settle)
        lines.append(
            f"{level.concurrency:>4} {level.payments:>5} {ok:>5} "
            f"{level.settled_per_s:>6.1f} {level.requests_per_s:>6.1f} "
            f"{percentile(push, 0.5):>8.0f} {percentile(push, 0.95):>6.0f} {percentile(push, 0.99):>6.0f} "
            f"{percentile(settle, 0.5):>10.0f} {percentile(settle, 0.95):>6.0f} {percentile(settle, 0.99):>6.0f}  "
            f"{level.before or '?'} -> {level.after or '?'}"
        )
        failures: dict[str, int] = {}
        for outcome in level.outcomes:
            if outcome.settle_s is None:
                failures[outcome.status] = failures.get(outcome.status, 0) + 1
        if level.cpu is not None:
            lines.append(
                f"     CPU per payment: stack {level.cpu.stack_s * ms / level.payments:.0f} ms, "
                f"workers {level.cpu.workers_s * ms / level.payments:.0f} ms"
            )
        for reason, count in failures.items():
            lines.append(f"     {count} not settled: {reason}")
    lines.append("(latencies in ms; pay/s = payments settled per second; req/s = API requests: pushes and polls)")
    return "\n".join(lines)


def soak(target: Target, payments: int, concurrency: int, every: int) -> None:
    print(f"\nSoak: {payments} payments at concurrency {concurrency}; memory every {every}")
    print(f"{'payments':>9} {'pay/s':>6} {'CPU ms/payment':>15}  memory")
    started = time.monotonic()
    print(f"{0:>9} {'':>6} {'':>15}  {memory(target.pid) or '?'}", flush=True)
    window: dict[str, Any] = {"at": started, "done": 0, "cpu": cpu(target.pid)}
    lock = threading.Lock()

    def report(done: int) -> None:
        if done % every != 0 and done != payments:
            return
        with lock:
            now, used = time.monotonic(), cpu(target.pid)
            count = max(done - window["done"], 1)
            rate = (done - window["done"]) / max(now - window["at"], 1e-9)
            per = "?"
            if used is not None and window["cpu"] is not None:
                spent = used - window["cpu"]
                per = f"{spent.stack_s * 1000 / count:.0f} + {spent.workers_s * 1000 / count:.0f}"
            window.update(at=now, done=done, cpu=used)
            print(f"{done:>9} {rate:>6.1f} {per:>15}  {memory(target.pid) or '?'}", flush=True)

    outcomes = run(target, payments, concurrency, report)
    failed = sum(1 for o in outcomes if o.settle_s is None)
    print(f"{payments - failed} settled, {failed} not, in {time.monotonic() - started:.0f} s")
    print("(CPU per payment: the stack process + its workers)")


@contextmanager
def local_stack(settings: dict[str, str]) -> Iterator[Target]:
    """`python -m local` on free ports, as tests/e2e does, with `make run`'s settings and `settings`."""
    work = Path(tempfile.mkdtemp(prefix="load-"))
    process = StackProcess({"LOCAL_EVENTS_LOG": str(work / "events.log"), **settings}, work / "stack.log")
    print(f"Starting the local stack (console output in {work / 'stack.log'})...", flush=True)
    started = time.monotonic()
    process.start()
    print(f"Ready in {time.monotonic() - started:.1f} s", flush=True)
    assert process.process is not None
    try:
        yield Target(process.api, process.simulator, process.process.pid)
    finally:
        stopping = time.monotonic()
        code = process.stop(timeout=120)
        print(f"Stack stopped in {time.monotonic() - stopping:.1f} s (exit code {code}); its log: {work / 'stack.log'}")


@contextmanager
def running_stack(api_url: str) -> Iterator[Target]:
    client = Http()
    status, health = client.call("GET", f"{api_url.rstrip('/')}/_local/health")
    if status != 200 or "simulator" not in health:
        raise SystemExit(f"{api_url}: no local stack with a simulator answers /_local/health ({status})")
    pid = health.get("pid")
    yield Target(api_url.rstrip("/"), str(health["simulator"]), int(pid) if pid else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=200, help="payments per concurrency level (default 200)")
    parser.add_argument("--concurrency", default="1,4,16", help="comma-separated levels (default 1,4,16)")
    parser.add_argument("--api-url", help="a running local stack (default: start one on free ports)")
    parser.add_argument("--soak", type=int, default=0, help="then N payments at the highest concurrency")
    parser.add_argument("--report-every", type=int, default=1000, help="soak: print memory every N payments")
    parser.add_argument("--poll-interval", type=float, default=0.2, help="seconds between status polls (0.2)")
    parser.add_argument(
        "--stack-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the stack it starts, e.g. LOCAL_MAX_WORKERS_PER_FUNCTION=2 (repeatable)",
    )
    args = parser.parse_args(argv)
    settings = dict(item.split("=", 1) for item in args.stack_env if "=" in item)
    if len(settings) != len(args.stack_env) or (settings and args.api_url):
        parser.error("--stack-env takes NAME=VALUE, and only when the benchmark starts the stack")
    levels = [int(level) for level in args.concurrency.split(",") if level.strip()]
    if not levels or min(levels) < 1 or args.payments < 1:
        parser.error("--payments and every --concurrency level must be at least 1")
    stack = running_stack(args.api_url) if args.api_url else local_stack(settings)
    with stack as target:
        target.poll_interval_s = args.poll_interval
        print(f"Warm-up: {max(levels)} payments at concurrency {max(levels)}", flush=True)
        run(target, max(levels), max(levels))
        results = []
        for concurrency in levels:
            print(f"Concurrency {concurrency}: {args.payments} payments...", flush=True)
            results.append(measure(target, args.payments, concurrency))
        print()
        print(table(results))
        first, last = results[0], results[-1]
        if len(results) > 1 and first.settled_per_s > 0:
            payments = last.settled_per_s / first.settled_per_s
            requests = last.requests_per_s / first.requests_per_s
            ratio = f"rps({last.concurrency})/rps({first.concurrency})"
            print(f"{ratio}: payments {payments:.2f}x, API requests {requests:.2f}x")
        if args.soak:
            soak(target, args.soak, max(levels), args.report_every)
    return 0


if __name__ == "__main__":
    sys.exit(main())
