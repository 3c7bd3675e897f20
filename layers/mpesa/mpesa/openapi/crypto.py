"""The OpenAPI's bearer: a value RSA-encrypted (PKCS#1 v1.5) with the portal's public key, in base64.

`getSession/` takes the encrypted **API key**; every transaction takes the encrypted **session ID**.
PKCS#1 v1.5 padding is randomised, so each encryption of the same value differs: a bearer is made
afresh for every request and never cached (the session ID is what is cached).
"""

from __future__ import annotations

import base64
import binascii

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from mpesa.errors import ConfigurationError

PUBLIC_KEY_SETTING = "MPESA_TZ_PUBLIC_KEY"
PKCS1_V15_OVERHEAD = 11  # bytes of padding: a k-byte key encrypts at most k - 11 bytes
MIN_KEY_BITS = 1024


def load_public_key(text: str, *, setting: str = PUBLIC_KEY_SETTING) -> RSAPublicKey:
    """The RSA key of the portal's public key: one line of base64 DER (SubjectPublicKeyInfo) as the
    portal shows it, or PEM (`PUBLIC KEY`, `RSA PUBLIC KEY` or a certificate). The error names the
    setting, never its value."""
    data = text.strip().encode("ascii", "replace")
    key: object
    try:
        if data.startswith(b"-----BEGIN CERTIFICATE"):
            key = x509.load_pem_x509_certificate(data).public_key()
        elif data.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
        else:
            der = base64.b64decode(b"".join(data.split()), validate=True)
            key = serialization.load_der_public_key(der)
    except (ValueError, binascii.Error, TypeError):
        raise ConfigurationError({setting: "is not a base64 DER or PEM public key"}) from None
    if not isinstance(key, RSAPublicKey):
        raise ConfigurationError({setting: "does not hold an RSA public key"})
    if key.key_size < MIN_KEY_BITS:
        raise ConfigurationError({setting: f"is an RSA key of fewer than {MIN_KEY_BITS} bits"})
    return key


class BearerFactory:
    """Makes `Bearer <base64(RSA-PKCS#1-v1.5(value))>` headers with one public key (loaded once)."""

    def __init__(self, public_key: str | RSAPublicKey) -> None:
        self._key = public_key if isinstance(public_key, RSAPublicKey) else load_public_key(public_key)

    @property
    def max_plaintext_bytes(self) -> int:
        return self._key.key_size // 8 - PKCS1_V15_OVERHEAD

    def encrypt(self, value: str) -> str:
        """base64 of a fresh encryption of `value` (different on every call)."""
        plaintext = value.encode("utf-8")
        limit = self.max_plaintext_bytes
        if not plaintext or len(plaintext) > limit:
            problem = f"cannot encrypt a value of {len(plaintext)} bytes (1 to {limit})"
            raise ConfigurationError({PUBLIC_KEY_SETTING: problem})
        return base64.b64encode(self._key.encrypt(plaintext, padding.PKCS1v15())).decode("ascii")

    def authorization(self, value: str) -> str:
        """The `Authorization` header value for `value` (the API key, or a session ID)."""
        return f"Bearer {self.encrypt(value)}"
