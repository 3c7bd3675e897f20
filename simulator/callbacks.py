"""Callback delivery: real HTTP POSTs of JSON, in the background, shaped by ``callback_mode``.

A callback is handed to the timer queue with its delay (``callback_delay_s`` unless given). When it
is due, the mode in force *at that moment* decides what happens:

* ``normal``: one POST.
* ``drop``: no POST; the log records ``delivered: false`` and ``error: "dropped (callback_mode=drop)"``.
* ``duplicate``: ``duplicate_count`` identical POSTs, sent concurrently.
* ``out_of_order``: callbacks are paired. The first due callback is held; when the next one is due,
  the newer one is POSTed first and then the held one, in that order, from one worker. A held
  callback with no successor is POSTed alone after ``out_of_order_max_hold_s``.

POSTs run on a worker pool with a 3 s connect timeout and ``callback_timeout_s`` read timeout; one
attempt each (Daraja does not retry). Every attempt is logged (see ``GET /simulator/callbacks``);
``delivered`` means the receiver answered with an HTTP response, whatever its status.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests

from simulator import clock, jsonenc, payloads, shapes
from simulator.config import SimulatorConfig
from simulator.journal import CallbackLog
from simulator.scheduler import Scheduler

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 3.0
HEADERS = {"Content-Type": "application/json", "User-Agent": "daraja-simulator/1"}


@dataclass(frozen=True)
class Callback:
    url: str
    kind: str
    payload: Any
    generation: int
    shape: str = shapes.STANDARD


@dataclass(frozen=True)
class Delivery:
    delivered: bool
    status: int | None
    body: str | None
    error: str | None


class CallbackDispatcher:
    def __init__(
        self,
        config: Callable[[], SimulatorConfig],
        scheduler: Scheduler,
        log_: CallbackLog,
        balance: Callable[[], Decimal] = lambda: Decimal(0),
    ) -> None:
        self._config = config
        self._scheduler = scheduler
        self._log = log_
        self._balance = balance  # the utility balance, for the ``balance_string`` shape
        self._rng = random.Random()
        self._pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="sim-callback")
        self._lock = threading.Lock()
        self._held: Callback | None = None

    # --- public API ----------------------------------------------------------------------------
    def send(self, url: str, kind: str, payload: Any, delay_s: float | None = None) -> None:
        """Schedule a callback (never blocks the caller). Its wire shape is fixed now, so the copies
        of a duplicated callback are identical."""
        config = self._config()
        callback = self._shaped(url, kind, payload, config)
        wait = config.callback_delay_s if delay_s is None else delay_s
        self._scheduler.call_later(wait, lambda: self._release(callback))

    def _shaped(self, url: str, kind: str, payload: Any, config: SimulatorConfig) -> Callback:
        """The callback as it goes on the wire: ``result_code_as_string``, then ``callback_shape``."""
        if config.result_code_as_string:
            payload = payloads.with_string_result_code(payload)
        balance = self._balance() if config.callback_shape != shapes.STANDARD else Decimal(0)
        payload, shape = shapes.reshape(payload, config.callback_shape, balance=balance, rng=self._rng)
        return Callback(url, kind, payload, self._log.generation, shape)

    def run_later(self, delay_s: float, work: Callable[[], object]) -> None:
        """Run ``work`` on the worker pool after ``delay_s`` (for flows that make blocking calls)."""
        self._scheduler.call_later(delay_s, lambda: self._submit(work))

    def post_now(self, url: str, kind: str, payload: Any, timeout_s: float) -> Delivery:
        """POST synchronously (in the caller's background thread) and log it; used for C2B validation,
        which M-Pesa waits for, so ``callback_mode`` does not apply to it."""
        return self._post(self._shaped(url, kind, payload, self._config()), timeout_s)

    def reset(self) -> None:
        with self._lock:
            self._held = None

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- modes ---------------------------------------------------------------------------------
    def _release(self, callback: Callback) -> None:
        if callback.generation != self._log.generation:
            return  # reset happened since the callback was created
        config = self._config()
        if config.callback_mode == "drop":
            self._log.record(
                generation=callback.generation,
                url=callback.url,
                kind=callback.kind,
                payload=callback.payload,
                delivered=False,
                response_status=None,
                error="dropped (callback_mode=drop)",
                time=clock.iso(clock.now_eat()),
                shape=callback.shape,
            )
        elif config.callback_mode == "duplicate":
            for _ in range(config.duplicate_count):
                self._submit(lambda: self._deliver(callback))
        elif config.callback_mode == "out_of_order":
            self._pair(callback, config)
        else:
            self._submit(lambda: self._deliver(callback))

    def _pair(self, callback: Callback, config: SimulatorConfig) -> None:
        with self._lock:
            held, self._held = self._held, None
            if held is None:
                self._held = callback
        if held is None:
            self._scheduler.call_later(config.out_of_order_max_hold_s, lambda: self._flush(callback))
            return

        def newer_then_older() -> None:
            self._deliver(callback)
            self._deliver(held)

        self._submit(newer_then_older)

    def _flush(self, callback: Callback) -> None:
        with self._lock:
            if self._held is not callback:
                return
            self._held = None
        self._submit(lambda: self._deliver(callback))

    # --- HTTP ----------------------------------------------------------------------------------
    def _submit(self, work: Callable[[], object]) -> None:
        try:
            self._pool.submit(self._guarded, work)
        except RuntimeError:  # pool shut down: the simulator is stopping
            log.debug("callback dropped: simulator stopping")

    @staticmethod
    def _guarded(work: Callable[[], object]) -> None:
        try:
            work()
        except Exception:  # keep the worker alive, but leave a trace
            log.exception("background callback work failed")

    def _deliver(self, callback: Callback) -> None:
        if callback.generation == self._log.generation:  # not reset meanwhile
            self._post(callback, self._config().callback_timeout_s)

    def _post(self, callback: Callback, timeout_s: float) -> Delivery:
        data = jsonenc.dumps(callback.payload).encode("utf-8")
        try:
            with requests.Session() as session:
                session.trust_env = False  # never route loopback callbacks through a proxy
                response = session.post(
                    callback.url, data=data, headers=HEADERS, timeout=(CONNECT_TIMEOUT_S, timeout_s)
                )
            result = Delivery(True, response.status_code, response.text, None)
        except requests.RequestException as exc:
            result = Delivery(False, None, None, f"{type(exc).__name__}: {exc}")
        self._log.record(
            generation=callback.generation,
            url=callback.url,
            kind=callback.kind,
            payload=callback.payload,
            delivered=result.delivered,
            response_status=result.status,
            error=result.error,
            time=clock.iso(clock.now_eat()),
            response_body=result.body,
            shape=callback.shape,
        )
        return result
