"""The simulator's RSA key, its self-signed certificate, and the two credential checks.

* STK ``Password`` = base64(BusinessShortCode + Passkey + Timestamp).
* ``SecurityCredential`` = base64(RSA PKCS#1 v1.5 encryption of the initiator password with the
  public key of the certificate published at ``GET /simulator/certificate``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode("ascii")


def stk_password_matches(password: str, shortcode: str, passkey: str, timestamp: str) -> bool:
    return hmac.compare_digest(password.encode(), stk_password(shortcode, passkey, timestamp).encode())


class KeyMaterial:
    """An RSA key pair (generated unless a PEM is given) and a matching self-signed X.509 certificate."""

    def __init__(self, private_key_pem: str | None = None) -> None:
        if private_key_pem is None:
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            loaded = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise ValueError("private_key_pem must be an RSA private key")
            self._key = loaded
        self._certificate = self._self_signed(self._key)

    @staticmethod
    def _self_signed(key: rsa.RSAPrivateKey) -> x509.Certificate:
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "KE"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Daraja Simulator"),
                x509.NameAttribute(NameOID.COMMON_NAME, "apicrypt.simulator.local"),
            ]
        )
        now = datetime.now(tz=UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .sign(key, hashes.SHA256())
        )

    @property
    def certificate_pem(self) -> str:
        return self._certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def private_key_pem(self) -> str:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")

    def decrypt_credential(self, credential: str) -> str | None:
        """The plaintext of a SecurityCredential, or None if it is not base64 RSA PKCS#1 v1.5 for our key."""
        try:
            ciphertext = base64.b64decode(credential, validate=True)
            return self._key.decrypt(ciphertext, padding.PKCS1v15()).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None

    def credential_matches(self, credential: str, expected_password: str) -> bool:
        plain = self.decrypt_credential(credential)
        return plain is not None and hmac.compare_digest(plain.encode(), expected_password.encode())


def encrypt_credential(certificate_pem: str, password: str) -> str:
    """What a client does to build a SecurityCredential (used by tests and docs)."""
    certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ValueError("certificate does not hold an RSA key")
    return base64.b64encode(public_key.encrypt(password.encode(), padding.PKCS1v15())).decode("ascii")
