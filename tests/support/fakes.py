"""In-memory fakes of the flows' ports: the record store, the inbox, the event publisher, M-Pesa's
gateways, the timeout flow starter and the C2B store. Flow logic is unit-tested against these (no moto, no sockets);
tests/integration/records/test_store_contract.py runs the same cases against this store and the
DynamoDB one, so the fake cannot drift from the real thing."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from mpesa.clock import NAIROBI, Deadline, iso, now_utc
from mpesa.daraja.models import (
    AsyncRequestResponse,
    B2CResponse,
    C2BRegisterUrlResponse,
    StkPushResponse,
    StkQueryResponse,
)
from mpesa.errors import ConflictError, InputError
from mpesa.flows.c2b.dynamodb import payment_item
from mpesa.flows.c2b.model import (
    ExpectedPayment,
    ExpectedPaymentExistsError,
    ExpectedStatus,
    MatchPlan,
    NewC2BPayment,
    NewExpectedPayment,
    Registration,
    ValidationRecord,
)
from mpesa.flows.c2b.ports import ListedPayment, Page, WriteResult, Written
from mpesa.flows.stk import FlowTiming, StkDeps, StkEvents, StkPayments
from mpesa.markets import Country
from mpesa.openapi.models import TransactionAnswer, TransactionStatusAnswer
from mpesa.providers.registry import Providers
from mpesa.records import (
    NOT_SENT,
    OUTBOX_BUCKET,
    Announcement,
    Flag,
    InboxItem,
    InboxReason,
    Kind,
    NewRecord,
    Record,
    RecordExistsError,
    RecordNotFoundError,
    Ref,
    RefMismatchError,
    Settlement,
    SettleResult,
    Status,
)
from mpesa.records.balances import BalanceReport, BalanceRequest
from mpesa.records.budgets import Reservation, Reserved
from mpesa.records.items import record_from_item
from mpesa.records.outbox import Outbox
from mpesa.records.store import OUTBOX_GRACE, RecordPage
from mpesa.settings import MpesaSettings


@dataclass
class _Entry:
    record: Record
    next_check_at: str | None

    @property
    def bucket(self) -> str | None:
        """The pending index's partition, kept on the record as DynamoDB's item carries it."""
        return self.record.pending_bucket

    @bucket.setter
    def bucket(self, value: str | None) -> None:
        self.record = replace(self.record, pending_bucket=value)


def _nairobi_day(instant: str) -> date:
    return datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(NAIROBI).date()


class InMemoryRecordStore:
    """The RecordStore semantics of mpesa.records.dynamodb, one lock standing in for DynamoDB's per-item
    serialisation."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._receipts: dict[str, str] = {}  # receipt -> transaction id (the receipt claims)
        self._claim_kinds: dict[str, str] = {}  # receipt -> holder_kind, for flows whose records may be linked
        self._claim_links: dict[str, str] = {}  # receipt -> the other flow's record linked to the holder
        self._watermarks: dict[str, datetime] = {}
        self._lock = threading.RLock()

    # --- reads -------------------------------------------------------------------------------

    def get(self, transaction_id: str) -> Record:
        with self._lock:
            entry = self._entries.get(transaction_id)
            if entry is None:
                raise RecordNotFoundError(transaction_id)
            return entry.record

    def find(self, kind: Kind, ref: Ref, value: str) -> Record | None:
        if ref is not Ref.CONVERSATION_ID:
            return None  # as on DynamoDB: only a payout's ConversationID is indexed
        with self._lock:
            return next(
                (e.record for e in self._entries.values() if e.record.kind is kind and e.record.ref(ref) == value),
                None,
            )

    def created_on(self, day: date) -> Iterator[Record]:
        with self._lock:
            records = [e.record for e in self._entries.values()]
        for record in sorted(records, key=lambda r: r.created_at):
            if _nairobi_day(record.created_at) == day:
                yield record

    def page_of_day(
        self, kind: Kind, day: date, status: Status | None, limit: int, position: Mapping[str, str] | None
    ) -> RecordPage:
        after: tuple[str, str] | None = None
        if position is not None:
            created_at, _, transaction_id = str(position.get("after", "")).partition(" ")
            if set(position) != {"after"} or not created_at or not transaction_id:
                raise InputError("next", "is not a cursor this route gave for this date and status")
            after = (created_at, transaction_id)
        with self._lock:
            found = [
                e.record
                for e in self._entries.values()
                if e.record.kind is kind
                and (status is None or e.record.status is status)
                and _nairobi_day(e.record.created_at) == day
            ]
        found.sort(key=lambda r: (r.created_at, r.transaction_id), reverse=True)
        if after is not None:
            found = [r for r in found if (r.created_at, r.transaction_id) < after]
        page = found[:limit]
        more = len(found) > limit
        return RecordPage(page, {"after": f"{page[-1].created_at} {page[-1].transaction_id}"} if more else None)

    def receipt_holder(self, receipt: str) -> str | None:
        with self._lock:
            return self._receipts.get(receipt)

    def due(self, bucket: str, before: datetime, limit: int = 100) -> list[Record]:
        with self._lock:
            due = [
                e
                for e in self._entries.values()
                if e.bucket == bucket and e.next_check_at is not None and e.next_check_at <= iso(before)
            ]
            due.sort(key=lambda e: str(e.next_check_at))
            return [e.record for e in due[:limit]]

    def claims(self) -> dict[str, str]:
        with self._lock:
            return dict(self._receipts)

    # --- writes ------------------------------------------------------------------------------

    def reschedule(self, kind: Kind, transaction_id: str, next_check_at: datetime) -> bool:
        with self._lock:
            entry = self._entries.get(transaction_id)
            if entry is None or entry.record.status.is_final or entry.bucket not in (None, kind.value):
                return False
            entry.bucket, entry.next_check_at = kind.value, iso(next_check_at)
            return True

    def created_between(self, kind: Kind, start: datetime, end: datetime, limit: int | None = None) -> list[Record]:
        with self._lock:
            found = [
                e.record
                for e in self._entries.values()
                if e.record.kind is kind and iso(start) <= e.record.created_at < iso(end)
            ]
        return sorted(found, key=lambda r: (r.created_at, r.transaction_id))[:limit]

    def watermark(self, name: str) -> datetime | None:
        with self._lock:
            return self._watermarks.get(name)

    def set_watermark(self, name: str, moment: datetime) -> None:
        with self._lock:
            self._watermarks[name] = datetime.fromisoformat(iso(moment))  # stored as text, as on DynamoDB

    def create_pending(self, new: NewRecord) -> Record:
        with self._lock:
            existing = self._entries.get(new.transaction_id)
            if existing is not None and not _not_sent(existing.record):
                raise RecordExistsError(existing.record)
            stamp = iso(now_utc())
            record = Record(
                kind=new.kind,
                transaction_id=new.transaction_id,
                status=Status.PENDING,
                country=new.country,
                currency=new.currency,
                amount=new.amount,
                msisdn=new.msisdn,
                created_at=stamp,
                updated_at=stamp,
                details=dict(new.details),
                refs=dict(new.refs),
            )
            if new.next_check_at is None:
                self._entries[new.transaction_id] = _Entry(record, None)
            else:
                watched = replace(record, pending_bucket=new.kind.value)
                self._entries[new.transaction_id] = _Entry(watched, iso(new.next_check_at))
            return self._entries[new.transaction_id].record

    def attach_refs(self, transaction_id: str, refs: Mapping[Ref, str]) -> Record:
        with self._lock:
            entry = self._entry(transaction_id)
            primary, value = next(iter(refs.items()))
            stored = entry.record.ref(primary)
            if stored not in (None, value):
                self._flag(entry, Flag.CALLBACK_MISMATCH)
                raise RefMismatchError(primary, stored, value)
            self._update(entry, refs={**entry.record.refs, **refs})
            return entry.record

    def settle(self, transaction_id: str, settlement: Settlement) -> SettleResult:
        with self._lock:
            entry = self._entries.get(transaction_id)
            if entry is None:
                raise RecordNotFoundError(transaction_id)
            record = entry.record
            watched = entry.bucket is not None  # the sweep watches it: settled into the outbox partition
            refs_agree = all(record.ref(ref) in (None, value) for ref, value in settlement.refs.items())
            record_ok = not record.status.is_final and refs_agree
            claim_ok = settlement.receipt is None or self._receipts.get(settlement.receipt, transaction_id) == (
                transaction_id
            )
            if record_ok and claim_ok:
                now = now_utc()
                self._claim(settlement.receipt, transaction_id)
                self._update(
                    entry,
                    status=settlement.status,
                    result_code=settlement.result_code,
                    result_desc=settlement.result_desc,
                    settled_by=settlement.source,
                    settled_at=iso(now),
                    event_published=False,
                    refs={**settlement.refs, **record.refs},
                    receipt=settlement.receipt or record.receipt,
                    paid_at=iso(settlement.paid_at) if settlement.paid_at else record.paid_at,
                    details={**record.details, **settlement.details},
                )
                if watched:
                    entry.bucket, entry.next_check_at = OUTBOX_BUCKET, iso(now + OUTBOX_GRACE)
                return SettleResult(entry.record, changed=True)
            if record_ok and self._linkable(settlement.receipt, transaction_id):
                # The same payment seen by another flow first (C2B): settle, linked, not counted again.
                assert settlement.receipt is not None
                now = now_utc()
                self._update(
                    entry,
                    status=settlement.status,
                    result_code=settlement.result_code,
                    result_desc=settlement.result_desc,
                    settled_by=settlement.source,
                    settled_at=iso(now),
                    event_published=False,
                    refs={**settlement.refs, **record.refs},
                    receipt=settlement.receipt,
                    paid_at=iso(settlement.paid_at) if settlement.paid_at else record.paid_at,
                )
                self._link(entry, settlement.receipt, Flag.COUNTED_BY_LINKED_RECORD)
                if watched:
                    entry.bucket, entry.next_check_at = OUTBOX_BUCKET, iso(now + OUTBOX_GRACE)
                return SettleResult(entry.record, changed=True)
            if record_ok:  # the receipt belongs to another record: never pay twice
                self._flag(entry, Flag.DUPLICATE_RECEIPT)
                return SettleResult(entry.record, changed=False, contradicts=True)
            if not refs_agree:
                self._flag(entry, Flag.CALLBACK_MISMATCH)
                return SettleResult(entry.record, changed=False)
            return self._after_final(entry, settlement)

    def _after_final(self, entry: _Entry, settlement: Settlement) -> SettleResult:
        record = entry.record
        if settlement.status is not Status.SUCCESS:
            same = (settlement.status, settlement.result_code) == (record.status, record.result_code)
            return SettleResult(record, changed=False, contradicts=not same)
        transaction_id = record.transaction_id
        if record.status is Status.SUCCESS:
            if settlement.receipt and not record.receipt:
                linked = self._linkable(settlement.receipt, transaction_id)
                filled = linked or self._claim_or_flag(entry, settlement.receipt)
                if filled:
                    paid_at = iso(settlement.paid_at) if settlement.paid_at else record.paid_at
                    self._update(entry, receipt=settlement.receipt, paid_at=paid_at)
                if linked:  # announced as paid already, and so was the holder: both counted it
                    self._link(entry, settlement.receipt, Flag.DOUBLE_COUNT, holder_flag=Flag.DOUBLE_COUNT)
                return SettleResult(entry.record, changed=False, receipt_filled=filled, contradicts=not filled)
            return SettleResult(record, changed=False, contradicts=_other_receipt(record.receipt, settlement))
        if record.late_success is not None:
            late_receipt = record.late_success.get("receipt")
            return SettleResult(record, changed=False, contradicts=_other_receipt(late_receipt, settlement))
        linked = self._linkable(settlement.receipt, transaction_id)
        if settlement.receipt is not None and not linked and not self._claim_or_flag(entry, settlement.receipt):
            return SettleResult(entry.record, changed=False, contradicts=True)
        late = {
            "receipt": settlement.receipt,
            "result_code": settlement.result_code,
            "result_desc": settlement.result_desc,
            "source": settlement.source.value,
            "paid_at": iso(settlement.paid_at) if settlement.paid_at else None,
            "received_at": iso(now_utc()),
        }
        self._update(
            entry,
            late_success={k: v for k, v in late.items() if v is not None},
            late_event_published=False,
            flags=tuple(sorted({*entry.record.flags, Flag.LATE_SUCCESS.value})),
        )
        entry.bucket, entry.next_check_at = OUTBOX_BUCKET, iso(now_utc() + OUTBOX_GRACE)
        if linked:
            assert settlement.receipt is not None
            self._link(entry, settlement.receipt, Flag.COUNTED_BY_LINKED_RECORD)
        return SettleResult(entry.record, changed=False, late_success=True)

    def mark_unknown(self, kind: Kind, transaction_id: str, reason: str, recheck_at: datetime) -> SettleResult:
        with self._lock:
            entry = self._entry(transaction_id)
            if entry.record.status is not Status.PENDING:
                return SettleResult(entry.record, changed=False)
            self._update(entry, status=Status.UNKNOWN, result_desc=reason, event_published=False)
            entry.bucket, entry.next_check_at = kind.value, iso(recheck_at)
            return SettleResult(entry.record, changed=True)

    def claim_send(self, transaction_id: str) -> bool:
        with self._lock:
            entry = self._entries.get(transaction_id)
            if entry is None or entry.record.status is not Status.PENDING or entry.record.send_claimed_at:
                return False
            entry.record = replace(entry.record, send_claimed_at=iso(now_utc()))
            return True

    def flag(self, transaction_id: str, flag: Flag) -> None:
        with self._lock:
            self._flag(self._entry(transaction_id), flag)

    def mark_event_published(self, transaction_id: str, status: Status) -> None:
        with self._lock:
            entry = self._entries.get(transaction_id)
            if entry is None or entry.record.status is not status:
                return
            self._update(entry, event_published=True)
            if status.is_final and entry.record.late_event_published:  # nothing else owed: out of the outbox
                entry.bucket = entry.next_check_at = None

    def mark_late_event_published(self, transaction_id: str) -> None:
        with self._lock:
            entry = self._entry(transaction_id)
            if entry.record.late_success is None:
                raise AssertionError("condition failed: no late success on the record")
            entry.record = replace(entry.record, late_event_published=True)
            if entry.record.event_published:  # nothing else owed: out of the outbox
                entry.bucket = entry.next_check_at = None

    def owe_event(self, transaction_id: str, resend_at: datetime) -> bool:
        with self._lock:
            entry = self._entries.get(transaction_id)
            if entry is None or entry.record.event_published or not entry.record.status.is_final:
                return False
            entry.bucket, entry.next_check_at = OUTBOX_BUCKET, iso(resend_at)
            return True

    def close_not_sent(self, transaction_id: str) -> None:
        with self._lock:
            entry = self._entries.get(transaction_id)
            if entry is not None and _not_sent(entry.record):
                entry.bucket = entry.next_check_at = None

    # --- internals ---------------------------------------------------------------------------

    def _entry(self, transaction_id: str) -> _Entry:
        entry = self._entries.get(transaction_id)
        if entry is None:
            raise AssertionError(f"condition failed: no record {transaction_id}")
        return entry

    def _update(self, entry: _Entry, **changes: Any) -> None:
        entry.record = replace(entry.record, updated_at=iso(now_utc()), **changes)

    def _flag(self, entry: _Entry, flag: Flag) -> None:
        self._update(entry, flags=tuple(sorted({*entry.record.flags, flag.value})))

    def _claim(self, receipt: str | None, transaction_id: str) -> None:
        if receipt is not None:
            self._receipts[receipt] = transaction_id

    def _linkable(self, receipt: str | None, transaction_id: str) -> bool:
        """The receipt is held by another flow's record that nothing is linked to yet."""
        if receipt is None:
            return False
        holder = self._receipts.get(receipt)
        return (
            holder not in (None, transaction_id)
            and self._claim_kinds.get(receipt) is not None
            and receipt not in self._claim_links
        )

    def _link(self, entry: _Entry, receipt: str, flag: Flag, *, holder_flag: Flag | None = None) -> None:
        holder = self._entries[self._receipts[receipt]]
        self._claim_links[receipt] = entry.record.transaction_id
        self._update(entry, linked_transaction_id=self._receipts[receipt])
        self._flag(entry, flag)
        if holder.record.linked_transaction_id is None:
            self._update(holder, linked_transaction_id=entry.record.transaction_id)
        if holder_flag is not None:
            self._flag(holder, holder_flag)

    def _claim_or_flag(self, entry: _Entry, receipt: str) -> bool:
        holder = self._receipts.get(receipt, entry.record.transaction_id)
        if holder != entry.record.transaction_id:
            self._flag(entry, Flag.DUPLICATE_RECEIPT)
            return False
        self._claim(receipt, entry.record.transaction_id)
        return True


