from decimal import Decimal

import pytest

from mpesa.errors import InputError
from mpesa.money import format_amount, parse_amount


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1000", 1000),
        ("1000.00", 1000),
        ("1000.0", 1000),
        (" 42 ", 42),
        (1000, 1000),
        (Decimal("1000.00"), 1000),
        (1000.00, 1000),  # the seed's examples pass floats; read via repr, exactly
        ("0", 0),
        ("999999999999999", 999_999_999_999_999),
    ],
)
def test_whole_amounts_parse_to_int(value, expected):
    result = parse_amount(value)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("10.5", "whole number"),
        (10.5, "whole number"),
        (Decimal("10.01"), "whole number"),
        ("0.1", "whole number"),
        (0.1 + 0.2, "whole number"),
        ("NaN", "plain decimal"),
        ("nan", "plain decimal"),
        ("Infinity", "plain decimal"),
        ("-inf", "plain decimal"),
        (Decimal("NaN"), "finite"),
        (Decimal("Infinity"), "finite"),
        (float("inf"), "plain decimal"),
        (float("nan"), "plain decimal"),
        ("-5", "negative"),
        (-5, "negative"),
        (Decimal("-5"), "negative"),
        ("1e3", "plain decimal"),
        ("1E3", "plain decimal"),
        (1e20, "plain decimal"),
        ("+5", "plain decimal"),
        ("1,000", "plain decimal"),
        ("", "empty"),
        ("   ", "empty"),
        ("1" * 25, "at most 24"),
        ("1000000000000000", "too large"),
        (True, "boolean"),
        (None, "number or a numeric string"),
        ([1], "number or a numeric string"),
        ("١٠", "plain decimal"),  # non-ASCII digits
    ],
)
def test_rejected_amounts_name_the_field(value, why):
    with pytest.raises(InputError) as err:
        parse_amount(value, field="amount")
    assert err.value.field == "amount"
    assert why in err.value.message


def test_fraction_is_reported_not_rounded():
    with pytest.raises(InputError, match=r"10\.5 is not rounded"):
        parse_amount("10.5")


def test_format_amount_prints_two_decimals():
    assert format_amount(1000) == "1000.00"
    assert format_amount(Decimal("5")) == "5.00"
