"""The RecordStore contract, run against DynamoDB (moto, the template's table) and the in-memory fake
the unit tests use: the same cases, the same answers."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from moto import mock_aws

from mpesa.clock import NAIROBI, now_utc
from mpesa.errors import InputError
from mpesa.records import (
    NOT_SENT,
    OUTBOX_BUCKET,
    Flag,
    Kind,
    NewRecord,
    RecordExistsError,
    RecordNotFoundError,
    Ref,
    RefMismatchError,
    SettledBy,
    Settlement,
    Status,
)
from mpesa.records.day_index import DAY_SHARDS, day_partition
from mpesa.records.dynamodb import DynamoRecordStore
from tests.support.fakes import InMemoryRecordStore
from tests.support.stack import create_tables

PAID_AT = datetime(2026, 11, 26, 7, 21, 15, tzinfo=UTC)


@pytest.fixture(params=["dynamodb", "memory"])
def store(request) -> Iterator[object]:
    if request.param == "memory":
        yield InMemoryRecordStore()
        return
    with mock_aws():
        create_tables()
        yield DynamoRecordStore("TransactionsTable")


def new(transaction_id="t1", **overrides):
    values = {
        "kind": Kind.STK,
        "transaction_id": transaction_id,
        "country": "KE",
        "currency": "KES",
        "amount": 10,
        "msisdn": "254712345678",
        "details": {"account_reference": "ORDER1", "transaction_desc": "Test"},
        "next_check_at": now_utc() + timedelta(minutes=5),
    }
    values.update(overrides)
    return NewRecord(**values)


def success(receipt="RKT1AB2CD3", cid="ws_CO_1", source=SettledBy.CALLBACK):
    return Settlement(
        Status.SUCCESS, "0", "ok", source, refs={Ref.CHECKOUT_REQUEST_ID: cid}, receipt=receipt, paid_at=PAID_AT
    )


def test_a_record_is_created_once(store):
    created = store.create_pending(new())
    assert (created.status, created.amount, created.details["account_reference"]) == (Status.PENDING, 10, "ORDER1")
    with pytest.raises(RecordExistsError) as exists:
        store.create_pending(new(amount=11))
    assert exists.value.record.amount == 10
    with pytest.raises(RecordNotFoundError):
        store.get("nobody")


def test_a_request_that_never_left_may_be_replaced(store):
    store.create_pending(new())
    store.settle("t1", Settlement(Status.FAILED, NOT_SENT, "refused", SettledBy.INITIATION))
    store.close_not_sent("t1")
    assert store.create_pending(new(amount=12)).amount == 12


def test_refs_are_stored_and_a_different_one_is_refused_and_flagged(store):
    store.create_pending(new())
    store.attach_refs("t1", {Ref.CHECKOUT_REQUEST_ID: "ws_CO_1", Ref.MERCHANT_REQUEST_ID: "m1"})
    assert store.get("t1").checkout_request_id == "ws_CO_1"
    # Not indexed (a push's callback names its record in the URL): no index write per payment.
    assert store.find(Kind.STK, Ref.CHECKOUT_REQUEST_ID, "ws_CO_1") is None
    with pytest.raises(RefMismatchError):
        store.attach_refs("t1", {Ref.CHECKOUT_REQUEST_ID: "ws_CO_2"})
    assert store.get("t1").flags == (Flag.CALLBACK_MISMATCH.value,)


def test_a_payout_is_found_by_its_conversation_id(store):
    store.create_pending(new("p1", kind=Kind.B2C))
    store.attach_refs("p1", {Ref.CONVERSATION_ID: "AG_1"})
    assert store.find(Kind.B2C, Ref.CONVERSATION_ID, "AG_1").transaction_id == "p1"
    assert store.find(Kind.B2C, Ref.CONVERSATION_ID, "AG_2") is None
    assert store.find(Kind.STK, Ref.CONVERSATION_ID, "AG_1") is None


def test_a_record_settles_once_and_enters_the_outbox(store):
    store.create_pending(new())
    first = store.settle("t1", success())
    second = store.settle("t1", success())
    assert (first.changed, second.changed) == (True, False)
    record = store.get("t1")
    assert (record.status, record.receipt, record.settled_by, record.checkout_request_id) == (
        Status.SUCCESS,
        "RKT1AB2CD3",
        SettledBy.CALLBACK,
        "ws_CO_1",
    )
    assert [r.transaction_id for r in store.due(OUTBOX_BUCKET, now_utc() + timedelta(minutes=3))] == ["t1"]
    store.mark_event_published("t1", Status.SUCCESS)
    assert store.due(OUTBOX_BUCKET, now_utc() + timedelta(minutes=3)) == []


def test_a_record_outside_the_pending_index_settles_without_entering_it(store):
    store.create_pending(new(next_check_at=None))
    assert store.get("t1").pending_bucket is None
    assert store.settle("t1", success()).changed
    record = store.get("t1")
    assert (record.status, record.pending_bucket, record.event_published) == (Status.SUCCESS, None, False)
    assert store.due(OUTBOX_BUCKET, now_utc() + timedelta(hours=1)) == []
    assert store.owe_event("t1", now_utc())  # the sweep hands an owed event to the outbox partition
    assert [r.transaction_id for r in store.due(OUTBOX_BUCKET, now_utc() + timedelta(seconds=1))] == ["t1"]
    store.mark_event_published("t1", Status.SUCCESS)
    assert store.get("t1").pending_bucket is None
    assert not store.owe_event("t1", now_utc())  # published: nothing owed


def test_an_open_record_enters_the_pending_index_when_watched_and_settles_into_the_outbox(store):
    store.create_pending(new(next_check_at=None))
    assert store.reschedule(Kind.STK, "t1", now_utc() + timedelta(minutes=5))
    assert store.get("t1").pending_bucket == Kind.STK.value
    assert not store.reschedule(Kind.B2C, "t1", now_utc())  # another flow's partition: refused
    assert store.settle("t1", success()).changed
    assert store.get("t1").pending_bucket == OUTBOX_BUCKET
    assert not store.reschedule(Kind.STK, "t1", now_utc())  # final: left alone


def test_a_receipt_the_record_does_not_keep_is_not_left_claimed(store):
    store.create_pending(new())
    store.settle("t1", success(receipt="RKT1AB2CD3"))
    result = store.settle("t1", success(receipt="RKT9ZZZZZZ"))  # another receipt for a paid record
    assert result.contradicts
    assert store.receipt_holder("RKT1AB2CD3") == "t1"
    assert store.receipt_holder("RKT9ZZZZZZ") is None  # free for the record it really pays


def test_records_created_in_a_span_are_listed_by_kind_oldest_first(store):
    import time

    start = now_utc()
    for name in ("a", "b"):
        time.sleep(0.002)
        store.create_pending(new(name, next_check_at=None))
    store.create_pending(new("p", kind=Kind.B2C, next_check_at=None))
    end = now_utc() + timedelta(seconds=1)
    assert [r.transaction_id for r in store.created_between(Kind.STK, start, end)] == ["a", "b"]
    assert [r.transaction_id for r in store.created_between(Kind.B2C, start, end)] == ["p"]
    assert store.created_between(Kind.STK, end, end + timedelta(minutes=1)) == []
    assert [r.transaction_id for r in store.created_between(Kind.STK, start, end, limit=1)] == ["a"]  # the oldest
    assert store.watermark("stragglers-stk") is None
    store.set_watermark("stragglers-stk", end)
    assert store.watermark("stragglers-stk") == end.replace(microsecond=end.microsecond // 1000 * 1000)


def test_a_settlement_naming_another_checkout_id_is_flagged_not_applied(store):
    store.create_pending(new())
    store.attach_refs("t1", {Ref.CHECKOUT_REQUEST_ID: "ws_CO_1"})
    result = store.settle("t1", success(cid="ws_CO_other"))
    assert not result.changed
    assert result.record.status is Status.PENDING
    assert result.record.flags == (Flag.CALLBACK_MISMATCH.value,)


def test_a_receipt_pays_one_record_only(store):
    store.create_pending(new("t1"))
    store.create_pending(new("t2"))
    store.settle("t1", success(cid="ws_CO_1"))
    result = store.settle("t2", success(cid="ws_CO_2"))
    assert not result.changed
    assert result.record.status is Status.PENDING
    assert result.record.flags == (Flag.DUPLICATE_RECEIPT.value,)


def test_a_query_settled_success_gets_its_receipt_from_the_later_callback(store):
    store.create_pending(new())
    store.settle(
        "t1", Settlement(Status.SUCCESS, "0", "ok", SettledBy.QUERY, refs={Ref.CHECKOUT_REQUEST_ID: "ws_CO_1"})
    )
    result = store.settle("t1", success())
    assert result.receipt_filled
    assert store.get("t1").receipt == "RKT1AB2CD3"


def test_a_success_after_another_final_state_is_kept_once(store):
    store.create_pending(new())
    store.settle("t1", Settlement(Status.TIMEOUT, "1037", "timeout", SettledBy.CALLBACK))
    late = store.settle("t1", success(receipt="LATE123456"))
    assert late.late_success
    assert not late.changed
    record = store.get("t1")
    assert (record.status, record.late_success["receipt"], record.late_event_published) == (
        Status.TIMEOUT,
        "LATE123456",
        False,
    )
    assert record.flags == (Flag.LATE_SUCCESS.value,)
    assert not store.settle("t1", success(receipt="LATE123456")).late_success
    store.mark_late_event_published("t1")
    assert store.get("t1").late_event_published


@pytest.mark.parametrize("first", ["settled", "late"])
def test_a_record_leaves_the_outbox_only_when_neither_event_is_owed(store, first):
    """A settled event still owed (the bus refused it) and a late success's: marking one published keeps
    the record in the outbox partition for the other, whichever is marked first."""
    store.create_pending(new())
    store.settle("t1", Settlement(Status.TIMEOUT, "1037", "timeout", SettledBy.CALLBACK))
    assert store.settle("t1", success(receipt="LATE123456")).late_success
    marks = {
        "settled": lambda: store.mark_event_published("t1", Status.TIMEOUT),
        "late": lambda: store.mark_late_event_published("t1"),
    }
    marks.pop(first)()
    owed = store.get("t1")
    assert owed.pending_bucket == OUTBOX_BUCKET
    assert [r.transaction_id for r in store.due(OUTBOX_BUCKET, now_utc() + timedelta(hours=1))] == ["t1"]
    (last,) = marks.values()
    last()
    done = store.get("t1")
    assert (done.event_published, done.late_event_published, done.pending_bucket) == (True, True, None)
    assert store.due(OUTBOX_BUCKET, now_utc() + timedelta(hours=1)) == []


def test_a_weaker_answer_after_a_final_state_changes_nothing(store):
    store.create_pending(new())
    store.settle("t1", success())
    result = store.settle("t1", Settlement(Status.FAILED, "1", "no", SettledBy.QUERY))
    assert not result.changed
    assert result.record.status is Status.SUCCESS


def test_unknown_is_not_final_and_comes_due_again(store):
    store.create_pending(new())
    recheck = now_utc() + timedelta(minutes=15)
    assert store.mark_unknown(Kind.STK, "t1", "no answer", recheck).changed
    assert not store.mark_unknown(Kind.STK, "t1", "no answer", recheck).changed
    assert store.due("stk", now_utc()) == []
    assert [r.status for r in store.due("stk", recheck)] == [Status.UNKNOWN]
    store.reschedule(Kind.STK, "t1", recheck + timedelta(hours=1))
    assert store.due("stk", recheck) == []
    assert store.settle("t1", success()).changed


def test_marking_unknown_answers_with_what_it_wrote_when_a_settlement_lands_right_after_it():
    """The writer that moved a record to UNKNOWN announces UNKNOWN. A settlement that lands between its
    write and a read-back must not be announced by it as well: the fault soak saw a payout's Transaction
    Status Result settle it just after the timeout flow marked it UNKNOWN, and two payout.succeeded."""
    with mock_aws():
        create_tables()
        store = DynamoRecordStore("TransactionsTable")
        settler = DynamoRecordStore("TransactionsTable")  # another Lambda, settling the same record
        store.create_pending(new())
        table_update = store._table.update_item

        def update_then_settle(**update):
            answer = table_update(**update)
            if ":unknown" in update["ExpressionAttributeValues"]:
                assert settler.settle("t1", success()).changed
            return answer

        store._table.update_item = update_then_settle
        result = store.mark_unknown(Kind.STK, "t1", "no answer", now_utc() + timedelta(minutes=15))
        assert result.changed
        assert result.record.status is Status.UNKNOWN
        assert store.get("t1").status is Status.SUCCESS


def test_due_records_come_oldest_first_within_the_limit(store):
    base = now_utc()
    for n, minutes in enumerate((30, 10, 20)):
        store.create_pending(new(f"t{n}", next_check_at=base + timedelta(minutes=minutes)))
    due = store.due("stk", base + timedelta(hours=1), limit=2)
    assert [r.transaction_id for r in due] == ["t1", "t2"]


def test_a_day_lists_the_records_created_on_it_and_receipts_name_their_record(store):
    for n in range(12):
        store.create_pending(new(f"t{n}"))
    store.settle("t3", success())
    today = now_utc().astimezone(NAIROBI).date()
    assert sorted(r.transaction_id for r in store.created_on(today)) == sorted(f"t{n}" for n in range(12))
    assert list(store.created_on(today - timedelta(days=1))) == []
    assert store.receipt_holder("RKT1AB2CD3") == "t3"
    assert store.receipt_holder("NOSUCH0000") is None


def test_an_answer_that_contradicts_a_final_record_is_reported(store):
    store.create_pending(new("t1"))
    store.create_pending(new("t2"))
    store.settle("t1", success(receipt="RCPT000001"))
    assert store.settle("t1", Settlement(Status.FAILED, "1", "no", SettledBy.QUERY)).contradicts
    assert store.settle("t1", success(receipt="RCPT000002")).contradicts
    assert not store.settle("t1", success(receipt="RCPT000001")).contradicts  # a plain duplicate
    assert store.settle("t2", success(receipt="RCPT000001", cid="ws_CO_2")).contradicts  # pays another record


def payout(transaction_id="p1", ocid="0f1e2d3c-ocid"):
    return new(
        transaction_id,
        kind=Kind.B2C,
        details={"command_id": "BusinessPayment", "remarks": "Refund"},
        refs={Ref.ORIGINATOR_CONVERSATION_ID: ocid},
    )


def test_a_payout_keeps_the_id_we_chose_before_the_call_and_is_found_by_conversation_id(store):
    created = store.create_pending(payout())
    assert created.ref(Ref.ORIGINATOR_CONVERSATION_ID) == "0f1e2d3c-ocid"
    store.attach_refs("p1", {Ref.CONVERSATION_ID: "AG_1"})
    assert store.find(Kind.B2C, Ref.CONVERSATION_ID, "AG_1").transaction_id == "p1"
    assert store.find(Kind.STK, Ref.CONVERSATION_ID, "AG_1") is None
    assert store.get("p1").ref(Ref.ORIGINATOR_CONVERSATION_ID) == "0f1e2d3c-ocid"


def test_a_settlement_adds_its_facts_to_the_details(store):
    store.create_pending(payout())
    settled = store.settle(
        "p1",
        Settlement(
            Status.SUCCESS,
            "0",
            "ok",
            SettledBy.CALLBACK,
            refs={Ref.ORIGINATOR_CONVERSATION_ID: "0f1e2d3c-ocid", Ref.CONVERSATION_ID: "AG_1"},
            receipt="B2C1AB2CD3",
            details={"recipient_registered": "Y", "utility_account_balance": "990.00"},
        ),
    )
    assert settled.changed
    assert dict(store.get("p1").details) == {
        "command_id": "BusinessPayment",
        "remarks": "Refund",
        "recipient_registered": "Y",
        "utility_account_balance": "990.00",
    }
    assert store.get("p1").ref(Ref.CONVERSATION_ID) == "AG_1"


def test_a_settlement_naming_another_originator_conversation_id_is_refused(store):
    store.create_pending(payout())
    result = store.settle(
        "p1", Settlement(Status.FAILED, "1", "no", SettledBy.CALLBACK, refs={Ref.ORIGINATOR_CONVERSATION_ID: "other"})
    )
    assert not result.changed
    assert result.record.status is Status.PENDING
    assert result.record.flags == (Flag.CALLBACK_MISMATCH.value,)


# --- listing a day ------------------------------------------------------------------------------

DAY = date(2026, 11, 26)  # a Nairobi day
MORNING = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)  # 08:00 in Nairobi


@pytest.fixture
def clock(monkeypatch):
    """The stores' clock, from 08:00 Nairobi on DAY, a second later at each reading unless frozen."""
    state = {"now": MORNING, "step": timedelta(seconds=1)}

    def now():
        state["now"] += state["step"]
        return state["now"]

    for module in ("mpesa.records.dynamodb", "mpesa.records.items", "mpesa.records.settlement", "tests.support.fakes"):
        monkeypatch.setattr(f"{module}.now_utc", now)
    return state


