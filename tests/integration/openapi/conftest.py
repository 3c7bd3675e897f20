"""Fixtures: the simulator's OpenAPI over loopback HTTP, and clients wired to it (each with its own
session memory and breaker, like a fresh container)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mpesa.openapi.client import OpenApiClient
from mpesa.settings import OpenApiSettings
from simulator.config import SimulatorConfig
from simulator.openapi.keys import OpenApiKeys
from simulator.server import SimulatorServer
from tests.support.openapi import OpenApiControl, build_openapi_client, openapi_settings

PROMPT_TIMEOUT_S = 1.0  # the simulator's C2B answers INS-9 after this (Vodacom's: about a minute)


@pytest.fixture(scope="session")
def simulator() -> Iterator[OpenApiControl]:
    config = SimulatorConfig(callback_delay_s=0.02, auto_act_delay_s=0.05, openapi_prompt_timeout_s=PROMPT_TIMEOUT_S)
    server = SimulatorServer(host="127.0.0.1", port=0, config=config).start()
    yield OpenApiControl(server)
    server.stop()


@pytest.fixture(autouse=True)
def _fresh(simulator: OpenApiControl) -> None:
    simulator.reset()


@pytest.fixture(scope="session")
def sim_public_key(simulator: OpenApiControl) -> str:
    return simulator.public_key()


@pytest.fixture(scope="session")
def sim_keys(simulator: OpenApiControl) -> OpenApiKeys:
    """The simulator's key pair (white box): decrypts the bearers we send."""
    return simulator.server.simulator.openapi.keys


@pytest.fixture
def settings_for(simulator: OpenApiControl, sim_public_key: str) -> Callable[..., OpenApiSettings]:
    def build(**overrides: Any) -> OpenApiSettings:
        values: dict[str, Any] = {
            "MPESA_TZ_BASE_URL": simulator.url,
            "MPESA_TZ_CONNECT_TIMEOUT_S": 2.0,
            "MPESA_TZ_READ_TIMEOUT_S": 3.0,
            "MPESA_TZ_C2B_READ_TIMEOUT_S": PROMPT_TIMEOUT_S + 4.0,  # longer than the prompt: INS-9 arrives
        }
        values.update(overrides)
        return openapi_settings(sim_public_key, **values)

    return build


@pytest.fixture
def client(settings_for: Callable[..., OpenApiSettings]) -> OpenApiClient:
    return build_openapi_client(settings_for())
