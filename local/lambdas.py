"""The template's Lambda functions, each run by its own pool of worker processes (local.workers).

`FunctionRuntime` turns each function of the template into a `WorkerSpec` (its code folder, handler,
layers, Timeout, MemorySize and complete environment) and a `FunctionPool`. Everything that runs a
function goes through `invoke`: the HTTP front, schedules, and moto's Lambda `Invoke`, which
`patch_moto_lambda()` routes here (Step Functions Task states and any `lambda.invoke` against the
local endpoint).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from local.template import Function, StackModel
from local.workers import FunctionError, FunctionPool, HandlerUnavailable, WorkerSpec, stop_all

__all__ = ["FunctionError", "FunctionRuntime", "HandlerUnavailable", "patch_moto_lambda"]

IDLE_SWEEP_S = 10.0


def worker_spec(model: StackModel, function: Function, environment: Mapping[str, str]) -> WorkerSpec:
    """What a worker of `function` runs; ValueError/FileNotFoundError says why it cannot."""
    props = function.properties
    if "Handler" not in props:
        raise ValueError("no Handler property")
    code_uri = props.get("CodeUri", ".")
    if not isinstance(code_uri, str):
        raise ValueError("only a local CodeUri folder is supported")
    handler = str(props["Handler"])
    module_part, _, _ = handler.rpartition(".")
    code_dir = (model.root / code_uri).resolve()
    source = code_dir / (module_part.replace(".", "/") + ".py")
    if not source.is_file():
        raise FileNotFoundError(f"{source} (from CodeUri {code_uri!r} and Handler {handler!r})")
    memory_mb = int(props.get("MemorySize", 128))
    runtime = {  # what the Lambda runtime sets (AWS_LAMBDA_LOG_STREAM_NAME is per worker)
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{props.get('Runtime', 'python3.12')}",
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(code_dir),
        "TZ": ":UTC",
        "PYTHONUNBUFFERED": "1",  # the console shows a function's logs as they are written
    }
    return WorkerSpec(
        logical_id=function.logical_id,
        function_name=function.name,
        function_arn=function.arn,
        handler=handler,
        code_dir=code_dir,
        layers=tuple(model.function_layer_paths(function.logical_id)),
        timeout_s=float(props.get("Timeout", 3)),
        memory_mb=memory_mb,
        environment={**environment, **runtime},
    )


class FunctionRuntime:
    def __init__(
        self,
        model: StackModel,
        environments: Mapping[str, Mapping[str, str]],
        *,
        max_workers: int,
        idle_timeout_s: float,
        log: Callable[[str], None] = print,
    ) -> None:
        self.functions: dict[str, Function] = model.functions()
        self.pools: dict[str, FunctionPool] = {}
        self.unavailable: dict[str, str] = {}  # functions whose code cannot even be located
        self._log = log
        for logical_id, function in self.functions.items():
            try:
                spec = worker_spec(model, function, environments.get(logical_id, {}))
            except (ValueError, FileNotFoundError) as exc:
                self.unavailable[logical_id] = f"{type(exc).__name__}: {exc}"
                log(f"[{logical_id}] cannot import its handler: {self.unavailable[logical_id]}")
                continue
            self.pools[logical_id] = FunctionPool(spec, max_workers=max_workers, idle_timeout_s=idle_timeout_s, log=log)
        self._stop = threading.Event()
        self._sweeper = threading.Thread(target=self._stop_idle_workers, name="idle-workers", daemon=True)

    # -- lookup -------------------------------------------------------------------------------
    def logical_id_for(self, name_or_arn: str) -> str | None:
        name = name_or_arn.split(":")[6] if name_or_arn.startswith("arn:") else name_or_arn
        for logical_id, function in self.functions.items():
            if name in {function.name, logical_id}:
                return logical_id
        return None

    def _pool(self, logical_id: str) -> FunctionPool:
        if logical_id in self.unavailable:
            raise HandlerUnavailable(self.unavailable[logical_id])
        return self.pools[logical_id]

    # -- lifecycle ----------------------------------------------------------------------------
    def warm_all(self) -> dict[str, str]:
        """Start one worker per function, all at once; returns {logical id: error} for those that failed."""

        def warm(pool: FunctionPool) -> None:
            with contextlib.suppress(HandlerUnavailable):  # recorded in pool.failure, and printed
                pool.warm()

        with ThreadPoolExecutor(max_workers=max(1, len(self.pools)), thread_name_prefix="warm") as executor:
            list(executor.map(warm, self.pools.values()))
        self._sweeper.start()
        failures = dict(self.unavailable)
        failures.update({lid: pool.failure for lid, pool in self.pools.items() if pool.failure is not None})
        return failures

    def _stop_idle_workers(self) -> None:
        while not self._stop.wait(IDLE_SWEEP_S):
            for pool in self.pools.values():
                pool.stop_idle()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()
        stop_all(list(self.pools.values()))

    def describe(self) -> dict[str, Any]:
        described = {logical_id: pool.describe() for logical_id, pool in self.pools.items()}
        described.update(
            {logical_id: {"failure": error, "workers": []} for logical_id, error in self.unavailable.items()}
        )
        return described

    # -- running ------------------------------------------------------------------------------
    def invoke(self, logical_id: str, event: Any) -> Any:
        """The handler's result, from a worker of the function; FunctionError or HandlerUnavailable."""
        return self._pool(logical_id).invoke(event)

    def openapi(self, logical_id: str) -> str | None:
        return self._pool(logical_id).openapi()


