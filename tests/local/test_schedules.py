"""Schedule expressions and the loop that fires them (no real waiting: times are given)."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from local.schedules import ScheduleError, ScheduleLoop, next_run
from local.template import Schedule

T0 = datetime(2026, 11, 28, 10, 0, 30, tzinfo=UTC)  # a Saturday


def test_rate_runs_one_period_after_start_then_every_period():
    assert next_run("rate(5 minutes)", T0, T0) == T0 + timedelta(minutes=5)
    assert next_run("rate(5 minutes)", T0 + timedelta(minutes=5, seconds=1), T0) == T0 + timedelta(minutes=10)
    assert next_run("rate(1 day)", T0, T0) == T0 + timedelta(days=1)


def test_cron_fields_minutes_hours_and_weekdays():
    assert next_run("cron(0 3 * * ? *)", T0, T0) == datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
    assert next_run("cron(*/15 * * * ? *)", T0, T0) == datetime(2026, 11, 28, 10, 15, tzinfo=UTC)
    # Weekdays only, business hours: from a Saturday to Monday 09:00.
    assert next_run("cron(0/30 9-17 ? * MON-FRI *)", T0, T0) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert next_run("cron(0 0 1 JAN ? *)", T0, T0) == datetime(2027, 1, 1, 0, 0, tzinfo=UTC)


def test_cron_in_a_time_zone():
    # 03:00 in Nairobi (UTC+3) is 00:00 UTC.
    assert next_run("cron(0 3 * * ? *)", T0, T0, "Africa/Nairobi") == datetime(2026, 11, 29, 0, 0, tzinfo=UTC)


def test_at_runs_once_in_the_future_only():
    assert next_run("at(2026-12-01T08:00:00)", T0, T0) == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert next_run("at(2026-01-01T08:00:00)", T0, T0) is None


@pytest.mark.parametrize("expression", ["rate(5 fortnights)", "cron(0 3 * *)", "every day", "cron(99 * * * ? *)"])
def test_bad_expressions_are_rejected(expression):
    with pytest.raises(ScheduleError):
        next_run(expression, T0, T0)


def test_run_now_sends_the_input_or_a_scheduled_event_and_survives_failures():
    fired = []

    def fire(schedule, payload):
        if schedule.name == "broken":
            raise RuntimeError("boom")
        fired.append((schedule.name, payload))

    loop = ScheduleLoop(
        [
            Schedule("with-input", "rate(1 hour)", "Fn", json.dumps({"a": 1}), True),
            Schedule("plain", "cron(0 3 * * ? *)", "Fn", None, False),
            Schedule("broken", "rate(1 hour)", "Fn", None, True),
        ],
        fire,
        region="us-east-1",
        account_id="123456789012",
        log=lambda message: None,
        now=lambda: T0,
    )
    loop.run_now("with-input")
    loop.run_now("plain")  # a disabled schedule can still be run by hand
    status = loop.run_now("broken")
    assert fired[0] == ("with-input", {"a": 1})
    assert fired[1][1]["detail-type"] == "Scheduled Event"
    assert fired[1][1]["source"] == "aws.events"
    assert status["last_error"] == "RuntimeError: boom"
    described = {item["name"]: item for item in loop.describe()}
    assert described["plain"]["next_run"] is None
    assert described["with-input"]["next_run"] == (T0 + timedelta(hours=1)).isoformat()
