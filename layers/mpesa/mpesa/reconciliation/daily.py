"""The daily reconciliation: the ledger against M-Pesa's own statement, for one Nairobi day.

1. M-Pesa's view: the statement lines of every shortcode (Pull Transactions), over the day plus a
   margin on each side (a payment started at 23:59 may complete after midnight).
2. Each line completed that day is matched by its receipt's claim (a receipt pays one record only):
   amounts and parties are compared. A line no record holds is offered to each flow's reconciler,
   which may settle one of its open records from it (an UNKNOWN push whose answer was lost, a success
   settled by query that lacks its receipt; yesterday's open records too, for a push just before
   midnight); a line no flow takes is missing from the ledger (the C2B flow creates the payment a
   confirmation never brought). Lines in the hour after the day are the next day's to report, but may
   still settle one of the day's open records, which must not then be closed as absent.
   Records of markets the statement does not list (Tanzania) are left out of both directions: an open
   one is reported as still unknown, and the sweep resolves it through its provider's status query.
3. Each record of the day is checked the other way: a success whose receipt M-Pesa does not list is a
   discrepancy; an open record the statement did not settle goes back to its flow (an STK push absent
   from the closed window was never paid; a payout is asked about by Transaction Status).
4. Every discrepancy is announced once (`reconciliation.discrepancy`, event id by day, kind and
   reference) and counted; the day's report (mpesa.reconciliation.report) lists them.

Re-running a day changes nothing more: settlements are conditional, creations keyed, and only
discrepancies not in the day's previous report are announced again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Protocol

from mpesa.clock import NAIROBI, now_utc
from mpesa.reconciliation.findings import Discrepancy, DiscrepancyKind, Resolution, ResolutionKind
from mpesa.reconciliation.statement import Statement, StatementLine, StatementSource
from mpesa.records.model import NOT_SENT, Kind, Record, Status
from mpesa.records.outbox import Outbox
from mpesa.records.store import RecordStore
from mpesa.telemetry import count, logger

MARGIN = timedelta(hours=1)  # read the statement this much beyond the day on each side
CLOSED_AFTER = timedelta(hours=1)  # the day's window is closed once this long past its end
OWED_FOR = timedelta(minutes=15)  # an event owed this long after settling is sent by the daily run


class FlowReconciler(Protocol):
    """A flow's part in the daily reconciliation (flows/<name>/reconcile.py)."""

    kind: Kind

    def short_codes(self) -> Iterable[str]:
        """The shortcodes whose statements carry this flow's transactions."""
        ...

    def is_open(self, record: Record, now: datetime) -> bool:
        """Whether the statement may still tell this record something (UNKNOWN, stale, receipt missing)."""
        ...

    def may_be(self, line: StatementLine, record: Record) -> bool:
        """Whether an unclaimed line could be this open record's transaction."""
        ...

    def settle_from(self, record: Record, line: StatementLine) -> Resolution | Discrepancy:
        """Settle (or complete) the record from the line it was matched with."""
        ...

    def close(self, record: Record, window_closed: bool) -> Resolution | Discrepancy | None:
        """An open record the statement did not match: resolve it, ask about it, or report it."""
        ...

    def create_missing(self, line: StatementLine) -> Resolution | None:
        """A line no record holds: record it if it is this flow's to record (C2B); None otherwise."""
        ...


class Reports(Protocol):
    def announced(self, day: date) -> set[str]:
        """The discrepancy keys the day's previous report announced (empty when there is none)."""
        ...


@dataclass
class RunResult:
    day: date
    window_closed: bool
    records: list[Record]
    statement_lines: list[StatementLine]
    discrepancies: list[Discrepancy] = field(default_factory=list)
    resolutions: list[Resolution] = field(default_factory=list)
    announced: list[str] = field(default_factory=list)


def day_window(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=NAIROBI)
    return start, start + timedelta(days=1)


