"""From what one scenario's payments did (metered invocations, Step Functions executions) to $ per 1M
payments per service, at the prices of benchmarks.prices.

Assumptions (what in-process measurement cannot see), all printed by benchmarks/cost.py:
- Lambda duration: in-process wall time is not Lambda's (moto is not DynamoDB; the simulator over
  loopback answers in milliseconds where Daraja takes about a second). The priced duration is a model
  built on the measured counts: BASE_MS + AWS_CALL_MS per AWS call + DARAJA_CALL_MS per Daraja call,
  billed per 1 ms at the function's memory from template.yaml. The measured wall time is priced too,
  on its own line, outside the total.
- CloudWatch Logs: the bytes the handlers printed (Powertools' JSON log lines and EMF metrics), plus
  PLATFORM_LOG_BYTES of Lambda's START/END/REPORT lines per invocation, plus one API Gateway access log
  line per request (the template's format, rendered with typical values).
- X-Ray: one trace per API request and one per Step Functions execution (its Lambda tasks join it),
  times the sampled share (default rule: 1 request/s, then 5%; `xray_sampled`).
- Step Functions Standard: one transition per state entered, plus one per retry of a task.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks import prices
from benchmarks.dynamo_units import Units
from benchmarks.meter import DYNAMODB_READS, DYNAMODB_WRITES, Invocation

BASE_MS = 10.0
AWS_CALL_MS = 6.0
DARAJA_CALL_MS = 800.0
PLATFORM_LOG_BYTES = 300
XRAY_SAMPLED = 0.05
GIB = 1024**3


@dataclass
class Execution:
    """One Step Functions Standard execution, from its history."""

    states_entered: list[str]
    retries: int = 0

    @property
    def transitions(self) -> int:
        return len(self.states_entered) + self.retries

    @classmethod
    def from_history(cls, events: Iterable[dict[str, Any]]) -> Execution:
        entered: list[str] = []
        task_entries = scheduled = 0
        for event in events:
            kind = event["type"]
            if kind.endswith("StateEntered"):
                entered.append(event["stateEnteredEventDetails"]["name"])
                task_entries += int(kind == "TaskStateEntered")
            scheduled += int(kind in ("TaskScheduled", "LambdaFunctionScheduled"))
        return cls(entered, max(0, scheduled - task_entries))


@dataclass
class ScenarioRun:
    name: str
    payments: int
    invocations: list[Invocation]
    executions: list[Execution] = field(default_factory=list)


@dataclass
class Line:
    service: str
    calls: float  # per payment
    units: float  # per payment, in `unit`
    unit: str
    dollars: float  # per payment
    in_total: bool = True

    @property
    def per_million(self) -> float:
        return self.dollars * 1e6


def assumed_ms(invocation: Invocation) -> float:
    return BASE_MS + AWS_CALL_MS * len(invocation.calls) + DARAJA_CALL_MS * invocation.daraja_calls


def billed_gb_s(ms: float, memory_mb: int) -> float:
    return math.ceil(ms) / 1000 * memory_mb / 1024


def access_log_bytes(template_format: str, route_key: str) -> int:
    """One API Gateway access log line in the template's format, with typical values."""
    values = {
        "$context.requestId": "JZ7ZwiBvliAEJrg=",
        "$context.identity.sourceIp": "196.201.214.200",
        "$context.routeKey": route_key,
        "$context.status": "200",
        "$context.responseLatency": "120",
        "$context.integrationErrorMessage": "-",
    }
    line = template_format
    for name in sorted(values, key=len, reverse=True):
        line = line.replace(name, values[name])
    return len(line.encode()) + 1


