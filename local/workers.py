"""Worker processes per function, as Lambda runs execution environments: the stack's side.

A `FunctionPool` holds the workers of one function. An invocation takes an idle worker (the most
recently used: the warmest), or starts one if the pool is below its cap (a cold start, as on Lambda),
or waits for one to be free. A worker runs one event at a time. A worker that dies or overruns the
function's Timeout is killed and dropped; the next invocation starts a fresh one. A handler that
cannot be imported makes the function unavailable until the stack restarts, with the import error
printed once. Workers idle for longer than the idle timeout are stopped, down to one.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local import ipc

REPO_ROOT = Path(__file__).resolve().parent.parent
# Only the worker module is imported from the repository; the handler then sees its own code first.
_BOOT = (
    "import sys; sys.path.insert(0, {root!r}); from local import worker; del sys.path[0]; "
    "sys.exit(worker.main(sys.argv))"
)
TIMEOUT_GRACE_S = 1.0  # the worker's own answer may still be on its way when the Timeout strikes
STARTUP_TIMEOUT_S = 120.0  # an import that takes longer is stuck
STOP_GRACE_S = 2.0
DELIVERY_ATTEMPTS = 3


class HandlerUnavailable(Exception):
    """The function's code could not be imported (the import error was already printed)."""


class FunctionError(Exception):
    """The invocation failed as Lambda reports it: `payload` has errorType, errorMessage, stackTrace."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(f"{payload.get('errorType')}: {payload.get('errorMessage')}")
        self.payload = payload


class WorkerGone(Exception):
    """The worker had ended before it could be given the event (nothing was delivered)."""


class WorkerLost(Exception):
    """The worker died, or was killed for overrunning the function's Timeout."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload["errorMessage"])
        self.payload = payload


@dataclass(frozen=True)
class WorkerSpec:
    """How to start a worker of one function: its environment and what it imports."""

    logical_id: str
    function_name: str
    function_arn: str
    handler: str
    code_dir: Path
    layers: tuple[Path, ...]
    timeout_s: float
    memory_mb: int
    environment: Mapping[str, str]

    def init_message(self, log_stream_name: str) -> dict[str, Any]:
        return {
            "type": "init",
            "logical_id": self.logical_id,
            "function_name": self.function_name,
            "function_arn": self.function_arn,
            "handler": self.handler,
            "code_dir": str(self.code_dir),
            "layers": [str(layer) for layer in self.layers],
            "timeout_s": self.timeout_s,
            "memory_mb": self.memory_mb,
            "log_stream_name": log_stream_name,
        }


class Worker:
    """One worker process and the stack's end of its socket; one call at a time (the pool sees to it)."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        ours, theirs = socket.socketpair()
        environment = {**spec.environment, "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream_name}
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-P", "-c", _BOOT.format(root=str(REPO_ROOT)), str(theirs.fileno())],
                env=environment,
                cwd=spec.code_dir,
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.sock = ours
        self._closing = False
        self.invocations = 0
        self.idle_since = time.monotonic()

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def start(self) -> None:
        """Send the init message and wait for the import; raises HandlerUnavailable if it fails."""
        try:
            ipc.send(self.sock, self.spec.init_message(self.log_stream_name))
            self.sock.settimeout(STARTUP_TIMEOUT_S)
            reply = ipc.receive(self.sock)
        except TimeoutError as exc:
            self.kill()
            raise HandlerUnavailable(f"the handler's import took more than {STARTUP_TIMEOUT_S:.0f} s") from exc
        except (ipc.ChannelClosed, OSError) as exc:
            self.kill()
            raise HandlerUnavailable(f"the worker exited during init ({self._exit_status()})") from exc
        if reply.get("type") == "import_error":
            self.kill()
            raise HandlerUnavailable(str(reply.get("error")), str(reply.get("traceback", "")))
        if reply.get("type") != "ready":
            self.kill()
            raise HandlerUnavailable(f"unexpected answer to init: {reply.get('type')!r}")

    def call(self, message: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send a request and wait for the answer; WorkerLost if the worker dies or overruns."""
        try:
            self.sock.settimeout(timeout_s)
            ipc.send(self.sock, message)
        except OSError as exc:  # its end of the socket is closed: it never got the message
            self.kill()
            raise WorkerGone(str(exc)) from None
        try:
            return ipc.receive(self.sock)
        except TimeoutError:
            self.kill()
            raise WorkerLost(
                {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {message.get('request_id')} Error: Task timed out after "
                    f"{self.spec.timeout_s:.2f} seconds",
                }
            ) from None
        except (ipc.ChannelClosed, OSError):
            status = "stopped by the local stack" if self._closing else self._exit_status()
            self.kill()
            raise WorkerLost(
                {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {message.get('request_id')} Error: Runtime exited with error: "
                    f"{status}",
                }
            ) from None

    def _exit_status(self) -> str:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=1)  # its socket closes as it exits: the code follows shortly
        code = self.process.returncode
        if code is None:
            return "still running"
        return f"signal: {-code}" if code < 0 else f"exit status {code}"

    def close(self) -> None:
        """Ask the worker to end (end of its socket); `reap` waits for it. A thread blocked on the
        socket wakes up at once (shutdown, unlike close, interrupts a pending recv)."""
        self._closing = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()

    def reap(self, timeout_s: float) -> None:
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        self.close()
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