class DailyReconciliation:
    def __init__(
        self,
        store: RecordStore,
        statement: StatementSource,
        outbox: Outbox,
        reconcilers: Sequence[FlowReconciler],
        reports: Reports,
        *,
        statement_countries: frozenset[str] | None = None,
        review: Callable[[Record], None] | None = None,
    ) -> None:
        self._store = store
        # Compares a final record with the unauthenticated callbacks kept about it since it settled.
        self._review = review
        self._statement = statement
        self._outbox = outbox
        self._reconcilers = {reconciler.kind: reconciler for reconciler in reconcilers}
        self._reports = reports
        # The markets whose transactions the statement lists (Daraja's: Kenya); None: every market.
        self._statement_countries = statement_countries

    def _listed(self, record: Record) -> bool:
        return self._statement_countries is None or record.country in self._statement_countries

    def run(self, day: date, now: datetime | None = None) -> RunResult:
        now = now or now_utc()
        start, end = day_window(day)
        short_codes = [code for r in self._reconcilers.values() for code in r.short_codes()]
        statement = Statement.read(self._statement, short_codes, start - MARGIN, end + MARGIN)
        records = list(self._store.created_on(day))
        result = RunResult(day, now >= end + CLOSED_AFTER, records, statement.within(start, end))
        matched: set[str] = set()
        listed = [record for record in records if self._listed(record)]
        # A push made just before midnight may complete after it: yesterday's open records are candidates too.
        yesterday = self._store.created_on(day - timedelta(days=1))
        candidates = [*listed, *(record for record in yesterday if self._listed(record))]
        for line in result.statement_lines:
            self._match_line(line, candidates, matched, result, now)
        # Lines just after the day are the next day's to report, but may settle one of today's open
        # records (paid at 00:05 for a push at 23:59), which must not be closed as absent.
        for line in statement.within(end, end + MARGIN):
            if self._store.receipt_holder(line.receipt) is None:
                self._offer(line, listed, matched, result, now)
        for record in records:
            if record.transaction_id in matched:
                continue
            if self._listed(record):
                self._check_record(record, statement, result, now)
            else:
                self._check_unlisted(record, result, now)
        result.records = self._as_after(records, result.resolutions)
        self._follow_up(result.records, now)
        self._announce(result)
        logger.info(
            "reconciliation finished",
            extra={"date": day.isoformat(), "lines": len(result.statement_lines), "records": len(records)},
        )
        return result

    def _match_line(
        self, line: StatementLine, records: list[Record], matched: set[str], result: RunResult, now: datetime
    ) -> None:
        holder = self._store.receipt_holder(line.receipt)
        if holder is not None:
            matched.add(holder)
            self._compare(self._store.get(holder), line, result)
            return
        if self._offer(line, records, matched, result, now):
            return
        missing = Discrepancy(
            DiscrepancyKind.MISSING_IN_LEDGER, "mpesa", line.receipt, line.transaction_type, None, line.amount
        )
        result.discrepancies.append(missing)
        for reconciler in self._reconcilers.values():
            created = reconciler.create_missing(line)
            if created is not None:
                result.resolutions.append(created)
                break

    def _offer(
        self, line: StatementLine, records: list[Record], matched: set[str], result: RunResult, now: datetime
    ) -> bool:
        """Offer a line no record holds to the open records it may be; False when none may be it."""
        candidates = [
            (reconciler, record)
            for record in records
            if record.transaction_id not in matched
            and (reconciler := self._reconcilers.get(record.kind)) is not None
            and reconciler.is_open(record, now)
            and reconciler.may_be(line, record)
        ]
        if len(candidates) > 1:
            ids = ", ".join(record.transaction_id for _, record in candidates)
            result.discrepancies.append(
                Discrepancy(
                    DiscrepancyKind.AMBIGUOUS, "mpesa", line.receipt, f"could be any of: {ids}", None, line.amount
                )
            )
            matched.update(record.transaction_id for _, record in candidates)
            return True
        if candidates:
            reconciler, record = candidates[0]
            matched.add(record.transaction_id)
            self._collect(reconciler.settle_from(record, line), result)
            return True
        return False

    def _compare(self, record: Record, line: StatementLine, result: RunResult) -> None:
        if record.amount != line.amount:
            result.discrepancies.append(
                Discrepancy(
                    DiscrepancyKind.AMOUNT_MISMATCH,
                    record.kind.value,
                    line.receipt,
                    f"the ledger has {record.amount}, M-Pesa {line.amount}",
                    record.transaction_id,
                    line.amount,
                )
            )
        if record.msisdn.isdigit() and line.party and not line.party_may_be(record.msisdn):
            result.discrepancies.append(
                Discrepancy(
                    DiscrepancyKind.PARTY_MISMATCH,
                    record.kind.value,
                    line.receipt,
                    "M-Pesa names another party",
                    record.transaction_id,
                    line.amount,
                )
            )

    def _check_record(self, record: Record, statement: Statement, result: RunResult, now: datetime) -> None:
        if record.status is Status.SUCCESS and record.receipt and record.receipt not in statement.lines:
            result.discrepancies.append(
                Discrepancy(
                    DiscrepancyKind.NOT_IN_MPESA,
                    record.kind.value,
                    record.receipt,
                    "a success M-Pesa's statement does not list",
                    record.transaction_id,
                    record.amount,
                )
            )
            return
        reconciler = self._reconcilers.get(record.kind)
        if reconciler is not None and reconciler.is_open(record, now):
            self._collect(reconciler.close(record, result.window_closed), result)

    def _as_after(self, records: list[Record], resolutions: list[Resolution]) -> list[Record]:
        """The day's records as the run left them (the report is of the ledger after reconciliation)."""
        changed = {r.transaction_id for r in resolutions if r.kind is not ResolutionKind.ASKED}
        after = [self._store.get(r.transaction_id) if r.transaction_id in changed else r for r in records]
        known = {r.transaction_id for r in records}
        created = [r.transaction_id for r in resolutions if r.kind is ResolutionKind.CREATED]
        return after + [self._store.get(tid) for tid in created if tid not in known]

    def _check_unlisted(self, record: Record, result: RunResult, now: datetime) -> None:
        """A record of a market the statement does not list (Tanzania: the OpenAPI has none): never judged
        by its absence; an open one is reported, and the sweep keeps asking its provider's status query."""
        reconciler = self._reconcilers.get(record.kind)
        if reconciler is not None and reconciler.is_open(record, now):
            result.discrepancies.append(
                Discrepancy(
                    DiscrepancyKind.STILL_UNKNOWN,
                    record.kind.value,
                    record.transaction_id,
                    f"no statement of {record.country} is read; the sweep asks its provider",
                    record.transaction_id,
                    record.amount,
                )
            )

    @staticmethod
    def _collect(outcome: Resolution | Discrepancy | None, result: RunResult) -> None:
        if isinstance(outcome, Resolution):
            result.resolutions.append(outcome)
        elif isinstance(outcome, Discrepancy):
            result.discrepancies.append(outcome)

    def _follow_up(self, records: list[Record], now: datetime) -> None:
        """The last net under every record of the day: an event still owed long after settling is sent
        (the sweep's pass sent it unless the record settled after that), and unauthenticated callbacks
        that came after the record settled are compared with it."""
        for record in records:
            if not record.status.is_final:
                continue
            settled_at = datetime.fromisoformat(record.settled_at) if record.settled_at else now
            if not record.event_published and record.result_code != NOT_SENT and now - settled_at > OWED_FOR:
                self._outbox.settled(record, first_time=False)
            if self._review is not None:
                self._review(record)

    def _announce(self, result: RunResult) -> None:
        already = self._reports.announced(result.day)
        count("Discrepancies", len(result.discrepancies))
        for discrepancy in result.discrepancies:
            count(f"Discrepancy_{discrepancy.kind.value}")
            key = discrepancy.key(result.day)
            if key in already:
                continue
            self._outbox.notify(discrepancy.announcement(result.day))
            result.announced.append(key)
        count("ReconciliationRun")
