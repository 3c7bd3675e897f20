"""The simulator's memory: STK checkouts, async conversations, receipts, C2B registrations, balances.

One re-entrant lock guards everything; every compound change (lock the subscriber and insert, settle
a pending checkout, reverse a receipt once) is one method so it happens atomically. Methods hand out
copies, never the live records.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ResultCode = int | str
ReceiptKind = Literal["stk", "b2c", "c2b", "reversal"]
StkBehaviour = Literal["pay", "wrong_pin", "cancel", "expire", "insufficient_funds", "unreachable"]
B2CBehaviour = Literal["success", "fail", "queue_timeout", "queue_timeout_paid"]


class CustomerScript(BaseModel):
    """How one customer (MSISDN) behaves, set with ``PUT /simulator/customers/<msisdn>``.

    ``stk``: what the customer does with every prompt; ``b2c``: how every payout to them ends;
    ``delay_s``: how long the customer takes to act on a prompt, and how long their payouts stay
    queued (defaults: ``auto_act_delay_s`` and ``b2c_processing_delay_s``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stk: StkBehaviour | None = None
    b2c: B2CBehaviour | None = None
    delay_s: float | None = Field(default=None, ge=0, le=3600)


class StkStatus(StrEnum):
    PENDING = "pending"
    FINAL = "final"


@dataclass
class StkRecord:
    checkout_request_id: str
    merchant_request_id: str
    business_short_code: str
    transaction_type: str
    amount: int
    party_a: str
    party_b: str
    phone_number: str
    callback_url: str
    account_reference: str
    transaction_desc: str
    created_at: datetime
    expires_at: datetime
    expires_mono: float
    status: StkStatus = StkStatus.PENDING
    result_code: ResultCode | None = None
    result_desc: str | None = None
    receipt: str | None = None
    settled_at: datetime | None = None
    # What ended the prompt, e.g. "paid", "wrong_pin", "cancelled", "no_answer" (see stk.py)
    action: str | None = None
    settled_by: str | None = None  # "customer", "script", "sandbox", "timeout", "control"


@dataclass
class Receipt:
    receipt: str
    kind: ReceiptKind
    amount: int
    party: str  # the customer's MSISDN (or the original receipt for a reversal)
    shortcode: str
    completed_at: datetime
    originator_conversation_id: str | None = None
    conversation_id: str | None = None
    reason: str = ""  # ReasonType shown by Transaction Status
    reversed_by: str | None = None
    bill_reference: str = ""  # STK AccountReference or C2B BillRefNumber (Pull Transactions, truth views)
    # A B2C payout is "queued" from acceptance until ``b2c_processing_delay_s`` has passed: its
    # receipt number is reserved but Daraja's APIs (status, reversal) do not see it yet.
    state: Literal["queued", "completed"] = "completed"


@dataclass
class Conversation:
    """One accepted async request (B2C, transaction status, account balance, reversal)."""

    kind: Literal["b2c", "status", "balance", "reversal"]
    originator_conversation_id: str
    conversation_id: str
    result_url: str
    queue_timeout_url: str
    created_at: datetime
    state: Literal["accepted", "completed", "failed", "queue_timeout"] = "accepted"
    result_code: ResultCode | None = None
    result_desc: str | None = None
    receipt: str | None = None
    party: str | None = None  # B2C: the MSISDN paid
    amount: int | None = None  # B2C: the amount
    # A ``wrong_id`` fault: the IDs its Result (or queue timeout) envelope carries instead of its own.
    reported_originator_conversation_id: str | None = None
    reported_conversation_id: str | None = None

    def envelope_ids(self) -> tuple[str, str]:
        """(OriginatorConversationID, ConversationID) as the callbacks carry them."""
        return (
            self.reported_originator_conversation_id or self.originator_conversation_id,
            self.reported_conversation_id or self.conversation_id,
        )


@dataclass
class PullRegistration:
    shortcode: str
    nominated_number: str
    callback_url: str
    registered_at: datetime


@dataclass
class C2BRegistration:
    shortcode: str
    response_type: Literal["Completed", "Cancelled"]
    confirmation_url: str
    validation_url: str
    version: Literal["v1", "v2"]
    external_validation: bool
    registered_at: datetime


@dataclass
class Balances:
    working: Decimal
    utility: Decimal
    charges_paid: Decimal


@dataclass
class _Data:
    stk: dict[str, StkRecord] = field(default_factory=dict)
    conversations: dict[str, Conversation] = field(default_factory=dict)  # by ConversationID
    ocids: set[str] = field(default_factory=set)  # client-chosen OCIDs seen (B2C v3)
    receipts: dict[str, Receipt] = field(default_factory=dict)
    registrations: dict[str, C2BRegistration] = field(default_factory=dict)
    scripts: dict[str, CustomerScript] = field(default_factory=dict)  # by MSISDN
    ocid_requests: dict[str, int] = field(default_factory=dict)  # B2C v3 requests seen per client OCID
    pull_registrations: dict[str, PullRegistration] = field(default_factory=dict)


class Store:
    def __init__(self, balances: Balances) -> None:
        self._lock = threading.RLock()
        self._data = _Data()
        self._balances = copy.copy(balances)

    def reset(self, balances: Balances) -> None:
        with self._lock:
            self._data = _Data()
            self._balances = copy.copy(balances)

    # --- STK -----------------------------------------------------------------------------------
    def add_stk_if_subscriber_free(self, record: StkRecord) -> bool:
        """Insert a pending checkout unless the phone already has one pending (Daraja's lock)."""
        with self._lock:
            for other in self._data.stk.values():
                if other.status is StkStatus.PENDING and other.phone_number == record.phone_number:
                    return False
            self._data.stk[record.checkout_request_id] = copy.copy(record)
            return True

    def get_stk(self, checkout_request_id: str) -> StkRecord | None:
        with self._lock:
            record = self._data.stk.get(checkout_request_id)
            return copy.copy(record) if record is not None else None

    def pending_stk(self, phone_number: str | None = None) -> list[StkRecord]:
        with self._lock:
            return [
                copy.copy(record)
                for record in self._data.stk.values()
                if record.status is StkStatus.PENDING and (phone_number is None or record.phone_number == phone_number)
            ]

    def list_stk(self) -> list[StkRecord]:
        with self._lock:
            return [copy.copy(record) for record in self._data.stk.values()]

    def settle_stk(
        self,
        checkout_request_id: str,
        result_code: ResultCode,
        result_desc: str,
        settled_at: datetime,
        receipt: str | None,
        *,
        action: str | None = None,
        settled_by: str | None = None,
    ) -> StkRecord | None:
        """Move a pending checkout to final; None if unknown or already final. A receipt (success)
        is recorded and credited to the utility account in the same step."""
        with self._lock:
            record = self._data.stk.get(checkout_request_id)
            if record is None or record.status is not StkStatus.PENDING:
                return None
            record.status = StkStatus.FINAL
            record.result_code = result_code
            record.result_desc = result_desc
            record.settled_at = settled_at
            record.receipt = receipt
            record.action = action
            record.settled_by = settled_by
            if receipt is not None:
                self._data.receipts[receipt] = Receipt(
                    receipt=receipt,
                    kind="stk",
                    amount=record.amount,
                    party=record.phone_number,
                    shortcode=record.business_short_code,
                    completed_at=settled_at,
                    reason="Pay Bill Online"
                    if record.transaction_type == "CustomerPayBillOnline"
                    else "Buy Goods Online",
                    bill_reference=record.account_reference,
                )
                self._balances.utility += record.amount
            return copy.copy(record)

    # --- async conversations -------------------------------------------------------------------
    def claim_ocid(self, originator_conversation_id: str) -> bool:
        """Remember a client-chosen OCID; False if it was used before. Every call is counted
        (``ocid_requests``), so a refused duplicate still shows as a request received."""
        with self._lock:
            requests = self._data.ocid_requests
            requests[originator_conversation_id] = requests.get(originator_conversation_id, 0) + 1
            if originator_conversation_id in self._data.ocids:
                return False
            self._data.ocids.add(originator_conversation_id)
            return True

    def add_conversation(self, conversation: Conversation) -> None:
        with self._lock:
            self._data.conversations[conversation.conversation_id] = copy.copy(conversation)

    def finish_conversation(
        self,
        conversation_id: str,
        state: Literal["completed", "failed", "queue_timeout"],
        result_code: ResultCode | None,
        result_desc: str | None,
        receipt: str | None = None,
    ) -> None:
        with self._lock:
            conversation = self._data.conversations.get(conversation_id)
            if conversation is not None:
                conversation.state = state
                conversation.result_code = result_code
                conversation.result_desc = result_desc
                conversation.receipt = receipt

    def get_conversation(self, conversation_id: str) -> Conversation | None:
        with self._lock:
            conversation = self._data.conversations.get(conversation_id)
            return copy.copy(conversation) if conversation is not None else None

    def list_conversations(self) -> list[Conversation]:
        with self._lock:
            return [copy.copy(c) for c in self._data.conversations.values()]

    def ocid_requests(self) -> dict[str, int]:
        with self._lock:
            return dict(self._data.ocid_requests)

    # --- receipts and balances -----------------------------------------------------------------
    def queue_payout(self, receipt: Receipt) -> None:
        """Reserve a payout's receipt while it is queued (nothing is debited yet)."""
        with self._lock:
            queued = copy.copy(receipt)
            queued.state = "queued"
            self._data.receipts[receipt.receipt] = queued

    def complete_payout(self, receipt: str, completed_at: datetime) -> Balances | None:
        """Complete a queued payout: debit the utility account and mark it completed. None (and the
        reservation is dropped) if it is unknown (reset meanwhile) or funds are short."""
        with self._lock:
            queued = self._data.receipts.get(receipt)
            if queued is None or queued.state != "queued":
                return None
            if self._balances.utility < queued.amount:
                del self._data.receipts[receipt]
                return None
            self._balances.utility -= queued.amount
            queued.state = "completed"
            queued.completed_at = completed_at
            return copy.copy(self._balances)

    def receive(self, receipt: Receipt) -> Balances:
        """Credit the utility account for an incoming payment (C2B)."""
        with self._lock:
            self._balances.utility += receipt.amount
            self._data.receipts[receipt.receipt] = copy.copy(receipt)
            return copy.copy(self._balances)

    def find_receipt(self, receipt: str) -> Receipt | None:
        """A completed transaction by receipt (queued payouts are not visible to Daraja's APIs)."""
        with self._lock:
            found = self._data.receipts.get(receipt)
            return copy.copy(found) if found is not None and found.state == "completed" else None

    def find_receipt_by_ocid(self, originator_conversation_id: str) -> Receipt | None:
        with self._lock:
            for found in self._data.receipts.values():
                if found.originator_conversation_id == originator_conversation_id and found.state == "completed":
                    return copy.copy(found)
            return None

    def reverse(
        self, original: str, reversal: Receipt
    ) -> Literal["ok", "unknown", "already_reversed", "amount_mismatch", "receiver_mismatch"]:
        """Reverse ``original`` once: mark it, record the reversal receipt, move the money back
        (a payment received is debited from the utility account, a payout is credited to it).
        The reversal's amount must equal the original's and its shortcode (ReceiverParty) must be
        the shortcode the original belongs to; otherwise nothing changes."""
        with self._lock:
            target = self._data.receipts.get(original)
            if target is None or target.kind == "reversal" or target.state != "completed":
                return "unknown"
            if target.reversed_by is not None:
                return "already_reversed"
            if reversal.shortcode != target.shortcode:
                return "receiver_mismatch"
            if reversal.amount != target.amount:
                return "amount_mismatch"
            target.reversed_by = reversal.receipt
            self._data.receipts[reversal.receipt] = copy.copy(reversal)
            if target.kind == "b2c":
                self._balances.utility += reversal.amount
            else:
                self._balances.utility -= reversal.amount
            return "ok"

    def balances(self) -> Balances:
        with self._lock:
            return copy.copy(self._balances)

    def list_receipts(self) -> list[Receipt]:
        with self._lock:
            return [copy.copy(r) for r in self._data.receipts.values()]

    # --- C2B -----------------------------------------------------------------------------------
    def register(self, registration: C2BRegistration) -> None:
        with self._lock:
            self._data.registrations[registration.shortcode] = copy.copy(registration)

    def registration(self, shortcode: str) -> C2BRegistration | None:
        with self._lock:
            found = self._data.registrations.get(shortcode)
            return copy.copy(found) if found is not None else None

    def set_external_validation(self, shortcode: str, enabled: bool) -> C2BRegistration | None:
        with self._lock:
            found = self._data.registrations.get(shortcode)
            if found is None:
                return None
            found.external_validation = enabled
            return copy.copy(found)

    def list_registrations(self) -> list[C2BRegistration]:
        with self._lock:
            return [copy.copy(r) for r in self._data.registrations.values()]

    # --- customers' scripts --------------------------------------------------------------------
    def set_script(self, msisdn: str, script: CustomerScript | None) -> None:
        with self._lock:
            if script is None:
                self._data.scripts.pop(msisdn, None)
            else:
                self._data.scripts[msisdn] = script

    def script(self, msisdn: str) -> CustomerScript | None:
        with self._lock:
            return self._data.scripts.get(msisdn)  # immutable model: no copy needed

    def scripts(self) -> dict[str, CustomerScript]:
        with self._lock:
            return dict(self._data.scripts)

    # --- Pull Transactions ---------------------------------------------------------------------
    def register_pull(self, registration: PullRegistration) -> bool:
        """Register a shortcode for Pull Transactions once; False if it already was."""
        with self._lock:
            if registration.shortcode in self._data.pull_registrations:
                return False
            self._data.pull_registrations[registration.shortcode] = copy.copy(registration)
            return True

    def pull_registration(self, shortcode: str) -> PullRegistration | None:
        with self._lock:
            found = self._data.pull_registrations.get(shortcode)
            return copy.copy(found) if found is not None else None

    def list_pull_registrations(self) -> list[PullRegistration]:
        with self._lock:
            return [copy.copy(r) for r in self._data.pull_registrations.values()]
