"""Transaction Status, Account Balance and Reversal: validated synchronously, answered by Result callback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator import clock, payloads, validation
from simulator.errors import invalid
from simulator.faults import Fault
from simulator.results import INITIATOR_INVALID, Outcome, ResultFlow, wants_queue_timeout
from simulator.state import Receipt

if TYPE_CHECKING:
    from simulator.core import Simulator

NOT_FOUND = (2032, "The transaction receipt number does not exist.")
ALREADY_REVERSED = ("R000001", "The transaction has already been reversed.")
UNKNOWN_ORIGINAL = ("R000002", "The OriginalTransactionID is invalid.")
CUSTOMER_NAME = "John Doe"


def _party(body: validation.Body, field: str) -> str:
    """A shortcode (5 to 7 digits) or an MSISDN (12 digits)."""
    value = validation.as_text(body.get(field))
    if value is None or not value.isdigit() or not 5 <= len(value) <= 12:
        raise invalid(field)
    return value


class InquiryService:
    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self._flow = ResultFlow(sim)

    def _authorised(self, body: validation.Body, command_id: str) -> bool:
        """Validate Initiator, SecurityCredential and CommandID; True if the initiator checks out
        (a wrong one is not a synchronous error: it becomes a 2001 result)."""
        initiator = validation.text(body, "Initiator")
        credential = validation.text(body, "SecurityCredential")
        validation.one_of(body, "CommandID", (command_id,))
        return self._flow.initiator_ok(initiator, credential)

    def _urls(self, body: validation.Body) -> tuple[str, str]:
        result_url = validation.callback_url(body, "ResultURL")
        queue_timeout_url = validation.callback_url(body, "QueueTimeOutURL")
        return result_url, queue_timeout_url

    # --- Transaction Status --------------------------------------------------------------------
    def status(self, body: validation.Body, fault: Fault | None) -> dict[str, Any]:
        authorised = self._authorised(body, "TransactionStatusQuery")
        transaction_id = validation.optional_text(body, "TransactionID", max_len=40)
        original_ocid = validation.optional_text(body, "OriginalConversationID", max_len=100)
        if not transaction_id and not original_ocid:
            raise invalid("TransactionID")
        _party(body, "PartyA")
        validation.one_of(body, "IdentifierType", ("1", "2", "4"))
        result_url, queue_timeout_url = self._urls(body)
        validation.text(body, "Remarks", max_len=100)
        occasion = validation.optional_text(body, "Occasion", max_len=100)

        conversation = self._flow.open("status", result_url, queue_timeout_url, fault=fault)
        if wants_queue_timeout(fault):
            self._flow.time_out(conversation)
            return self._flow.acknowledgement(conversation)
        reference = [("Occasion", occasion)]
        if not authorised:
            outcome = self._flow.failed(*INITIATOR_INVALID, reference)
        else:
            found = (
                self._sim.store.find_receipt(transaction_id)
                if transaction_id
                else self._sim.store.find_receipt_by_ocid(original_ocid)
            )
            outcome = self._status_outcome(found, reference)
        self._flow.finish(conversation, outcome, None)
        return self._flow.acknowledgement(conversation)

    def _status_outcome(self, found: Receipt | None, reference: list[tuple[str, Any]]) -> Outcome:
        if found is None:
            return Outcome(
                result_code=NOT_FOUND[0],
                result_desc=NOT_FOUND[1],
                transaction_id="",
                reference_items=reference,
            )
        business = f"{found.shortcode} - {self._sim.config.business_name}"
        customer = f"{found.party} - {CUSTOMER_NAME}"
        pays_customer = found.kind in ("b2c", "reversal")
        completed = clock.compact_number(found.completed_at)
        parameters: list[tuple[str, Any]] = [
            ("DebitPartyName", business if pays_customer else customer),
            ("CreditPartyName", customer if pays_customer else business),
            ("OriginatorConversationID", found.originator_conversation_id or ""),
            ("InitiatedTime", completed),
            ("DebitAccountType", "Utility Account" if pays_customer else "MMF Account For Customer"),
            ("DebitPartyCharges", ""),
            ("TransactionReason", ""),
            ("ReasonType", found.reason),
            ("TransactionStatus", "Reversed" if found.reversed_by else "Completed"),
            ("FinalisedTime", completed),
            ("Amount", payloads.money(found.amount)),
            ("ConversationID", found.conversation_id or ""),
            ("ReceiptNo", found.receipt),
        ]
        return Outcome.completed(found.receipt, parameters, reference)

    # --- Account Balance -----------------------------------------------------------------------
    def balance(self, body: validation.Body, fault: Fault | None) -> dict[str, Any]:
        authorised = self._authorised(body, "AccountBalance")
        validation.shortcode(body, "PartyA")
        validation.one_of(body, "IdentifierType", ("2", "4"))
        validation.text(body, "Remarks", max_len=100)
        result_url, queue_timeout_url = self._urls(body)

        conversation = self._flow.open("balance", result_url, queue_timeout_url, fault=fault)
        reference = [("QueueTimeoutURL", payloads.INTERNAL_QUEUE_TIMEOUT_URL)]
        if wants_queue_timeout(fault):
            self._flow.time_out(conversation)
        elif not authorised:
            self._flow.finish(conversation, self._flow.failed(*INITIATOR_INVALID, reference), None)
        else:
            balances = self._sim.store.balances()
            accounts = "&".join(
                [
                    payloads.account_line("Working Account", balances.working),
                    payloads.account_line("Utility Account", balances.utility),
                    payloads.account_line("Charges Paid Account", balances.charges_paid),
                    payloads.account_line("Organization Settlement Account", payloads.money(0)),
                ]
            )
            outcome = Outcome.completed(
                self._sim.ids.receipt(clock.now_eat()),
                [
                    ("AccountBalance", accounts),
                    ("BOCompletedTime", clock.compact_number(clock.now_eat())),
                ],
                reference,
            )
            self._flow.finish(conversation, outcome, None)
        return self._flow.acknowledgement(conversation)

    # --- Reversal ------------------------------------------------------------------------------
    def reversal(self, body: validation.Body, fault: Fault | None) -> dict[str, Any]:
        config = self._sim.config
        authorised = self._authorised(body, "TransactionReversal")
        original = validation.text(body, "TransactionID", max_len=40)
        amount = validation.whole_amount(body, minimum=1, maximum=max(config.max_amount, config.b2c_max_amount))
        receiver = validation.shortcode(body, "ReceiverParty")
        validation.one_of(body, "RecieverIdentifierType", ("11", "4"))  # sic: Daraja's spelling
        result_url, queue_timeout_url = self._urls(body)
        validation.text(body, "Remarks", min_len=2, max_len=100)
        occasion = validation.optional_text(body, "Occasion", max_len=100)

        conversation = self._flow.open("reversal", result_url, queue_timeout_url, fault=fault)
        if wants_queue_timeout(fault) and fault is not None and not fault.spec.after_processing:
            self._flow.time_out(conversation)
            return self._flow.acknowledgement(conversation)
        reference = [("Occasion", occasion)]
        if not authorised:
            outcome = self._flow.failed(*INITIATOR_INVALID, reference)
        else:
            outcome = self._reverse(original, amount, receiver, conversation.originator_conversation_id, reference)
        self._flow.finish(conversation, outcome, fault)
        return self._flow.acknowledgement(conversation)

    def _reverse(
        self, original: str, amount: int, receiver: str, ocid: str, reference: list[tuple[str, Any]]
    ) -> Outcome:
        now = clock.now_eat()
        target = self._sim.store.find_receipt(original)
        receipt = self._sim.ids.receipt(now)
        verdict = self._sim.store.reverse(
            original,
            Receipt(
                receipt=receipt,
                kind="reversal",
                amount=amount,
                party=target.party if target else "",
                shortcode=receiver,
                completed_at=now,
                originator_conversation_id=ocid,
                reason="Reversal",
            ),
        )
        if verdict == "already_reversed":
            return self._flow.failed(*ALREADY_REVERSED, reference)
        if verdict != "ok" or target is None:
            # Unknown receipt, or one that exists but not with this Amount / ReceiverParty: Daraja
            # looks the original up by all three, so it answers "invalid original" (our choice;
            # daraja-api.md §3.8 lists only R000001 and R000002 for reversals).
            return self._flow.failed(*UNKNOWN_ORIGINAL, reference)
        balances = self._sim.store.balances()
        parameters: list[tuple[str, Any]] = [
            ("DebitAccountBalance", payloads.account_line("Utility Account", balances.utility)),
            ("Amount", payloads.money(amount)),
            ("TransCompletedTime", clock.compact_number(now)),
            ("OriginalTransactionID", original),
            ("Charge", payloads.money(0)),
            ("CreditPartyPublicName", f"{target.party} - {CUSTOMER_NAME}"),
            ("DebitPartyPublicName", f"{receiver} - {self._sim.config.business_name}"),
        ]
        return Outcome.completed(receipt, parameters, reference, receipt=receipt)
