"""C2B: URL registration, simulated customer payments, validation then confirmation callbacks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from simulator import clock, jsonenc, payloads, sandbox, validation
from simulator.errors import ControlError
from simulator.state import C2BRegistration, Receipt, StkRecord

if TYPE_CHECKING:
    from simulator.config import SimulatorConfig
    from simulator.core import Simulator

Version = Literal["v1", "v2"]
COMMAND_IDS = ("CustomerPayBillOnline", "CustomerBuyGoodsOnline")
RESPONSE_TYPES = ("Completed", "Cancelled")
SIMULATE_ACCEPTED = "Accept the service request successfully."


@dataclass(frozen=True)
class Payment:
    """A customer's Pay Bill / Buy Goods payment, validated."""

    shortcode: str
    command_id: str
    amount: int
    msisdn: str
    bill_ref_number: str


@dataclass(frozen=True)
class _Decision:
    """The validation step's verdict: go ahead (with the ThirdPartyTransID to echo) or stop."""

    go_ahead: bool
    third_party_trans_id: str = ""
    result_code: str | None = None  # the validation answer's ResultCode, when there was one
    result_desc: str | None = None


@dataclass(frozen=True)
class C2BOutcome:
    """How a payment ended: ``completed`` (receipt ``trans_id``) or ``rejected`` by validation
    (``result_code`` is the validation's answer, e.g. ``C2B00012``; None when nobody answered and
    the registration's ``ResponseType`` was ``Cancelled``)."""

    status: Literal["completed", "rejected"]
    trans_id: str
    registered: bool
    result_code: str | None = None
    result_desc: str | None = None


