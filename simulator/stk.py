"""M-Pesa Express (STK push): accept a push, keep the prompt's life, answer queries, settle, call back."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from simulator import clock, payloads, sandbox, validation
from simulator.crypto import stk_password_matches
from simulator.errors import OVERLOADED, ControlError, DarajaError, invalid
from simulator.faults import Fault, is_kind
from simulator.state import CustomerScript, ResultCode, StkBehaviour, StkRecord, StkStatus

if TYPE_CHECKING:
    from simulator.core import Simulator

TRANSACTION_TYPES = ("CustomerPayBillOnline", "CustomerBuyGoodsOnline")
SUCCESS = 0
WRONG_PIN = 2001
CANCELLED = 1032
UNREACHABLE = 1037
INSUFFICIENT_FUNDS = 1

# What a customer's script does with a prompt (``expire``: nothing, the prompt times out).
SCRIPTED_OUTCOMES: dict[StkBehaviour, ResultCode] = {
    "pay": SUCCESS,
    "wrong_pin": WRONG_PIN,
    "cancel": CANCELLED,
    "insufficient_funds": INSUFFICIENT_FUNDS,
    "unreachable": UNREACHABLE,
}
# How a prompt ended, by ResultCode, for the customer truth (``GET /simulator/customers/<msisdn>``).
ACTIONS: dict[str, str] = {
    "0": "paid",
    "1": "insufficient_funds",
    "1019": "expired",
    "1032": "cancelled",
    "1037": "unreachable",
    "2001": "wrong_pin",
    "E3008": "bad_debt",
}
NO_ANSWER = "no_answer"  # the prompt's life ended without the customer acting


RESULT_DESCRIPTIONS: dict[str, str] = {
    "0": payloads.SUCCESS_DESC,
    "1": sandbox.INSUFFICIENT_FUNDS_DESC,
    "17": "Rule limited.",
    "1001": "Unable to lock subscriber, a transaction is already in process for the current subscriber",
    "1019": "Transaction has expired",
    "1025": "An error occurred while sending a push request",
    "1032": "Request cancelled by user",
    "1037": "DS timeout user cannot be reached",
    # What Daraja sends for a wrong STK PIN: the generic initiator text (daraja-api.md §6: 2001 = wrong PIN).
    "2001": "The initiator information is invalid.",
    "2028": "The request is not permitted according to product assignment",
    "9999": "An error occurred while sending a push request",
    "E3008": "The user has a bad debt contract",
}

PENDING_RESULT_DESC = "The transaction is still under processing"
QUERY_ACCEPTED = "The service request has been accepted successsfully"  # sic, as Daraja spells it
PUSH_ACCEPTED = "Success. Request accepted for processing"
LOCKED = "Unable to lock subscriber, a transaction is already in process for the current subscriber"


def describe(result_code: ResultCode) -> str:
    return RESULT_DESCRIPTIONS.get(str(result_code), f"Simulated result {result_code}")


def action_for(result_code: ResultCode) -> str:
    return ACTIONS.get(str(result_code), "other")


class StkService:
    def __init__(self, sim: Simulator) -> None:
        self._sim = sim

    # --- Daraja API ----------------------------------------------------------------------------
    def _check_credentials(self, body: validation.Body) -> None:
        """BusinessShortCode, Timestamp and Password, shared by push and query."""
        config = self._sim.config
        shortcode = validation.shortcode(body, "BusinessShortCode")
        if shortcode != config.stk_shortcode:
            raise DarajaError(500, OVERLOADED, "Merchant does not exist")
        timestamp = validation.timestamp(body, max_skew_s=config.timestamp_max_skew_s)
        password = validation.text(body, "Password")
        if not stk_password_matches(password, shortcode, config.passkey, timestamp):
            raise DarajaError(500, OVERLOADED, "Wrong credentials")

    def push(self, body: validation.Body) -> dict[str, Any]:
        config = self._sim.config
        self._check_credentials(body)
        transaction_type = validation.one_of(body, "TransactionType", TRANSACTION_TYPES)
        amount = validation.whole_amount(body, minimum=1, maximum=config.max_amount)
        party_a = validation.msisdn(body, "PartyA", also_allowed=sandbox.NUMBERS)
        party_b = validation.shortcode(body, "PartyB")
        phone = validation.msisdn(body, "PhoneNumber", also_allowed=sandbox.NUMBERS)
        callback_url = validation.callback_url(body, "CallBackURL")
        account_reference = validation.text(body, "AccountReference", max_len=12)
        if validation.as_text(body.get("TransactionDesc")) in (None, ""):
            raise invalid("Remarks")  # what the sandbox answered when TransactionDesc was omitted
        transaction_desc = validation.text(body, "TransactionDesc", max_len=13)

        script = self._sim.store.script(phone)
        life_s = config.prompt_ttl_s
        if script is not None and script.stk == "expire" and script.delay_s is not None:
            life_s = script.delay_s  # this customer's prompts time out sooner (or later)
        now = clock.now_eat()
        record = StkRecord(
            checkout_request_id=self._sim.ids.checkout_request_id(now),
            merchant_request_id=self._sim.ids.merchant_request_id(),
            business_short_code=config.stk_shortcode,
            transaction_type=transaction_type,
            amount=amount,
            party_a=party_a,
            party_b=party_b,
            phone_number=phone,
            callback_url=callback_url,
            account_reference=account_reference,
            transaction_desc=transaction_desc,
            created_at=now,
            expires_at=now + timedelta(seconds=life_s),
            expires_mono=clock.monotonic() + life_s,
        )
        if not self._sim.store.add_stk_if_subscriber_free(record):
            raise DarajaError(500, OVERLOADED, LOCKED)
        self._schedule_outcome(record, script, life_s)
        return {
            "MerchantRequestID": record.merchant_request_id,
            "CheckoutRequestID": record.checkout_request_id,
            "ResponseCode": "0",
            "ResponseDescription": PUSH_ACCEPTED,
            "CustomerMessage": PUSH_ACCEPTED,
        }

    def query(self, body: validation.Body, fault: Fault | None = None) -> tuple[int, dict[str, Any]]:
        config = self._sim.config
        self._check_credentials(body)
        checkout_request_id = validation.text(body, "CheckoutRequestID")
        record = self.get(checkout_request_id)
        if record is None:
            raise invalid("CheckoutRequestID")
        if is_kind(fault, "wrong_id"):
            record = self._another(record)
        if record.status is StkStatus.PENDING:
            if config.stk_query_pending_style == "500.001.1001":
                raise DarajaError(500, OVERLOADED, "The transaction is being processed", record.checkout_request_id)
            return 200, self._query_answer(record, "4999", PENDING_RESULT_DESC)
        return 200, self._query_answer(record, str(record.result_code), record.result_desc or "")

    def _another(self, record: StkRecord) -> StkRecord:
        """A ``wrong_id`` fault: the answer is about another payment. The latest other checkout
        (its IDs and its state) if there is one, else this one's state under fresh IDs."""
        others = [r for r in self._sim.store.list_stk() if r.checkout_request_id != record.checkout_request_id]
        if others:
            latest = max(others, key=lambda r: r.created_at)
            return self.get(latest.checkout_request_id) or latest
        return dataclasses.replace(
            record,
            checkout_request_id=self._sim.ids.checkout_request_id(clock.now_eat()),
            merchant_request_id=self._sim.ids.merchant_request_id(),
        )

    @staticmethod
    def _query_answer(record: StkRecord, result_code: str, result_desc: str) -> dict[str, Any]:
        return {
            "ResponseCode": "0",
            "ResponseDescription": QUERY_ACCEPTED,
            "MerchantRequestID": record.merchant_request_id,
            "CheckoutRequestID": record.checkout_request_id,
            "ResultCode": result_code,
            "ResultDesc": result_desc,
        }

    # --- life of a prompt ----------------------------------------------------------------------
    def _schedule_outcome(self, record: StkRecord, script: CustomerScript | None, life_s: float) -> None:
        """Who acts on the prompt by themselves: a scripted customer (``PUT /simulator/customers``),
        else a sandbox test number, else (``sandbox_numbers_only``) nobody can be reached: E3008.
        Every prompt also gets its end of life (``_expire``)."""
        config = self._sim.config
        checkout_request_id = record.checkout_request_id
        outcome: tuple[ResultCode, str] | None = None
        settled_by = "sandbox"
        delay = config.auto_act_delay_s
        if script is not None and script.stk is not None:
            settled_by = "script"
            if script.delay_s is not None:
                delay = script.delay_s
            code = SCRIPTED_OUTCOMES.get(script.stk)  # None for "expire": nobody answers
            outcome = (code, describe(code)) if code is not None else None
        else:
            outcome = sandbox.STK_OUTCOMES.get(record.phone_number)
            if outcome is None and config.sandbox_numbers_only:
                outcome = ("E3008", describe("E3008"))
        if outcome is not None:
            code, desc = outcome
            self._sim.scheduler.call_later(
                delay,
                lambda: self.settle(checkout_request_id, code, desc, action=action_for(code), settled_by=settled_by),
            )
        self._sim.scheduler.call_later(life_s, lambda: self._expire(checkout_request_id))

    def _expire(self, checkout_request_id: str) -> None:
        self.settle(checkout_request_id, UNREACHABLE, describe(UNREACHABLE), action=NO_ANSWER, settled_by="timeout")

    def get(self, checkout_request_id: str) -> StkRecord | None:
        """The record, expiring an unanswered prompt whose time is up (lazily, besides the timer)."""
        record = self._sim.store.get_stk(checkout_request_id)
        if record is not None and record.status is StkStatus.PENDING and clock.monotonic() >= record.expires_mono:
            self._expire(checkout_request_id)
            record = self._sim.store.get_stk(checkout_request_id)
        return record

    def pending_prompts(self, phone_number: str) -> list[StkRecord]:
        prompts = []
        for record in self._sim.store.pending_stk(phone_number):
            fresh = self.get(record.checkout_request_id)
            if fresh is not None and fresh.status is StkStatus.PENDING:
                prompts.append(fresh)
        return sorted(prompts, key=lambda r: r.created_at)

    def settle(
        self,
        checkout_request_id: str,
        result_code: ResultCode,
        result_desc: str,
        *,
        action: str | None = None,
        settled_by: str = "control",
    ) -> StkRecord | None:
        """Make a pending checkout final and send its callback; None if it was not pending.
        ``action`` (default: from the ResultCode) and ``settled_by`` are kept for the customer truth."""
        now = clock.now_eat()
        receipt = self._sim.ids.receipt(now) if result_code == SUCCESS else None
        record = self._sim.store.settle_stk(
            checkout_request_id,
            result_code,
            result_desc,
            now,
            receipt,
            action=action or action_for(result_code),
            settled_by=settled_by,
        )
        if record is None:
            return None
        self._sim.dispatcher.send(record.callback_url, "stk", payloads.stk_callback(record))
        if receipt is not None and self._sim.config.stk_also_confirms_c2b:
            self._sim.c2b.confirm_stk_payment(record)
        return record

    # --- control API (the customer's hand) -----------------------------------------------------
    def _pending_or_error(self, checkout_request_id: str) -> StkRecord:
        record = self.get(checkout_request_id)
        if record is None:
            raise ControlError(404, f"unknown CheckoutRequestID {checkout_request_id}")
        if record.status is not StkStatus.PENDING:
            raise ControlError(
                409,
                f"{checkout_request_id} is not pending (already final with ResultCode {record.result_code})",
            )
        return record

    def _settle_from_control(
        self, checkout_request_id: str, code: ResultCode, desc: str, settled_by: str = "customer"
    ) -> StkRecord:
        record = self.settle(checkout_request_id, code, desc, settled_by=settled_by)
        if record is None:  # settled by someone else between the check and now
            raise ControlError(409, f"{checkout_request_id} is not pending")
        return record

    def accept(self, checkout_request_id: str, pin: str) -> StkRecord:
        self._pending_or_error(checkout_request_id)
        if pin == self._sim.config.customer_pin:
            return self._settle_from_control(checkout_request_id, SUCCESS, describe(SUCCESS))
        return self._settle_from_control(checkout_request_id, WRONG_PIN, describe(WRONG_PIN))

    def cancel(self, checkout_request_id: str) -> StkRecord:
        self._pending_or_error(checkout_request_id)
        return self._settle_from_control(checkout_request_id, CANCELLED, describe(CANCELLED))

    def force(self, checkout_request_id: str, result_code: ResultCode, result_desc: str | None) -> StkRecord:
        self._pending_or_error(checkout_request_id)
        description = result_desc or describe(result_code)
        return self._settle_from_control(checkout_request_id, result_code, description, settled_by="control")


