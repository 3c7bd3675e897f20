"""What Daraja needs to trust a request: STK password and timestamp, the initiator's SecurityCredential."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import TYPE_CHECKING

from mpesa.clock import NAIROBI, TIMESTAMP_FORMAT
from mpesa.errors import ConfigurationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey


def daraja_timestamp(now: datetime | None = None) -> str:
    """`YYYYMMDDHHmmss` in Kenyan time (EAT). A naive `now` is refused: its zone would be a guess."""
    moment = datetime.now(NAIROBI) if now is None else now
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return moment.astimezone(NAIROBI).strftime(TIMESTAMP_FORMAT)


def stk_password(short_code: str, passkey: str, timestamp: str) -> str:
    """base64(BusinessShortCode + Passkey + Timestamp), plain concatenation; send the same timestamp."""
    return base64.b64encode(f"{short_code}{passkey}{timestamp}".encode()).decode("ascii")


def load_public_key(certificate: bytes) -> RSAPublicKey:
    """The RSA public key of Safaricom's certificate: PEM or DER certificate, or a PEM public key."""
    # loaded on first use: only the initiator APIs (B2C, status, balance, reversal) encrypt a password
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    data = certificate.strip()
    key: object
    try:
        if data.startswith(b"-----BEGIN CERTIFICATE"):
            key = x509.load_pem_x509_certificate(data).public_key()
        elif data.startswith(b"-----BEGIN PUBLIC KEY"):
            key = serialization.load_pem_public_key(data)
        else:
            key = x509.load_der_x509_certificate(certificate).public_key()
    except ValueError:
        raise ConfigurationError({"MPESA_CERTIFICATE_PEM": "is not a PEM or DER X.509 certificate"}) from None
    if not isinstance(key, RSAPublicKey):
        raise ConfigurationError({"MPESA_CERTIFICATE_PEM": "does not hold an RSA public key"})
    return key


def security_credential(initiator_password: str, certificate: bytes) -> str:
    """base64(RSA PKCS#1 v1.5 encryption of the initiator password with the certificate's public key)."""
    from cryptography.hazmat.primitives.asymmetric import padding

    key = load_public_key(certificate)
    encrypted = key.encrypt(initiator_password.encode(), padding.PKCS1v15())
    return base64.b64encode(encrypted).decode("ascii")
