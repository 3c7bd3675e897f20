"""Fixtures: the Daraja simulator over loopback HTTP, a callback receiver, and clients wired to them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mpesa.daraja.client import DarajaClient
from mpesa.service import MpesaService
from mpesa.settings import MpesaSettings
from simulator.config import SimulatorConfig
from simulator.server import SimulatorServer
from tests.support.daraja import make_settings
from tests.support.daraja_simulator import CallbackReceiver, SimulatorControl, build_client


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorControl]:
    config = SimulatorConfig(callback_delay_s=0.02, auto_act_delay_s=0.05)
    server = SimulatorServer(host="127.0.0.1", port=0, config=config).start()
    yield SimulatorControl(server)
    server.stop()


@pytest.fixture(scope="session")
def receiver() -> Iterator[CallbackReceiver]:
    server = CallbackReceiver()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh(simulator: SimulatorControl, receiver: CallbackReceiver) -> None:
    simulator.reset()
    receiver.clear()


@pytest.fixture
def settings_for(simulator: SimulatorControl, receiver: CallbackReceiver) -> Callable[..., MpesaSettings]:
    certificate = simulator.server.certificate_pem

    def build(**overrides: Any) -> MpesaSettings:
        values: dict[str, Any] = {
            "MPESA_BASE_URL": simulator.url,
            "MPESA_CALLBACK_BASE_URL": receiver.url,
            "MPESA_CERTIFICATE_PEM": certificate,
            "MPESA_CONNECT_TIMEOUT_S": 2.0,
            "MPESA_READ_TIMEOUT_S": 5.0,
        }
        values.update(overrides)
        return make_settings(**values)

    return build


@pytest.fixture
def client(settings_for: Callable[..., MpesaSettings]) -> DarajaClient:
    return build_client(settings_for())


@pytest.fixture
def impatient_client(settings_for: Callable[..., MpesaSettings]) -> DarajaClient:
    """Reads time out after 0.5 s: the simulator's `slow` faults (1.5 s) outlast it."""
    return build_client(settings_for(MPESA_READ_TIMEOUT_S=0.5))


@pytest.fixture
def mpesa(client: DarajaClient) -> MpesaService:
    return MpesaService(client=client)
