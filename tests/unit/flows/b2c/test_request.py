"""Payout requests are validated per market and B2C's rules; every refusal names its field."""

import pytest

from mpesa.errors import ConfigurationError, InputError
from mpesa.flows.b2c import GuardRails, validate_request
from tests.support.daraja import make_settings

SETTINGS = make_settings()


def valid(**overrides):
    values = {
        "country": "KE",
        "phone_number": "0708374149",
        "amount": "500.00",
        "command_id": "SalaryPayment",
        "remarks": "Salary for November",
        "occasion": None,
        "settings": SETTINGS,
    }
    values.update(overrides)
    return validate_request(**values)


def test_a_valid_request_is_normalised():
    request = valid()
    assert (request.msisdn, request.amount, request.command_id, request.occasion) == (
        "254708374149",
        500,
        "SalaryPayment",
        None,
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"phone_number": "12345"}, "phone_number"),
        ({"amount": "9"}, "amount"),  # below the guide's B2C minimum (10 KES)
        ({"amount": "150001"}, "amount"),  # above the guide's B2C maximum
        ({"amount": "10.50"}, "amount"),
        ({"command_id": "BusinessPayBill"}, "command_id"),
        ({"remarks": "x"}, "remarks"),
        ({"remarks": "x" * 101}, "remarks"),
        ({"occasion": "x" * 101}, "occasion"),
        ({"country": "TZ", "phone_number": "0712345678", "amount": "1000"}, "country"),
        ({"country": "FR"}, "country"),
    ],
)
def test_each_invalid_field_is_named(overrides, field):
    with pytest.raises(InputError) as refused:
        valid(**overrides)
    assert refused.value.field == field


def test_guard_rails_come_from_the_settings():
    settings = make_settings(
        MPESA_B2C_MAX_PER_PAYOUT=1000,
        MPESA_B2C_DAILY_BUDGET=5000,
        MPESA_B2C_RECIPIENT_DAILY_BUDGET=2000,
        MPESA_B2C_ALLOWED_RECIPIENTS="0712345678, 254708374149",
    )
    rails = GuardRails.from_settings(settings)
    assert (rails.max_per_payout, rails.daily_budget, rails.recipient_daily_budget) == (1000, 5000, 2000)
    assert rails.allowed_recipients == frozenset({"254712345678", "254708374149"})
    assert GuardRails.from_settings(make_settings()).allowed_recipients is None


def test_a_bad_allowlist_entry_is_a_configuration_error_naming_the_setting():
    with pytest.raises(ConfigurationError) as bad:
        GuardRails.from_settings(make_settings(MPESA_B2C_ALLOWED_RECIPIENTS="0712345678,not-a-number"))
    assert "MPESA_B2C_ALLOWED_RECIPIENTS" in bad.value.problems
