"""OpenAPI memory: transactions (C2B, B2C, reversal), the business balance and the call journal.

One lock guards everything and one condition on it wakes the request threads that wait for a
customer (C2B single stage is synchronous). Every compound change (claim a ThirdPartyConversationID
and insert, settle a pending prompt, pay out against the balance, reverse once) is one method.
Methods hand out copies, never the live records. ``reset`` bumps a generation number so that a
request still waiting from before the reset gives up instead of answering for a forgotten record.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from simulator import clock
from simulator.openapi.sessions import Environment


class Kind(StrEnum):
    C2B = "c2b"
    B2C = "b2c"
    REVERSAL = "reversal"


class Status(StrEnum):
    """``output_ResponseTransactionStatus`` values of the status query."""

    PENDING = "Pending"
    COMPLETED = "Completed"
    CANCELLED = "Cancelled"
    FAILED = "Failed"
    EXPIRED = "Expired"


@dataclass
class Transaction:
    kind: Kind
    environment: Environment
    market: str
    conversation_id: str
    third_party_conversation_id: str
    msisdn: str  # the customer (for a reversal: the original's customer)
    amount: int  # whole TZS
    reference: str  # input_TransactionReference (a reversal: the original's TransactionID)
    description: str
    service_provider_code: str
    created_at: datetime
    status: Status
    result_code: str | None = None  # the outcome's INS code once final
    transaction_id: str | None = None  # issued when money moved
    settled_at: datetime | None = None
    response_code: str | None = None  # the INS code the synchronous request was answered with
    answer_deadline_mono: float = 0.0  # C2B: the request answers INS-9 at this time
    closes_mono: float = 0.0  # C2B: the prompt expires at this time (later with a late-payment window)
    closes_at: datetime | None = None
    paid_after_answer: bool = False  # C2B: settled after the request was answered INS-9
    reversed_by: str | None = None  # TransactionID of the reversal that undid this one
    original_transaction_id: str | None = None  # reversal: what it reversed


@dataclass(frozen=True)
class Call:
    """One request that reached an OpenAPI handler (faults that answer before it are not calls)."""

    time: str
    environment: str
    market: str
    operation: Literal["session", "c2b", "b2c", "query", "reversal"]
    method: str
    third_party_conversation_id: str | None
    conversation_id: str | None
    http_status: int
    response_code: str

    def view(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "environment": self.environment,
            "market": self.market,
            "operation": self.operation,
            "method": self.method,
            "third_party_conversation_id": self.third_party_conversation_id,
            "conversation_id": self.conversation_id,
            "http_status": self.http_status,
            "response_code": self.response_code,
        }


PayoutOutcome = Literal["paid", "duplicate", "insufficient_funds", "refused"]
ReversalOutcome = Literal[
    "reversed", "duplicate", "unknown", "already_reversed", "amount_mismatch", "insufficient_funds"
]


class OpenApiStore:
    def __init__(self, balance: Decimal) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._generation = 0
        self._transactions: dict[str, Transaction] = {}  # by ConversationID
        self._caller_ids: set[str] = set()  # ThirdPartyConversationIDs of C2B, B2C and reversals
        self._balance = balance
        self._calls: list[Call] = []

    def reset(self, balance: Decimal) -> None:
        with self._changed:
            self._generation += 1
            self._transactions.clear()
            self._caller_ids.clear()
            self._balance = balance
            self._calls.clear()
            self._changed.notify_all()

    @property
    def generation(self) -> int:
        with self._lock:
            return self._generation

    # --- C2B -----------------------------------------------------------------------------------
    def add_if_new_caller_id(self, record: Transaction) -> bool:
        """Insert a transaction unless its ThirdPartyConversationID was used before (INS-10)."""
        with self._lock:
            if record.third_party_conversation_id in self._caller_ids:
                return False
            self._caller_ids.add(record.third_party_conversation_id)
            self._transactions[record.conversation_id] = copy.copy(record)
            return True

    def settle(
        self, conversation_id: str, status: Status, result_code: str, transaction_id: str | None
    ) -> Transaction | None:
        """Make a pending C2B final (a completed one credits the balance); None if not pending."""
        with self._changed:
            record = self._transactions.get(conversation_id)
            if record is None or record.status is not Status.PENDING:
                return None
            record.status = status
            record.result_code = result_code
            record.transaction_id = transaction_id
            record.settled_at = clock.now_eat()
            record.paid_after_answer = record.response_code is not None
            if status is Status.COMPLETED:
                self._balance += record.amount
            self._changed.notify_all()
            return copy.copy(record)

    def wait_final(self, conversation_id: str, deadline_mono: float, generation: int) -> Transaction | None:
        """Block until the transaction is final or ``deadline_mono`` passes; None after a reset."""
        with self._changed:
            while True:
                if self._generation != generation:
                    return None
                record = self._transactions.get(conversation_id)
                if record is None:
                    return None
                remaining = deadline_mono - clock.monotonic()
                if record.status is not Status.PENDING or remaining <= 0:
                    return copy.copy(record)
                self._changed.wait(remaining)

    def conclude(self, conversation_id: str, timeout_code: str, *, expire_if_pending: bool) -> Transaction | None:
        """Record the synchronous answer: the outcome's code if final, else the timeout code (and,
        with ``expire_if_pending``, the prompt expires now). None if the record is gone (reset)."""
        with self._changed:
            record = self._transactions.get(conversation_id)
            if record is None:
                return None
            if record.status is Status.PENDING:
                record.response_code = timeout_code
                if expire_if_pending:
                    self._expire(record)
            else:
                record.response_code = record.result_code
            return copy.copy(record)

    def _expire(self, record: Transaction) -> None:
        record.status = Status.EXPIRED
        record.result_code = record.response_code
        record.settled_at = clock.now_eat()
        self._changed.notify_all()

    def expire_overdue(self, timeout_code: str) -> None:
        """Expire prompts whose time is up (the timer does it too; this covers reads in between)."""
        mono = clock.monotonic()
        with self._changed:
            for record in self._transactions.values():
                if record.status is Status.PENDING and record.kind is Kind.C2B and mono >= record.closes_mono:
                    if record.response_code is None:
                        record.response_code = timeout_code
                    self._expire(record)

    def pending_c2b(self, msisdn: str) -> list[Transaction]:
        with self._lock:
            return sorted(
                (
                    copy.copy(r)
                    for r in self._transactions.values()
                    if r.kind is Kind.C2B and r.status is Status.PENDING and r.msisdn == msisdn
                ),
                key=lambda r: r.created_at,
            )

    # --- B2C -----------------------------------------------------------------------------------
    def pay_out(self, record: Transaction, codes: Mapping[PayoutOutcome, str]) -> tuple[PayoutOutcome, Transaction]:
        """Claim the caller ID, then debit the balance and complete the payout (its TransactionID is
        set by the caller), or record it failed for insufficient funds. ``record`` arrives pending,
        or already failed with its code (the unregistered test number): then nothing moves.
        ``codes`` gives the result code of each outcome."""
        with self._lock:
            if record.third_party_conversation_id in self._caller_ids:
                return "duplicate", copy.copy(record)
            self._caller_ids.add(record.third_party_conversation_id)
            stored = copy.copy(record)
            stored.settled_at = clock.now_eat()
            outcome: PayoutOutcome = "refused"
            if stored.status is Status.PENDING:
                outcome = "paid" if self._balance >= stored.amount else "insufficient_funds"
                stored.result_code = codes[outcome]
            if outcome == "paid":
                self._balance -= stored.amount
                stored.status = Status.COMPLETED
            else:
                stored.status = Status.FAILED
                stored.transaction_id = None
            self._transactions[stored.conversation_id] = stored
            return outcome, copy.copy(stored)

    # --- reversal ------------------------------------------------------------------------------
    def reverse(
        self, reversal: Transaction, original_transaction_id: str, codes: Mapping[ReversalOutcome, str]
    ) -> tuple[ReversalOutcome, Transaction]:
        """Reverse a completed C2B or B2C once, for its full amount, in the same environment and
        market. A completed reversal moves the money back; a refusal is recorded as failed with
        the outcome's code from ``codes``."""
        with self._lock:
            if reversal.third_party_conversation_id in self._caller_ids:
                return "duplicate", copy.copy(reversal)
            self._caller_ids.add(reversal.third_party_conversation_id)
            stored = copy.copy(reversal)
            stored.settled_at = clock.now_eat()
            stored.original_transaction_id = original_transaction_id
            original = self._find_by_transaction_id(original_transaction_id, reversal.environment, reversal.market)
            outcome: ReversalOutcome
            if original is None or original.kind is Kind.REVERSAL or original.status is not Status.COMPLETED:
                outcome = "unknown"
            elif original.reversed_by is not None:
                outcome = "already_reversed"
            elif original.amount != reversal.amount:
                outcome = "amount_mismatch"
            elif original.kind is Kind.C2B and self._balance < original.amount:
                outcome = "insufficient_funds"
            else:
                outcome = "reversed"
                stored.msisdn = original.msisdn
                original.reversed_by = stored.transaction_id
                self._balance += original.amount if original.kind is Kind.B2C else -original.amount
            stored.result_code = codes[outcome]
            if outcome == "reversed":
                stored.status = Status.COMPLETED
            else:
                stored.status = Status.FAILED
                stored.transaction_id = None
            self._transactions[stored.conversation_id] = stored
            return outcome, copy.copy(stored)

    # --- lookups -------------------------------------------------------------------------------
    def _find_by_transaction_id(self, transaction_id: str, environment: str, market: str) -> Transaction | None:
        for record in self._transactions.values():
            if (
                record.transaction_id == transaction_id
                and record.environment == environment
                and record.market == market
            ):
                return record
        return None

    def find(
        self, query_reference: str, environment: str | None = None, market: str | None = None
    ) -> Transaction | None:
        """By TransactionID, ThirdPartyConversationID or ConversationID (optionally in one
        environment and market). A ThirdPartyConversationID names one transaction (they are unique)."""
        with self._lock:
            for record in self._transactions.values():
                if environment is not None and (record.environment != environment or record.market != market):
                    continue
                if query_reference in (
                    record.transaction_id,
                    record.third_party_conversation_id,
                    record.conversation_id,
                ):
                    return copy.copy(record)
            return None

    def get(self, conversation_id: str) -> Transaction | None:
        with self._lock:
            record = self._transactions.get(conversation_id)
            return copy.copy(record) if record is not None else None

    def transactions(self) -> list[Transaction]:
        with self._lock:
            return sorted((copy.copy(r) for r in self._transactions.values()), key=lambda r: r.created_at)

    def balance(self) -> Decimal:
        with self._lock:
            return self._balance

    def set_balance(self, balance: Decimal) -> None:
        with self._lock:
            self._balance = balance

    # --- call journal --------------------------------------------------------------------------
    def record_call(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)
