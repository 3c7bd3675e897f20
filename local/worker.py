"""One worker process of one function: what a Lambda execution environment is, locally.

The stack starts it with exactly the function's environment, sends it the function's description,
and the worker imports the handler as Lambda does: the code folder (CodeUri) first on `sys.path`
and as the working directory, then the function's layers, then the runtime's packages. It then
runs one event at a time, each with a fresh context whose remaining time counts down from the
function's Timeout, and answers with the result or the error Lambda would report. It imports
nothing of the stack but `local.ipc` (standard library only), so a handler sees only its own code.

It ends when the stack closes its socket, and also when the stack's process is gone (it polls its
parent), so a killed stack leaves no worker behind. Ctrl-C in the terminal is the stack's to handle.
"""

from __future__ import annotations

import decimal
import importlib
import os
import signal
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from local import ipc

PARENT_POLL_S = 0.5


@dataclass
class LambdaContext:
    """The attributes of the Python runtime's context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_s: float
    aws_request_id: str
    log_stream_name: str
    function_version: str = "$LATEST"
    identity: Any = None
    client_context: Any = None
    _started: float = field(default_factory=time.monotonic)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        remaining = self.timeout_s - (time.monotonic() - self._started)
        return max(0, int(remaining * 1000))


def error_payload(exc: BaseException) -> dict[str, Any]:
    """What Lambda returns for an unhandled exception (errorType is what Retry/Catch match)."""
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_tb(_handler_frames(exc)),
    }


def _handler_frames(exc: BaseException) -> TracebackType | None:
    """The traceback from the handler's frame down (the worker's own frame is no concern of the reader)."""
    frames = exc.__traceback__
    return frames.tb_next if frames is not None and frames.tb_next is not None else frames


def _json_default(value: Any) -> Any:
    # The Python runtime writes a Decimal as a JSON number; anything else unknown cannot be marshalled.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def import_handler(init: dict[str, Any]) -> Any:
    """The handler callable, imported as Lambda imports it (CodeUri is /var/task, layers are /opt/python)."""
    code_dir = str(init["code_dir"])
    os.chdir(code_dir)
    sys.path[0:0] = [code_dir, *[str(layer) for layer in init["layers"]]]
    module_name, _, attribute = str(init["handler"]).rpartition(".")
    module = importlib.import_module(module_name)
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise AttributeError(f"module {module_name!r} has no callable {attribute!r} (Handler {init['handler']!r})")
    return handler


class Worker:
    def __init__(self, sock: socket.socket, init: dict[str, Any], handler: Any) -> None:
        self.sock = sock
        self.init = init
        self.handler = handler

    def serve(self) -> None:
        while True:
            try:
                message = ipc.receive(self.sock)
            except ipc.ChannelClosed:
                return  # the stack is stopping, or this worker is no longer wanted
            kind = message.get("type")
            if kind == "invoke":
                self._invoke(message)
            elif kind == "openapi":
                ipc.send(self.sock, self._openapi())
            else:
                ipc.send(
                    self.sock,
                    {"type": "error", "error": {"errorType": "LocalProtocolError", "errorMessage": str(kind)}},
                )

    def _invoke(self, message: dict[str, Any]) -> None:
        init = self.init
        context = LambdaContext(
            function_name=init["function_name"],
            invoked_function_arn=init["function_arn"],
            memory_limit_in_mb=int(init["memory_mb"]),
            timeout_s=float(init["timeout_s"]),
            aws_request_id=str(message["request_id"]),
            log_stream_name=init["log_stream_name"],
        )
        try:
            result = self.handler(message["event"], context)
        except Exception as exc:  # noqa: BLE001 (Lambda reports any unhandled error to the caller)
            self._print_error(exc)
            ipc.send(self.sock, {"type": "error", "error": error_payload(exc)})
            return
        try:
            ipc.send(self.sock, {"type": "result", "result": result}, default=_json_default)
        except (TypeError, ValueError) as exc:  # nothing was sent: json.dumps failed first
            marshal = {"errorType": "Runtime.MarshalError", "errorMessage": f"Unable to marshal response: {exc}"}
            sys.stderr.write(f"[{init['logical_id']}] [ERROR] {marshal['errorType']}: {marshal['errorMessage']}\n")
            ipc.send(self.sock, {"type": "error", "error": {**marshal, "stackTrace": []}})

    def _print_error(self, exc: BaseException) -> None:
        # Lambda writes an unhandled error to the function's log; locally that is this console.
        text = "".join(traceback.format_exception(type(exc), exc, _handler_frames(exc)))
        sys.stderr.write(f"[{self.init['logical_id']}] [ERROR] {type(exc).__name__}: {exc}\n{text}")
        sys.stderr.flush()

    def _openapi(self) -> dict[str, Any]:
        """The OpenAPI document of the handler module's Powertools resolver `app`, if it has one."""
        module = sys.modules.get(getattr(self.handler, "__module__", ""))
        resolver = getattr(module, "app", None)
        if resolver is None or not hasattr(resolver, "get_openapi_json_schema"):
            return {"type": "openapi", "document": None}
        try:
            return {"type": "openapi", "document": str(resolver.get_openapi_json_schema())}
        except Exception as exc:  # noqa: BLE001 (reported by the stack; the other documents still merge)
            return {"type": "openapi", "document": None, "error": f"{type(exc).__name__}: {exc}"}


def _exit_with_parent(parent: int) -> None:
    """A busy worker does not read its socket: it notices a vanished stack by its parent pid instead."""

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's Ctrl-C reaches the whole group
    parent = os.getppid()
    _exit_with_parent(parent)
    sock = socket.socket(fileno=int(argv[1]))
    try:
        init = ipc.receive(sock)
    except ipc.ChannelClosed:
        return 0
    try:
        handler = import_handler(init)
    except BaseException as exc:  # noqa: BLE001 (SystemExit in a module is an init failure too)
        ipc.send(
            sock,
            {"type": "import_error", "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()},
        )
        return 1
    ipc.send(sock, {"type": "ready"})
    Worker(sock, init, handler).serve()
    # The stack has let go of this worker. Like a Lambda environment that is shut down, it just ends:
    # tearing a whole interpreter down (dozens of workers at once when the stack stops) takes seconds.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