def listed(store, kind=Kind.STK, *, day=DAY, status=None, limit=7):
    """Every page of the listing, in order, checking each page's size."""
    seen, position = [], None
    for _ in range(500):
        page = store.page_of_day(kind, day, status, limit, position)
        assert len(page.records) <= limit
        assert all(r.kind is kind and (status is None or r.status is status) for r in page.records)
        seen.extend(r.transaction_id for r in page.records)
        position = page.position
        if position is None:
            return seen
    raise AssertionError("the listing never ended")


def test_a_day_is_listed_newest_first_across_shards_without_duplicates_or_gaps(store, clock):
    clock["now"] = MORNING - timedelta(days=1)
    store.create_pending(new("yesterday"))
    clock["now"] = MORNING
    stk = []
    for n in range(120):
        stk.append(f"t{n:03d}")
        store.create_pending(new(stk[-1]))
        if n % 24 == 0:
            store.create_pending(payout(f"p{n:03d}", ocid=f"ocid-{n}"))
    assert len({day_partition(DAY, tid) for tid in stk}) == DAY_SHARDS  # the records span every shard
    assert listed(store) == stk[::-1]
    assert listed(store, limit=100) == stk[::-1]
    assert listed(store, Kind.B2C) == ["p096", "p072", "p048", "p024", "p000"]
    assert listed(store, day=DAY - timedelta(days=1)) == ["yesterday"]
    assert listed(store, day=DAY + timedelta(days=1)) == []


