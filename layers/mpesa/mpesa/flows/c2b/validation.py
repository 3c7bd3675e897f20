"""C2B validation: Daraja asks whether to take a payment and waits about 8 s for the answer.

The rules run in this order, and the first that fails names the code (daraja-api.md §3.4):

| rule              | refuses                                                        | code      |
|-------------------|----------------------------------------------------------------|-----------|
| short_code        | a body for another shortcode than the URL's, or not ours       | C2B00015  |
| transaction_type  | a TransactionType that is neither Pay Bill nor Buy Goods       | C2B00016  |
| msisdn            | a plain phone number that is not a valid Kenyan MSISDN         | C2B00011  |
| kyc               | no payer name (only with C2B_REQUIRE_PAYER_NAME=true)          | C2B00014  |
| amount            | an amount outside the market's C2B limits (MPESA_LIMITS)       | C2B00013  |
| account_reference | Pay Bill without a reference, or one the pattern refuses       | C2B00012  |
| expected_payment  | (mode `expected`) a reference with no open, unexpired invoice  | C2B00012  |

A masked or hashed MSISDN (C2B v2) cannot be checked and is not. No Daraja call is made, and at most
one read (the expected payment). Any failure of our own answers C2B_VALIDATION_ON_ERROR (C2B00016 when
it is `reject`) and is logged. Every decision is recorded with its rule and reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mpesa.clock import iso, now_utc
from mpesa.daraja.acks import C2BRejectCode, c2b_validation_accept, c2b_validation_reject
from mpesa.daraja.callbacks.c2b import C2BPayload
from mpesa.errors import InputError
from mpesa.flows.c2b.config import C2BConfig, OnError, ValidationMode
from mpesa.flows.c2b.model import ExpectedPayment, ValidationRecord, normalise_reference
from mpesa.flows.c2b.ports import C2BDeps
from mpesa.markets import Country, TransactionKind, check_amount, market_for, normalise_msisdn
from mpesa.telemetry import logger

if TYPE_CHECKING:
    from mpesa.settings import MpesaSettings

PAY_BILL_TYPES = frozenset({"pay bill", "paybill", "customerpaybillonline"})
BUY_GOODS_TYPES = frozenset({"buy goods", "buygoods", "customerbuygoodsonline"})


@dataclass(frozen=True)
class Decision:
    result_code: Literal["0"] | C2BRejectCode
    rule: str
    reason: str

    @property
    def accepted(self) -> bool:
        return self.result_code == "0"

    def answer(self) -> dict[str, Any]:
        if self.result_code == "0":
            return c2b_validation_accept()
        return c2b_validation_reject(self.result_code)


ACCEPTED = Decision("0", "accepted", "every rule passed")


def _refuse(code: C2BRejectCode, rule: str, reason: str) -> Decision:
    return Decision(code, rule, reason)


def decide(
    payload: C2BPayload,
    *,
    short_code: str,
    config: C2BConfig,
    settings: MpesaSettings,
    expected: Callable[[str], ExpectedPayment | None],
) -> Decision:
    """The rules, in order; `expected` is called at most once (mode `expected`)."""
    if payload.business_short_code != short_code or short_code not in config.short_codes:
        return _refuse("C2B00015", "short_code", "the shortcode is not the one this URL was registered for")
    kind = payload.transaction_type.strip().lower()
    if kind and kind not in PAY_BILL_TYPES | BUY_GOODS_TYPES:
        return _refuse("C2B00016", "transaction_type", "neither Pay Bill nor Buy Goods")
    msisdn = payload.msisdn.strip()
    if msisdn.isdigit():
        try:
            normalise_msisdn(msisdn, market_for(Country.KE), sandbox=settings.is_sandbox, field="MSISDN")
        except InputError as exc:
            return _refuse("C2B00011", "msisdn", exc.message)
    if config.require_payer_name and not (payload.first_name.strip() or payload.last_name.strip()):
        return _refuse("C2B00014", "kyc", "the payer has no name on record")
    try:
        check_amount(
            payload.amount, market_for(Country.KE), TransactionKind.C2B, settings.limit_overrides(), "TransAmount"
        )
    except InputError as exc:
        return _refuse("C2B00013", "amount", exc.message)
    reference = normalise_reference(payload.bill_ref_number)
    if not reference and kind not in BUY_GOODS_TYPES:
        return _refuse("C2B00012", "account_reference", "a Pay Bill payment needs an account number")
    if reference and config.account_pattern is not None and not config.account_pattern.fullmatch(reference):
        return _refuse("C2B00012", "account_reference", "the account number does not have the expected form")
    if config.validation_mode is ValidationMode.EXPECTED:
        invoice = expected(reference) if reference else None
        if invoice is None:
            return _refuse("C2B00012", "expected_payment", "no expected payment has this account number")
        now = iso(now_utc())
        if not invoice.payable_at(now):
            return _refuse("C2B00012", "expected_payment", f"the expected payment is {invoice.status_at(now).value}")
    return ACCEPTED


class C2BValidation:
    def __init__(self, deps: C2BDeps) -> None:
        self._deps = deps

    def validate(self, payload: C2BPayload, *, short_code: str) -> Decision:
        """Decide and record the decision. Never raises: an error of ours answers the configured default."""
        deps = self._deps
        logger.append_keys(trans_id=payload.trans_id)
        try:
            decision = decide(
                payload, short_code=short_code, config=deps.config, settings=deps.settings, expected=deps.store.expected
            )
        except Exception:
            logger.exception("validation failed; answering the configured default")
            decision = on_error(deps.config)
        try:
            deps.store.record_validation(
                ValidationRecord(
                    trans_id=payload.trans_id,
                    short_code=short_code,
                    amount=payload.amount,
                    account_reference=payload.bill_ref_number,
                    accepted=decision.accepted,
                    result_code=decision.result_code,
                    rule=decision.rule,
                    reason=decision.reason,
                    decided_at=iso(now_utc()),
                )
            )
        except Exception:  # the answer matters more than its record; the log line keeps the decision
            logger.exception("validation decision not recorded")
        logger.info(
            "validation decided",
            extra={"result_code": decision.result_code, "rule": decision.rule, "reason": decision.reason},
        )
        return decision


def on_error(config: C2BConfig) -> Decision:
    if config.on_error is OnError.ACCEPT:
        return Decision("0", "internal_error", "our validation failed; C2B_VALIDATION_ON_ERROR is accept")
    return Decision("C2B00016", "internal_error", "our validation failed; C2B_VALIDATION_ON_ERROR is reject")
