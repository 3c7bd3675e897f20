import base64
import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from mpesa.daraja.credentials import daraja_timestamp, load_public_key, security_credential, stk_password
from mpesa.errors import ConfigurationError
from tests.support.daraja import SANDBOX_PASSKEY, pem


def test_timestamp_is_kenyan_time_even_when_utc_is_the_previous_day():
    late_utc = dt.datetime(2024, 1, 31, 22, 30, 5, tzinfo=dt.UTC)
    assert daraja_timestamp(late_utc) == "20240201013005"


def test_timestamp_refuses_a_naive_datetime():
    with pytest.raises(ValueError, match="timezone-aware"):
        daraja_timestamp(dt.datetime(2024, 1, 1, 12, 0))  # noqa: DTZ001


def test_timestamp_defaults_to_now_in_fourteen_digits():
    assert len(daraja_timestamp()) == 14
    assert daraja_timestamp().isdigit()


def test_password_is_base64_of_shortcode_passkey_and_timestamp():
    # Safaricom's documented sample: shortcode 174379, the sandbox passkey, timestamp 20160216165627.
    expected = (
        "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkx"
        "OTIwMTYwMjE2MTY1NjI3"
    )
    assert stk_password("174379", SANDBOX_PASSKEY, "20160216165627") == expected
    decoded = base64.b64decode(expected).decode()
    assert decoded == "174379" + SANDBOX_PASSKEY + "20160216165627"


@pytest.mark.parametrize("encoding", ["pem", "der", "public_key_pem"])
def test_security_credential_decrypts_to_the_initiator_password(key_and_cert, encoding):
    key, cert = key_and_cert
    material = {
        "pem": pem(cert).encode(),
        "der": cert.public_bytes(serialization.Encoding.DER),
        "public_key_pem": key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    }[encoding]
    credential = security_credential("Safaricom999!*!", material)
    assert len(credential) == 344  # 256 bytes of RSA-2048 ciphertext in base64
    assert key.decrypt(base64.b64decode(credential), padding.PKCS1v15()) == b"Safaricom999!*!"


def test_security_credential_is_randomised_like_pkcs1_v15(key_and_cert):
    _, cert = key_and_cert
    assert security_credential("pw", pem(cert).encode()) != security_credential("pw", pem(cert).encode())


def test_garbage_certificate_is_a_configuration_error_naming_the_setting():
    with pytest.raises(ConfigurationError, match="MPESA_CERTIFICATE_PEM"):
        load_public_key(b"not a certificate")


def test_non_rsa_certificate_is_refused():
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_pem = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(ConfigurationError, match="RSA"):
        load_public_key(ec_pem)
