"""Run the template's Lambda handlers in this process, each with its own environment.

Handlers are imported by their package path when their folder is a package (`functions/x/app.py`
with `__init__.py` files up to the repository root becomes `functions.x.app`), otherwise by file path
under a unique module name, so two `app.py` files never clash. The function's layers are put on
`sys.path` first, as `/opt/python` is on Lambda.

`patch_moto_lambda()` routes moto's Lambda `Invoke` (used by Step Functions Task states and by any
`lambda.invoke` call against the local endpoint) to these handlers.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from local.environ import ScopedEnviron
from local.template import Function, StackModel

Handler = Callable[[Any, Any], Any]


class HandlerUnavailable(Exception):
    """The function's code could not be imported (the import error was already printed)."""


@dataclass
class LambdaContext:
    """The attributes of the Python runtime's context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_s: float
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    identity: Any = None
    client_context: Any = None
    _started: float = field(default_factory=time.monotonic)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/[$LATEST]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        remaining = self.timeout_s - (time.monotonic() - self._started)
        return max(0, int(remaining * 1000))


class FunctionRuntime:
    def __init__(
        self,
        model: StackModel,
        environ: ScopedEnviron,
        environments: dict[str, dict[str, str]],
        *,
        log: Callable[[str], None] = print,
    ) -> None:
        self.model = model
        self.environ = environ
        self.environments = environments  # logical id -> variables that differ from the common ones
        self.functions: dict[str, Function] = model.functions()
        self._handlers: dict[str, Handler] = {}
        self._import_lock = threading.RLock()
        self._log = log

    # -- lookup -------------------------------------------------------------------------------
    def logical_id_for(self, name_or_arn: str) -> str | None:
        name = name_or_arn.split(":")[6] if name_or_arn.startswith("arn:") else name_or_arn
        for logical_id, function in self.functions.items():
            if name in {function.name, logical_id}:
                return logical_id
        return None

    @contextmanager
    def scope(self, logical_id: str) -> Iterator[None]:
        function = self.functions[logical_id]
        extra = {
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.properties.get("MemorySize", 128)),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
            "_HANDLER": str(function.properties.get("Handler", "")),
        }
        with self.environ.scope({**extra, **self.environments.get(logical_id, {})}):
            yield

    # -- import -------------------------------------------------------------------------------
    def load_all(self) -> dict[str, str]:
        """Import every handler now; returns {logical id: error line} for those that failed."""
        failures: dict[str, str] = {}
        for logical_id in self.functions:
            try:
                self.handler(logical_id)
            except HandlerUnavailable as exc:
                failures[logical_id] = str(exc)
        return failures

    def handler(self, logical_id: str) -> Handler:
        with self._import_lock:
            if logical_id not in self._handlers:
                function = self.functions[logical_id]
                with self.scope(logical_id):
                    try:
                        self._handlers[logical_id] = self._import(function)
                    except Exception as exc:
                        self._log(f"[{logical_id}] cannot import its handler:\n{traceback.format_exc()}")
                        raise HandlerUnavailable(f"{type(exc).__name__}: {exc}") from exc
            return self._handlers[logical_id]

    def _import(self, function: Function) -> Handler:
        props = function.properties
        if "Handler" not in props:
            raise ValueError("no Handler property")
        code_uri = props.get("CodeUri", ".")
        if not isinstance(code_uri, str):
            raise ValueError("only a local CodeUri folder is supported")
        module_part, _, attribute = str(props["Handler"]).rpartition(".")
        base = (self.model.root / code_uri).resolve()
        source = base / (module_part.replace(".", "/") + ".py")
        if not source.is_file():
            raise FileNotFoundError(f"{source} (from CodeUri {code_uri!r} and Handler {props['Handler']!r})")
        for layer in self.model.function_layer_paths(function.logical_id):
            if str(layer) not in sys.path:
                sys.path.append(str(layer))
        module = _import_module(source, function.logical_id, base)
        handler = getattr(module, attribute, None)
        if not callable(handler):
            raise AttributeError(f"{module.__name__} has no callable {attribute!r}")
        return handler  # type: ignore[no-any-return]

    def module(self, logical_id: str) -> ModuleType | None:
        handler = self._handlers.get(logical_id)
        return sys.modules.get(handler.__module__) if handler is not None else None

    # -- invoke -------------------------------------------------------------------------------
    def invoke(self, logical_id: str, event: Any) -> Any:
        """Run the handler in this thread with the function's environment; exceptions propagate."""
        function = self.functions[logical_id]
        handler = self.handler(logical_id)
        context = LambdaContext(
            function_name=function.name,
            invoked_function_arn=function.arn,
            memory_limit_in_mb=int(function.properties.get("MemorySize", 128)),
            timeout_s=float(function.properties.get("Timeout", 3)),
        )
        with self.scope(logical_id):
            return handler(event, context)


def _import_module(source: Path, logical_id: str, base: Path) -> ModuleType:
    directory = source.parent
    if (directory / "__init__.py").is_file():
        parts = [source.stem]
        root = directory
        while (root / "__init__.py").is_file():
            parts.insert(0, root.name)
            root = root.parent
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        module = importlib.import_module(".".join(parts))
        if module.__file__ is not None and Path(module.__file__).resolve() == source:
            return module
    # Not a package (or shadowed by another module of that name): load by path, uniquely named.
    if str(base) not in sys.path:
        sys.path.append(str(base))
    name = f"_local_handler_{logical_id}_{source.stem}"
    spec = importlib.util.spec_from_file_location(name, source)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {source}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def lambda_error_payload(exc: BaseException) -> dict[str, Any]:
    """What Lambda returns for an unhandled exception (errorType is what Retry/Catch match)."""
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


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
            result = runtime.invoke(logical_id, event)
            return json.dumps(result).encode()
        except Exception as exc:  # noqa: BLE001 (Lambda reports any unhandled error)
            log(f"[{logical_id}] unhandled error (returned to the caller as a Lambda function error):")
            log(traceback.format_exc())
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(lambda_error_payload(exc)).encode()

    setattr(LambdaSimpleBackend, "invoke", invoke)  # noqa: B010
    try:
        yield
    finally:
        setattr(LambdaSimpleBackend, "invoke", original)  # noqa: B010


def _run_async(runtime: FunctionRuntime, logical_id: str, event: Any, log: Callable[[str], None]) -> None:
    try:
        runtime.invoke(logical_id, event)
    except Exception:  # noqa: BLE001 (nobody waits for an async invocation)
        log(f"[{logical_id}] unhandled error in an asynchronous invocation:\n{traceback.format_exc()}")