def bill(
    run: ScenarioRun,
    memory_mb: Callable[[str], int],
    access_log_format: str = "",
    xray_sampled: float = XRAY_SAMPLED,
) -> list[Line]:
    """$ per payment per service for one scenario (divide by payments once, at the end)."""
    n = run.payments
    calls = [c for inv in run.invocations for c in inv.calls]
    api = [inv for inv in run.invocations if inv.trigger == "api"]
    lines = [
        Line("API Gateway HTTP API", len(api), len(api), "requests", len(api) * prices.API_GATEWAY_HTTP_PER_REQUEST),
        Line(
            "Lambda requests",
            len(run.invocations),
            len(run.invocations),
            "invocations",
            len(run.invocations) * prices.LAMBDA_PER_REQUEST,
        ),
    ]
    assumed = sum(billed_gb_s(assumed_ms(inv), memory_mb(inv.function)) for inv in run.invocations)
    measured = sum(billed_gb_s(inv.duration_s * 1000, memory_mb(inv.function)) for inv in run.invocations)
    lines.append(
        Line("Lambda duration (model)", len(run.invocations), assumed, "GB-s", assumed * prices.LAMBDA_ARM_PER_GB_S)
    )
    lines.append(
        Line(
            "Lambda duration (in-process wall)",
            len(run.invocations),
            measured,
            "GB-s",
            measured * prices.LAMBDA_ARM_PER_GB_S,
            in_total=False,
        )
    )
    writes = [c for c in calls if c.service == "dynamodb" and c.operation in DYNAMODB_WRITES]
    reads = [c for c in calls if c.service == "dynamodb" and c.operation in DYNAMODB_READS]
    wru = sum((c.units or Units()).wru for c in writes)
    rru = sum((c.units or Units()).rru for c in reads)
    lines.append(Line("DynamoDB writes", len(writes), wru, "WRU", wru * prices.DYNAMODB_PER_WRU))
    lines.append(Line("DynamoDB reads", len(reads), rru, "RRU", rru * prices.DYNAMODB_PER_RRU))
    transitions = sum(e.transitions for e in run.executions)
    lines.append(
        Line(
            "Step Functions Standard",
            len(run.executions),
            transitions,
            "transitions",
            transitions * prices.SFN_STANDARD_PER_TRANSITION,
        )
    )
    events = [c for c in calls if c.service == "events"]
    quantity = sum(c.quantity for c in events if c.operation == "PutEvents")
    lines.append(Line("EventBridge", len(events), quantity, "events", quantity * prices.EVENTBRIDGE_PER_EVENT))
    sqs = [c for c in calls if c.service == "sqs"]
    quantity = sum(c.quantity for c in sqs)
    lines.append(Line("SQS", len(sqs), quantity, "requests", quantity * prices.SQS_PER_REQUEST))
    secrets = [c for c in calls if c.service == "secretsmanager"]
    lines.append(
        Line("Secrets Manager", len(secrets), len(secrets), "calls", len(secrets) * prices.SECRETS_MANAGER_PER_CALL)
    )
    s3 = [c for c in calls if c.service == "s3"]
    s3_cost = sum(prices.S3_PER_GET if c.operation in ("GetObject", "HeadObject") else prices.S3_PER_PUT for c in s3)
    lines.append(Line("S3", len(s3), len(s3), "requests", s3_cost))
    log_bytes = sum(inv.log_bytes + PLATFORM_LOG_BYTES for inv in run.invocations)
    log_bytes += sum(access_log_bytes(access_log_format, inv.route or "") for inv in api) if access_log_format else 0
    log_lines = sum(inv.log_lines for inv in run.invocations)
    lines.append(
        Line(
            "CloudWatch Logs",
            log_lines,
            log_bytes,
            "bytes",
            log_bytes / GIB * prices.CLOUDWATCH_LOGS_PER_GB,
        )
    )
    traces = (len(api) + len(run.executions)) * xray_sampled
    lines.append(Line("X-Ray", len(api) + len(run.executions), traces, "traces", traces * prices.XRAY_PER_TRACE))
    priced = {"dynamodb", "events", "sqs", "secretsmanager", "s3", "stepfunctions"}
    others = Counter(f"{c.service} {c.operation}" for c in calls if c.service not in priced)
    for name, count in sorted(others.items()):
        lines.append(Line(f"(unpriced) {name}", count, count, "calls", 0.0))
    return [
        Line(line.service, line.calls / n, line.units / n, line.unit, line.dollars / n, line.in_total) for line in lines
    ]


def total(lines: Sequence[Line]) -> float:
    """$ per payment of the lines in the total."""
    return sum(line.dollars for line in lines if line.in_total)


def write_units_per_payment(run: ScenarioRun) -> float:
    calls = [c for inv in run.invocations for c in inv.calls]
    return sum(c.units.wru for c in calls if c.units is not None) / run.payments


@dataclass
class FunctionRow:
    function: str
    invocations: float
    aws_calls: float
    daraja_calls: float
    median_ms: float
    model_ms: float
    log_bytes: float


def by_function(run: ScenarioRun) -> list[FunctionRow]:
    groups: dict[str, list[Invocation]] = defaultdict(list)
    for inv in run.invocations:
        groups[inv.function].append(inv)
    n = run.payments
    return [
        FunctionRow(
            function=name,
            invocations=len(invs) / n,
            aws_calls=sum(len(i.calls) for i in invs) / n,
            daraja_calls=sum(i.daraja_calls for i in invs) / n,
            median_ms=statistics.median(i.duration_s * 1000 for i in invs),
            model_ms=statistics.median(assumed_ms(i) for i in invs),
            log_bytes=sum(i.log_bytes for i in invs) / n,
        )
        for name, invs in sorted(groups.items())
    ]


@dataclass
class CallRow:
    function: str
    service: str
    operation: str
    table: str
    calls: float
    wru: float
    index_wru: dict[str, float]
    rru: float


def by_call(run: ScenarioRun) -> list[CallRow]:
    """Per payment, each (function, service, operation, table): calls and DynamoDB units."""
    rows: dict[tuple[str, str, str, str], CallRow] = {}
    n = run.payments
    for inv in run.invocations:
        for call in inv.calls:
            key = (call.function, call.service, call.operation, call.table or "")
            row = rows.setdefault(key, CallRow(*key, 0.0, 0.0, {}, 0.0))
            row.calls += 1 / n
            if call.units is not None:
                row.wru += call.units.table_wru / n
                row.rru += call.units.rru / n
                for index, units in call.units.index_wru.items():
                    row.index_wru[index] = row.index_wru.get(index, 0.0) + units / n
    return sorted(rows.values(), key=lambda r: (-(r.wru + sum(r.index_wru.values())), -r.rru, -r.calls))