def _other_receipt(known: object, settlement: Settlement) -> bool:
    return bool(settlement.receipt and known and settlement.receipt != known)


def _not_sent(record: Record) -> bool:
    return record.status is Status.FAILED and record.result_code == NOT_SENT


class InMemoryInbox:
    def __init__(self, per_source_hourly: int = 600) -> None:
        self.items: list[InboxItem] = []
        self.applied: dict[str, tuple[str, str]] = {}  # key -> (transaction id, outcome)
        self.admitted: dict[str, int] = {}
        self.per_source_hourly = per_source_hourly

    def keep(self, kind: Kind, ref: str, body: str, source_ip: str, reason: InboxReason, detail: str = "") -> bool:
        key = f"unmatched#{kind.value}#{ref}#{hashlib.sha256(body.encode()).hexdigest()[:24]}"
        if any(item.key == key for item in self.items):
            return False
        self.items.append(InboxItem(key, kind, ref, body, source_ip, reason, detail, iso(now_utc())))
        return True

    def waiting(self, kind: Kind, ref: str) -> list[InboxItem]:
        return [i for i in self.items if i.kind is kind and i.ref == ref and i.key not in self.applied]

    def mark_applied(self, item: InboxItem, transaction_id: str, outcome: str = "applied") -> None:
        self.applied[item.key] = (transaction_id, outcome)

    def admit(self, source_ip: str) -> bool:
        if self.admitted.get(source_ip, 0) >= self.per_source_hourly:
            return False
        self.admitted[source_ip] = self.admitted.get(source_ip, 0) + 1
        return True


