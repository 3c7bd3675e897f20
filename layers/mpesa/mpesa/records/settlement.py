"""Settling a record on DynamoDB: M-Pesa's answer about a payment or payout, written at most once.

A settlement claims its receipt (one conditional put), then settles the open record (one conditional
update): no transaction on the common path. When that changes nothing, the reason is read back: the
record is final (a duplicate, a receipt for a query-settled success, a late success, a contradiction),
its refs differ (flagged), or another record holds the receipt (flagged; or, held by another flow's
record of the same payment, settled linked to it: receipts.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from mpesa.clock import iso, now_utc
from mpesa.records.dynamo import (
    cancellation_codes,
    conditional_failed,
    only_conditions_failed,
    transaction_cancelled,
    update_if,
)
from mpesa.records.items import OPEN, STATUS, flag_record, read_record, record_from_item, record_key
from mpesa.records.model import Flag, Record, Settlement, SettleResult, Status
from mpesa.records.receipts import (
    Claim,
    claim_receipt,
    claimed_by_another,
    read_claim,
    receipt_refused,
    release_claim,
    update_and_claim,
    update_beside_holder,
    with_link,
)
from mpesa.records.store import OUTBOX_BUCKET, OUTBOX_GRACE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


class RecordChangingError(RuntimeError):
    """A record kept changing under a settlement (concurrent writers): the caller's retry decides."""


def _holds(record: Record, receipt: str) -> bool:
    """Whether the record keeps `receipt`, as its own or as a late success's."""
    return record.receipt == receipt or (record.late_success or {}).get("receipt") == receipt


def _other_receipt(known: object, settlement: Settlement) -> bool:
    return bool(settlement.receipt and known and settlement.receipt != known)


