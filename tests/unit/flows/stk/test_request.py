"""Validation of an STK push request, per market and by the fixed prompt-text rules."""

import pytest

from mpesa.errors import InputError
from mpesa.flows.stk import transaction_id_for, validate_request
from tests.support.daraja import make_settings

SETTINGS = make_settings()


def valid(**overrides):
    values = {
        "country": "KE",
        "phone_number": "0712 345 678",
        "amount": "1000.00",
        "account_reference": "ORDER_12345",
        "transaction_desc": "Payment for Order 12345",
    }
    values.update(overrides)
    return validate_request(settings=SETTINGS, **values)


def test_a_valid_request_is_normalised():
    request = valid()
    assert (request.country, request.msisdn, request.amount) == ("KE", "254712345678", 1000)
    assert request.account_reference == "ORDER_12345"
    assert request.transaction_desc == "Payment for O"  # Daraja's 13 characters; the rest is not sent
    assert request.details == {"account_reference": "ORDER_12345", "transaction_desc": "Payment for O"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": "10.5"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "150001"}, "amount"),
        ({"phone_number": "0812345678"}, "phone_number"),
        ({"account_reference": "ORDER-1234567"}, "account_reference"),  # 13: never cut, refused
        ({"account_reference": "ORDER@1"}, "account_reference"),
        ({"account_reference": "   "}, "account_reference"),
        ({"transaction_desc": "Paid <b>"}, "transaction_desc"),
        ({"country": "NG"}, "country"),
        ({"country": "TZ", "phone_number": "0754123456", "amount": "99"}, "amount"),  # TZ's own limits first
        ({"country": "TZ", "phone_number": "0754123456", "amount": "1000"}, "country"),
        ({"country": "UG", "phone_number": "0772123456", "amount": "1000"}, "country"),
    ],
)
def test_an_invalid_request_names_the_field(overrides, field):
    with pytest.raises(InputError) as caught:
        valid(**overrides)
    assert caught.value.field == field


def test_the_transaction_id_is_stable_per_request_key_and_hex():
    first = transaction_id_for("caller\nkey-1")
    assert first == transaction_id_for("caller\nkey-1")
    assert first != transaction_id_for("other-caller\nkey-1")
    assert len(first) == 32
    assert set(first) <= set("0123456789abcdef")