@dataclass
class RecordingPublisher:
    """Records what was published; `fail_next` makes the next N publishes raise (the bus is down)."""

    published: list[Announcement] = field(default_factory=list)
    fail_next: int = 0

    def publish(self, announcement: Announcement) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise RuntimeError("EventBridge unavailable")
        self.published.append(announcement)

    def types(self) -> list[str]:
        return [a.detail_type for a in self.published]


@dataclass
class FakeStkGateway:
    """Answers pushes and queries from queued answers (a value is returned, an exception raised)."""

    pushes: list[dict[str, Any]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    push_answers: list[Any] = field(default_factory=list)
    query_answers: list[Any] = field(default_factory=list)

    def stk_push(
        self,
        *,
        phone_number: str,
        amount: int,
        account_reference: str,
        transaction_desc: str,
        callback_url: str,
        deadline: Deadline | None = None,
    ) -> StkPushResponse:
        self.pushes.append(
            {
                "phone_number": phone_number,
                "amount": amount,
                "account_reference": account_reference,
                "transaction_desc": transaction_desc,
                "callback_url": callback_url,
            }
        )
        answer = self.push_answers.pop(0) if self.push_answers else accepted_push(f"ws_CO_{len(self.pushes)}")
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, StkPushResponse)
        return answer

    def stk_query(self, checkout_request_id: str, *, deadline: Deadline | None = None) -> StkQueryResponse:
        self.queries.append(checkout_request_id)
        answer = self.query_answers.pop(0) if self.query_answers else query_answer(checkout_request_id, "4999")
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, StkQueryResponse)
        return answer


