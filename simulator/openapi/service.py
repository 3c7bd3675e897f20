"""Vodacom's side of the OpenAPI (market vodacomTZN), minus HTTP: sessions, C2B single stage, B2C,
status query, reversal, and the customer's hand on the virtual phone.

C2B single stage is synchronous: the request thread waits (``OpenApiStore.wait_final``) until the
customer pays, cancels or enters a wrong PIN, or until ``openapi_prompt_timeout_s`` passes; then it
answers INS-9. With ``openapi_late_payment_window_s`` > 0 the prompt stays on the phone that much
longer after INS-9 and can still be paid: the outcome of an INS-9 is unknown, and only a status
query tells (the test number ``255740000006`` always pays after its INS-9).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from simulator import clock
from simulator.errors import ControlError
from simulator.openapi import codes, sandbox, validation
from simulator.openapi.codes import Ins, OpenApiError
from simulator.openapi.ids import OpenApiIds
from simulator.openapi.keys import OpenApiKeys, same_secret
from simulator.openapi.sandbox import Behaviour
from simulator.openapi.sessions import Environment, SessionStore
from simulator.openapi.state import Kind, OpenApiStore, PayoutOutcome, ReversalOutcome, Status, Transaction

if TYPE_CHECKING:
    from simulator.core import Simulator

MARKET = "vodacomTZN"
COUNTRY = "TZN"
CURRENCY = "TZS"
# The late-paying test number's prompt stays open at least this long past its scheduled payment.
LATE_PAYER_MARGIN_S = 1.0

C2B_FIELDS = (
    "input_Amount",
    "input_Country",
    "input_Currency",
    "input_CustomerMSISDN",
    "input_ServiceProviderCode",
    "input_ThirdPartyConversationID",
    "input_TransactionReference",
    "input_PurchasedItemsDesc",
)
B2C_FIELDS = (*C2B_FIELDS[:-1], "input_PaymentItemsDesc")
QUERY_FIELDS = (
    "input_QueryReference",
    "input_ServiceProviderCode",
    "input_ThirdPartyConversationID",
    "input_Country",
)
REVERSAL_FIELDS = (
    "input_ReversalAmount",
    "input_Country",
    "input_ServiceProviderCode",
    "input_ThirdPartyConversationID",
    "input_TransactionID",
)

# What the customer's action (or a test number) makes of a prompt.
C2B_OUTCOMES: dict[Behaviour, tuple[Status, Ins]] = {
    Behaviour.PAY: (Status.COMPLETED, codes.SUCCESS),
    Behaviour.PAY_AFTER_TIMEOUT: (Status.COMPLETED, codes.SUCCESS),
    Behaviour.INSUFFICIENT_FUNDS: (Status.FAILED, codes.INSUFFICIENT_BALANCE),
    Behaviour.CANCEL: (Status.CANCELLED, codes.CANCELLED),
    Behaviour.WRONG_PIN: (Status.FAILED, codes.FAILED),
}
PAYOUT_CODES: dict[PayoutOutcome, str] = {
    "paid": codes.SUCCESS.code,
    "insufficient_funds": codes.INSUFFICIENT_BALANCE.code,
}
REVERSAL_CODES: dict[ReversalOutcome, str] = {
    "reversed": codes.SUCCESS.code,
    "unknown": codes.INVALID_TRANSACTION_ID.code,
    "already_reversed": codes.DUPLICATE.code,
    "amount_mismatch": codes.INVALID_AMOUNT.code,
    "insufficient_funds": codes.INSUFFICIENT_BALANCE.code,
}


@dataclass(frozen=True)
class RequestContext:
    """One transaction request: where it was sent and the ConversationID its answer carries."""

    environment: Environment
    market: str
    conversation_id: str


Answer = tuple[int, dict[str, Any]]


class OpenApiService:
    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self.ids = OpenApiIds()
        self.keys = OpenApiKeys(sim.config.openapi_private_key_pem)
        self.sessions = SessionStore(self.ids)
        self.store = OpenApiStore(sim.config.openapi_balance)

    def reset(self) -> None:
        """Forget sessions, transactions and calls; release waiting requests (they answer INS-1)."""
        self.sessions.expire_all()
        self.store.reset(self._sim.config.openapi_balance)

    # --- sessions ------------------------------------------------------------------------------
    @staticmethod
    def check_market(market: str) -> None:
        if market != MARKET:
            raise OpenApiError(codes.INVALID_MARKET)

    def create_session(
        self, environment: Environment, market: str, authorization: str | None, origin: str | None
    ) -> str:
        """``getSession/``: the bearer must decrypt to the API key (INS-2), an Origin must be sent
        and allowed (INS-989). Returns the new SessionID."""
        config = self._sim.config
        self.check_market(market)
        api_key = self.keys.bearer_plaintext(authorization)
        if api_key is None or not same_secret(api_key, config.openapi_api_key):
            raise OpenApiError(codes.INVALID_API_KEY)
        allowed = config.openapi_allowed_origin
        if not origin or not origin.strip() or (allowed != "*" and origin.strip() != allowed):
            raise OpenApiError(codes.SESSION_FAILED)
        session = self.sessions.issue(
            environment, market, config.openapi_session_ttl_s, config.openapi_session_activation_delay_s
        )
        return session.session_id

    def authorise(self, environment: Environment, market: str, authorization: str | None) -> None:
        """Every transaction: the bearer must decrypt to a live session of this environment and
        market. Anything else (no bearer, undecryptable, the API key, unknown, expired, not yet
        active) is INS-26, HTTP 401: nothing was done, so a client may get a new session and retry."""
        session_id = self.keys.bearer_plaintext(authorization)
        if session_id is None or self.sessions.state(session_id, environment, market) != "live":
            raise OpenApiError(codes.NOT_AUTHORISED)

    # --- C2B single stage ----------------------------------------------------------------------
    def c2b(self, ctx: RequestContext, params: validation.Params) -> Answer:
        config = self._sim.config
        validation.require(params, C2B_FIELDS)
        amount = validation.amount(
            params, "input_Amount", minimum=config.openapi_min_amount, maximum=config.openapi_max_amount
        )
        validation.exact(params, "input_Country", COUNTRY, codes.VALIDATION_FAILED)
        validation.exact(params, "input_Currency", CURRENCY, codes.VALIDATION_FAILED)
        msisdn = validation.msisdn(params, "input_CustomerMSISDN")
        provider = validation.exact(
            params, "input_ServiceProviderCode", config.openapi_service_provider_code, codes.INVALID_SHORTCODE
        )
        caller_id = validation.caller_id(params, "input_ThirdPartyConversationID")
        reference = validation.transaction_reference(params, "input_TransactionReference")
        description = validation.description(params, "input_PurchasedItemsDesc")

        behaviour = sandbox.C2B_BEHAVIOUR.get(msisdn)
        now, mono = clock.now_eat(), clock.monotonic()
        deadline = mono + config.openapi_prompt_timeout_s
        open_after_answer = config.openapi_late_payment_window_s
        if behaviour is Behaviour.PAY_AFTER_TIMEOUT:
            open_after_answer = max(open_after_answer, config.auto_act_delay_s + LATE_PAYER_MARGIN_S)
        closes_in = config.openapi_prompt_timeout_s + open_after_answer
        record = Transaction(
            kind=Kind.C2B,
            environment=ctx.environment,
            market=ctx.market,
            conversation_id=ctx.conversation_id,
            third_party_conversation_id=caller_id,
            msisdn=msisdn,
            amount=amount,
            reference=reference,
            description=description,
            service_provider_code=provider,
            created_at=now,
            status=Status.PENDING,
            answer_deadline_mono=deadline,
            closes_mono=mono + closes_in,
            closes_at=now + timedelta(seconds=closes_in),
        )
        if behaviour is Behaviour.UNREGISTERED:  # no USSD push can reach a number M-Pesa does not know
            record.status, record.result_code, record.settled_at = Status.FAILED, codes.INVALID_MSISDN.code, now
            record.response_code = codes.INVALID_MSISDN.code
        generation = self.store.generation
        if not self.store.add_if_new_caller_id(record):
            raise OpenApiError(codes.DUPLICATE)
        if record.status is Status.FAILED:
            raise OpenApiError(codes.INVALID_MSISDN)
        self._schedule_customer(record, behaviour, closes_in)

        final = self.store.wait_final(ctx.conversation_id, deadline, generation)
        if final is not None:  # answer now: the outcome if there is one, else INS-9
            expire = open_after_answer == 0
            final = self.store.conclude(ctx.conversation_id, codes.TIMEOUT.code, expire_if_pending=expire)
        if final is None:  # the simulator was reset while the customer was deciding
            raise OpenApiError(codes.INTERNAL_ERROR)
        if final.status is Status.COMPLETED:
            return codes.CREATED, self._money_answer(ctx, final)
        if final.status in (Status.CANCELLED, Status.FAILED) and final.result_code in codes.BY_CODE:
            raise OpenApiError(codes.BY_CODE[final.result_code])
        raise OpenApiError(codes.TIMEOUT)

    def _schedule_customer(self, record: Transaction, behaviour: Behaviour | None, closes_in: float) -> None:
        """Test numbers act by themselves; every prompt expires when its time is up."""
        config = self._sim.config
        scheduler = self._sim.scheduler
        conversation_id = record.conversation_id
        if behaviour in C2B_OUTCOMES:
            status, ins = C2B_OUTCOMES[behaviour]
            delay = config.auto_act_delay_s
            if behaviour is Behaviour.PAY_AFTER_TIMEOUT:
                delay += config.openapi_prompt_timeout_s
            scheduler.call_later(delay, lambda: self._settle(conversation_id, status, ins))
        scheduler.call_later(closes_in, lambda: self.store.expire_overdue(codes.TIMEOUT.code))

    def _settle(self, conversation_id: str, status: Status, ins: Ins) -> Transaction | None:
        transaction_id = self.ids.transaction_id() if status is Status.COMPLETED else None
        return self.store.settle(conversation_id, status, ins.code, transaction_id)

    @staticmethod
    def _money_answer(ctx: RequestContext, record: Transaction) -> dict[str, Any]:
        return codes.transaction_body(
            codes.SUCCESS,
            transaction_id=record.transaction_id or "",
            conversation_id=ctx.conversation_id,
            third_party_conversation_id=record.third_party_conversation_id,
        )

    # --- B2C -----------------------------------------------------------------------------------
    def b2c(self, ctx: RequestContext, params: validation.Params) -> Answer:
        config = self._sim.config
        validation.require(params, B2C_FIELDS)
        amount = validation.amount(
            params, "input_Amount", minimum=config.openapi_min_amount, maximum=config.openapi_max_amount
        )
        validation.exact(params, "input_Country", COUNTRY, codes.VALIDATION_FAILED)
        validation.exact(params, "input_Currency", CURRENCY, codes.VALIDATION_FAILED)
        msisdn = validation.msisdn(params, "input_CustomerMSISDN")
        provider = validation.exact(
            params, "input_ServiceProviderCode", config.openapi_service_provider_code, codes.INVALID_SHORTCODE
        )
        caller_id = validation.caller_id(params, "input_ThirdPartyConversationID")
        reference = validation.transaction_reference(params, "input_TransactionReference")
        description = validation.description(params, "input_PaymentItemsDesc")

        record = Transaction(
            kind=Kind.B2C,
            environment=ctx.environment,
            market=ctx.market,
            conversation_id=ctx.conversation_id,
            third_party_conversation_id=caller_id,
            msisdn=msisdn,
            amount=amount,
            reference=reference,
            description=description,
            service_provider_code=provider,
            created_at=clock.now_eat(),
            status=Status.PENDING,
            transaction_id=self.ids.transaction_id(),
        )
        failure = sandbox.B2C_FAILURES.get(msisdn)
        if failure is not None:
            record.status = Status.FAILED
            ins = codes.INVALID_MSISDN if failure is Behaviour.UNREGISTERED else codes.INSUFFICIENT_BALANCE
            record.result_code = ins.code
        outcome, stored = self.store.pay_out(record, PAYOUT_CODES)
        if outcome == "duplicate":
            raise OpenApiError(codes.DUPLICATE)
        self.store.conclude(stored.conversation_id, codes.TIMEOUT.code, expire_if_pending=False)
        if outcome == "paid":
            return codes.CREATED, self._money_answer(ctx, stored)
        raise OpenApiError(codes.BY_CODE[stored.result_code or codes.INTERNAL_ERROR.code])

    # --- status query --------------------------------------------------------------------------
    def query(self, ctx: RequestContext, params: validation.Params) -> Answer:
        config = self._sim.config
        validation.require(params, QUERY_FIELDS)
        query_reference = validation.reference(params, "input_QueryReference", codes.VALIDATION_FAILED)
        validation.exact(
            params, "input_ServiceProviderCode", config.openapi_service_provider_code, codes.INVALID_SHORTCODE
        )
        caller_id = validation.caller_id(params, "input_ThirdPartyConversationID")
        validation.exact(params, "input_Country", COUNTRY, codes.VALIDATION_FAILED)
        self.store.expire_overdue(codes.TIMEOUT.code)
        found = self.store.find(query_reference, ctx.environment, ctx.market)
        if found is None:
            raise OpenApiError(codes.INVALID_TRANSACTION_ID)
        return 200, codes.transaction_body(
            codes.SUCCESS,
            transaction_id=found.transaction_id or "",
            conversation_id=ctx.conversation_id,
            third_party_conversation_id=caller_id,
            ResponseTransactionStatus=found.status.value,
        )

    # --- reversal ------------------------------------------------------------------------------
    def reversal(self, ctx: RequestContext, params: validation.Params) -> Answer:
        config = self._sim.config
        validation.require(params, REVERSAL_FIELDS)
        amount = validation.amount(
            params, "input_ReversalAmount", minimum=config.openapi_min_amount, maximum=config.openapi_max_amount
        )
        validation.exact(params, "input_Country", COUNTRY, codes.VALIDATION_FAILED)
        provider = validation.exact(
            params, "input_ServiceProviderCode", config.openapi_service_provider_code, codes.INVALID_SHORTCODE
        )
        caller_id = validation.caller_id(params, "input_ThirdPartyConversationID")
        original = validation.reference(params, "input_TransactionID", codes.INVALID_TRANSACTION_ID)

        record = Transaction(
            kind=Kind.REVERSAL,
            environment=ctx.environment,
            market=ctx.market,
            conversation_id=ctx.conversation_id,
            third_party_conversation_id=caller_id,
            msisdn="",
            amount=amount,
            reference=original,
            description="Reversal",
            service_provider_code=provider,
            created_at=clock.now_eat(),
            status=Status.PENDING,
            transaction_id=self.ids.transaction_id(),
        )
        outcome, stored = self.store.reverse(record, original, REVERSAL_CODES)
        if outcome == "duplicate":
            raise OpenApiError(codes.DUPLICATE)
        self.store.conclude(stored.conversation_id, codes.TIMEOUT.code, expire_if_pending=False)
        if outcome == "reversed":
            return codes.CREATED, self._money_answer(ctx, stored)
        raise OpenApiError(codes.BY_CODE[REVERSAL_CODES[outcome]])

    # --- the virtual phone (control API) -------------------------------------------------------
    def owns_prompt(self, conversation_id: str) -> bool:
        record = self.store.get(conversation_id)
        return record is not None and record.kind is Kind.C2B

    def pending_prompts(self, msisdn: str) -> list[Transaction]:
        self.store.expire_overdue(codes.TIMEOUT.code)
        return self.store.pending_c2b(msisdn)

    def _pending_or_error(self, conversation_id: str) -> Transaction:
        self.store.expire_overdue(codes.TIMEOUT.code)
        record = self.store.get(conversation_id)
        if record is None or record.kind is not Kind.C2B:
            raise ControlError(404, f"unknown OpenAPI prompt {conversation_id}")
        if record.status is not Status.PENDING:
            raise ControlError(409, f"{conversation_id} is not pending (already {record.status.value})")
        return record

    def _act(self, conversation_id: str, status: Status, ins: Ins) -> dict[str, Any]:
        settled = self._settle(conversation_id, status, ins)
        if settled is None:  # settled or expired by someone else between the check and now
            raise ControlError(409, f"{conversation_id} is not pending")
        return {
            "provider": "openapi",
            "result_code": ins.code,
            "result_desc": ins.description,
            "receipt": settled.transaction_id,
        }

    def accept(self, conversation_id: str, pin: str) -> dict[str, Any]:
        """The customer enters a PIN: the right one pays (INS-0), a wrong one fails (INS-6)."""
        self._pending_or_error(conversation_id)
        if same_secret(pin, self._sim.config.customer_pin):
            return self._act(conversation_id, Status.COMPLETED, codes.SUCCESS)
        return self._act(conversation_id, Status.FAILED, codes.FAILED)

    def cancel(self, conversation_id: str) -> dict[str, Any]:
        self._pending_or_error(conversation_id)
        return self._act(conversation_id, Status.CANCELLED, codes.CANCELLED)

    def prompt_views(self, msisdn: str) -> list[dict[str, Any]]:
        """Pending prompts in the virtual phone's shape (``checkout_request_id`` is the ConversationID)."""
        name = self._sim.config.business_name
        return [
            {
                "checkout_request_id": r.conversation_id,
                "provider": "openapi",
                "amount": r.amount,
                "currency": CURRENCY,
                "account_reference": r.reference,
                "transaction_desc": r.description,
                "business_short_code": r.service_provider_code,
                "business_name": name,
                "created_at": clock.iso(r.created_at),
                "expires_at": clock.iso(r.closes_at) if r.closes_at else None,
            }
            for r in self.pending_prompts(msisdn)
        ]


def transaction_view(record: Transaction) -> dict[str, Any]:
    return {
        "kind": record.kind.value,
        "environment": record.environment,
        "market": record.market,
        "conversation_id": record.conversation_id,
        "third_party_conversation_id": record.third_party_conversation_id,
        "transaction_id": record.transaction_id,
        "status": record.status.value,
        "result_code": record.result_code,
        "response_code": record.response_code,
        "paid_after_answer": record.paid_after_answer,
        "msisdn": record.msisdn,
        "amount": record.amount,
        "currency": CURRENCY,
        "reference": record.reference,
        "description": record.description,
        "service_provider_code": record.service_provider_code,
        "reversed_by": record.reversed_by,
        "original_transaction_id": record.original_transaction_id,
        "created_at": clock.iso(record.created_at),
        "settled_at": clock.iso(record.settled_at) if record.settled_at else None,
        "prompt_closes_at": clock.iso(record.closes_at) if record.closes_at else None,
    }