def test_records_created_at_the_same_instant_are_each_listed_once(store, clock):
    clock["step"] = timedelta(0)
    ids = [f"t{n:02d}" for n in range(30)]
    for tid in ids:
        store.create_pending(new(tid))
    seen = listed(store, limit=4)
    assert sorted(seen) == ids


def test_the_day_is_nairobis(store, clock):
    clock["now"] = datetime(2026, 11, 25, 21, 29, 59, tzinfo=UTC)  # 00:30 on DAY in Nairobi
    store.create_pending(new("just-after-midnight"))
    assert listed(store) == ["just-after-midnight"]
    assert listed(store, day=DAY - timedelta(days=1)) == []


def test_a_status_filter_lists_only_records_in_that_status(store, clock):
    ids = [f"t{n:02d}" for n in range(20)]
    for tid in ids:
        store.create_pending(new(tid))
    paid = ids[::3]
    for n, tid in enumerate(paid):
        store.settle(tid, success(receipt=f"RCPT{n:06d}", cid=f"ws_CO_{tid}"))
    store.mark_unknown(Kind.STK, "t01", "no answer", MORNING + timedelta(hours=1))
    assert listed(store, status=Status.SUCCESS, limit=3) == paid[::-1]
    assert listed(store, status=Status.UNKNOWN) == ["t01"]
    assert listed(store, status=Status.PENDING) == [t for t in ids[::-1] if t not in paid and t != "t01"]
    assert listed(store, status=Status.CANCELLED) == []


