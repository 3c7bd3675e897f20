"""The sweep's due records: one record's trouble does not stop the run (nor the next flows'), and a run
short of time stops there."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mpesa.clock import Deadline, now_utc
from mpesa.errors import InputError
from mpesa.reconciliation.stragglers import RETRY_AFTER
from mpesa.reconciliation.sweep import Sweep
from mpesa.records import Kind, Record
from mpesa.records.outbox import Outbox
from tests.support.fakes import InMemoryRecordStore, RecordingPublisher
from tests.unit.reconciliation.test_stragglers import Running, create


@dataclass
class Resolver:
    kind: Kind
    seen: list[str] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)

    def resolve_due(self, record: Record, now: datetime, deadline: Deadline | None) -> list[str]:
        self.seen.append(record.transaction_id)
        if record.transaction_id in self.broken:
            raise InputError("country", "TZ is not configured")  # its OpenAPI credentials were removed
        return ["resolved"]


def test_one_record_that_raises_does_not_stop_the_run_and_is_looked_at_again_later():
    store = InMemoryRecordStore()
    stk, b2c = Resolver(Kind.STK, broken={"s0"}), Resolver(Kind.B2C)
    sweep = Sweep(store, Outbox(store, RecordingPublisher(), {}), [stk, b2c])
    create(store, "s0", watched=True)  # oldest first: it comes first every run
    create(store, "s1", watched=True)
    create(store, "p0", kind=Kind.B2C, watched=True)
    now = now_utc() + timedelta(seconds=1)
    assert sweep.run(now) == {"resolve_failed": 1, "resolved": 2}
    assert (stk.seen, b2c.seen) == (["s0", "s1"], ["p0"])  # the payouts are resolved too
    assert [r.transaction_id for r in store.due(Kind.STK.value, now + RETRY_AFTER)] == ["s1", "s0"]
    assert "s0" not in [r.transaction_id for r in store.due(Kind.STK.value, now + timedelta(minutes=1))]


def test_a_run_short_of_time_stops_and_leaves_the_rest_to_the_next():
    store = InMemoryRecordStore()
    stk, b2c = Resolver(Kind.STK), Resolver(Kind.B2C)
    sweep = Sweep(store, Outbox(store, RecordingPublisher(), {}), [stk, b2c])
    for n in range(3):
        create(store, f"s{n}", watched=True)
    create(store, "p0", kind=Kind.B2C, watched=True)
    assert sweep.run(now_utc() + timedelta(seconds=1), deadline=Running(1)) == {"resolved": 1, "left_for_next_run": 1}
    assert (stk.seen, b2c.seen) == (["s0"], [])
