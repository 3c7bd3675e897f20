"""Counting what the handlers ask of AWS, in-process: every API call, DynamoDB's request units, the
invocations (wall time, log bytes) and the Daraja HTTP calls made during each.

How calls are seen: `Meter.install()` wraps `botocore.session.Session.create_client`, so every client
made afterwards, by boto3's default session, by a session of its own (Powertools' idempotency and
parameters utilities make theirs) or inside the layer, gets `before-call` / `after-call` handlers on its
event emitter. Install it before anything creates a client.

What is counted: only calls made while a metered handler runs (`Meter.handler` wraps each Lambda handler
and marks the thread as inside an invocation of that function). The benchmark's own calls (creating
tables, reading a record to see that a payment settled, moto's Step Functions interpreter calling
Lambda) happen outside any invocation and are not counted.

DynamoDB units: each request's item(s) are read before and after the call with an unmetered client (the
meter serialises metered DynamoDB writes so no other write slips in between), and
`benchmarks.dynamo_units` turns them into WRUs and RRUs; see its docstring for the rules.

Log bytes: `CountingStream` replaces sys.stdout and sys.stderr (install it before the handlers'
modules are imported: Powertools' Logger keeps the stream it saw at creation). What an invocation writes
is counted against it and discarded; the main thread's own output outside invocations passes through.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from benchmarks import prices
from benchmarks.dynamo_units import Item, TableSchema, Units, get_units, scan_units, write_units

Handler = Callable[[dict[str, Any], Any], Any]
DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
DYNAMODB_READS = {"GetItem", "BatchGetItem", "TransactGetItems", "Query", "Scan"}


@dataclass
class Call:
    function: str
    service: str
    operation: str
    table: str | None = None
    units: Units | None = None  # DynamoDB only
    quantity: float = 1.0  # the priced unit: EventBridge events, SQS 64 KB requests, ...
    error: str | None = None


@dataclass
class Invocation:
    function: str
    trigger: str  # "api" (API Gateway HTTP API), "sfn" (a Step Functions task), "direct"
    route: str | None = None  # the API route key, for "api"
    duration_s: float = 0.0
    log_bytes: int = 0
    log_lines: int = 0
    daraja_calls: int = 0
    calls: list[Call] = field(default_factory=list)


class Meter:
    def __init__(self, schemas: Mapping[str, TableSchema], region: str = "us-east-1") -> None:
        self.schemas = dict(schemas)
        self.region = region
        self.invocations: list[Invocation] = []
        self.unattributed: list[Call] = []  # calls outside any invocation (the harness, moto): not counted
        self.errors: list[str] = []  # the meter's own failures; a run with any is not to be trusted
        self._local = threading.local()
        self._lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._shadow: Any = None
        self._in_flight = 0
        self._original_create_client: Any = None

    # --- installing --------------------------------------------------------------------------------

    def install(self) -> None:
        import botocore.session

        if self._original_create_client is not None:
            return
        original = botocore.session.Session.create_client
        meter = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            meter.hook(client)
            return client

        self._original_create_client = original
        botocore.session.Session.create_client = create_client  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        import botocore.session

        if self._original_create_client is not None:
            botocore.session.Session.create_client = self._original_create_client  # type: ignore[method-assign]
            self._original_create_client = None

    def hook(self, client: Any) -> None:
        client.meta.events.register("before-call", self._before_call)
        client.meta.events.register("after-call", self._after_call)
        client.meta.events.register("after-call-error", self._after_call_error)

    def count_daraja_calls(self) -> contextlib.AbstractContextManager[None]:
        """Counts HTTP requests sent through `requests` during an invocation (Daraja's, in these flows)."""
        from unittest import mock

        import requests.adapters

        original = requests.adapters.HTTPAdapter.send
        meter = self

        def send(adapter: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            invocation = meter.current()
            if invocation is not None:
                invocation.daraja_calls += 1
            return original(adapter, request, *args, **kwargs)

        patch: contextlib.AbstractContextManager[None] = mock.patch.object(
            requests.adapters.HTTPAdapter,
            "send",
            send,  # type: ignore[arg-type]
        )
        return patch

    # --- invocations -------------------------------------------------------------------------------

    def handler(self, function: str, handler: Handler, trigger: str) -> Handler:
        """`handler`, metered as an invocation of `function` started by `trigger`."""

        def invoke(event: dict[str, Any], context: Any) -> Any:
            route = event.get("routeKey") if isinstance(event, dict) else None
            invocation = Invocation(function, trigger, route=route)
            stack = self._stack()
            stack.append(invocation)
            with self._lock:
                self._in_flight += 1
            started = time.perf_counter()
            try:
                return handler(event, context)
            finally:
                invocation.duration_s = time.perf_counter() - started
                stack.pop()
                with self._lock:
                    self.invocations.append(invocation)
                    self._in_flight -= 1

        return invoke

    @contextlib.contextmanager
    def unmetered(self) -> Iterator[None]:
        """The harness calling product code (e.g. to make M-Pesa act): its calls and output are dropped."""
        stack = self._stack()
        stack.append(Invocation("(harness)", "harness"))
        try:
            yield
        finally:
            stack.pop()

    def current(self) -> Invocation | None:
        stack = self._stack()
        return stack[-1] if stack else None

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def reset(self) -> None:
        with self._lock:
            self.invocations = []
            self.unattributed = []

    def take(self) -> list[Invocation]:
        """The invocations recorded so far, and a fresh start."""
        with self._lock:
            taken, self.invocations, self.unattributed = self.invocations, [], []
        return taken

    def _stack(self) -> list[Invocation]:
        stack: list[Invocation] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    # --- botocore events ---------------------------------------------------------------------------

    def _before_call(self, model: Any, params: Any, context: dict[str, Any], **_: Any) -> None:
        if getattr(self._local, "internal", False):
            return
        try:
            service = model.service_model.service_name
            request = _body(params) if model.service_model.protocol == "json" else {}
            state: dict[str, Any] = {"service": service, "operation": model.name, "request": request}
            context["bench_meter"] = state
            if service == "dynamodb" and model.name in DYNAMODB_WRITES and self.current() is not None:
                self._write_lock.acquire()
                state["locked"] = True
                state["before"] = self._items_of_write(model.name, state["request"])
        except Exception as exc:  # noqa: BLE001  (the meter must not change what the handlers see; reported)
            self.errors.append(f"before-call {model.name}: {exc!r}")

    def _after_call(self, http_response: Any, parsed: Any, model: Any, context: dict[str, Any], **_: Any) -> None:
        state = context.get("bench_meter")
        if state is None:
            return
        try:
            error = parsed.get("Error", {}).get("Code") if http_response.status_code >= 300 else None
            response: dict[str, Any] = {}
            # Only DynamoDB reads need the answer, in its wire format. Never touch a streaming body (Lambda's
            # Invoke Payload, S3's GetObject): reading it here would leave the caller an empty stream.
            if state["service"] == "dynamodb" and model.name in DYNAMODB_READS and not model.has_streaming_output:
                response = _json(http_response.content)
            self._record(state, response, error)
        except Exception as exc:  # noqa: BLE001  (reported: a run with meter errors exits 1)
            self.errors.append(f"after-call {model.name}: {exc!r}")
        finally:
            self._release(state)

    def _after_call_error(self, exception: Exception, context: dict[str, Any], **_: Any) -> None:
        state = context.get("bench_meter")
        if state is None:
            return
        try:
            self._record(state, {}, type(exception).__name__)
        finally:
            self._release(state)

    def _release(self, state: dict[str, Any]) -> None:
        if state.pop("locked", False):
            self._write_lock.release()

    def _record(self, state: dict[str, Any], response: Mapping[str, Any], error: str | None) -> None:
        service, operation, request = state["service"], state["operation"], state["request"]
        call = Call(function="", service=service, operation=operation, error=error)
        invocation = self.current()
        if invocation is None:
            self.unattributed.append(call)
            return
        call.function = invocation.function
        if service == "dynamodb":
            call.table = _table_of(operation, request)
            if operation in DYNAMODB_WRITES:
                after = self._items_of_write(operation, request)
                call.units = self._write_units(operation, request, state.get("before", {}), after, error)
            elif operation in DYNAMODB_READS:
                call.units = self._read_units(operation, request, response, error)
        elif service == "events":
            call.quantity = sum(
                _chunks(_event_entry_size(e), prices.EVENTBRIDGE_CHUNK_BYTES) for e in request.get("Entries", [])
            )
        elif service == "sqs":
            call.quantity = _chunks(len(json.dumps(request)), prices.SQS_CHUNK_BYTES)
        invocation.calls.append(call)

    # --- DynamoDB units ------------------------------------------------------------------------------

    def _write_units(
        self,
        operation: str,
        request: Mapping[str, Any],
        before: Mapping[tuple[str, str], Item | None],
        after: Mapping[tuple[str, str], Item | None],
        error: str | None,
    ) -> Units:
        total = Units()
        transactional = operation == "TransactWriteItems"
        failed = error is not None
        for (table, key), action in write_actions(operation, request, self.schemas):
            schema = self.schemas[table]
            old = before.get((table, key))
            if action == "ConditionCheck":
                total += write_units(schema, old, old, transactional=True, condition_failed=failed)
                continue
            new = None if failed else after.get((table, key))
            total += write_units(schema, old, new, transactional=transactional, condition_failed=failed)
        return total

    def _items_of_write(self, operation: str, request: Mapping[str, Any]) -> dict[tuple[str, str], Item | None]:
        items: dict[tuple[str, str], Item | None] = {}
        for (table, key), _ in write_actions(operation, request, self.schemas):
            items[(table, key)] = self._lookup(table, json.loads(key))
        return items

    def _read_units(
        self, operation: str, request: Mapping[str, Any], response: Mapping[str, Any], error: str | None
    ) -> Units:
        if error is not None:
            return Units()
        if operation == "GetItem":
            item = response.get("Item")
            if item is not None and "ProjectionExpression" in request:
                item = self._lookup(request["TableName"], request["Key"])
            return Units(rru=get_units(item, consistent=bool(request.get("ConsistentRead"))))
        if operation in ("BatchGetItem", "TransactGetItems"):
            total = 0.0
            if operation == "BatchGetItem":
                for table, ask in request.get("RequestItems", {}).items():
                    for key in ask.get("Keys", []):
                        item = self._lookup(table, key)
                        total += get_units(item, consistent=bool(ask.get("ConsistentRead")))
            else:
                for entry in request.get("TransactItems", []):
                    get = entry["Get"]
                    total += get_units(self._lookup(get["TableName"], get["Key"]), consistent=True, transactional=True)
            return Units(rru=total)
        # Query / Scan: what was evaluated, before filters and projections
        evaluated = response.get("Items", [])
        narrowed = any(k in request for k in ("FilterExpression", "ProjectionExpression", "AttributesToGet"))
        if narrowed or request.get("Select") not in (None, "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES"):
            evaluated = self._evaluated(operation, request)
        return Units(rru=scan_units(evaluated, consistent=bool(request.get("ConsistentRead"))))

    def _evaluated(self, operation: str, request: Mapping[str, Any]) -> list[Item]:
        """The items a Query/Scan read: the same request without its filter and projection."""
        stripped = {
            k: v
            for k, v in request.items()
            if k
            not in (
                "FilterExpression",
                "ProjectionExpression",
                "AttributesToGet",
                "Select",
                "QueryFilter",
                "ScanFilter",
                "ConditionalOperator",
                "ReturnConsumedCapacity",
            )
        }
        used = " ".join(str(request.get(k, "")) for k in ("KeyConditionExpression",))
        for placeholder_key in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            kept = {k: v for k, v in request.get(placeholder_key, {}).items() if re.search(re.escape(k) + r"\b", used)}
            if kept:
                stripped[placeholder_key] = kept
            else:
                stripped.pop(placeholder_key, None)
        with self._internal():
            answer = getattr(self._client(), "query" if operation == "Query" else "scan")(**stripped)
        return list(answer.get("Items", []))

    def _lookup(self, table: str, key: Mapping[str, Any]) -> Item | None:
        with self._internal():
            item: Item | None = self._client().get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return item

    def _client(self) -> Any:
        if self._shadow is None:
            import botocore.session

            with self._internal():
                self._shadow = botocore.session.Session().create_client("dynamodb", region_name=self.region)
        return self._shadow

    @contextlib.contextmanager
    def _internal(self) -> Iterator[None]:
        previous = getattr(self._local, "internal", False)
        self._local.internal = True
        try:
            yield
        finally:
            self._local.internal = previous


def write_actions(
    operation: str, request: Mapping[str, Any], schemas: Mapping[str, TableSchema]
) -> list[tuple[tuple[str, str], str]]:
    """((table, key as canonical JSON), action) for each item a write request touches."""
    out: list[tuple[tuple[str, str], str]] = []

    def add(table: str, key: Mapping[str, Any], action: str) -> None:
        out.append(((table, json.dumps(key, sort_keys=True)), action))

    if operation == "PutItem":
        add(request["TableName"], schemas[request["TableName"]].key_of(request["Item"]), "Put")
    elif operation in ("UpdateItem", "DeleteItem"):
        add(request["TableName"], request["Key"], operation.removesuffix("Item"))
    elif operation == "TransactWriteItems":
        for entry in request.get("TransactItems", []):
            (action, body), *_ = entry.items()
            table = body["TableName"]
            add(table, schemas[table].key_of(body["Item"]) if action == "Put" else body["Key"], action)
    elif operation == "BatchWriteItem":
        for table, writes in request.get("RequestItems", {}).items():
            for write in writes:
                if "PutRequest" in write:
                    add(table, schemas[table].key_of(write["PutRequest"]["Item"]), "Put")
                else:
                    add(table, write["DeleteRequest"]["Key"], "Delete")
    return out


def _table_of(operation: str, request: Mapping[str, Any]) -> str | None:
    if "TableName" in request:
        return str(request["TableName"])
    tables: set[str] = set()
    for entry in request.get("TransactItems", []):
        (_, body), *_ = entry.items()
        tables.add(body["TableName"])
    tables.update(request.get("RequestItems", {}))
    return ",".join(sorted(tables)) or None


def _event_entry_size(entry: Mapping[str, Any]) -> int:
    """EventBridge's PutEvents entry size: Time (14 bytes if set), Source, DetailType, Detail, Resources."""
    size = 14 if "Time" in entry else 0
    for name in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(name, "")).encode())
    size += sum(len(r.encode()) for r in entry.get("Resources", []))
    return size


