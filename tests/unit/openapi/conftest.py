from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mpesa.settings import OpenApiSettings
from tests.support.daraja import FakeClock, moto_state_table
from tests.support.openapi import new_private_key, openapi_settings, public_key_b64


@pytest.fixture(scope="session")
def private_key() -> rsa.RSAPrivateKey:
    return new_private_key()


@pytest.fixture(scope="session")
def public_key(private_key: rsa.RSAPrivateKey) -> str:
    return public_key_b64(private_key)


@pytest.fixture
def settings(public_key: str) -> OpenApiSettings:
    return openapi_settings(public_key)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with moto_state_table() as client:
        yield client
