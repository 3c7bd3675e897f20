"""Markets: country, currency, MSISDN rules and per-transaction amount limits (from the integration guide)."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from mpesa.errors import InputError


class Country(StrEnum):
    KE = "KE"
    TZ = "TZ"
    UG = "UG"


class TransactionKind(StrEnum):
    STK_PUSH = "stk_push"
    B2C = "b2c"
    C2B = "c2b"


@dataclass(frozen=True)
class AmountLimit:
    minimum: int
    maximum: int


@dataclass(frozen=True)
class Market:
    country: Country
    name: str
    operator: str
    currency: str
    dialling_code: str
    # The nine national digits after the country code, as issued for mobile subscribers.
    national_pattern: re.Pattern[str]
    limits: Mapping[TransactionKind, AmountLimit]


# Safaricom issues 2547… and 2541…; Tanzanian and Ugandan mobile ranges start with 6/7 and 7.
MARKETS: Mapping[Country, Market] = {
    Country.KE: Market(
        Country.KE,
        "Kenya",
        "Safaricom",
        "KES",
        "254",
        re.compile(r"[71][0-9]{8}"),
        {
            TransactionKind.STK_PUSH: AmountLimit(1, 150_000),
            TransactionKind.B2C: AmountLimit(10, 150_000),
            TransactionKind.C2B: AmountLimit(1, 150_000),
        },
    ),
    Country.TZ: Market(
        Country.TZ,
        "Tanzania",
        "Vodacom",
        "TZS",
        "255",
        re.compile(r"[67][0-9]{8}"),
        {
            TransactionKind.STK_PUSH: AmountLimit(100, 10_000_000),
            TransactionKind.B2C: AmountLimit(100, 10_000_000),
        },
    ),
    Country.UG: Market(
        Country.UG,
        "Uganda",
        "Vodafone",
        "UGX",
        "256",
        re.compile(r"7[0-9]{8}"),
        {
            TransactionKind.STK_PUSH: AmountLimit(500, 4_000_000),
            TransactionKind.B2C: AmountLimit(500, 4_000_000),
        },
    ),
}

# The integration guide's sandbox test numbers: valid in sandbox only, whatever the national pattern says.
SANDBOX_MSISDNS: frozenset[str] = frozenset({"254708374149", "254111111111", "254222222222", "254333333333"})

_SEPARATORS = re.compile(r"[\s\-()]")
_DIGITS = re.compile(r"\+?[0-9]+")


def market_for(country: str | Country) -> Market:
    try:
        return MARKETS[Country(str(country).upper())]
    except ValueError:
        supported = ", ".join(c.value for c in Country)
        raise InputError("country", f"must be one of {supported}, got {country!r}") from None


def normalise_msisdn(raw: str, market: Market, *, sandbox: bool, field: str = "phone_number") -> str:
    """Return the 12-digit international form (e.g. 254712345678) or raise InputError naming the field.

    Accepted forms: 07…/01… (national with trunk 0), 7…/1… (nine digits), +254…, 254…,
    with spaces, dashes or brackets anywhere.
    """
    if not isinstance(raw, str):
        raise InputError(field, "must be a string of digits")
    text = _SEPARATORS.sub("", raw)
    if len(text) > 16:
        raise InputError(field, "is too long to be a phone number")
    if not text:
        raise InputError(field, "must not be empty")
    if not _DIGITS.fullmatch(text):
        raise InputError(field, "must contain only digits (and an optional leading +)")
    code = market.dialling_code
    if text.startswith("+"):
        if not text.startswith("+" + code):
            raise InputError(field, f"must be a {market.name} number (+{code}…)")
        digits = text[1:]
    elif text.startswith(code) and len(text) == 12:
        digits = text
    elif text.startswith("0") and len(text) == 10:
        digits = code + text[1:]
    elif len(text) == 9:
        digits = code + text
    else:
        raise InputError(field, f"must be a {market.name} mobile number such as 0712345678 or {code}712345678")
    if sandbox and digits in SANDBOX_MSISDNS:
        return digits
    if not sandbox and digits in SANDBOX_MSISDNS:
        raise InputError(field, "is a sandbox test number and is not accepted in production")
    if len(digits) != 12 or not market.national_pattern.fullmatch(digits[len(code) :]):
        raise InputError(field, f"is not a valid {market.operator} {market.name} mobile number")
    return digits


def mask_msisdn(msisdn: str) -> str:
    """Enough to recognise a number in a log or response, not enough to call it: 2547******49."""
    if len(msisdn) < 8:
        return "*" * len(msisdn)
    return msisdn[:4] + "*" * (len(msisdn) - 6) + msisdn[-2:]


def amount_limit(
    market: Market,
    kind: TransactionKind,
    overrides: Mapping[Country, Mapping[TransactionKind, AmountLimit]] | None = None,
) -> AmountLimit:
    configured = (overrides or {}).get(market.country, {}).get(kind)
    if configured is not None:
        return configured
    try:
        return market.limits[kind]
    except KeyError:
        raise InputError("country", f"{kind.value} is not offered in {market.name}") from None


def check_amount(
    amount: int,
    market: Market,
    kind: TransactionKind,
    overrides: Mapping[Country, Mapping[TransactionKind, AmountLimit]] | None = None,
    field: str = "amount",
) -> int:
    limit = amount_limit(market, kind, overrides)
    if not limit.minimum <= amount <= limit.maximum:
        raise InputError(
            field,
            f"{kind.value} in {market.name} must be between {limit.minimum:,} and "
            f"{limit.maximum:,} {market.currency}, got {amount:,}",
        )
    return amount