@contextmanager
def patch_moto_lambda(runtime: FunctionRuntime, log: Callable[[str], None] = print) -> Iterator[None]:
    """moto's Lambda Invoke runs the template's real handler (sync, or in a thread for `Event`)."""
    from moto.awslambda_simple.models import LambdaSimpleBackend

    original = LambdaSimpleBackend.invoke

    def invoke(
        backend: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> str | bytes | None:
        found = backend.get_function(function_name, qualifier)  # unknown -> ResourceNotFound, as on AWS
        logical_id = runtime.logical_id_for(found.function_name)
        if logical_id is None:
            return original(backend, function_name, qualifier, body, headers, response_headers)
        text = body.decode() if isinstance(body, bytes) else (body or "")
        event = json.loads(text) if text else {}
        invocation_type = (headers.get("X-Amz-Invocation-Type") if headers else None) or "RequestResponse"
        if invocation_type == "Event":
            threading.Thread(
                target=_run_async, args=(runtime, logical_id, event, log), name=f"async-{logical_id}", daemon=True
            ).start()
            return b""
        if invocation_type == "DryRun":
            return b""
        try:
            return json.dumps(runtime.invoke(logical_id, event)).encode()
        except (FunctionError, HandlerUnavailable) as exc:
            if not runtime.stopping:  # Step Functions tasks still running when Ctrl-C came: no news
                log(f"[{logical_id}] function error, returned to the caller: {exc}")
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(_error_payload(exc)).encode()

    setattr(LambdaSimpleBackend, "invoke", invoke)  # noqa: B010
    try:
        yield
    finally:
        setattr(LambdaSimpleBackend, "invoke", original)  # noqa: B010


def _error_payload(exc: FunctionError | HandlerUnavailable) -> dict[str, Any]:
    if isinstance(exc, FunctionError):
        return exc.payload
    # What Lambda answers when the function's init fails.
    return {
        "errorType": "Runtime.ImportModuleError",
        "errorMessage": f"Unable to import module: {exc}",
        "stackTrace": [],
    }


def _run_async(runtime: FunctionRuntime, logical_id: str, event: Any, log: Callable[[str], None]) -> None:
    try:
        runtime.invoke(logical_id, event)
    except (FunctionError, HandlerUnavailable) as exc:  # nobody waits for an asynchronous invocation
        if not runtime.stopping:
            log(f"[{logical_id}] asynchronous invocation failed: {exc}")