class Settler:
    """Settles the records of one transactions table (DynamoRecordStore.settle)."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def settle(self, transaction_id: str, settlement: Settlement) -> SettleResult:
        return self._settle(transaction_id, settlement, retries_left=1)

    def _get(self, transaction_id: str) -> Record:
        return read_record(self._table, transaction_id)

    def _flag(self, transaction_id: str, flag: Flag) -> None:
        flag_record(self._table, transaction_id, flag)

    def _settle(self, transaction_id: str, settlement: Settlement, retries_left: int) -> SettleResult:
        """Claim the receipt (one conditional put), then settle the record (one conditional update): no
        transaction on the common path. A claim this write made is given back if the record does not
        end up holding the receipt."""
        receipt = settlement.receipt
        claimed_now = False
        if receipt:
            holder = claim_receipt(self._table, transaction_id, receipt)
            if isinstance(holder, Claim):
                return self._claimed_elsewhere(transaction_id, settlement, holder, retries_left)
            claimed_now = holder
        result = self._apply(transaction_id, settlement)
        if result is None:
            result = self._unchanged(transaction_id, settlement, retries_left)
            if receipt and claimed_now and not _holds(result.record, receipt):
                release_claim(self._table, receipt, transaction_id)
        return result

    def _settlement_update(self, transaction_id: str, settlement: Settlement, *, watched: bool) -> dict[str, Any]:
        """The conditional update that settles an open record. `watched`: the record is in the pending
        index (the sweep watches it), and moves to its OUTBOX partition until its event is out; otherwise
        it never enters the index (its event, if lost, is found by the sweep's pass over the day)."""
        now = now_utc()
        values: dict[str, Any] = {
            ":s": settlement.status.value,
            ":rc": settlement.result_code,
            ":rd": settlement.result_desc,
            ":by": settlement.source.value,
            ":u": iso(now),
            ":f": False,
            **OPEN,
        }
        names = dict(STATUS)
        sets = [
            "#status = :s",
            "result_code = :rc",
            "result_desc = :rd",
            "settled_by = :by",
            "updated_at = :u",
            "settled_at = :u",
            "event_published = :f",
        ]
        condition = "attribute_exists(pk) AND #status IN (:pending, :unknown)"
        if watched:
            values |= {":outbox": OUTBOX_BUCKET, ":resend_at": iso(now + OUTBOX_GRACE)}
            sets += ["pending_bucket = :outbox", "next_check_at = :resend_at"]
            condition += " AND attribute_exists(pending_bucket)"
        else:
            condition += " AND attribute_not_exists(pending_bucket)"
        for i, (ref, value) in enumerate(settlement.refs.items()):
            names[f"#r{i}"], values[f":r{i}"] = ref.value, value
            sets.append(f"#r{i} = if_not_exists(#r{i}, :r{i})")
            condition += f" AND (attribute_not_exists(#r{i}) OR #r{i} = :r{i})"
        if settlement.receipt:
            values[":r"] = settlement.receipt
            sets.append("receipt = :r")
        if settlement.paid_at:
            values[":p"] = iso(settlement.paid_at)
            sets.append("paid_at = :p")
        for i, (key, value) in enumerate(settlement.details.items()):
            names[f"#d{i}"], values[f":d{i}"] = key, value
            sets.append(f"details.#d{i} = :d{i}")
        return {
            "Key": record_key(transaction_id),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def _apply(self, transaction_id: str, settlement: Settlement) -> SettleResult | None:
        """Settle the open record: most are outside the pending index (one write); one the sweep watches
        is found out by the first write's condition and settled into the outbox. None: not open (or its
        refs differ)."""
        for watched in (False, True):
            try:
                update = self._settlement_update(transaction_id, settlement, watched=watched)
                item = self._table.update_item(**update, ReturnValues="ALL_NEW")["Attributes"]
            except ClientError as exc:
                if not conditional_failed(exc):
                    raise
                continue
            return SettleResult(record_from_item(item), changed=True)
        return None

    def _claimed_elsewhere(
        self, transaction_id: str, settlement: Settlement, claim: Claim, retries_left: int
    ) -> SettleResult:
        current = self._get(transaction_id)
        if any(current.ref(ref) not in (None, value) for ref, value in settlement.refs.items()):
            self._flag(transaction_id, Flag.CALLBACK_MISMATCH)
            return SettleResult(self._get(transaction_id), changed=False)
        if current.status.is_final:
            return self._after_final(current, settlement)
        if claim.holder_kind is not None:
            # The same payment seen by another flow first (a C2B confirmation of this STK push): settle,
            # linked, without counting the money again.
            update = self._settlement_update(transaction_id, settlement, watched=current.pending_bucket is not None)
            return self._settle_beside(transaction_id, settlement, update, claim, retries_left)
        # The record could settle but the receipt belongs to another record: never pay twice.
        self._flag(transaction_id, Flag.DUPLICATE_RECEIPT)
        return SettleResult(self._get(transaction_id), changed=False, contradicts=True)

    def _unchanged(self, transaction_id: str, settlement: Settlement, retries_left: int) -> SettleResult:
        """Why a settlement changed nothing: the record is final (a duplicate, a late success, a receipt
        for a query-settled success, a contradiction), or its refs differ."""
        current = self._get(transaction_id)
        return self._judge(current, settlement, retries_left, RecordChangingError(transaction_id))

    def _settle_beside(
        self,
        transaction_id: str,
        settlement: Settlement,
        update: dict[str, Any],
        claim: Claim,
        retries_left: int,
    ) -> SettleResult:
        linked = with_link(update, claim.transaction_id, Flag.COUNTED_BY_LINKED_RECORD)
        try:
            update_beside_holder(
                self._table, transaction_id, claim, linked, holder_key=record_key(claim.transaction_id)
            )
        except ClientError as exc:
            if not transaction_cancelled(exc):
                raise
            # [record, claim, holder]: the claim linked to another record already (a replay of another
            # push) reads as "claimed by another"; a record no longer open, as for any settlement.
            return self._explain_unchanged(transaction_id, settlement, exc, retries_left)
        return SettleResult(self._get(transaction_id), changed=True)

    def _explain_unchanged(
        self, transaction_id: str, settlement: Settlement, exc: ClientError, retries_left: int
    ) -> SettleResult:
        reasons = cancellation_codes(exc)
        if not only_conditions_failed(reasons):
            raise exc  # throttling, a conflicting transaction, validation: not an answer about the record
        current = self._get(transaction_id)
        if claimed_by_another(reasons):
            # The record could settle but the receipt belongs to another record: never pay twice.
            self._flag(transaction_id, Flag.DUPLICATE_RECEIPT)
            return SettleResult(self._get(transaction_id), changed=False, contradicts=True)
        return self._judge(current, settlement, retries_left, exc)

    def _judge(self, current: Record, settlement: Settlement, retries_left: int, still_open: Exception) -> SettleResult:
        """A settlement that changed nothing, against the record as read back: its refs differ (flagged),
        the record is open again (a concurrent write moved it: try once more, else `still_open`), or it is
        final (a duplicate, a late success, a contradiction)."""
        transaction_id = current.transaction_id
        if any(current.ref(ref) not in (None, value) for ref, value in settlement.refs.items()):
            self._flag(transaction_id, Flag.CALLBACK_MISMATCH)
            return SettleResult(self._get(transaction_id), changed=False)
        if not current.status.is_final:
            if retries_left > 0:
                return self._settle(transaction_id, settlement, retries_left - 1)
            raise still_open
        return self._after_final(current, settlement)

    def _after_final(self, current: Record, settlement: Settlement) -> SettleResult:
        """An answer about a record that is final already: a duplicate, a receipt for a query-settled
        success, a late success to keep beside the record, or a contradiction to keep for review."""
        transaction_id = current.transaction_id
        if settlement.status is not Status.SUCCESS:
            same = (settlement.status, settlement.result_code) == (current.status, current.result_code)
            return SettleResult(current, changed=False, contradicts=not same)
        if current.status is Status.SUCCESS:
            if settlement.receipt and not current.receipt:
                filled = self._fill_receipt(transaction_id, settlement)
                return SettleResult(self._get(transaction_id), False, receipt_filled=filled, contradicts=not filled)
            return SettleResult(current, changed=False, contradicts=_other_receipt(current.receipt, settlement))
        if current.late_success is not None:  # the late success was recorded already
            late_receipt = current.late_success.get("receipt")
            return SettleResult(current, changed=False, contradicts=_other_receipt(late_receipt, settlement))
        kept = self._record_late_success(transaction_id, settlement)
        return SettleResult(self._get(transaction_id), False, late_success=kept, contradicts=not kept)

    def _fill_receipt(self, transaction_id: str, settlement: Settlement) -> bool:
        """A success settled by query has no receipt; the callback that follows brings it. False when the
        receipt pays another record (flagged)."""
        assert settlement.receipt is not None
        values: dict[str, Any] = {":r": settlement.receipt, ":u": iso(now_utc()), ":s": Status.SUCCESS.value}
        expression = "SET receipt = :r, updated_at = :u"
        if settlement.paid_at:
            values[":p"] = iso(settlement.paid_at)
            expression += ", paid_at = :p"
        update: dict[str, Any] = {
            "Key": record_key(transaction_id),
            "UpdateExpression": expression,
            "ConditionExpression": "#status = :s AND attribute_not_exists(receipt)",
            "ExpressionAttributeNames": STATUS,
            "ExpressionAttributeValues": values,
        }
        # Announced as paid already (by query, without a receipt): if another flow counted the receipt
        # meanwhile, both announced the same money (DOUBLE_COUNT, on both records).
        return self._write_claiming_receipt(transaction_id, settlement.receipt, update, Flag.DOUBLE_COUNT)

    def _record_late_success(self, transaction_id: str, settlement: Settlement) -> bool:
        """Keep a success that came after another final state; the outbox owes a late-success event.
        False when its receipt pays another record (flagged, not kept as this record's)."""
        now = now_utc()
        late = {
            "receipt": settlement.receipt,
            "result_code": settlement.result_code,
            "result_desc": settlement.result_desc,
            "source": settlement.source.value,
            "paid_at": iso(settlement.paid_at) if settlement.paid_at else None,
            "received_at": iso(now),
        }
        update: dict[str, Any] = {
            "Key": record_key(transaction_id),
            "UpdateExpression": "SET late_success = :l, late_event_published = :false, updated_at = :u, "
            "pending_bucket = :outbox, next_check_at = :resend_at ADD flags :f",
            "ConditionExpression": "attribute_not_exists(late_success)",
            "ExpressionAttributeValues": {
                ":l": {k: v for k, v in late.items() if v is not None},
                ":false": False,
                ":u": iso(now),
                ":outbox": OUTBOX_BUCKET,
                ":resend_at": iso(now + OUTBOX_GRACE),
                ":f": {Flag.LATE_SUCCESS.value},
            },
        }
        if settlement.receipt:
            return self._write_claiming_receipt(
                transaction_id, settlement.receipt, update, Flag.COUNTED_BY_LINKED_RECORD
            )
        update_if(self._table, **update)
        return True

    def _write_claiming_receipt(self, transaction_id: str, receipt: str, update: dict[str, Any], linked: Flag) -> bool:
        """Apply `update` and claim the receipt in one transaction. False, with the record flagged, when
        another record holds the receipt; True otherwise (also when a concurrent writer got there first).

        When the holder is another flow's record of the same payment (a C2B confirmation of this STK
        payment), the update is applied without the claim and both records are linked: True. `linked` is
        the flag this record takes (and, for DOUBLE_COUNT, the holder too)."""
        try:
            update_and_claim(self._table, transaction_id, receipt, update)
        except ClientError as exc:
            if not transaction_cancelled(exc):
                raise
            reasons = cancellation_codes(exc)
            if not only_conditions_failed(reasons):
                raise
            if not receipt_refused(reasons):
                return True
            claim = read_claim(self._table, receipt)
            if claim is None or claim.holder_kind is None or claim.transaction_id == transaction_id:
                self._flag(transaction_id, Flag.DUPLICATE_RECEIPT)
                return False
            holder_flags = frozenset({linked.value}) if linked is Flag.DOUBLE_COUNT else frozenset()
            try:
                update_beside_holder(
                    self._table,
                    transaction_id,
                    claim,
                    with_link(update, claim.transaction_id, linked),
                    holder_key=record_key(claim.transaction_id),
                    holder_flags=holder_flags,
                )
            except ClientError as again:
                if not transaction_cancelled(again):
                    raise
                self._flag(transaction_id, Flag.DUPLICATE_RECEIPT)
                return False
        return True