class C2BService:
    def __init__(self, sim: Simulator) -> None:
        self._sim = sim

    def register(self, body: validation.Body, version: Version) -> dict[str, Any]:
        """Register (sandbox: overwrite) the shortcode's URLs. External validation follows the
        ``c2b_external_validation`` config at registration time; change it per shortcode with
        ``PUT /simulator/c2b/registrations/<shortcode>``."""
        shortcode = validation.shortcode(body, "ShortCode")
        response_type = validation.one_of(body, "ResponseType", RESPONSE_TYPES)
        confirmation_url = validation.callback_url(body, "ConfirmationURL")
        validation_url = validation.callback_url(body, "ValidationURL")
        self._sim.store.register(
            C2BRegistration(
                shortcode=shortcode,
                response_type="Completed" if response_type == "Completed" else "Cancelled",
                confirmation_url=confirmation_url,
                validation_url=validation_url,
                version=version,
                external_validation=self._sim.config.c2b_external_validation,
                registered_at=clock.now_eat(),
            )
        )
        return {
            "OriginatorCoversationID": self._sim.ids.originator_conversation_id(),  # sic
            "ResponseCode": "0",
            "ResponseDescription": "success",
        }

    def parse_payment(self, body: validation.Body) -> Payment:
        """The fields of ``c2b/simulate`` (also what the virtual phone's Pay Bill screen sends)."""
        config = self._sim.config
        shortcode = validation.shortcode(body, "ShortCode")
        command_id = validation.one_of(body, "CommandID", COMMAND_IDS)
        amount = validation.whole_amount(body, minimum=1, maximum=config.max_amount)
        msisdn = validation.msisdn(body, "Msisdn", also_allowed=sandbox.NUMBERS)
        if command_id == "CustomerPayBillOnline":
            bill_ref = validation.text(body, "BillRefNumber", max_len=20)
        else:
            bill_ref = validation.optional_text(body, "BillRefNumber", max_len=20)
        return Payment(shortcode, command_id, amount, msisdn, bill_ref)

    def simulate(self, body: validation.Body) -> dict[str, Any]:
        """Accept a simulated customer payment; validation and confirmation follow in the background."""
        payment = self.parse_payment(body)
        self._sim.dispatcher.run_later(self._sim.config.callback_delay_s, lambda: self.pay(payment))
        return {
            "OriginatorCoversationID": self._sim.ids.originator_conversation_id(),
            "ResponseCode": "0",
            "ResponseDescription": SIMULATE_ACCEPTED,
        }

    def pay(self, payment: Payment) -> C2BOutcome:
        """The customer pays: validation (if enabled for the shortcode), then completion and the
        confirmation callback. Blocks while the validation URL answers (at most
        ``validation_timeout_s``): ``simulate`` runs it on a worker, the virtual phone in its request."""
        config = self._sim.config
        registration = self._sim.store.registration(payment.shortcode)
        now = clock.now_eat()
        trans_id = self._sim.ids.receipt(now)
        third_party_trans_id = ""
        if registration is not None and registration.external_validation:
            decision = self._validate(registration, payment, trans_id, config)
            if not decision.go_ahead:
                return C2BOutcome("rejected", trans_id, True, decision.result_code, decision.result_desc)
            third_party_trans_id = decision.third_party_trans_id
        balances = self._sim.store.receive(
            Receipt(
                receipt=trans_id,
                kind="c2b",
                amount=payment.amount,
                party=payment.msisdn,
                shortcode=payment.shortcode,
                completed_at=now,
                reason="Pay Bill" if payment.command_id == "CustomerPayBillOnline" else "Buy Goods",
                bill_reference=payment.bill_ref_number,
            )
        )
        if registration is None:  # M-Pesa completes the payment; nobody is told (daraja-api.md §3.4)
            return C2BOutcome("completed", trans_id, False)
        confirmation = payloads.c2b_notification(
            command_id=payment.command_id,
            trans_id=trans_id,
            trans_time=now,
            amount=payment.amount,
            shortcode=payment.shortcode,
            bill_ref_number=payment.bill_ref_number,
            org_account_balance=payloads.money_text(balances.utility),
            third_party_trans_id=third_party_trans_id,
            msisdn=payment.msisdn,
            version=registration.version,
        )
        self._sim.dispatcher.send(registration.confirmation_url, "c2b_confirmation", confirmation, delay_s=0)
        return C2BOutcome("completed", trans_id, True)

    def _validate(
        self, registration: C2BRegistration, payment: Payment, trans_id: str, config: SimulatorConfig
    ) -> _Decision:
        """POST the validation request. The payment goes ahead on ResultCode 0 (echoing its
        ThirdPartyTransID) and stops on any other code; with no usable answer the registration's
        ResponseType decides (Completed goes ahead, Cancelled stops)."""
        request = payloads.c2b_notification(
            command_id=payment.command_id,
            trans_id=trans_id,
            trans_time=clock.now_eat(),
            amount=payment.amount,
            shortcode=payment.shortcode,
            bill_ref_number=payment.bill_ref_number,
            org_account_balance="",
            third_party_trans_id="",
            msisdn=payment.msisdn,
            version=registration.version,
        )
        delivery = self._sim.dispatcher.post_now(
            registration.validation_url, "c2b_validation", request, config.validation_timeout_s
        )
        answer: Any = None
        if delivery.delivered and delivery.status is not None and 200 <= delivery.status < 300 and delivery.body:
            try:
                answer = jsonenc.loads(delivery.body)
            except ValueError:
                answer = None
        if not isinstance(answer, dict) or "ResultCode" not in answer:
            if registration.response_type == "Completed":
                return _Decision(go_ahead=True)
            return _Decision(go_ahead=False, result_desc="No usable validation answer; ResponseType is Cancelled")
        code = str(answer["ResultCode"])
        desc = answer.get("ResultDesc")
        if code != "0":
            return _Decision(go_ahead=False, result_code=code, result_desc=desc if isinstance(desc, str) else None)
        third_party = validation.as_text(answer.get("ThirdPartyTransID"))
        return _Decision(go_ahead=True, third_party_trans_id=third_party or "")

    def confirm_stk_payment(self, record: StkRecord) -> None:
        """An STK payment to a paybill with C2B URLs also produces a C2B confirmation (same receipt)."""
        registration = self._sim.store.registration(record.business_short_code)
        if registration is None or record.receipt is None or record.settled_at is None:
            return
        confirmation = payloads.c2b_notification(
            command_id=record.transaction_type,
            trans_id=record.receipt,
            trans_time=record.settled_at,
            amount=record.amount,
            shortcode=record.business_short_code,
            bill_ref_number=record.account_reference,
            org_account_balance=payloads.money_text(self._sim.store.balances().utility),
            third_party_trans_id="",
            msisdn=record.phone_number,
            version=registration.version,
        )
        self._sim.dispatcher.send(registration.confirmation_url, "c2b_confirmation", confirmation)

    def set_external_validation(self, shortcode: str, enabled: bool) -> C2BRegistration:
        registration = self._sim.store.set_external_validation(shortcode, enabled)
        if registration is None:
            raise ControlError(404, f"no C2B URLs registered for shortcode {shortcode}")
        return registration


def registration_view(registration: C2BRegistration) -> dict[str, Any]:
    return {
        "shortcode": registration.shortcode,
        "response_type": registration.response_type,
        "confirmation_url": registration.confirmation_url,
        "validation_url": registration.validation_url,
        "version": registration.version,
        "external_validation": registration.external_validation,
        "registered_at": clock.iso(registration.registered_at),
    }