def record_view(record: StkRecord) -> dict[str, Any]:
    return {
        "checkout_request_id": record.checkout_request_id,
        "merchant_request_id": record.merchant_request_id,
        "status": record.status.value,
        "result_code": record.result_code,
        "result_desc": record.result_desc,
        "msisdn": record.phone_number,
        "party_a": record.party_a,
        "amount": record.amount,
        "receipt": record.receipt,
        "business_short_code": record.business_short_code,
        "transaction_type": record.transaction_type,
        "account_reference": record.account_reference,
        "transaction_desc": record.transaction_desc,
        "callback_url": record.callback_url,
        "created_at": clock.iso(record.created_at),
        "expires_at": clock.iso(record.expires_at),
        "settled_at": clock.iso(record.settled_at) if record.settled_at else None,
        "action": record.action,
        "settled_by": record.settled_by,
    }


def prompt_view(record: StkRecord, business_name: str) -> dict[str, Any]:
    return {
        "checkout_request_id": record.checkout_request_id,
        "amount": record.amount,
        "currency": "KES",
        "account_reference": record.account_reference,
        "transaction_desc": record.transaction_desc,
        "business_short_code": record.business_short_code,
        "business_name": business_name,
        "created_at": clock.iso(record.created_at),
        "expires_at": clock.iso(record.expires_at),
    }
