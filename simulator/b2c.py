"""B2C payouts (v3 with the client's OriginatorConversationID, v1 without)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from simulator import clock, payloads, sandbox, validation
from simulator.errors import DUPLICATE_OCID, DarajaError
from simulator.faults import Fault
from simulator.results import INITIATOR_INVALID, Outcome, ResultFlow, wants_queue_timeout
from simulator.state import Conversation, CustomerScript, Receipt, ResultCode

if TYPE_CHECKING:
    from simulator.core import Simulator

REASONS = {
    "BusinessPayment": "Business Payment to Customer via API",
    "SalaryPayment": "Salary Payment via API",
    "PromotionPayment": "Promotion Payment via API",
}
COMMAND_IDS = tuple(REASONS)
CUSTOMER_NAME = "John Doe"


# A payout to a customer scripted ``b2c: "fail"``: the recipient cannot receive it (daraja-api.md §6).
RECIPIENT_UNSUPPORTED = (
    2040,
    "Credit Party customer type (Unregistered or Registered Customer) can't be supported by the service.",
)
QueuePlan = Literal["none", "unprocessed", "processed"]


@dataclass
class _Payout:
    conversation: Conversation
    authorised: bool
    command_id: str
    amount: int
    party_a: str
    party_b: str
    receipt: str | None = None  # reserved while queued; None if it will fail without paying
    failure: tuple[ResultCode, str] | None = None  # a scripted failure (2040)


def _queue_plan(fault: Fault | None, script: CustomerScript | None) -> tuple[QueuePlan, bool]:
    """Whether the request times out in the queue, and if so whether it is processed anyway,
    from a ``queue_timeout`` fault or else the recipient's script; plus the fault's ``late_result``."""
    if fault is not None and wants_queue_timeout(fault):
        return ("processed" if fault.spec.after_processing else "unprocessed"), fault.spec.late_result
    behaviour = script.b2c if script is not None else None
    if behaviour == "queue_timeout":
        return "unprocessed", False
    if behaviour == "queue_timeout_paid":
        return "processed", False
    return "none", False


class B2CService:
    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self._flow = ResultFlow(sim)

    def pay(self, body: validation.Body, version: Literal["v1", "v3"], fault: Fault | None) -> dict[str, Any]:
        config = self._sim.config
        ocid: str | None = None
        if version == "v3":
            ocid = validation.text(body, "OriginatorConversationID", max_len=100)
        initiator = validation.text(body, "InitiatorName")
        credential = validation.text(body, "SecurityCredential")
        command_id = validation.one_of(body, "CommandID", COMMAND_IDS)
        amount = validation.whole_amount(body, minimum=config.b2c_min_amount, maximum=config.b2c_max_amount)
        party_a = validation.shortcode(body, "PartyA")
        party_b = validation.msisdn(body, "PartyB", twelve_digits=True)
        validation.text(body, "Remarks", min_len=2, max_len=100)
        queue_timeout_url = validation.callback_url(body, "QueueTimeOutURL")
        result_url = validation.callback_url(body, "ResultURL")
        occasion_field = "Occassion" if version == "v3" or "Occassion" in body else "Occasion"
        validation.optional_text(body, occasion_field, max_len=100)
        if ocid is not None and not self._sim.store.claim_ocid(ocid):
            raise DarajaError(500, DUPLICATE_OCID, "Duplicate OriginatorConversationID.")

        conversation = self._flow.open(
            "b2c", result_url, queue_timeout_url, ocid, fault=fault, party=party_b, amount=amount
        )
        script = self._sim.store.script(party_b)
        plan, late_result = _queue_plan(fault, script)
        if plan == "unprocessed":
            self._flow.time_out(conversation)
            return self._flow.acknowledgement(conversation)
        authorised = self._flow.initiator_ok(initiator, credential) and party_a == config.b2c_shortcode
        payout = _Payout(conversation, authorised, command_id, amount, party_a, party_b)
        behaviour = script.b2c if script is not None else None
        if authorised and behaviour == "fail":
            payout.failure = RECIPIENT_UNSUPPORTED
        elif authorised and (behaviour is not None or party_b != sandbox.INSUFFICIENT_FUNDS):
            payout.receipt = self._queue(payout)  # a script overrides the sandbox number
        if plan == "processed":
            self._flow.time_out(conversation)  # timed out in the queue, yet it will still be processed
        delay = config.b2c_processing_delay_s
        if script is not None and script.delay_s is not None:
            delay = script.delay_s
        if delay > 0:
            self._sim.scheduler.call_later(delay, lambda: self._complete(payout, plan, late_result))
        else:
            self._complete(payout, plan, late_result)
        return self._flow.acknowledgement(conversation)

    def _queue(self, payout: _Payout) -> str:
        """Reserve the receipt of a payout that will be attempted when the queue releases it."""
        now = clock.now_eat()
        receipt = self._sim.ids.receipt(now)
        self._sim.store.queue_payout(
            Receipt(
                receipt=receipt,
                kind="b2c",
                amount=payout.amount,
                party=payout.party_b,
                shortcode=payout.party_a,
                completed_at=now,
                originator_conversation_id=payout.conversation.originator_conversation_id,
                conversation_id=payout.conversation.conversation_id,
                reason=REASONS[payout.command_id],
            )
        )
        return receipt

    def _complete(self, payout: _Payout, plan: QueuePlan, late_result: bool) -> None:
        """The queue releases the payout: pay (or fail) and send the Result. After a queue timeout
        the payout still happens, but the Result follows only with the fault's ``late_result``."""
        outcome = self._execute(payout)
        conversation = payout.conversation
        if plan == "processed" and not late_result:
            self._sim.store.finish_conversation(
                conversation.conversation_id, "queue_timeout", 1, payloads.QUEUE_TIMEOUT_DESC, outcome.receipt
            )
            return
        self._flow.finish(conversation, outcome, None)

    def _execute(self, payout: _Payout) -> Outcome:
        reference = [("QueueTimeoutURL", payloads.INTERNAL_QUEUE_TIMEOUT_URL)]
        if not payout.authorised:
            return self._flow.failed(*INITIATOR_INVALID, reference)
        if payout.failure is not None:
            return self._flow.failed(*payout.failure, reference)
        if payout.receipt is None:  # PartyB is the sandbox's insufficient-funds number
            return self._flow.failed(1, sandbox.INSUFFICIENT_FUNDS_DESC, reference)
        now = clock.now_eat()
        receipt = payout.receipt
        balances = self._sim.store.complete_payout(receipt, now)
        if balances is None:
            return self._flow.failed(1, sandbox.INSUFFICIENT_FUNDS_DESC, reference)
        amount, party_b = payout.amount, payout.party_b
        parameters: list[tuple[str, Any]] = [
            ("TransactionAmount", payloads.money(amount)),
            ("TransactionReceipt", receipt),
            ("B2CRecipientIsRegisteredCustomer", "Y"),
            ("B2CChargesPaidAccountAvailableFunds", payloads.money(balances.charges_paid)),
            ("ReceiverPartyPublicName", f"{party_b} - {CUSTOMER_NAME}"),
            ("TransactionCompletedDateTime", clock.dotted(now)),
            ("B2CUtilityAccountAvailableFunds", payloads.money(balances.utility)),
            ("B2CWorkingAccountAvailableFunds", payloads.money(balances.working)),
        ]
        return Outcome.completed(receipt, parameters, reference, receipt=receipt)
