import pytest

from mpesa.errors import InputError
from mpesa.markets import (
    SANDBOX_MSISDNS,
    AmountLimit,
    Country,
    TransactionKind,
    amount_limit,
    check_amount,
    market_for,
    mask_msisdn,
    normalise_msisdn,
)

KE, TZ, UG = market_for("KE"), market_for("TZ"), market_for("UG")


def test_markets_carry_currency_and_dialling_code():
    assert (KE.currency, KE.dialling_code) == ("KES", "254")
    assert (TZ.currency, TZ.dialling_code) == ("TZS", "255")
    assert (UG.currency, UG.dialling_code) == ("UGX", "256")


def test_country_is_case_insensitive_and_unknown_country_names_the_field():
    assert market_for("ke") is KE
    with pytest.raises(InputError) as err:
        market_for("NG")
    assert err.value.field == "country"
    assert "KE, TZ, UG" in err.value.message


@pytest.mark.parametrize(
    "raw",
    [
        "0712345678",
        "712345678",
        "+254712345678",
        "254712345678",
        "0712 345 678",
        "0712-345-678",
        "+254 712 345 678",
        "(0712) 345678",
    ],
)
def test_kenyan_forms_normalise_to_twelve_digits(raw):
    assert normalise_msisdn(raw, KE, sandbox=False) == "254712345678"


@pytest.mark.parametrize("raw", ["0112345678", "112345678", "+254112345678", "254112345678"])
def test_safaricom_01_numbers_are_accepted(raw):
    assert normalise_msisdn(raw, KE, sandbox=False) == "254112345678"


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("0754123456", "TZ", "255754123456"),
        ("+255 654 123 456", "TZ", "255654123456"),
        ("0772123456", "UG", "256772123456"),
        ("256772123456", "UG", "256772123456"),
    ],
)
def test_tanzanian_and_ugandan_forms(raw, country, expected):
    assert normalise_msisdn(raw, market_for(country), sandbox=False) == expected


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("0212345678", "not a valid Safaricom"),  # landline range
        ("254812345678", "not a valid Safaricom"),
        ("07123456", "mobile number such as"),  # too short
        ("07123456789", "mobile number such as"),  # too long
        ("+255712345678", "must be a Kenya number"),  # another country's code
        ("07l2345678", "only digits"),
        ("", "must not be empty"),
        (" - ", "must not be empty"),
        ("0712345678901234567", "too long"),
        ("٠٧١٢٣٤٥٦٧٨", "only digits"),  # Arabic-Indic digits are not ASCII digits
    ],
)
def test_invalid_kenyan_numbers_name_the_field(raw, why):
    with pytest.raises(InputError) as err:
        normalise_msisdn(raw, KE, sandbox=False)
    assert err.value.field == "phone_number"
    assert why in err.value.message


def test_non_string_phone_is_rejected():
    with pytest.raises(InputError, match="phone_number"):
        normalise_msisdn(254712345678, KE, sandbox=False)


def test_uganda_rejects_a_non_mobile_range():
    with pytest.raises(InputError, match="Uganda"):
        normalise_msisdn("0412345678", UG, sandbox=False)


@pytest.mark.parametrize("msisdn", sorted(SANDBOX_MSISDNS))
def test_sandbox_numbers_accepted_in_sandbox(msisdn):
    assert normalise_msisdn(msisdn, KE, sandbox=True) == msisdn


@pytest.mark.parametrize("msisdn", sorted(SANDBOX_MSISDNS))
def test_sandbox_numbers_rejected_in_production(msisdn):
    with pytest.raises(InputError, match="sandbox test number"):
        normalise_msisdn(msisdn, KE, sandbox=False)


def test_sandbox_numbers_that_break_the_national_pattern_only_pass_because_of_sandbox():
    # 254222222222 and 254333333333 are not Safaricom ranges; sandbox mode lets them through.
    with pytest.raises(InputError):
        normalise_msisdn("254222222223", KE, sandbox=True)


def test_mask_keeps_prefix_and_last_two_digits():
    assert mask_msisdn("254712345678") == "2547******78"
    assert "345" not in mask_msisdn("254712345678")


LIMITS = [
    ("KE", TransactionKind.STK_PUSH, 1, 150_000),
    ("KE", TransactionKind.C2B, 1, 150_000),
    ("KE", TransactionKind.B2C, 10, 150_000),
    ("TZ", TransactionKind.STK_PUSH, 100, 10_000_000),
    ("TZ", TransactionKind.B2C, 100, 10_000_000),
    ("UG", TransactionKind.STK_PUSH, 500, 4_000_000),
    ("UG", TransactionKind.B2C, 500, 4_000_000),
]


@pytest.mark.parametrize(("country", "kind", "minimum", "maximum"), LIMITS)
def test_limit_edges(country, kind, minimum, maximum):
    market = market_for(country)
    assert check_amount(minimum, market, kind) == minimum
    assert check_amount(maximum, market, kind) == maximum
    for outside in (minimum - 1, maximum + 1):
        with pytest.raises(InputError) as err:
            check_amount(outside, market, kind)
        assert err.value.field == "amount"
        assert market.currency in err.value.message


def test_c2b_is_not_offered_outside_kenya():
    with pytest.raises(InputError, match="not offered in Tanzania"):
        check_amount(1000, TZ, TransactionKind.C2B)


def test_limits_are_overridable_by_configuration():
    overrides = {Country.KE: {TransactionKind.STK_PUSH: AmountLimit(1, 250_000)}}
    assert amount_limit(KE, TransactionKind.STK_PUSH, overrides) == AmountLimit(1, 250_000)
    assert check_amount(250_000, KE, TransactionKind.STK_PUSH, overrides) == 250_000
    with pytest.raises(InputError):
        check_amount(250_001, KE, TransactionKind.STK_PUSH, overrides)
    # other kinds keep the guide's limits
    assert amount_limit(KE, TransactionKind.B2C, overrides) == AmountLimit(10, 150_000)
