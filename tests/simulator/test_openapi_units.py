"""Pure pieces of the OpenAPI simulator: codes, the README's INS table, field checks, keys."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from simulator.openapi import codes, validation
from simulator.openapi.codes import OpenApiError
from simulator.openapi.keys import OpenApiKeys
from tests.support.openapi_wire import encrypt

README = Path(__file__).resolve().parents[2] / "simulator" / "README.md"


def test_every_emitted_code_is_one_readme_table_row_with_its_status() -> None:
    rows = {
        match.group(1): (int(match.group(2)), match.group(3).strip())
        for match in re.finditer(r"^\| `(INS-\d+)` \| (\d{3}) \| ([^|]+) \|", README.read_text(), re.MULTILINE)
    }
    assert set(rows) == {ins.code for ins in codes.EMITTED}
    for ins in codes.EMITTED:
        status, description = rows[ins.code]
        expected_status = ins.http_status
        assert (status, description) == (expected_status, ins.description), ins.code


def test_codes_are_unique_and_errors_carry_them() -> None:
    assert len({ins.code for ins in codes.EMITTED}) == len(codes.EMITTED)
    error = OpenApiError(codes.DUPLICATE)
    assert (error.ins.http_status, str(error)) == (409, "INS-10 Duplicate Transaction")


def test_transaction_bodies_always_carry_the_echo_fields() -> None:
    body = codes.transaction_body(codes.TIMEOUT, transaction_id="", conversation_id="c", third_party_conversation_id="")
    assert body == {
        "output_ResponseCode": "INS-9",
        "output_ResponseDesc": "Request timeout",
        "output_TransactionID": "",
        "output_ConversationID": "c",
        "output_ThirdPartyConversationID": "",
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(1, 1), ("1", 1), (" 250 ", 250), ("5000000", 5_000_000)],
)
def test_whole_amounts(raw: Any, expected: int) -> None:
    assert validation.amount({"a": raw}, "a", minimum=1, maximum=5_000_000) == expected


@pytest.mark.parametrize("raw", [0, "0", Decimal("10.5"), Decimal("10.0"), "10.00", "1e3", True, None, 5_000_001, "-1"])
def test_amounts_that_are_not_whole_shillings_in_range(raw: Any) -> None:
    with pytest.raises(OpenApiError) as raised:
        validation.amount({"a": raw}, "a", minimum=1, maximum=5_000_000)
    assert raised.value.ins is codes.INVALID_AMOUNT


@pytest.mark.parametrize("msisdn", ["255712345678", "255612345678", "000000000001"])
def test_tanzanian_msisdns(msisdn: str) -> None:
    assert validation.msisdn({"m": msisdn}, "m") == msisdn


@pytest.mark.parametrize("msisdn", ["25571234567", "2557123456789", "254712345678", "0712345678", 255712345678.0])
def test_not_tanzanian_msisdns(msisdn: Any) -> None:
    with pytest.raises(OpenApiError) as raised:
        validation.msisdn({"m": msisdn}, "m")
    assert raised.value.ins is codes.INVALID_MSISDN


def test_bearers_decrypt_only_with_the_matching_key(openapi_private_key_pem: str) -> None:
    keys = OpenApiKeys(openapi_private_key_pem)
    assert keys.bearer_plaintext(f"Bearer {keys.encrypt('session-1')}") == "session-1"
    assert keys.bearer_plaintext(f"bearer {keys.encrypt('session-1')}") is None
    assert keys.bearer_plaintext("Bearer %%%") is None
    assert keys.bearer_plaintext(None) is None
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    # OpenSSL's implicit rejection may "decrypt" a foreign ciphertext to random bytes: never the value.
    assert keys.bearer_plaintext(f"Bearer {encrypt(other, 'session-1')}") != "session-1"


def test_a_configured_key_is_used(openapi_private_key_pem: str) -> None:
    assert OpenApiKeys(openapi_private_key_pem).private_key_pem == openapi_private_key_pem
    with pytest.raises(ValueError, match=r"(?i)deserialize|key"):
        OpenApiKeys("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
