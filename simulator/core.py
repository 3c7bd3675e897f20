"""The composition root: one ``Simulator`` holds the config, the state and every service."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from simulator.auth import TokenStore
from simulator.b2c import B2CService
from simulator.c2b import C2BService
from simulator.callbacks import CallbackDispatcher
from simulator.config import SimulatorConfig
from simulator.crypto import KeyMaterial
from simulator.faults import FaultQueue
from simulator.ids import IdGenerator
from simulator.inquiries import InquiryService
from simulator.journal import CallbackLog, RequestLog
from simulator.openapi.service import OpenApiService
from simulator.pull import PullService
from simulator.scheduler import Scheduler
from simulator.state import Balances, Store
from simulator.stk import StkService


def _balances(config: SimulatorConfig) -> Balances:
    return Balances(
        working=config.working_balance,
        utility=config.utility_balance,
        charges_paid=config.charges_paid_balance,
    )


class Simulator:
    """Daraja's side of the conversation, minus HTTP (see ``simulator.app`` for the routes)."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self._initial_config = config or SimulatorConfig()
        self._config = self._initial_config
        self._config_lock = threading.Lock()
        self.ids = IdGenerator()
        self.keys = KeyMaterial(self._initial_config.private_key_pem)
        self.tokens = TokenStore(self.ids)
        self.store = Store(_balances(self._initial_config))
        self.requests = RequestLog()
        self.callback_log = CallbackLog()
        self.faults = FaultQueue()
        self.scheduler = Scheduler()
        self.dispatcher = CallbackDispatcher(
            lambda: self.config, self.scheduler, self.callback_log, lambda: self.store.balances().utility
        )
        self.stk = StkService(self)
        self.c2b = C2BService(self)
        self.b2c = B2CService(self)
        self.inquiries = InquiryService(self)
        self.openapi = OpenApiService(self)
        self.pull = PullService(self)

    @property
    def config(self) -> SimulatorConfig:
        return self._config

    def configure(self, changes: Mapping[str, Any]) -> SimulatorConfig:
        """Apply a partial update atomically.

        Raises KeyError for an unknown key, pydantic's ValidationError for a bad value."""
        with self._config_lock:
            self._config = self._config.patched(changes)
            return self._config

    def reset(self) -> None:
        """Forget everything (transactions, tokens, faults, logs, registrations, scheduled work) and
        return to the configuration the simulator was started with. The key pair is kept."""
        with self._config_lock:
            self._config = self._initial_config
        self.scheduler.clear()
        self.callback_log.reset()
        self.dispatcher.reset()
        self.tokens.revoke_all()
        self.faults.clear()
        self.requests.clear()
        self.store.reset(_balances(self._initial_config))
        self.openapi.reset()

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.stop()
        self.dispatcher.shutdown()
        self.openapi.reset()  # release requests still waiting for a customer
