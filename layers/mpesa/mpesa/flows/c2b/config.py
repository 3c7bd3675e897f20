"""C2B configuration: the shortcodes we take payments on, what Daraja does when our validation does not
answer, and the validation rules. Read from the function's environment (template parameters).

| variable                         | values                      | default                         |
|----------------------------------|-----------------------------|---------------------------------|
| `C2B_SHORT_CODES`                | comma-separated shortcodes  | MMO_MPESA_BUSINESS_SHORT_CODE   |
| `C2B_RESPONSE_TYPE`              | `Completed`, `Cancelled`    | `Completed`                     |
| `C2B_VALIDATION_MODE`            | `rules`, `expected`         | `rules`                         |
| `C2B_ACCOUNT_REFERENCE_PATTERN`  | a regular expression        | none (any reference)            |
| `C2B_VALIDATION_ON_ERROR`        | `accept`, `reject`          | `accept`                        |
| `C2B_REQUIRE_PAYER_NAME`         | `true`, `false`             | `false`                         |
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from mpesa.errors import ConfigurationError

SHORT_CODE = re.compile(r"[0-9]{5,7}")
PATTERN_MAX = 200
ResponseType = Literal["Completed", "Cancelled"]
RESPONSE_TYPES: tuple[ResponseType, ...] = ("Completed", "Cancelled")


class ValidationMode(StrEnum):
    RULES = "rules"  # the rules alone decide
    EXPECTED = "expected"  # and the account reference must be an expected payment that is open


class OnError(StrEnum):
    """What validation answers when our own code fails (Daraja would otherwise apply ResponseType)."""

    ACCEPT = "accept"
    REJECT = "reject"


@dataclass(frozen=True)
class C2BConfig:
    short_codes: tuple[str, ...]
    response_type: ResponseType = "Completed"
    validation_mode: ValidationMode = ValidationMode.RULES
    account_pattern: re.Pattern[str] | None = None  # full match on the normalised account reference
    on_error: OnError = OnError.ACCEPT
    require_payer_name: bool = False  # KYC rule: refuse a payer without a first or last name

    @classmethod
    def from_env(cls, environ: Mapping[str, str], default_short_code: str) -> C2BConfig:
        problems: dict[str, str] = {}
        codes = tuple(c.strip() for c in (environ.get("C2B_SHORT_CODES") or default_short_code).split(",") if c.strip())
        if not codes or not all(SHORT_CODE.fullmatch(code) for code in codes):
            problems["C2B_SHORT_CODES"] = "must be shortcodes of 5 to 7 digits, separated by commas"
        response_type = environ.get("C2B_RESPONSE_TYPE") or "Completed"
        if response_type not in RESPONSE_TYPES:
            problems["C2B_RESPONSE_TYPE"] = "must be Completed or Cancelled"
        mode = _choice(environ, "C2B_VALIDATION_MODE", ValidationMode, ValidationMode.RULES, problems)
        on_error = _choice(environ, "C2B_VALIDATION_ON_ERROR", OnError, OnError.ACCEPT, problems)
        pattern = _pattern(environ.get("C2B_ACCOUNT_REFERENCE_PATTERN") or "", problems)
        require_name = (environ.get("C2B_REQUIRE_PAYER_NAME") or "false").strip().lower()
        if require_name not in {"true", "false"}:
            problems["C2B_REQUIRE_PAYER_NAME"] = "must be true or false"
        if problems:
            raise ConfigurationError(problems)
        return cls(
            short_codes=codes,
            response_type="Cancelled" if response_type == "Cancelled" else "Completed",
            validation_mode=mode,
            account_pattern=pattern,
            on_error=on_error,
            require_payer_name=require_name == "true",
        )


def _choice[E: StrEnum](
    environ: Mapping[str, str], name: str, enum: type[E], default: E, problems: dict[str, str]
) -> E:
    raw = (environ.get(name) or default.value).strip().lower()
    try:
        return enum(raw)
    except ValueError:
        problems[name] = "must be one of " + ", ".join(member.value for member in enum)
        return default


def _pattern(text: str, problems: dict[str, str]) -> re.Pattern[str] | None:
    if not text:
        return None
    if len(text) > PATTERN_MAX:
        problems["C2B_ACCOUNT_REFERENCE_PATTERN"] = f"must be at most {PATTERN_MAX} characters"
        return None
    try:
        return re.compile(text)
    except re.error:
        problems["C2B_ACCOUNT_REFERENCE_PATTERN"] = "is not a valid regular expression"
        return None
