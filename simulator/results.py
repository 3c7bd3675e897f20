"""What B2C, Transaction Status, Account Balance and Reversal share: the initiator check, the
synchronous acknowledgement, and the asynchronous Result (or queue timeout) callback."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from simulator import clock, payloads
from simulator.faults import Fault, is_kind
from simulator.state import Conversation, ResultCode

if TYPE_CHECKING:
    from simulator.core import Simulator

ConversationKind = Literal["b2c", "status", "balance", "reversal"]
ACCEPTED = "Accept the service request successfully."
INITIATOR_INVALID = (2001, "The initiator information is invalid.")

CALLBACK_KIND: dict[ConversationKind, str] = {
    "b2c": "b2c_result",
    "status": "status_result",
    "balance": "balance_result",
    "reversal": "reversal_result",
}


@dataclass(frozen=True)
class Outcome:
    result_code: ResultCode
    result_desc: str
    transaction_id: str
    parameters: list[tuple[str, Any]] = field(default_factory=list)
    reference_items: list[tuple[str, Any]] = field(default_factory=list)
    receipt: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.result_code == 0

    @classmethod
    def completed(
        cls,
        transaction_id: str,
        parameters: list[tuple[str, Any]],
        reference_items: list[tuple[str, Any]],
        *,
        receipt: str | None = None,
    ) -> Outcome:
        """ResultCode 0 with Daraja's success description."""
        return cls(0, payloads.SUCCESS_DESC, transaction_id, parameters, reference_items, receipt)


def wants_queue_timeout(fault: Fault | None) -> bool:
    return is_kind(fault, "queue_timeout")


class ResultFlow:
    """Accept a request as a conversation, then answer its ResultURL (or QueueTimeOutURL)."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim

    def initiator_ok(self, initiator: str, credential: str) -> bool:
        """Name matches and the credential decrypts, with our key, to the initiator password."""
        config = self._sim.config
        return initiator == config.initiator_name and self._sim.keys.credential_matches(
            credential, config.initiator_password
        )

    def open(
        self,
        kind: ConversationKind,
        result_url: str,
        queue_timeout_url: str,
        originator_conversation_id: str | None = None,
        *,
        fault: Fault | None = None,
        party: str | None = None,
        amount: int | None = None,
    ) -> Conversation:
        """Record an accepted request. A ``wrong_id`` fault makes its Result (and queue timeout)
        envelope carry another request's IDs, chosen now (see ``_foreign_ids``)."""
        now = clock.now_eat()
        conversation = Conversation(
            kind=kind,
            originator_conversation_id=originator_conversation_id or self._sim.ids.originator_conversation_id(),
            conversation_id=self._sim.ids.conversation_id(now),
            result_url=result_url,
            queue_timeout_url=queue_timeout_url,
            created_at=now,
            party=party,
            amount=amount,
        )
        if fault is not None and is_kind(fault, "wrong_id"):
            ocid, conversation_id = self._foreign_ids(kind)
            if fault.spec.id_field in ("originator_conversation_id", "both"):
                conversation.reported_originator_conversation_id = ocid
            if fault.spec.id_field in ("conversation_id", "both"):
                conversation.reported_conversation_id = conversation_id
        self._sim.store.add_conversation(conversation)
        return conversation

    def _foreign_ids(self, kind: ConversationKind) -> tuple[str, str]:
        """Another request's (OriginatorConversationID, ConversationID): the latest earlier
        conversation of the same kind, else of any kind, else fresh IDs nobody was given."""
        earlier = self._sim.store.list_conversations()
        pool = [c for c in earlier if c.kind == kind] or earlier
        if pool:
            return pool[-1].originator_conversation_id, pool[-1].conversation_id
        return self._sim.ids.originator_conversation_id(), self._sim.ids.conversation_id(clock.now_eat())

    @staticmethod
    def acknowledgement(conversation: Conversation) -> dict[str, Any]:
        return {
            "ConversationID": conversation.conversation_id,
            "OriginatorConversationID": conversation.originator_conversation_id,
            "ResponseCode": "0",
            "ResponseDescription": ACCEPTED,
        }

    def time_out(self, conversation: Conversation, receipt: str | None = None) -> None:
        """Send the queue-timeout notice instead of a result (``receipt`` set when it took effect)."""
        self._sim.store.finish_conversation(
            conversation.conversation_id, "queue_timeout", 1, payloads.QUEUE_TIMEOUT_DESC, receipt
        )
        self._sim.dispatcher.send(
            conversation.queue_timeout_url,
            "queue_timeout",
            payloads.queue_timeout(*conversation.envelope_ids()),
        )

    def finish(self, conversation: Conversation, outcome: Outcome, fault: Fault | None) -> None:
        """Deliver ``outcome`` to the ResultURL, or a queue timeout if the fault asks for one (then
        the result too, later, if the fault has ``late_result``)."""
        if wants_queue_timeout(fault):
            self.time_out(conversation, outcome.receipt)
            if fault is None or not fault.spec.late_result:
                return
        self._sim.store.finish_conversation(
            conversation.conversation_id,
            "completed" if outcome.succeeded else "failed",
            outcome.result_code,
            outcome.result_desc,
            outcome.receipt,
        )
        ocid, conversation_id = conversation.envelope_ids()
        payload = payloads.result_envelope(
            result_code=outcome.result_code,
            result_desc=outcome.result_desc,
            originator_conversation_id=ocid,
            conversation_id=conversation_id,
            transaction_id=outcome.transaction_id,
            parameters=outcome.parameters,
            reference_items=outcome.reference_items,
        )
        self._sim.dispatcher.send(conversation.result_url, CALLBACK_KIND[conversation.kind], payload)

    def failed(self, result_code: ResultCode, result_desc: str, reference_items: list[tuple[str, Any]]) -> Outcome:
        """A failure result: placeholder TransactionID, no ResultParameters."""
        return Outcome(
            result_code=result_code,
            result_desc=result_desc,
            transaction_id=self._sim.ids.failed_transaction_id(clock.now_eat()),
            reference_items=reference_items,
        )


def conversation_view(conversation: Conversation) -> dict[str, Any]:
    return {
        "kind": conversation.kind,
        "originator_conversation_id": conversation.originator_conversation_id,
        "conversation_id": conversation.conversation_id,
        "state": conversation.state,
        "result_code": conversation.result_code,
        "result_desc": conversation.result_desc,
        "receipt": conversation.receipt,
        "party": conversation.party,
        "amount": conversation.amount,
        "reported_originator_conversation_id": conversation.reported_originator_conversation_id,
        "reported_conversation_id": conversation.reported_conversation_id,
        "created_at": clock.iso(conversation.created_at),
    }
