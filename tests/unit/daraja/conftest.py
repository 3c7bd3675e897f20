from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.unit.daraja.helpers import STATE_TABLE, FakeClock, moto_state_table, rsa_key_and_certificate

TABLE = STATE_TABLE


@pytest.fixture(scope="session")
def key_and_cert() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    return rsa_key_and_certificate()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with moto_state_table() as client:
        yield client
