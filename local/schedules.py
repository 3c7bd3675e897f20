"""EventBridge schedules, driven locally by a loop (moto stores schedules but never fires them).

Supported expressions:
* `rate(N minute|minutes|hour|hours|day|days)`: first run N units after the stack starts, as on AWS;
  `rate(N second|seconds)` too, which AWS refuses: the local stack's own schedules use it (project.py);
* `cron(minutes hours day-of-month month day-of-week year)`: numbers, `*`, `?`, ranges `a-b`,
  lists `a,b`, steps `*/n` and `a-b/n`, month and weekday names; evaluated in the schedule's time
  zone (UTC unless `ScheduleExpressionTimezone`). `L`, `W` and `#` are not supported: a field that
  uses them matches every value (a warning says so). The year field is ignored.
* `at(yyyy-mm-ddThh:mm:ss)`: one run at that time, if it is still in the future.
"""

from __future__ import annotations

import json
import re
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from local.template import Schedule

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(second|seconds|minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {name: index for index, name in enumerate(_MONTH_NAMES, 1)}
_DAYS = {name: index for index, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}


class ScheduleError(ValueError):
    pass


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """The values a cron field allows, or None for "any"."""
    text = text.strip().upper()
    if text in {"*", "?"}:
        return None
    if any(char in text for char in "LW#"):
        return None
    allowed: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in {"*", "?"}:
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(part, names)
            end = high if step != 1 else start
        if not (low <= start <= high and low <= end <= high):
            raise ScheduleError(f"cron field {text!r}: {part} is outside {low}-{high}")
        allowed.update(range(start, end + 1, step))
    return allowed


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text in names:
        return names[text]
    return int(text)


@dataclass
class Cron:
    minutes: set[int] | None
    hours: set[int] | None
    days: set[int] | None
    months: set[int] | None
    weekdays: set[int] | None  # 1 = Sunday ... 7 = Saturday, as in EventBridge
    timezone: ZoneInfo
    unsupported: bool = False

    @classmethod
    def parse(cls, body: str, timezone: str = "UTC") -> Cron:
        fields = body.split()
        if len(fields) != 6:
            raise ScheduleError(f"cron({body}) needs 6 fields: minutes hours day-of-month month day-of-week year")
        unsupported = any(char in "".join(fields[:5]).upper() for char in "LW#")
        return cls(
            _field(fields[0], 0, 59),
            _field(fields[1], 0, 23),
            _field(fields[2], 1, 31),
            _field(fields[3], 1, 12, _MONTHS),
            _field(fields[4], 1, 7, _DAYS),
            ZoneInfo(timezone),
            unsupported,
        )

    def _day_matches(self, moment: datetime) -> bool:
        weekday = (moment.weekday() + 1) % 7 + 1  # Monday=0 -> 2, Sunday=6 -> 1
        return (
            (self.months is None or moment.month in self.months)
            and (self.days is None or moment.day in self.days)
            and (self.weekdays is None or weekday in self.weekdays)
        )

    def next_after(self, after: datetime) -> datetime:
        moment = after.astimezone(self.timezone).replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = moment + timedelta(days=366 * 5)
        while moment < limit:
            if not self._day_matches(moment):
                moment = (moment + timedelta(days=1)).replace(hour=0, minute=0)
                continue
            if self.hours is not None and moment.hour not in self.hours:
                moment = (moment + timedelta(hours=1)).replace(minute=0)
                continue
            if self.minutes is not None and moment.minute not in self.minutes:
                moment += timedelta(minutes=1)
                continue
            return moment.astimezone(UTC)
        raise ScheduleError("cron expression never fires")


def next_run(expression: str, after: datetime, started: datetime, timezone: str = "UTC") -> datetime | None:
    """When the schedule fires next after `after` (None: never again)."""
    expression = expression.strip()
    if match := _RATE.match(expression):
        amount, unit = int(match.group(1)), match.group(2).rstrip("s")
        if amount <= 0:
            raise ScheduleError(f"{expression}: the rate must be positive")
        period = timedelta(**{f"{unit}s": amount})
        periods = (after - started) // period + 1
        return started + periods * period
    if match := _CRON.match(expression):
        return Cron.parse(match.group(1), timezone).next_after(after)
    if match := _AT.match(expression):
        moment = datetime.fromisoformat(match.group(1)).replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)
        return moment if moment > after else None
    raise ScheduleError(f"unsupported schedule expression {expression!r}")