def accepted_push(checkout_request_id: str, merchant_request_id: str = "29115-1-1") -> StkPushResponse:
    return StkPushResponse.model_validate(
        {
            "MerchantRequestID": merchant_request_id,
            "CheckoutRequestID": checkout_request_id,
            "ResponseCode": "0",
            "ResponseDescription": "Success. Request accepted for processing",
            "CustomerMessage": "Success. Request accepted for processing",
        }
    )


def query_answer(checkout_request_id: str, result_code: str, result_desc: str = "") -> StkQueryResponse:
    return StkQueryResponse.model_validate(
        {
            "ResponseCode": "0",
            "ResponseDescription": "The service request has been accepted successsfully",
            "MerchantRequestID": "29115-1-1",
            "CheckoutRequestID": checkout_request_id,
            "ResultCode": result_code,
            "ResultDesc": result_desc or f"result {result_code}",
        }
    )


@dataclass
class RecordingStarter:
    started: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # the execution names asked for (the prompt flow's)
    fail: bool = False

    def start(self, transaction_id: str, *, name: str | None = None) -> None:
        if self.fail:
            raise RuntimeError("Step Functions unavailable")
        self.started.append(transaction_id)
        self.names.append(name or transaction_id)


@dataclass
class StkFlowFakes:
    """The STK flow wired to fakes, and the fakes, for a test to drive and inspect."""

    payments: StkPayments
    store: InMemoryRecordStore
    inbox: InMemoryInbox
    publisher: RecordingPublisher
    gateway: FakeStkGateway
    starter: RecordingStarter
    settings: MpesaSettings


