"""Start `python -m local` as a subprocess on free ports (the path `make run` takes), and stop it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 90.0
PORT_VARIABLES = {"api": "LOCAL_API_PORT", "simulator": "LOCAL_SIMULATOR_PORT", "aws": "LOCAL_AWS_PORT"}


BUSY_PORT_EXIT_CODE = 2  # `python -m local` when a port is taken


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports: every socket stays bound until all are chosen."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def free_port() -> int:
    (port,) = free_ports(1)
    return port


def http(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 30.0
) -> tuple[int, Any]:
    """(status, parsed JSON or text) over plain HTTP; never raises for an HTTP error status."""
    data = None
    all_headers = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback URLs only)
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


class StackProcess:
    def __init__(self, env: dict[str, str], log_path: Path, module: str = "local") -> None:
        self.module = module  # what `python -m` runs: the local stack, or a wrapper of it
        self.ports: dict[str, int] = {}
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AWS_", "LOCAL_", "SIMULATOR_", "MOTO_")) and key != "PYTEST_CURRENT_TEST"
        }
        self.env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "LOCAL_PARENT_PID": str(os.getpid()),  # the stack stops if the test run dies
            }
        )
        self.env.update(env)
        self.choose_ports()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def choose_ports(self) -> None:
        """New free ports for the stack (a port taken since it was chosen makes the stack exit with 2)."""
        self.ports = dict(zip(PORT_VARIABLES, free_ports(len(PORT_VARIABLES)), strict=True))
        self.env.update({variable: str(self.ports[which]) for which, variable in PORT_VARIABLES.items()})

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    @property
    def simulator(self) -> str:
        return f"http://127.0.0.1:{self.ports['simulator']}"

    @property
    def aws(self) -> str:
        return f"http://127.0.0.1:{self.ports['aws']}"

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def start(self, *, retry_busy_port: bool = True) -> StackProcess:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module], cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if self.process.returncode == BUSY_PORT_EXIT_CODE and retry_busy_port:
                    # Another process took a chosen port in between: once more, on new ports.
                    self.choose_ports()
                    return self.start(retry_busy_port=False)
                raise RuntimeError(f"the local stack exited with {self.process.returncode}:\n{self.output()}")
            try:
                # Short: a port taken by another program may accept and never answer.
                status, _ = http("GET", f"{self.api}/_local/health", timeout=2.0)
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the local stack did not become healthy:\n{self.output()}")

    def stop(self, timeout: float = 20.0) -> int | None:
        """Ctrl-C (SIGINT), as a person would; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def wait_for(condition: Any, timeout: float = 30.0, interval: float = 0.1, message: str = "condition") -> Any:
    """Poll `condition()` until it returns something truthy; the value is returned."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}; last value: {last!r}")