def scheduled_event(schedule: Schedule, rule_arn: str, region: str, account_id: str) -> dict[str, Any]:
    """The payload EventBridge sends for a scheduled rule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


@dataclass
class _Entry:
    schedule: Schedule
    due: datetime | None
    runs: int = 0
    last_error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class ScheduleLoop:
    """Fires each enabled schedule when due; `run_now(name)` fires one at once (tests, humans)."""

    def __init__(
        self,
        schedules: list[Schedule],
        fire: Callable[[Schedule, dict[str, Any] | str], None],
        *,
        region: str,
        account_id: str,
        log: Callable[[str], None] = print,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._fire = fire
        self._log = log
        self._now = now
        self.region, self.account_id = region, account_id
        self.started = now()
        self.entries: dict[str, _Entry] = {}
        for schedule in schedules:
            due = None
            if schedule.enabled:
                due = next_run(schedule.expression, self.started, self.started, schedule.timezone)
                if (
                    schedule.expression.startswith("cron(")
                    and Cron.parse(schedule.expression[5:-1], schedule.timezone).unsupported
                ):
                    log(f"schedule {schedule.name}: L, W and # are not supported locally; those fields match any")
            self.entries[schedule.name] = _Entry(schedule, due)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schedules", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "expression": entry.schedule.expression,
                "target": entry.schedule.target,
                "enabled": entry.schedule.enabled,
                "next_run": entry.due.isoformat() if entry.due else None,
                "runs": entry.runs,
                "last_error": entry.last_error,
            }
            for name, entry in self.entries.items()
        ]

    def run_now(self, name: str) -> dict[str, Any]:
        """Fire the schedule synchronously (even if disabled); returns its status afterwards."""
        entry = self.entries[name]
        self._execute(entry)
        return next(item for item in self.describe() if item["name"] == name)

    def _payload(self, schedule: Schedule) -> dict[str, Any] | str:
        if schedule.input is not None:
            try:
                parsed: dict[str, Any] | str = json.loads(schedule.input)
            except json.JSONDecodeError:
                parsed = schedule.input
            return parsed
        rule_arn = f"arn:aws:events:{self.region}:{self.account_id}:rule/{schedule.name.replace('.', '-')}"
        return scheduled_event(schedule, rule_arn, self.region, self.account_id)

    def _execute(self, entry: _Entry) -> None:
        with entry.lock:
            entry.runs += 1
            try:
                self._fire(entry.schedule, self._payload(entry.schedule))
                entry.last_error = None
            except Exception as exc:  # noqa: BLE001 (a failing schedule must not stop the loop)
                entry.last_error = f"{type(exc).__name__}: {exc}"
                self._log(f"schedule {entry.schedule.name} failed:\n{traceback.format_exc()}")

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self._now()
            pending = [entry for entry in self.entries.values() if entry.due is not None]
            for entry in pending:
                if entry.due is not None and entry.due <= now:
                    entry.due = next_run(entry.schedule.expression, now, self.started, entry.schedule.timezone)
                    threading.Thread(target=self._execute, args=(entry,), daemon=True).start()
            dues = [entry.due for entry in self.entries.values() if entry.due is not None]
            wait = min(((due - self._now()).total_seconds() for due in dues), default=60.0)
            self._wake.wait(max(0.05, min(wait, 60.0)))
            self._wake.clear()
