"""Command line entry point: read settings from the environment, start, print URLs, wait, stop."""

from __future__ import annotations

import os
import signal
import threading
import traceback
from types import FrameType

from local.stack import LocalStack, Settings, StartupError, log


def _stop_with_parent(parent_pid: str | None, stop: threading.Event) -> None:
    """With LOCAL_PARENT_PID (set by the test harness), stop when that process is gone: no orphans."""
    if not parent_pid or not parent_pid.isdigit():
        return

    def watch() -> None:
        while not stop.wait(1.0):
            if os.getppid() != int(parent_pid):
                stop.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def install_stop_signals(stop: threading.Event) -> None:
    """Ctrl-C or SIGTERM sets `stop`; after the first, the default action is back, so a second one
    (Ctrl-C while the stack is stopping) ends the process at once."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signal.signal(signum, signal.SIG_DFL)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def main() -> int:
    stop = threading.Event()
    install_stop_signals(stop)
    _stop_with_parent(os.environ.get("LOCAL_PARENT_PID"), stop)
    stack: LocalStack | None = None
    try:
        settings = Settings.from_env(os.environ)
        candidate = LocalStack(settings)
        candidate.check_ports()
        log("Starting the local stack (moto, Daraja simulator, HTTP front)...")
        stack = candidate
        stack.start()
        if stop.is_set():
            return 0
        log(stack.banner())
        while not stop.wait(0.5):
            pass
        log("Stopping...")
        return 0
    except StartupError as exc:
        log(f"error: {exc}")
        return exc.exit_code
    except Exception:  # noqa: BLE001 (report any startup failure, then stop what started)
        log(f"error: the local stack could not start:\n{traceback.format_exc()}")
        return 1
    finally:
        if stack is not None:
            stack.stop()
            log("Stopped.")
