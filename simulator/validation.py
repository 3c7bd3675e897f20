"""Field checks with Daraja's error bodies (``400.002.02 Bad Request - Invalid <Field>``).

Daraja accepts most fields as JSON strings or numbers, so code-like fields accept both; amounts must
be whole numbers (a JSON number with a fraction, or a string such as ``"10.00"``, is invalid).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from simulator import clock
from simulator.errors import invalid

MSISDN = re.compile(r"^254(7|1)\d{8}$")
TWELVE_DIGIT_MSISDN = re.compile(r"^254\d{9}$")
SHORTCODE = re.compile(r"^\d{5,7}$")
WHOLE = re.compile(r"^\d+$")

# Substrings Safaricom rejects anywhere in a callback URL, compared case-insensitively
# (daraja-api.md §8 pitfall 1). "exe" also covers "exec" (API Gateway's execute-api host) and ".exe".
FORBIDDEN_URL_WORDS = ("m-pesa", "mpesa", "safaricom", "exe", "cmd", "sql", "query")
# Tunnelling and request-capture services Safaricom blocks, matched in the host name.
BLOCKED_HOST_WORDS = ("ngrok", "mockbin", "requestbin")

Body = Mapping[str, Any]


def as_text(value: Any) -> str | None:
    """A string, or an integer given as a JSON number; anything else is not text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return None


def text(body: Body, field: str, *, min_len: int = 1, max_len: int | None = None, label: str | None = None) -> str:
    value = as_text(body.get(field))
    if value is None or len(value.strip()) < min_len or (max_len is not None and len(value) > max_len):
        raise invalid(label or field)
    return value


def optional_text(body: Body, field: str, *, max_len: int) -> str:
    """Optional field: absent or null gives ""; present it must be text of at most ``max_len``."""
    if body.get(field) is None:
        return ""
    value = as_text(body.get(field))
    if value is None or len(value) > max_len:
        raise invalid(field)
    return value


def shortcode(body: Body, field: str) -> str:
    value = as_text(body.get(field))
    if value is None or not SHORTCODE.match(value):
        raise invalid(field)
    return value


def one_of(body: Body, field: str, allowed: Collection[str]) -> str:
    value = as_text(body.get(field))
    if value is None or value not in allowed:
        raise invalid(field)
    return value


def whole_amount(body: Body, field: str = "Amount", *, minimum: int, maximum: int) -> int:
    """A whole number (JSON integer or digit string) within [minimum, maximum]."""
    return whole_number(body, field, minimum=minimum, maximum=maximum)


def whole_number(body: Body, field: str, *, minimum: int, maximum: int) -> int:
    """A whole number (JSON integer or digit string) within [minimum, maximum], else ``Invalid <field>``."""
    raw = body.get(field)
    amount: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        amount = raw
    elif isinstance(raw, str) and WHOLE.match(raw.strip()):
        amount = int(raw.strip())
    elif isinstance(raw, Decimal):
        amount = None  # 10.5 and even 10.0: Daraja wants whole units
    if amount is None or amount < minimum or amount > maximum:
        raise invalid(field)
    return amount


def msisdn(body: Body, field: str, *, also_allowed: Collection[str] = (), twelve_digits: bool = False) -> str:
    """Kenyan MSISDN ``^254(7|1)\\d{8}$`` (or any 12 digits starting 254), plus the sandbox test numbers."""
    value = as_text(body.get(field))
    pattern = TWELVE_DIGIT_MSISDN if twelve_digits else MSISDN
    if value is None or not (pattern.match(value) or value in also_allowed):
        raise invalid(field)
    return value


def url_problem(value: str) -> str | None:
    """Why a callback URL would be refused, or None when acceptable (http is allowed: sandbox)."""
    if not value or any(ch.isspace() for ch in value):
        return "empty or contains whitespace"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "not an absolute http(s) URL"
    lowered = value.lower()
    for word in FORBIDDEN_URL_WORDS:
        if word in lowered:
            return f"contains the forbidden word {word!r}"
    host = parts.hostname.lower()
    for word in BLOCKED_HOST_WORDS:
        if word in host:
            return f"the host {host!r} is a blocked service ({word})"
    return None


def callback_url(body: Body, field: str) -> str:
    value = as_text(body.get(field))
    if value is None or url_problem(value) is not None:
        raise invalid(field)
    return value


def timestamp(body: Body, field: str = "Timestamp", *, max_skew_s: float | None = None) -> str:
    """``YYYYMMDDHHmmss`` that is a real time; optionally within ``max_skew_s`` of now in EAT."""
    value = as_text(body.get(field))
    parsed: datetime | None = clock.parse_compact(value) if value is not None else None
    if value is None or parsed is None:
        raise invalid(field)
    if max_skew_s is not None and abs((clock.now_eat() - parsed).total_seconds()) > max_skew_s:
        raise invalid(field)
    return value
