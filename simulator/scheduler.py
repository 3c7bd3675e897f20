"""A timer queue: one daemon thread runs short callables when they are due.

Jobs must be quick (settle a record, hand an HTTP delivery to the worker pool). ``clear()`` drops
every pending job (used by reset).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from simulator import clock

log = logging.getLogger(__name__)


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    action: Callable[[], object] = field(compare=False)


class Scheduler:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._jobs: list[_Job] = []
        self._seq = itertools.count()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="sim-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._jobs.clear()
            self._cond.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def call_later(self, delay_s: float, action: Callable[[], object]) -> None:
        with self._cond:
            if self._stopped:
                return
            heapq.heappush(self._jobs, _Job(clock.monotonic() + max(delay_s, 0.0), next(self._seq), action))
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._jobs.clear()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._jobs or self._jobs[0].due > clock.monotonic()):
                    timeout = self._jobs[0].due - clock.monotonic() if self._jobs else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                job = heapq.heappop(self._jobs)
            try:
                job.action()
            except Exception:  # a failing job must not stop the timer thread
                log.exception("scheduled job failed")