@dataclass
class FakeOpenApiGateway:
    """Answers like mpesa.openapi.OpenApiClient from queued answers (a value is returned, an exception
    raised); records every call. By default a prompt or a payout is paid and a query finds it Completed.
    `hold` makes a prompt wait until it is set (a customer who has not answered yet)."""

    prompts: list[dict[str, Any]] = field(default_factory=list)
    payouts: list[dict[str, Any]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    prompt_answers: list[Any] = field(default_factory=list)
    payout_answers: list[Any] = field(default_factory=list)
    query_answers: list[Any] = field(default_factory=list)
    hold: threading.Event | None = None

    def c2b_single_stage(self, **kwargs: Any) -> TransactionAnswer:
        self.prompts.append(kwargs)
        if self.hold is not None:
            self.hold.wait(5)
        return self._answer(self.prompt_answers, kwargs["third_party_conversation_id"], len(self.prompts))

    def b2c_payment(self, **kwargs: Any) -> TransactionAnswer:
        self.payouts.append(kwargs)
        return self._answer(self.payout_answers, kwargs["third_party_conversation_id"], len(self.payouts))

    def query_transaction_status(self, query_reference: str, **kwargs: Any) -> TransactionStatusAnswer:
        self.queries.append(query_reference)
        answer = self.query_answers.pop(0) if self.query_answers else openapi_status("Completed", "QRY0000001")
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, TransactionStatusAnswer)
        return answer

    @staticmethod
    def _answer(queue: list[Any], caller_id: str, number: int) -> TransactionAnswer:
        answer = queue.pop(0) if queue else openapi_paid(caller_id, f"TXN{number:07d}")
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, TransactionAnswer)
        return answer


def openapi_paid(caller_id: str, transaction_id: str = "TXN0000001") -> TransactionAnswer:
    return TransactionAnswer.model_validate(
        {
            "output_ResponseCode": "INS-0",
            "output_ResponseDesc": "Request processed successfully",
            "output_TransactionID": transaction_id,
            "output_ConversationID": "c" * 32,
            "output_ThirdPartyConversationID": caller_id,
        }
    )


def openapi_status(state: str, transaction_id: str = "") -> TransactionStatusAnswer:
    return TransactionStatusAnswer.model_validate(
        {
            "output_ResponseCode": "INS-0",
            "output_ResponseDesc": "Request processed successfully",
            "output_ResponseTransactionStatus": state,
            "output_TransactionID": transaction_id,
            "output_ConversationID": "d" * 32,
            "output_ThirdPartyConversationID": "query",
        }
    )


def tanzania_settings(**overrides: Any) -> MpesaSettings:
    """Sandbox settings with the OpenAPI's credentials set (Tanzania served); the fakes never encrypt."""
    from tests.support.daraja import make_settings

    values = {
        "MPESA_CALLBACK_SECRET": "s" * 40,
        "MPESA_TZ_API_KEY": "sim-openapi-api-key",
        "MPESA_TZ_PUBLIC_KEY": "unused-by-the-fakes",
        "MPESA_TZ_SERVICE_PROVIDER_CODE": "000000",
        **overrides,
    }
    return make_settings(**values)


