"""Fixtures: one simulator and one callback receiver per test module, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator import SimulatorConfig, SimulatorServer
from simulator.crypto import KeyMaterial
from tests.support.daraja_wire import Daraja
from tests.support.openapi_wire import OpenApi
from tests.support.receiver import CallbackReceiver

# Small delays keep the suite fast; tests wait on events, never assert durations.
FAST = {
    "callback_delay_s": 0.02,
    "auto_act_delay_s": 0.05,
    "validation_timeout_s": 0.5,
    "callback_timeout_s": 2.0,
    "out_of_order_max_hold_s": 0.3,
    "b2c_processing_delay_s": 0.05,
    "openapi_prompt_timeout_s": 5.0,
}


@pytest.fixture(scope="session")
def private_key_pem() -> str:
    """One RSA key for the whole session (generating 2048-bit keys per module is slow)."""
    return KeyMaterial().private_key_pem


@pytest.fixture(scope="session")
def openapi_private_key_pem() -> str:
    """The OpenAPI key pair is separate from the Daraja one: a second session-wide key."""
    return KeyMaterial().private_key_pem


@pytest.fixture(scope="module")
def receiver() -> Iterator[CallbackReceiver]:
    server = CallbackReceiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(private_key_pem: str, openapi_private_key_pem: str) -> Iterator[SimulatorServer]:
    config = SimulatorConfig(private_key_pem=private_key_pem, openapi_private_key_pem=openapi_private_key_pem, **FAST)
    with SimulatorServer(host="127.0.0.1", port=0, config=config) as running:
        yield running


@pytest.fixture
def daraja(server: SimulatorServer, receiver: CallbackReceiver) -> Daraja:
    server.reset()
    receiver.reset()
    return Daraja(server.url, receiver.url)


@pytest.fixture
def openapi(server: SimulatorServer) -> Iterator[OpenApi]:
    server.reset()
    client = OpenApi(server.url)
    yield client
    client.close()
