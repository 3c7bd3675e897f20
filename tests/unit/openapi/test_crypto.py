"""The bearer: the portal's public key in any of its shapes, a fresh PKCS#1 v1.5 encryption per call."""

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mpesa.errors import ConfigurationError
from mpesa.openapi.crypto import BearerFactory, load_public_key
from tests.support.daraja import pem, rsa_key_and_certificate
from tests.support.openapi import decrypt_bearer


def shapes(private_key):
    public = private_key.public_key()
    der_b64 = base64.b64encode(
        public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    return {
        "portal base64 DER": der_b64,
        "base64 wrapped over lines": "\n".join(der_b64[i : i + 64] for i in range(0, len(der_b64), 64)) + "\n",
        "PEM": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        "PEM RSA PUBLIC KEY": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        ).decode(),
    }


@pytest.mark.parametrize("shape", ["portal base64 DER", "base64 wrapped over lines", "PEM", "PEM RSA PUBLIC KEY"])
def test_every_shape_of_the_public_key_encrypts_for_its_private_key(private_key, shape):
    bearers = BearerFactory(shapes(private_key)[shape])
    assert decrypt_bearer(private_key, bearers.authorization("session-1234")) == "session-1234"


def test_a_certificate_also_gives_its_key():
    key, certificate = rsa_key_and_certificate()
    bearers = BearerFactory(pem(certificate))
    assert decrypt_bearer(key, bearers.authorization("api-key")) == "api-key"


def test_each_encryption_of_the_same_value_differs(private_key, public_key):
    bearers = BearerFactory(public_key)
    made = {bearers.authorization("the-session") for _ in range(5)}
    assert len(made) == 5
    assert {decrypt_bearer(private_key, header) for header in made} == {"the-session"}


@pytest.mark.parametrize(
    "text", ["not a key", "QUJD", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", ""]
)
def test_a_bad_key_names_the_setting_never_its_value(text):
    with pytest.raises(ConfigurationError) as caught:
        load_public_key(text)
    assert list(caught.value.problems) == ["MPESA_TZ_PUBLIC_KEY"]
    if text:
        assert text not in str(caught.value)


def test_a_key_that_is_not_rsa_is_refused():
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    text = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(ConfigurationError, match="RSA"):
        load_public_key(text)


def test_a_value_too_long_for_the_key_is_refused(public_key):
    bearers = BearerFactory(public_key)
    assert bearers.max_plaintext_bytes == 2048 // 8 - 11
    with pytest.raises(ConfigurationError):
        bearers.encrypt("x" * (bearers.max_plaintext_bytes + 1))
    with pytest.raises(ConfigurationError):
        bearers.encrypt("")