def _chunks(size: int, chunk: int) -> int:
    return max(1, math.ceil(size / chunk))


def _body(request_dict: Mapping[str, Any]) -> dict[str, Any]:
    body = request_dict.get("body", b"")
    if isinstance(body, bytes | bytearray):
        body = body.decode()
    if isinstance(body, str) and body.startswith("{"):
        return _json(body)
    if isinstance(body, Mapping):
        return dict(body)
    return {}


def _json(content: bytes | str) -> dict[str, Any]:
    try:
        parsed = json.loads(content or b"{}")
    except (ValueError, TypeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


class CountingStream(io.TextIOBase):
    """sys.stdout/sys.stderr replacement: an invocation's output is counted against it and dropped."""

    def __init__(self, meter: Meter, real: TextIO) -> None:
        super().__init__()
        self._meter = meter
        self._real = real

    def write(self, text: str) -> int:
        invocation = self._meter.current()
        if invocation is not None:
            invocation.log_bytes += len(text.encode())
            invocation.log_lines += text.count("\n")
        elif threading.current_thread() is threading.main_thread():
            self._real.write(text)
        return len(text)

    def flush(self) -> None:
        self._real.flush()

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._real, "encoding", "utf-8") or "utf-8"


@contextlib.contextmanager
def counting_streams(meter: Meter) -> Iterator[TextIO]:
    """Replace stdout and stderr; yields the real stdout, for the report."""
    real_out, real_err = sys.stdout, sys.stderr
    sys.stdout = CountingStream(meter, real_out)
    sys.stderr = CountingStream(meter, real_err)
    try:
        yield real_out
    finally:
        sys.stdout, sys.stderr = real_out, real_err