def providers_for(
    settings: MpesaSettings,
    openapi: FakeOpenApiGateway,
    *,
    stk: FakeStkGateway | None = None,
    b2c: FakeB2cGateway | None = None,
) -> Providers:
    """Kenya's Daraja over the fake gateways, Tanzania's OpenAPI over the fake OpenAPI."""
    from mpesa.providers.daraja import DarajaProvider
    from mpesa.providers.openapi import OpenApiProvider

    return Providers(
        settings,
        {
            Country.KE: lambda: DarajaProvider(
                settings, stk=(lambda: stk) if stk else None, b2c=(lambda: b2c) if b2c else None
            ),
            Country.TZ: lambda: OpenApiProvider(settings, lambda: openapi),
        },
    )


@dataclass
class TanzaniaFlowFakes:
    """The STK flow with Tanzania served by a fake OpenAPI, the prompt flow recorded (not run)."""

    payments: StkPayments
    store: InMemoryRecordStore
    publisher: RecordingPublisher
    openapi: FakeOpenApiGateway
    daraja: FakeStkGateway
    prompt_flow: RecordingStarter
    settings: MpesaSettings


def tanzania_flow(settings: MpesaSettings | None = None) -> TanzaniaFlowFakes:
    settings = settings or tanzania_settings()
    store, publisher = InMemoryRecordStore(), RecordingPublisher()
    openapi, daraja, prompt_flow = FakeOpenApiGateway(), FakeStkGateway(), RecordingStarter()
    deps = StkDeps(
        settings=settings,
        store=store,
        inbox=InMemoryInbox(),
        outbox=Outbox(store, publisher, {Kind.STK: StkEvents()}),
        gateway=lambda: daraja,
        flow=RecordingStarter(),
        timing=FlowTiming(),
        providers=providers_for(settings, openapi, stk=daraja),
        prompt_flow=prompt_flow,
    )
    return TanzaniaFlowFakes(StkPayments(deps), store, publisher, openapi, daraja, prompt_flow, settings)


def stk_flow(settings: MpesaSettings) -> StkFlowFakes:
    store, inbox, publisher = InMemoryRecordStore(), InMemoryInbox(), RecordingPublisher()
    gateway, starter = FakeStkGateway(), RecordingStarter()
    deps = StkDeps(
        settings=settings,
        store=store,
        inbox=inbox,
        outbox=Outbox(store, publisher, {Kind.STK: StkEvents()}),
        gateway=lambda: gateway,
        flow=starter,
        timing=FlowTiming(),
    )
    return StkFlowFakes(StkPayments(deps), store, inbox, publisher, gateway, starter, settings)


class InMemoryBudgets:
    """The Budgets semantics of mpesa.records.budgets (counters, one hold per payout, release once)."""

    def __init__(self) -> None:
        self.used: dict[tuple[str, str, str], int] = {}  # (scope, key, day) -> amount
        self.holds: dict[str, tuple[Reservation, bool]] = {}  # payout id -> (reservation, released)
        self._lock = threading.RLock()

    def reserve(self, reservation: Reservation) -> Reserved:
        with self._lock:
            held = self.holds.get(reservation.payout_id)
            if held is not None and not held[1]:
                if held[0].amount != reservation.amount:
                    raise ConflictError("this request key was used for a payout of another amount")
                return Reserved(new=False)
            for counter in reservation.counters:
                used = self.used.get((counter.scope.value, counter.key, reservation.day), 0)
                if used + reservation.amount > counter.limit:
                    return Reserved(refused_by=counter.scope)
            for counter in reservation.counters:
                key = (counter.scope.value, counter.key, reservation.day)
                self.used[key] = self.used.get(key, 0) + reservation.amount
            self.holds[reservation.payout_id] = (reservation, False)
            return Reserved(new=True)

    def release(self, payout_id: str) -> bool:
        with self._lock:
            held = self.holds.get(payout_id)
            if held is None or held[1]:
                return False
            reservation = held[0]
            for counter in reservation.counters:
                key = (counter.scope.value, counter.key, reservation.day)
                self.used[key] -= reservation.amount
            self.holds[payout_id] = (reservation, True)
            return True

    def total(self, scope: str) -> int:
        with self._lock:
            return sum(amount for (s, _, _), amount in self.used.items() if s == scope)


