"""Payout guard-rails (docs/decisions.md "Payout guard-rails"): an optional recipient allowlist, a
per-payout maximum, and daily budgets per shortcode and per recipient.

The budgets are counters in the transactions table, one per (shortcode, day) and (recipient, day), each
raised by one conditional write that refuses when the budget would be exceeded. They are reserved before
the payout record is written and before M-Pesa is called, and released once (a hold per payout says
whether it was) when the payout fails for sure: refused by Daraja, never sent, or a FAILED Result. An
UNKNOWN payout keeps its reservation. A refusal writes no payout record and calls nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from mpesa.clock import NAIROBI
from mpesa.errors import ConfigurationError, InputError, LimitExceededError, NotPermittedError
from mpesa.markets import MARKETS, Market, market_for, normalise_msisdn
from mpesa.records.budgets import Counter, Reservation, Scope

if TYPE_CHECKING:
    from mpesa.flows.b2c.request import PayoutRequest
    from mpesa.settings import MpesaSettings

ALLOWLIST_SETTING = "MPESA_B2C_ALLOWED_RECIPIENTS"


def budget_day(moment: datetime) -> str:
    return moment.astimezone(NAIROBI).date().isoformat()


def recipient_key(msisdn: str) -> str:
    return hashlib.sha256(f"b2c-recipient\n{msisdn}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class GuardRails:
    max_per_payout: int | None = None
    daily_budget: int | None = None  # per B2C shortcode
    recipient_daily_budget: int | None = None
    allowed_recipients: frozenset[str] | None = None  # None: any recipient

    @classmethod
    def from_settings(cls, settings: MpesaSettings) -> GuardRails:
        return cls(
            max_per_payout=settings.b2c_max_per_payout,
            daily_budget=settings.b2c_daily_budget,
            recipient_daily_budget=settings.b2c_recipient_daily_budget,
            allowed_recipients=_allowlist(settings.b2c_allowed_recipients, sandbox=settings.is_sandbox),
        )

    def check(self, request: PayoutRequest) -> None:
        """The checks that need no state: refused before anything is written or sent."""
        if self.allowed_recipients is not None and request.msisdn not in self.allowed_recipients:
            raise NotPermittedError(
                "phone_number", "recipient_not_allowed", "this number is not on the deployment's recipient allowlist"
            )
        if self.max_per_payout is not None and request.amount > self.max_per_payout:
            raise LimitExceededError(
                "amount",
                "payout_limit_exceeded",
                f"a payout may be at most {self.max_per_payout:,} {market_for(request.country).currency}, "
                f"got {request.amount:,}",
            )

    def reservation(self, payout_id: str, request: PayoutRequest, short_code: str, now: datetime) -> Reservation:
        counters = []
        if self.daily_budget is not None:
            counters.append(Counter(Scope.SHORTCODE, short_code, self.daily_budget))
        if self.recipient_daily_budget is not None:
            counters.append(Counter(Scope.RECIPIENT, recipient_key(request.msisdn), self.recipient_daily_budget))
        return Reservation(payout_id, request.amount, budget_day(now), tuple(counters))

    def refusal(self, scope: Scope, request: PayoutRequest) -> LimitExceededError:
        currency = market_for(request.country).currency
        if scope is Scope.SHORTCODE:
            limit, whose = self.daily_budget, "the shortcode's"
        else:
            limit, whose = self.recipient_daily_budget, "this recipient's"
        return LimitExceededError(
            "amount",
            "daily_budget_exceeded",
            f"{request.amount:,} {currency} would exceed {whose} daily payout budget of {limit or 0:,} {currency}; "
            "nothing was sent",
        )


def _allowlist(text: str | None, *, sandbox: bool) -> frozenset[str] | None:
    entries = [e.strip() for e in (text or "").split(",") if e.strip()]
    if not entries:
        return None
    try:
        return frozenset(normalise_msisdn(e, _market_of(e), sandbox=sandbox, field=ALLOWLIST_SETTING) for e in entries)
    except InputError as exc:
        raise ConfigurationError({ALLOWLIST_SETTING: exc.message}) from None


def _market_of(entry: str) -> Market:
    """A number in international form is read in its own market (a Tanzanian 255...); any other in Kenya's."""
    digits = entry.lstrip("+").replace(" ", "")
    international = [m for m in MARKETS.values() if len(digits) == 12 and digits.startswith(m.dialling_code)]
    return international[0] if international else market_for("KE")
