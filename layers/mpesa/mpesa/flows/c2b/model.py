"""What the C2B flow keeps: payments (records of kind c2b), validation decisions, expected payments and
their matches, and URL registrations."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from mpesa.clock import iso
from mpesa.errors import ConflictError, InputError
from mpesa.records.model import SettledBy

TRANS_ID = re.compile(r"[A-Z0-9]{10}")  # M-Pesa receipts: ten upper-case letters and digits
REFERENCE_MAX = 20  # BillRefNumber (daraja-api.md §3.4)
_REFERENCE_CHARACTERS = re.compile(r"[A-Z0-9_.-]+")  # what a customer types; safe in a URL path
MAX_PAYMENTS_PER_EXPECTED = 100  # bounds the expected payment's item (DynamoDB items stop at 400 KB)


def check_trans_id(value: str, field: str = "TransID") -> str:
    if not TRANS_ID.fullmatch(value):
        raise InputError(field, "must be ten upper-case letters and digits (an M-Pesa receipt)")
    return value


def normalise_reference(value: str) -> str:
    """How an account reference is compared: upper-case, without spaces ("inv 001" is "INV001")."""
    return "".join(value.split()).upper()


def check_reference(value: str, field: str = "account_reference") -> str:
    """A reference an expected payment may be registered under; returns it normalised."""
    reference = normalise_reference(value)
    if not reference:
        raise InputError(field, "must not be empty")
    if len(reference) > REFERENCE_MAX:
        raise InputError(field, f"must be at most {REFERENCE_MAX} characters (Daraja's BillRefNumber)")
    if not _REFERENCE_CHARACTERS.fullmatch(reference):
        raise InputError(field, "may contain only letters, digits and - _ .")
    return reference


class C2BFlag(StrEnum):
    """Flags only C2B payments take (records.Flag has the ones shared with other flows)."""

    SHORT_CODE_MISMATCH = "SHORT_CODE_MISMATCH"  # the body names another shortcode than the URL
    FROM_STATEMENT = "FROM_STATEMENT"  # recorded by the reconciliation: its confirmation never came


@dataclass(frozen=True)
class NewC2BPayment:
    """A confirmed payment as Daraja reported it. Money has moved: it is recorded, whatever it says."""

    trans_id: str
    amount: int
    msisdn: str  # as given: v2 sends a SHA-256 hash or a masked number, v1 may send the number
    short_code: str  # as the body names it
    account_reference: str  # BillRefNumber as typed by the customer (empty for Buy Goods)
    transaction_type: str
    paid_at: datetime  # TransTime (EAT), or when we received it if Daraja sent none
    extra: Mapping[str, str]  # invoice_number, third_party_trans_id, org_account_balance, payer_name
    flags: tuple[str, ...] = ()
    settled_by: SettledBy = SettledBy.CALLBACK  # the confirmation, or the reconciliation (statement line)

    @property
    def reference(self) -> str:
        return normalise_reference(self.account_reference)


class ExpectedStatus(StrEnum):
    OPEN = "open"  # nothing paid yet
    PARTIAL = "partial"  # paid less than the amount (or the range's minimum)
    PAID = "paid"  # paid within the amount (or range)
    OVER = "over"  # paid more than the amount (or the range's maximum)
    EXPIRED = "expired"  # not paid in full by its expiry (shown, never stored)


def status_for_total(total: int, amount_min: int, amount_max: int) -> ExpectedStatus:
    if total == 0:
        return ExpectedStatus.OPEN
    if total < amount_min:
        return ExpectedStatus.PARTIAL
    return ExpectedStatus.PAID if total <= amount_max else ExpectedStatus.OVER


@dataclass(frozen=True)
class ExpectedPaymentEntry:
    trans_id: str
    amount: int
    paid_at: str
    applied: bool  # counted towards the total (False: it came after the expiry)


@dataclass(frozen=True)
class NewExpectedPayment:
    reference: str
    amount_min: int
    amount_max: int
    expires_at: datetime
    description: str

    def same_as(self, existing: ExpectedPayment) -> bool:
        return (self.reference, self.amount_min, self.amount_max, iso(self.expires_at), self.description) == (
            existing.reference,
            existing.amount_min,
            existing.amount_max,
            existing.expires_at,
            existing.description,
        )


@dataclass(frozen=True)
class ExpectedPayment:
    """An invoice: a reference the customer types as the account number, an amount or range, an expiry."""

    reference: str
    amount_min: int
    amount_max: int
    expires_at: str  # ISO instant, UTC
    description: str
    created_at: str
    created_by: str
    status: ExpectedStatus  # as stored: open, partial, paid or over
    paid_total: int
    payments: tuple[ExpectedPaymentEntry, ...]
    version: int

    def expired_at(self, now: str) -> bool:
        return now >= self.expires_at

    def status_at(self, now: str) -> ExpectedStatus:
        if self.status in (ExpectedStatus.OPEN, ExpectedStatus.PARTIAL) and self.expired_at(now):
            return ExpectedStatus.EXPIRED
        return self.status

    def payable_at(self, now: str) -> bool:
        """Validation accepts a payment for it: not expired and not paid yet."""
        return not self.expired_at(now) and self.status in (ExpectedStatus.OPEN, ExpectedStatus.PARTIAL)

    @property
    def outstanding(self) -> int:
        return max(0, self.amount_min - self.paid_total)


class ExpectedPaymentExistsError(ConflictError):
    def __init__(self, existing: ExpectedPayment) -> None:
        super().__init__(f"an expected payment with reference {existing.reference} exists")
        self.existing = existing


class MatchOutcome(StrEnum):
    PAID = "paid"
    PARTIAL = "partial"
    OVER = "over"
    EXPIRED = "expired"  # the reference was expected, but the payment came after the expiry
    PAYMENT_LIMIT = "payment_limit"  # the expected payment has taken MAX_PAYMENTS_PER_EXPECTED payments
    NO_EXPECTED_PAYMENT = "no_expected_payment"  # validation mode `expected`, and no such reference

    @property
    def matched(self) -> bool:
        return self in (MatchOutcome.PAID, MatchOutcome.PARTIAL, MatchOutcome.OVER)


@dataclass(frozen=True)
class MatchPlan:
    """What a payment does to the expected payment of its reference, decided from one read of it."""

    reference: str
    outcome: MatchOutcome
    expected: ExpectedPayment | None  # as read (its version guards the write)
    entry: ExpectedPaymentEntry | None  # the payment to add to it; None when nothing is written
    new_total: int
    new_status: ExpectedStatus | None

    def details(self) -> dict[str, str]:
        """What the payment record keeps of the match (its events and the API show it)."""
        details = {"match": self.outcome.value, "expected_reference": self.reference}
        if self.expected is not None:
            details["expected_amount_min"] = str(self.expected.amount_min)
            details["expected_amount_max"] = str(self.expected.amount_max)
            details["expected_paid_total"] = str(self.new_total)
            details["expected_status"] = (self.new_status or self.expected.status).value
        return details


def plan_match(
    expected: ExpectedPayment | None, payment: NewC2BPayment, *, now: str, require_expected: bool
) -> MatchPlan | None:
    """None when there is nothing to match (no expected payment, and none required)."""
    reference = payment.reference
    if expected is None:
        if not require_expected:
            return None
        return MatchPlan(reference, MatchOutcome.NO_EXPECTED_PAYMENT, None, None, 0, None)
    if len(expected.payments) >= MAX_PAYMENTS_PER_EXPECTED:
        return MatchPlan(reference, MatchOutcome.PAYMENT_LIMIT, expected, None, expected.paid_total, None)
    paid_at = iso(payment.paid_at)
    if expected.expired_at(now):
        entry = ExpectedPaymentEntry(payment.trans_id, payment.amount, paid_at, applied=False)
        return MatchPlan(reference, MatchOutcome.EXPIRED, expected, entry, expected.paid_total, expected.status)
    total = expected.paid_total + payment.amount
    status = status_for_total(total, expected.amount_min, expected.amount_max)
    outcome = {
        ExpectedStatus.PARTIAL: MatchOutcome.PARTIAL,
        ExpectedStatus.PAID: MatchOutcome.PAID,
        ExpectedStatus.OVER: MatchOutcome.OVER,
    }[status]
    entry = ExpectedPaymentEntry(payment.trans_id, payment.amount, paid_at, applied=True)
    return MatchPlan(reference, outcome, expected, entry, total, status)


@dataclass(frozen=True)
class ValidationRecord:
    """One validation decision, kept with its reason (no money has moved yet)."""

    trans_id: str
    short_code: str
    amount: int
    account_reference: str
    accepted: bool
    result_code: str  # "0" or C2B00011..C2B00016
    rule: str  # the rule that decided
    reason: str
    decided_at: str


@dataclass(frozen=True)
class Registration:
    """The URLs we last registered for a shortcode (Daraja offers no way to read them back)."""

    short_code: str
    api_version: str
    response_type: str
    digest: str  # of version, response type and both URLs
    registered_at: str
    originator_conversation_id: str