@pytest.mark.parametrize("position", [{"9": "end"}, {"0": "garbage"}, {"after": "x"}, {"0": "2026-11-26 txn#1"}])
def test_a_forged_position_is_the_callers_error(store, position):
    with pytest.raises(InputError) as error:
        store.page_of_day(Kind.STK, DAY, None, 7, position)
    assert error.value.field == "next"


def test_a_page_reads_a_bounded_part_of_the_index_and_the_next_carries_on(monkeypatch, clock):
    # Few payments among many payouts, with one index read of 2 entries per shard per page: pages come
    # short or empty, each moves on, and the payments still come once each, newest first.
    monkeypatch.setattr("mpesa.records.day_index.MIN_READ", 1)
    monkeypatch.setattr("mpesa.records.day_index.QUERY_BUDGET", DAY_SHARDS)
    with mock_aws():
        create_tables()
        store = DynamoRecordStore("TransactionsTable")
        for n in range(40):
            store.create_pending(payout(f"p{n:02d}", ocid=f"ocid-{n}"))
            if n % 13 == 5:
                store.create_pending(new(f"t{n:02d}"))
        pages = []
        position = None
        while True:
            page = store.page_of_day(Kind.STK, DAY, None, 2, position)
            pages.append([r.transaction_id for r in page.records])
            position = page.position
            if position is None:
                break
        assert [tid for p in pages for tid in p] == ["t31", "t18", "t05"]
        assert any(p == [] for p in pages)  # the budget ran out before the page was full


def test_a_send_is_claimed_once_and_only_while_pending(store):
    store.create_pending(new(refs={Ref.THIRD_PARTY_CONVERSATION_ID: "a" * 32}))
    assert store.get("t1").send_claimed_at is None
    assert store.claim_send("t1") is True
    assert store.claim_send("t1") is False  # a retry or a re-run: never sent again
    assert store.get("t1").send_claimed_at is not None
    assert store.get("t1").ref(Ref.THIRD_PARTY_CONVERSATION_ID) == "a" * 32
    assert store.claim_send("nobody") is False
    store.create_pending(new("t2"))
    store.settle("t2", Settlement(Status.FAILED, NOT_SENT, "refused", SettledBy.INITIATION))
    assert store.claim_send("t2") is False  # final: nothing to send


def test_a_replaced_request_is_claimed_afresh(store):
    store.create_pending(new())
    store.claim_send("t1")
    store.settle("t1", Settlement(Status.FAILED, NOT_SENT, "the flow never started", SettledBy.INITIATION))
    replaced = store.create_pending(new(refs={Ref.THIRD_PARTY_CONVERSATION_ID: "b" * 32}))
    assert replaced.send_claimed_at is None
    assert store.claim_send("t1") is True
