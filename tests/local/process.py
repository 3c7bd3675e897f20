"""Start `python -m local` as a subprocess on free ports (the path `make run` takes), and stop it."""

from __future__ import annotations

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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """(status, parsed JSON or text) over plain HTTP; never raises for an HTTP error status."""
    data = None
    all_headers = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback URLs only)
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


class StackProcess:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.ports = {"api": free_port(), "simulator": free_port(), "aws": free_port()}
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AWS_", "LOCAL_", "SIMULATOR_", "MOTO_")) and key != "PYTEST_CURRENT_TEST"
        }
        self.env.update(
            {
                "LOCAL_API_PORT": str(self.ports["api"]),
                "LOCAL_SIMULATOR_PORT": str(self.ports["simulator"]),
                "LOCAL_AWS_PORT": str(self.ports["aws"]),
                "PYTHONUNBUFFERED": "1",
                "LOCAL_PARENT_PID": str(os.getpid()),  # the stack stops if the test run dies
            }
        )
        self.env.update(env)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

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

    def start(self) -> StackProcess:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local"], cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the local stack exited with {self.process.returncode}:\n{self.output()}")
            try:
                status, _ = http("GET", f"{self.api}/_local/health")
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
