"""Test doubles shared by the Daraja unit and integration tests (no network, no AWS)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import boto3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from moto import mock_aws

from mpesa.settings import MpesaSettings, build_settings

if TYPE_CHECKING:
    from mpesa.service import MpesaService

STATE_TABLE = "mpesa-state-test"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class FakeClock:
    """Epoch clock that only moves when told to; `sleep` advances it (and runs an optional hook)."""

    def __init__(self, start: float = START) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[], None] | None = None

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
        if self.on_sleep is not None:
            self.on_sleep()


def rsa_key_and_certificate(*, for_ip: str | None = None) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A self-signed certificate: Safaricom-like for SecurityCredential, or a TLS server's for `for_ip`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, for_ip or "apicrypt.test")])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
    )
    if for_ip is not None:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(for_ip))])
        builder = builder.add_extension(san, critical=False)
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return key, builder.sign(key, hashes.SHA256())


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def make_settings(**overrides: Any) -> MpesaSettings:
    values: dict[str, Any] = {
        "MMO_MPESA_CONSUMER_KEY": "sim-consumer-key",
        "MMO_MPESA_CONSUMER_SECRET": "sim-consumer-secret",
        "MMO_MPESA_BUSINESS_SHORT_CODE": "174379",
        "MMO_MPESA_PASSKEY": SANDBOX_PASSKEY,
        "MPESA_ENVIRONMENT": "sandbox",
        "MPESA_BASE_URL": "http://daraja.test",
        "MPESA_INITIATOR_NAME": "testapi",
        "MPESA_INITIATOR_PASSWORD": "Safaricom999!*!",
        "MPESA_B2C_SHORT_CODE": "600996",
        "MPESA_CALLBACK_BASE_URL": "https://pay.example.com",
        "MPESA_CONNECT_TIMEOUT_S": 1.0,
        "MPESA_READ_TIMEOUT_S": 2.0,
    }
    values.update(overrides)
    return build_settings(values)


def seed_b2c_payment(mpesa: MpesaService) -> dict[str, Any]:
    """The integration guide's B2C example, as written there."""
    return asyncio.run(
        mpesa.b2c_payment(
            phone_number="254708374149",
            amount=5000.00,
            occasion="Salary Payment",
            remarks="Monthly Salary - January 2024",
            command_id="BusinessPayment",
        )
    )


@contextmanager
def moto_state_table() -> Iterator[Any]:
    """In-process moto DynamoDB with the state table: hash key `pk` (S), TTL attribute `expires_at`."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=STATE_TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.update_time_to_live(
            TableName=STATE_TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
        )
        yield client
