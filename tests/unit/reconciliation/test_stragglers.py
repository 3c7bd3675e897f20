"""The sweep's pass over the day index: each record is looked at once after its wait, in order; a run
short of time leaves the rest (and its watermark) for the next; a check's trouble does not stop the pass."""

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mpesa.clock import Deadline, now_utc
from mpesa.reconciliation.stragglers import MAX_HOLDS, RETRY_AFTER, StragglerPass
from mpesa.records import Kind, NewRecord, Record, Status
from mpesa.records.outbox import Outbox
from tests.support.fakes import InMemoryRecordStore, RecordingPublisher


@dataclass
class Check:
    kind: Kind = Kind.STK
    wait_s: int = 60
    seen: list[str] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)

    def check(self, record: Record, now: datetime, deadline: Deadline | None) -> list[str]:
        if record.transaction_id in self.broken:
            raise RuntimeError("DynamoDB throttled")
        self.seen.append(record.transaction_id)
        return ["checked"]


def create(store, transaction_id, kind=Kind.STK, watched=False):
    time.sleep(0.002)  # records a millisecond apart, as the watermark counts
    store.create_pending(
        NewRecord(
            kind=kind,
            transaction_id=transaction_id,
            country="KE",
            currency="KES",
            amount=10,
            msisdn="254712345678",
            details={},
            next_check_at=now_utc() if watched else None,
        )
    )


def test_each_record_is_checked_once_after_its_wait_and_only_its_flows():
    store, check = InMemoryRecordStore(), Check()
    stragglers = StragglerPass(store, Outbox(store, RecordingPublisher(), {}), [check])
    for n in range(3):
        create(store, f"t{n}")
    create(store, "payout", kind=Kind.B2C)
    create(store, "watched", watched=True)  # in the pending index: the sweep's other half has it
    assert stragglers.run(now_utc()) == {}
    later = now_utc() + timedelta(seconds=61)
    assert stragglers.run(later) == {"checked": 3}
    assert check.seen == ["t0", "t1", "t2"]
    assert stragglers.run(later + timedelta(minutes=1)) == {}  # past the watermark: never again


def test_a_backlog_is_read_a_slice_at_a_time_and_every_record_is_checked():
    store, check = InMemoryRecordStore(), Check()
    stragglers = StragglerPass(store, Outbox(store, RecordingPublisher(), {}), [check], max_records=2)
    for n in range(5):
        create(store, f"t{n}")
    later = now_utc() + timedelta(seconds=61)
    for run in range(4):
        stragglers.run(later + timedelta(seconds=run))
    # Each slice starts at the previous slice's last record (looked at again: harmless), so every record is
    # checked, in order, and a run never reads more than its slice.
    assert sorted(set(check.seen)) == ["t0", "t1", "t2", "t3", "t4"]
    assert [t for n, t in enumerate(check.seen) if t not in check.seen[:n]] == ["t0", "t1", "t2", "t3", "t4"]


class Running:
    """A deadline with room for `steps` checks."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def remaining_s(self) -> float:
        self.steps -= 1
        return 100.0 if self.steps >= 0 else 1.0


def test_a_run_short_of_time_leaves_the_rest_to_the_next():
    store, check = InMemoryRecordStore(), Check()
    stragglers = StragglerPass(store, Outbox(store, RecordingPublisher(), {}), [check])
    for n in range(4):
        create(store, f"t{n}")
    later = now_utc() + timedelta(seconds=61)
    assert stragglers.run(later, deadline=Running(2)) == {"checked": 2, "left_for_next_run": 1}
    assert stragglers.run(later) == {"checked": 2}
    assert check.seen == ["t0", "t1", "t2", "t3"]


def test_one_checks_trouble_does_not_stop_the_pass():
    store, check = InMemoryRecordStore(), Check(broken={"t0"})
    stragglers = StragglerPass(store, Outbox(store, RecordingPublisher(), {}), [check])
    create(store, "t0")
    create(store, "t1")
    assert stragglers.run(now_utc() + timedelta(seconds=61)) == {"check_failed": 1, "checked": 1}
    assert store.get("t0").status is Status.PENDING  # looked at again by the sweep (below)


def test_a_failed_check_hands_the_record_to_the_sweeps_due_records():
    """The watermark moves past it and nothing else would look at it again (no pending index entry, no
    timeout flow): it is rescheduled in its flow's partition, where the sweep resolves it."""
    store, check = InMemoryRecordStore(), Check(broken={"t0"})
    stragglers = StragglerPass(store, Outbox(store, RecordingPublisher(), {}), [check])
    create(store, "t0")
    later = now_utc() + timedelta(seconds=61)
    assert stragglers.run(later) == {"check_failed": 1}
    assert store.due(Kind.STK.value, later) == []  # not at once: after RETRY_AFTER
    (due,) = store.due(Kind.STK.value, later + RETRY_AFTER)
    assert (due.transaction_id, due.status, due.pending_bucket) == ("t0", Status.PENDING, Kind.STK.value)


class Unwritable(InMemoryRecordStore):
    """DynamoDB throttling every reschedule."""

    def reschedule(self, kind, transaction_id, next_check_at):
        raise RuntimeError("ProvisionedThroughputExceededException")


def test_a_record_neither_checked_nor_deferred_holds_the_watermark_a_few_runs_then_is_passed_over():
    store, check = Unwritable(), Check(broken={"t0"})
    stragglers = StragglerPass(store, Outbox(store, RecordingPublisher(), {}), [check])
    create(store, "t0")
    create(store, "t1")
    later = now_utc() + timedelta(seconds=61)
    for run in range(MAX_HOLDS - 1):  # the next run starts at it again
        assert stragglers.run(later + timedelta(minutes=run)) == {"check_held": 1}
    assert check.seen == []
    check.broken.clear()  # the trouble passed: checked, and the pass goes on
    assert stragglers.run(later + timedelta(minutes=5)) == {"checked": 2}
    assert check.seen == ["t0", "t1"]


def test_a_poison_record_does_not_stop_every_later_run():
    store, check = Unwritable(), Check(broken={"t0"})
    stragglers = StragglerPass(store, Outbox(store, RecordingPublisher(), {}), [check])
    create(store, "t0")
    create(store, "t1")
    later = now_utc() + timedelta(seconds=61)
    for run in range(MAX_HOLDS - 1):
        assert stragglers.run(later + timedelta(minutes=run)) == {"check_held": 1}
    # Logged and counted, left to the daily reconciliation; the records after it are checked.
    assert stragglers.run(later + timedelta(minutes=5)) == {"check_abandoned": 1, "checked": 1}
    assert check.seen == ["t1"]
    assert stragglers.run(later + timedelta(minutes=6)) == {}
