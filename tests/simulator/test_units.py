"""Pure pieces: JSON money encoding, credentials, identifiers, config."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from simulator import SimulatorConfig, jsonenc, payloads
from simulator.clock import NAIROBI, parse_compact
from simulator.crypto import KeyMaterial, encrypt_credential, stk_password, stk_password_matches
from simulator.ids import IdGenerator
from simulator.validation import url_problem


def test_decimal_keeps_its_scale_on_the_wire() -> None:
    assert jsonenc.dumps({"Value": Decimal("10.00"), "n": [1, "a", None, True]}) == (
        '{"Value": 10.00, "n": [1, "a", null, true]}'
    )
    assert jsonenc.loads('{"a": 10.5}')["a"] == Decimal("10.5")


def test_money_formatting() -> None:
    assert payloads.money_text(10) == "10.00"
    assert payloads.money(Decimal("999900")) == Decimal("999900.00")


def test_stk_password_matches_reference_formula() -> None:
    password = stk_password("174379", "key", "20240101120000")
    assert password == "MTc0Mzc5a2V5MjAyNDAxMDExMjAwMDA="
    assert stk_password_matches(password, "174379", "key", "20240101120000")
    assert not stk_password_matches(password, "174379", "key", "20240101120001")


def test_security_credential_round_trip(private_key_pem: str) -> None:
    keys = KeyMaterial(private_key_pem)
    credential = encrypt_credential(keys.certificate_pem, "Safaricom999!*!")
    assert keys.decrypt_credential(credential) == "Safaricom999!*!"
    assert keys.credential_matches(credential, "Safaricom999!*!")
    assert not keys.credential_matches(credential, "other")
    assert keys.decrypt_credential("***not base64***") is None


def test_ids_have_daraja_shapes() -> None:
    ids = IdGenerator()
    moment = datetime(2025, 3, 9, 14, 5, 6, tzinfo=NAIROBI)
    assert re.fullmatch(r"TC[A-Z0-9]{8}", ids.receipt(moment))
    assert ids.checkout_request_id(moment).startswith("ws_CO_09032025140506")
    assert re.fullmatch(r"AG_20250309_[0-9a-f]{20}", ids.conversation_id(moment))
    assert len({ids.merchant_request_id() for _ in range(200)}) == 200


def test_timestamp_parsing() -> None:
    assert parse_compact("20250309140506") == datetime(2025, 3, 9, 14, 5, 6, tzinfo=NAIROBI)
    assert parse_compact("20250230140506") is None
    assert parse_compact("2025030914050") is None


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://127.0.0.1:8080/hooks/stk", True),
        ("https://pay.example.com/cb/abc", True),
        ("https://pay.example.com/M-PESA/cb", False),
        ("https://pay.example.com/cb?cmd=1", False),
        ("http:///nohost", False),
    ],
)
def test_callback_url_rules(url: str, ok: bool) -> None:
    assert (url_problem(url) is None) is ok


def test_config_from_env_and_patch() -> None:
    config = SimulatorConfig.from_env({"SIMULATOR_CALLBACK_DELAY_S": "0.5", "SIMULATOR_CALLBACK_MODE": "drop"})
    assert (config.callback_delay_s, config.callback_mode) == (0.5, "drop")
    assert config.patched({"duplicate_count": 4}).duplicate_count == 4
    with pytest.raises(KeyError):
        config.patched({"nope": 1})
    with pytest.raises(KeyError):
        config.patched({"private_key_pem": "x"})
    with pytest.raises(ValidationError):
        config.patched({"stk_query_pending_style": "5000"})
