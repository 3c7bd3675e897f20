"""B2C payouts (v3 with the client's OriginatorConversationID, v1 without)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from simulator import clock, payloads, sandbox, validation
from simulator.errors import DUPLICATE_OCID, DarajaError
from simulator.faults import Fault
from simulator.results import INITIATOR_INVALID, Outcome, ResultFlow, wants_queue_timeout
from simulator.state import Conversation, Receipt

if TYPE_CHECKING:
    from simulator.core import Simulator

REASONS = {
    "BusinessPayment": "Business Payment to Customer via API",
    "SalaryPayment": "Salary Payment via API",
    "PromotionPayment": "Promotion Payment via API",
}
COMMAND_IDS = tuple(REASONS)
CUSTOMER_NAME = "John Doe"


@dataclass
class _Payout:
    conversation: Conversation
    authorised: bool
    command_id: str
    amount: int
    party_a: str
    party_b: str
    receipt: str | None = None  # reserved while queued; None if it will fail without paying


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

        conversation = self._flow.open("b2c", result_url, queue_timeout_url, ocid)
        queue_timeout = wants_queue_timeout(fault)
        if queue_timeout and fault is not None and not fault.spec.after_processing:
            self._flow.time_out(conversation)
            return self._flow.acknowledgement(conversation)
        authorised = self._flow.initiator_ok(initiator, credential) and party_a == config.b2c_shortcode
        payout = _Payout(conversation, authorised, command_id, amount, party_a, party_b)
        if authorised and party_b != sandbox.INSUFFICIENT_FUNDS:
            payout.receipt = self._queue(payout)
        if queue_timeout:
            self._flow.time_out(conversation)  # timed out in the queue, yet it will still be processed
        delay = config.b2c_processing_delay_s
        if delay > 0:
            self._sim.scheduler.call_later(delay, lambda: self._complete(payout, fault))
        else:
            self._complete(payout, fault)
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

    def _complete(self, payout: _Payout, fault: Fault | None) -> None:
        """The queue releases the payout: pay (or fail) and send the Result. After a queue timeout
        the payout still happens, but the Result follows only with the fault's ``late_result``."""
        outcome = self._execute(payout)
        conversation = payout.conversation
        if wants_queue_timeout(fault) and fault is not None and not fault.spec.late_result:
            self._sim.store.finish_conversation(
                conversation.conversation_id, "queue_timeout", 1, payloads.QUEUE_TIMEOUT_DESC, outcome.receipt
            )
            return
        self._flow.finish(conversation, outcome, None)

    def _execute(self, payout: _Payout) -> Outcome:
        reference = [("QueueTimeoutURL", payloads.INTERNAL_QUEUE_TIMEOUT_URL)]
        if not payout.authorised:
            return self._flow.failed(*INITIATOR_INVALID, reference)
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