@dataclass
class FakeB2cGateway:
    """Answers payouts, status queries and balance requests from queued answers (a value is returned,
    an exception raised); records every call."""

    payouts: list[dict[str, Any]] = field(default_factory=list)
    status_queries: list[dict[str, Any]] = field(default_factory=list)
    balance_requests: list[dict[str, Any]] = field(default_factory=list)
    payout_answers: list[Any] = field(default_factory=list)
    status_answers: list[Any] = field(default_factory=list)
    balance_answers: list[Any] = field(default_factory=list)
    seen_ocids: set[str] = field(default_factory=set)  # Daraja's duplicate check

    def b2c_payment(self, **kwargs: Any) -> B2CResponse:
        kwargs.pop("deadline", None)
        self.payouts.append(kwargs)
        ocid = str(kwargs["originator_conversation_id"])
        answer = self.payout_answers.pop(0) if self.payout_answers else None
        if isinstance(answer, BaseException):
            raise answer
        if answer is None:
            if ocid in self.seen_ocids:
                answer = B2CResponse(
                    conversation_id=None,
                    originator_conversation_id=ocid,
                    response_code=None,
                    response_description="Duplicate OriginatorConversationID.",
                    accepted_earlier=True,
                )
            else:
                answer = accepted_payout(ocid, f"AG_20261126_{len(self.payouts):020d}")
        self.seen_ocids.add(ocid)
        assert isinstance(answer, B2CResponse)
        return answer

    def transaction_status(self, **kwargs: Any) -> AsyncRequestResponse:
        kwargs.pop("deadline", None)
        self.status_queries.append(kwargs)
        answer = self.status_answers.pop(0) if self.status_answers else async_accepted(len(self.status_queries))
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, AsyncRequestResponse)
        return answer

    def account_balance(self, **kwargs: Any) -> AsyncRequestResponse:
        kwargs.pop("deadline", None)
        self.balance_requests.append(kwargs)
        answer = (
            self.balance_answers.pop(0) if self.balance_answers else async_accepted(100 + len(self.balance_requests))
        )
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, AsyncRequestResponse)
        return answer


def accepted_payout(ocid: str, conversation_id: str) -> B2CResponse:
    return B2CResponse.model_validate(
        {
            "ConversationID": conversation_id,
            "OriginatorConversationID": ocid,
            "ResponseCode": "0",
            "ResponseDescription": "Accept the service request successfully.",
        }
    )


def async_accepted(number: int) -> AsyncRequestResponse:
    return AsyncRequestResponse.model_validate(
        {
            "ConversationID": f"AG_20261126_status{number:014d}",
            "OriginatorConversationID": f"status-{number}",
            "ResponseCode": "0",
            "ResponseDescription": "Accept the service request successfully.",
        }
    )


class InMemoryBalances:
    def __init__(self) -> None:
        self.requests: dict[str, BalanceRequest] = {}
        self.reports: dict[str, BalanceReport] = {}

    def save_request(self, request: BalanceRequest) -> None:
        self.requests[request.request_id] = request

    def get_request(self, request_id: str) -> BalanceRequest | None:
        return self.requests.get(request_id)

    def find_request(self, conversation_id: str) -> BalanceRequest | None:
        return next((r for r in self.requests.values() if r.conversation_id == conversation_id), None)

    def finish_request(self, request_id: str, state: str, detail: str = "") -> bool:
        request = self.requests.get(request_id)
        if request is None or request.state != "requested":
            return False
        self.requests[request_id] = replace(request, state=state, detail=detail)
        return True

    def save_report(self, report: BalanceReport) -> bool:
        stored = self.reports.get(report.short_code)
        if stored is not None and stored.reported_at > report.reported_at:
            return False
        self.reports[report.short_code] = report
        return True

    def report(self, short_code: str) -> BalanceReport | None:
        return self.reports.get(short_code)


