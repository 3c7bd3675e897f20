"""The day listings' parameters and cursor, and the events a record says it owes or announced."""

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from mpesa.errors import InputError
from mpesa.flows.b2c import B2cEvents
from mpesa.flows.c2b import C2BEvents
from mpesa.flows.stk import StkEvents, payment_view
from mpesa.records import NOT_SENT, Kind, NewRecord, Record, Status
from mpesa.records.listing import encode_cursor, list_day, parse_day_query
from mpesa.records.outbox import events_of
from tests.support.fakes import InMemoryRecordStore

LATE_EVENING = datetime(2026, 11, 26, 21, 30, tzinfo=UTC)  # already the 27th in Nairobi


def record(kind=Kind.STK, status=Status.SUCCESS, **changes):
    base = Record(kind, "t" * 32, status, "KE", "KES", 10, "254712345678", "2026-11-26T08:00:00.000Z", "")
    return replace(base, **changes)


def test_the_default_day_is_today_in_nairobi_fifty_at_a_time():
    query = parse_day_query(Kind.STK, {}, LATE_EVENING)
    assert (query.day, query.status, query.limit, query.position) == (date(2026, 11, 27), None, 50, None)
    query = parse_day_query(Kind.B2C, {"date": "2026-11-01", "status": "UNKNOWN", "limit": "100"}, LATE_EVENING)
    assert (query.day, query.status, query.limit) == (date(2026, 11, 1), Status.UNKNOWN, 100)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date": "2026-W48-4"}, "date"),
        ({"date": "2026-11-26T00:00:00"}, "date"),
        ({"status": "success"}, "status"),
        ({"limit": "٣"}, "limit"),  # a digit, but not an ASCII one
        ({"limit": "-1"}, "limit"),
        ({"from": "2026-11-01"}, "from"),
        ({"next": "x" * 3000}, "next"),
    ],
)
def test_a_bad_parameter_is_named(params, field):
    with pytest.raises(InputError) as error:
        parse_day_query(Kind.STK, params, LATE_EVENING)
    assert error.value.field == field


def test_a_cursor_is_valid_only_for_its_own_kind_date_and_status():
    cursor = encode_cursor({"0": "end"}, ["stk", "2026-11-26", "SUCCESS"])
    same = {"date": "2026-11-26", "status": "SUCCESS", "next": cursor}
    assert parse_day_query(Kind.STK, same, LATE_EVENING).position == {"0": "end"}
    for kind, params in [
        (Kind.B2C, same),
        (Kind.STK, {**same, "status": "FAILED"}),
        (Kind.STK, {**same, "date": "2026-11-25"}),
        (Kind.STK, {"date": "2026-11-26", "next": cursor}),
    ]:
        with pytest.raises(InputError) as error:
            parse_day_query(kind, params, LATE_EVENING)
        assert error.value.field == "next"


def test_a_page_shows_the_views_and_hands_back_a_cursor_for_the_rest():
    store = InMemoryRecordStore()
    for n in range(3):
        store.create_pending(NewRecord(Kind.STK, f"t{n}", "KE", "KES", 10, "254712345678", {}, LATE_EVENING))
    today = datetime.now(UTC)
    page = list_day(store, Kind.STK, {"limit": "2"}, today, payment_view, StkEvents())
    assert [item["transaction_id"] for item in page["items"]] == ["t2", "t1"]
    assert page["items"][0]["phone"] == "2547******78"
    rest = list_day(store, Kind.STK, {"limit": "2", "next": page["next"]}, today, payment_view, StkEvents())
    assert ([item["transaction_id"] for item in rest["items"]], rest["next"]) == (["t0"], None)


def test_a_record_lists_the_events_of_its_status_and_late_success():
    assert events_of(record(status=Status.PENDING), StkEvents()) == []
    assert events_of(record(status=Status.FAILED, result_code=NOT_SENT), StkEvents()) == []  # never left
    assert events_of(record(event_published=True), StkEvents()) == [
        {"type": "payment.succeeded", "event_id": f"{'t' * 32}:SUCCESS", "published": True}
    ]
    late = record(status=Status.TIMEOUT, late_success={"receipt": "R"}, late_event_published=False)
    assert [(e["type"], e["published"]) for e in events_of(late, StkEvents())] == [
        ("payment.timed_out", False),
        ("payment.late_success", False),
    ]
    assert [e["type"] for e in events_of(record(Kind.B2C, Status.UNKNOWN), B2cEvents())] == ["payout.outcome_unknown"]
    matched = record(Kind.C2B, details={"match": "paid"}, event_published=True, paid_at="2026-11-26T08:00:00Z")
    assert [e["type"] for e in events_of(matched, C2BEvents())] == ["c2b.received", "c2b.matched"]