class FunctionPool:
    def __init__(
        self,
        spec: WorkerSpec,
        *,
        max_workers: int,
        idle_timeout_s: float,
        log: Callable[[str], None] = print,
        worker_factory: Callable[[WorkerSpec], Worker] = Worker,
    ) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.spec = spec
        self.max_workers = max_workers
        self.idle_timeout_s = idle_timeout_s
        self._log = log
        self._new_worker = worker_factory
        self._cond = threading.Condition()
        self._idle: list[Worker] = []  # the last one is the most recently used
        self._busy: set[Worker] = set()
        self._starting = 0
        self._closed = False
        self.failure: str | None = None
        self.started = 0  # workers started (cold starts)
        self.invocations = 0
        self.lost = 0  # workers that died or overran
        self._openapi: str | None = None

    # -- taking and giving back a worker ------------------------------------------------------
    def _acquire(self) -> Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise HandlerUnavailable("the local stack is stopping")
                if self.failure is not None:
                    raise HandlerUnavailable(self.failure)
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        self._busy.add(worker)
                        return worker
                    self.lost += 1  # died while idle (killed from outside): replaced below
                    worker.kill()
                if len(self._busy) + self._starting < self.max_workers:
                    self._starting += 1
                    break
                self._cond.wait()
        return self._start_worker()

    def _start_worker(self) -> Worker:
        worker: Worker | None = None
        try:
            worker = self._new_worker(self.spec)
            worker.start()
        except HandlerUnavailable as exc:
            with self._cond:
                self._starting -= 1
                if self.failure is None:
                    self.failure = str(exc.args[0])
                    detail = exc.args[1] if len(exc.args) > 1 else ""
                    self._log(f"[{self.spec.logical_id}] cannot import its handler: {self.failure}\n{detail}".rstrip())
                self._cond.notify_all()
            raise HandlerUnavailable(self.failure) from None
        except BaseException:
            if worker is not None:
                worker.kill()
            with self._cond:
                self._starting -= 1
                self._cond.notify_all()
            raise
        with self._cond:
            self._starting -= 1
            self.started += 1
            if self._closed:
                worker.kill()
                raise HandlerUnavailable("the local stack is stopping")
            self._busy.add(worker)
        return worker

    def _release(self, worker: Worker) -> None:
        with self._cond:
            self._busy.discard(worker)
            if self._closed:
                worker.kill()
            else:
                worker.idle_since = time.monotonic()
                self._idle.append(worker)
            self._cond.notify()

    def _drop(self, worker: Worker) -> None:
        with self._cond:
            self._busy.discard(worker)
            self.lost += 1
            self._cond.notify()

    # -- what the stack calls -----------------------------------------------------------------
    def invoke(self, event: Any, request_id: str | None = None) -> Any:
        """The handler's result; FunctionError for what Lambda reports as a function error."""
        message = {"type": "invoke", "request_id": request_id or str(uuid.uuid4()), "event": event}
        worker, reply = self._call(message, self.spec.timeout_s + TIMEOUT_GRACE_S)
        worker.invocations += 1
        with self._cond:
            self.invocations += 1
        self._release(worker)
        if reply.get("type") == "result":
            return reply.get("result")
        raise FunctionError(dict(reply.get("error") or {"errorType": "Unknown", "errorMessage": "no answer"}))

    def _call(self, message: dict[str, Any], timeout_s: float) -> tuple[Worker, dict[str, Any]]:
        """A worker and its answer. A worker found dead before it got the message is replaced (the
        message was never delivered); one lost after is a function error, as on Lambda."""
        for _ in range(DELIVERY_ATTEMPTS):
            worker = self._acquire()
            try:
                return worker, worker.call(message, timeout_s)
            except WorkerGone:
                self._drop(worker)
            except WorkerLost as lost:
                self._drop(worker)
                if not self._closed:  # at stop, every busy worker is lost: no news
                    self._log(f"[{self.spec.logical_id}] {lost.payload['errorType']}: {lost.payload['errorMessage']}")
                raise FunctionError({**lost.payload, "stackTrace": []}) from None
            except BaseException:
                worker.kill()
                self._drop(worker)
                raise
        error = f"{DELIVERY_ATTEMPTS} workers in a row ended before they could take the event"
        raise FunctionError({"errorType": "Runtime.ExitError", "errorMessage": error, "stackTrace": []})

    def openapi(self) -> str | None:
        """The handler module's OpenAPI document (asked once of a worker; the code does not change)."""
        if self._openapi is not None:
            return self._openapi
        try:
            worker, reply = self._call({"type": "openapi"}, STARTUP_TIMEOUT_S)
        except FunctionError:
            return None
        self._release(worker)
        if reply.get("error"):
            self._log(f"[{self.spec.logical_id}] no OpenAPI document: {reply['error']}")
        document = reply.get("document")
        self._openapi = str(document) if document is not None else None
        return self._openapi

    def warm(self) -> None:
        """Start one worker now, if none is idle (raises HandlerUnavailable if the import fails)."""
        with self._cond:
            if self._idle:
                return
        self._release(self._acquire())

    def stop_idle(self, now: float | None = None) -> int:
        """Stop workers idle for longer than the idle timeout, keeping one; returns how many."""
        now = time.monotonic() if now is None else now
        with self._cond:
            stale = [w for w in self._idle[:-1] if now - w.idle_since > self.idle_timeout_s]
            self._idle = [w for w in self._idle if w not in stale]
        for worker in stale:
            worker.close()
            worker.reap(STOP_GRACE_S)
        return len(stale)

    def describe(self) -> dict[str, Any]:
        with self._cond:
            workers = [(w, "idle") for w in self._idle] + [(w, "busy") for w in self._busy]
            return {
                "max_workers": self.max_workers,
                "started": self.started,
                "invocations": self.invocations,
                "lost": self.lost,
                "failure": self.failure,
                "workers": [{"pid": w.pid, "state": state, "invocations": w.invocations} for w, state in workers],
            }

    def close(self) -> list[Worker]:
        """No new invocations; every worker is asked to end. Returns them, for `reap`."""
        with self._cond:
            self._closed = True
            workers = [*self._idle, *self._busy]
            self._idle = []
            self._cond.notify_all()
        for worker in workers:
            worker.close()
        return workers


def stop_all(pools: list[FunctionPool]) -> None:
    """Close every pool, then wait (briefly, all together) for the workers to end; kill the rest."""
    workers = [worker for pool in pools for worker in pool.close()]
    deadline = time.monotonic() + STOP_GRACE_S
    for worker in workers:
        worker.reap(max(0.0, deadline - time.monotonic()))
