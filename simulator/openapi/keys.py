"""The OpenAPI key pair: the public key is published as the portal does, the private key decrypts bearers.

The portal hands developers a *public key* as one base64 string: the DER encoding of an X.509
SubjectPublicKeyInfo (what ``-----BEGIN PUBLIC KEY-----`` PEM wraps). Clients RSA-encrypt with it,
PKCS#1 v1.5 padding, and send ``Authorization: Bearer <base64 ciphertext>``: the API key for
``getSession/``, the session ID for every transaction. The key pair is separate from the Daraja
key (``simulator.crypto``), as Vodacom's key is separate from Safaricom's certificate.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class OpenApiKeys:
    def __init__(self, private_key_pem: str | None = None) -> None:
        if private_key_pem is None:
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            loaded = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise ValueError("openapi_private_key_pem must be an RSA private key")
            self._key = loaded

    @property
    def public_key_b64(self) -> str:
        """base64(DER SubjectPublicKeyInfo), one line, as the portal shows it."""
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode("ascii")

    @property
    def public_key_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii")
        )

    @property
    def private_key_pem(self) -> str:
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")

    def encrypt(self, plaintext: str) -> str:
        """What a client does: base64(RSA PKCS#1 v1.5 encryption of ``plaintext`` with the public key)."""
        ciphertext = self._key.public_key().encrypt(plaintext.encode("utf-8"), padding.PKCS1v15())
        return base64.b64encode(ciphertext).decode("ascii")

    def decrypt(self, ciphertext_b64: str) -> str | None:
        """The plaintext of a bearer value, or None when it is not base64 or does not decrypt.

        With OpenSSL's implicit rejection (3.2+) a ciphertext made with another key does not fail:
        it "decrypts" to random bytes. Callers therefore never trust a plaintext, they compare it
        with what they expect (the API key, a live session ID), which random bytes never match."""
        try:
            ciphertext = base64.b64decode(ciphertext_b64, validate=True)
            return self._key.decrypt(ciphertext, padding.PKCS1v15()).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None

    def bearer_plaintext(self, authorization: str | None) -> str | None:
        """The decrypted value of ``Authorization: Bearer <base64 ciphertext>``, else None."""
        if not authorization:
            return None
        scheme, _, value = authorization.strip().partition(" ")
        if scheme != "Bearer" or not value.strip():
            return None
        return self.decrypt(value.strip())


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