class InMemoryC2BStore:
    """The C2BStore semantics of mpesa.flows.c2b.dynamodb over an InMemoryRecordStore: C2B payments are
    records beside the STK ones, and share its receipt claims (so STK and C2B can be linked)."""

    def __init__(self, records: InMemoryRecordStore) -> None:
        self.records = records
        self._expected: dict[str, ExpectedPayment] = {}
        self.validations: list[ValidationRecord] = []
        self._registrations: dict[str, Registration] = {}

    # --- payments ---------------------------------------------------------------------------

    def add_payment(
        self, payment: NewC2BPayment, match: MatchPlan | None, *, check_expected: bool = True
    ) -> WriteResult:
        records = self.records
        with records._lock:
            if payment.trans_id in records._entries:
                return WriteResult(Written.DUPLICATE, records._entries[payment.trans_id].record)
            now = now_utc()
            holder = records._receipts.get(payment.trans_id)
            if holder is not None:
                return self._add_linked(payment, holder, now)
            if check_expected and self._stale(payment, match):
                return WriteResult(Written.STALE, None)
            record = self._insert(payment_item(payment, match, now=now), now)
            records._receipts[payment.trans_id] = payment.trans_id
            records._claim_kinds[payment.trans_id] = Kind.C2B.value
            if match is not None and match.expected is not None and match.entry is not None:
                self._apply(match)
            return WriteResult(Written.CREATED, record)

    def _stale(self, payment: NewC2BPayment, match: MatchPlan | None) -> bool:
        read = None if match is None else match.expected
        current = self._expected.get(payment.reference) if payment.reference else None
        if read is None:
            return current is not None
        if current is None or current.version != read.version:
            return True
        return (
            match is not None
            and match.entry is not None
            and any(p.trans_id == match.entry.trans_id for p in current.payments)
        )

    def _add_linked(self, payment: NewC2BPayment, holder: str, now: datetime) -> WriteResult:
        records = self.records
        flags: tuple[str, ...] = (Flag.COUNTED_BY_LINKED_RECORD.value,)
        if payment.trans_id in records._claim_links:  # linked to a third record already: keep, for a person
            item = payment_item(payment, None, now=now, flags=(*flags, Flag.DUPLICATE_RECEIPT.value))
            return WriteResult(Written.LINKED, self._insert(item, now))
        record = self._insert(payment_item(payment, None, now=now, linked_to=holder, flags=flags), now)
        records._claim_links[payment.trans_id] = payment.trans_id
        holder_entry = records._entries[holder]
        if holder_entry.record.linked_transaction_id is None:
            records._update(holder_entry, linked_transaction_id=payment.trans_id)
        return WriteResult(Written.LINKED, record)

    def _insert(self, item: dict[str, Any], now: datetime) -> Record:
        record = record_from_item(item)
        self.records._entries[record.transaction_id] = _Entry(record, str(item["next_check_at"]))
        return record

    def _apply(self, match: MatchPlan) -> None:
        assert match.entry is not None
        current = self._expected[match.reference]
        payments = tuple(sorted((*current.payments, match.entry), key=lambda p: p.paid_at))  # stable: arrival order
        changes: dict[str, Any] = {"payments": payments, "version": current.version + 1}
        if match.entry.applied and match.new_status is not None:
            changes.update(paid_total=match.new_total, status=match.new_status)
        self._expected[match.reference] = replace(current, **changes)

    def flag(self, trans_id: str, flag: Flag) -> None:
        with self.records._lock:
            entry = self.records._entries[trans_id]
            assert entry.record.kind is Kind.C2B
            self.records._flag(entry, flag)

    def payment(self, trans_id: str) -> Record:
        with self.records._lock:
            entry = self.records._entries.get(trans_id)
            if entry is None or entry.record.kind is not Kind.C2B:
                raise RecordNotFoundError(trans_id)
            return entry.record

    def payments(self, start: datetime, end: datetime, limit: int, position: Mapping[str, str] | None) -> Page:
        low, high = iso(start), iso(end)
        with self.records._lock:
            found = [
                e.record
                for e in self.records._entries.values()
                if e.record.kind is Kind.C2B and e.record.paid_at is not None and low <= e.record.paid_at < high
            ]
        found.sort(key=lambda r: (str(r.paid_at), r.transaction_id), reverse=True)
        if position is not None:
            after = (position["paid_at"], position["trans_id"])
            found = [r for r in found if (str(r.paid_at), r.transaction_id) < after]
        page = found[:limit]
        listed = [
            ListedPayment(r.transaction_id, r.amount, r.currency, r.msisdn, str(r.paid_at), r.details, r.flags)
            for r in page
        ]
        more = len(found) > limit
        last = page[-1] if page else None
        next_position = {"paid_at": str(last.paid_at), "trans_id": last.transaction_id} if more and last else None
        return Page(listed, next_position)

    # --- expected payments, validations, registrations --------------------------------------

    def expected(self, reference: str) -> ExpectedPayment | None:
        return self._expected.get(reference)

    def add_expected(self, new: NewExpectedPayment, created_by: str) -> ExpectedPayment:
        existing = self._expected.get(new.reference)
        if existing is not None:
            raise ExpectedPaymentExistsError(existing)
        created = ExpectedPayment(
            reference=new.reference,
            amount_min=new.amount_min,
            amount_max=new.amount_max,
            expires_at=iso(new.expires_at),
            description=new.description,
            created_at=iso(now_utc()),
            created_by=created_by,
            status=ExpectedStatus.OPEN,
            paid_total=0,
            payments=(),
            version=0,
        )
        self._expected[new.reference] = created
        return created

    def record_validation(self, record: ValidationRecord) -> None:
        self.validations.append(record)

    def registration(self, short_code: str) -> Registration | None:
        return self._registrations.get(short_code)

    def save_registration(self, registration: Registration) -> None:
        self._registrations[registration.short_code] = registration


@dataclass
class FakeRegisterGateway:
    """Daraja's Register URL: accepts (sandbox), or answers what `answers` holds (an exception raised)."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    answers: list[Any] = field(default_factory=list)

    def c2b_register_urls(
        self,
        *,
        confirmation_url: str,
        validation_url: str,
        response_type: str = "Completed",
        short_code: str | None = None,
        deadline: Deadline | None = None,
    ) -> C2BRegisterUrlResponse:
        self.calls.append(
            {
                "confirmation_url": confirmation_url,
                "validation_url": validation_url,
                "response_type": response_type,
                "short_code": short_code,
            }
        )
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, BaseException):
            raise answer
        return C2BRegisterUrlResponse.model_validate(
            {
                "OriginatorCoversationID": f"ocid-{len(self.calls)}",
                "ResponseCode": "0",
                "ResponseDescription": "success",
            }
        )
