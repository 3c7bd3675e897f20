"""Expected payments (beyond the integration guide): a merchant registers an invoice, validation can
accept only known references, and confirmations settle it.

POST /v1/c2b/expected takes an account reference (what the customer types as the account number),
an exact `amount` or a `min_amount`..`max_amount` range, and `expires_at`. A reference is registered
once: the same body again answers the stored invoice, another body is a conflict (409). Payments
settle it in order: `partial` below the amount (or minimum), `paid` within it, `over` above it; a
payment after the expiry is attached for review but not counted (`c2b.unmatched`, reason `expired`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from mpesa.clock import iso, now_utc
from mpesa.errors import InputError
from mpesa.flows.c2b.model import (
    ExpectedPayment,
    ExpectedPaymentExistsError,
    NewExpectedPayment,
    check_reference,
)
from mpesa.flows.c2b.ports import C2BDeps
from mpesa.markets import Country, TransactionKind, check_amount, market_for
from mpesa.money import parse_amount
from mpesa.records.model import RecordNotFoundError

MAX_LIFETIME = timedelta(days=366)
DESCRIPTION_MAX = 100
Amount = StrictStr | int


class ExpectedPaymentBody(BaseModel):
    """The body of POST /v1/c2b/expected (the OpenAPI document is generated from it)."""

    model_config = ConfigDict(extra="forbid")

    account_reference: StrictStr = Field(min_length=1, max_length=40, examples=["INV-2026-001"])
    amount: Amount | None = Field(None, description="exact amount, whole units", examples=["1500"])
    min_amount: Amount | None = Field(None, description="with max_amount: a range instead of an amount")
    max_amount: Amount | None = None
    expires_at: StrictStr = Field(description="ISO 8601 instant with a time zone", examples=["2026-12-31T21:00:00Z"])
    description: StrictStr = Field("", max_length=DESCRIPTION_MAX)


def validate_expected(body: ExpectedPaymentBody, settings_limits: Any, now: datetime) -> NewExpectedPayment:
    """InputError names the field at fault. `settings_limits` is MpesaSettings.limit_overrides()."""
    reference = check_reference(body.account_reference)
    if body.amount is not None:
        if body.min_amount is not None or body.max_amount is not None:
            raise InputError("amount", "give either amount, or min_amount and max_amount, not both")
        low = high = _limited(body.amount, "amount", settings_limits)
    else:
        if body.min_amount is None or body.max_amount is None:
            raise InputError("amount", "is required (or min_amount and max_amount)")
        low = _limited(body.min_amount, "min_amount", settings_limits)
        high = _limited(body.max_amount, "max_amount", settings_limits)
        if low > high:
            raise InputError("min_amount", "must not exceed max_amount")
    expires_at = parse_instant(body.expires_at, "expires_at")
    if expires_at <= now:
        raise InputError("expires_at", "must be in the future")
    if expires_at > now + MAX_LIFETIME:
        raise InputError("expires_at", f"must be within {MAX_LIFETIME.days} days")
    description = body.description.strip()
    if description and not (description.isascii() and description.isprintable()):
        raise InputError("description", "must be printable ASCII text")
    return NewExpectedPayment(reference, low, high, expires_at, description)


def _limited(value: Amount, field: str, limits: Any) -> int:
    return check_amount(parse_amount(value, field), market_for(Country.KE), TransactionKind.C2B, limits, field)


def parse_instant(text: str, field: str) -> datetime:
    """An ISO 8601 instant with a time zone (`Z` or an offset); a local time is ambiguous, so refused."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(field, "must be an ISO 8601 date-time such as 2026-12-31T21:00:00Z") from None
    if moment.tzinfo is None:
        raise InputError(field, "must carry a time zone (Z or an offset such as +03:00)")
    return moment


class ExpectedPayments:
    def __init__(self, deps: C2BDeps) -> None:
        self._deps = deps

    def create(self, body: ExpectedPaymentBody, *, created_by: str) -> tuple[bool, ExpectedPayment]:
        """(created, the expected payment). The same body again returns the stored one, not created."""
        new = validate_expected(body, self._deps.settings.limit_overrides(), now_utc())
        try:
            return True, self._deps.store.add_expected(new, created_by)
        except ExpectedPaymentExistsError as exists:
            if new.same_as(exists.existing):
                return False, exists.existing
            raise

    def get(self, reference: str) -> ExpectedPayment:
        found = self._deps.store.expected(check_reference(reference, "reference"))
        if found is None:
            raise RecordNotFoundError(reference)
        return found


def expected_payment_view(expected: ExpectedPayment) -> dict[str, Any]:
    now = iso(now_utc())
    return {
        "account_reference": expected.reference,
        "amount_min": expected.amount_min,
        "amount_max": expected.amount_max,
        "currency": market_for(Country.KE).currency,
        "description": expected.description,
        "expires_at": expected.expires_at,
        "created_at": expected.created_at,
        "status": expected.status_at(now).value,
        "paid_total": expected.paid_total,
        "outstanding": expected.outstanding,
        "payments": [
            {"trans_id": p.trans_id, "amount": p.amount, "paid_at": p.paid_at, "applied": p.applied}
            for p in expected.payments
        ],
    }
