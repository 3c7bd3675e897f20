"""Amounts: parsed to Decimal, accepted only as whole units (M-Pesa takes no fractions). Never rounded."""

import re
from decimal import Decimal, InvalidOperation

from mpesa.errors import InputError

# Plain decimal notation only: no sign, exponent, thousands separator, NaN or infinity.
_PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
MAX_AMOUNT_TEXT = 24  # characters; longer strings are rejected before any parsing
MAX_WHOLE_DIGITS = 15  # no M-Pesa amount comes near; a longer one is refused before conversion


def parse_amount(value: object, field: str = "amount") -> int:
    """Return the amount in whole currency units.

    Accepts int, Decimal, plain decimal strings ("1000", "1000.00") and, for the seed's
    `MpesaService` API, Python floats, read through their shortest repr so that `1000.00`
    means exactly 1000. A fractional amount is an error: it is never rounded.
    """
    if isinstance(value, bool):
        raise InputError(field, "must be a number, not a boolean")
    if isinstance(value, int):
        if value.bit_length() > 64:  # before any conversion of a huge int
            raise InputError(field, "is too large")
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, float):
        amount = _decimal_from_text(repr(value), field)
    elif isinstance(value, str):
        amount = _decimal_from_text(value.strip(), field)
    else:
        raise InputError(field, "must be a number or a numeric string")
    if not amount.is_finite():
        raise InputError(field, "must be a finite number")
    if amount.is_signed() and amount != 0:
        raise InputError(field, "must not be negative")
    if amount != 0 and amount.adjusted() >= MAX_WHOLE_DIGITS:
        # Checked on the exponent, before any conversion: int(Decimal("1e1000000")) takes seconds.
        raise InputError(field, "is too large")
    if amount != amount.to_integral_value():
        raise InputError(field, f"must be a whole number: M-Pesa takes whole units and {value!s} is not rounded")
    return int(amount)


def _decimal_from_text(text: str, field: str) -> Decimal:
    if not text:
        raise InputError(field, "must not be empty")
    if len(text) > MAX_AMOUNT_TEXT:
        raise InputError(field, f"must be at most {MAX_AMOUNT_TEXT} characters")
    if text.startswith("-") and _PLAIN_DECIMAL.fullmatch(text[1:]):
        raise InputError(field, "must not be negative")
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise InputError(field, f"must be a plain decimal number such as 1000 or 1000.00, got {text!r}")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # unreachable after the pattern, kept as a guard
        raise InputError(field, f"is not a number: {text!r}") from exc


def format_amount(amount: int | Decimal) -> str:
    """Two-decimal text, as Daraja prints amounts in callbacks ("1000.00")."""
    return f"{Decimal(amount):.2f}"
