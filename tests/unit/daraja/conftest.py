from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from mpesa.settings import MpesaSettings
from tests.support.daraja import (
    FakeClock,
    make_settings,
    moto_state_table,
    pem,
    rsa_key_and_certificate,
)
from tests.support.fake_daraja import FakeDaraja, install


@pytest.fixture(scope="session")
def key_and_cert() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    return rsa_key_and_certificate()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeDaraja:
    """Every Daraja call in the test goes to a scripted FakeDaraja."""
    return install(monkeypatch)


@pytest.fixture
def settings(key_and_cert: tuple[rsa.RSAPrivateKey, x509.Certificate]) -> MpesaSettings:
    """Sandbox settings with the test certificate (B2C can encrypt its credential)."""
    return make_settings(MPESA_CERTIFICATE_PEM=pem(key_and_cert[1]))


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with moto_state_table() as client:
        yield client
