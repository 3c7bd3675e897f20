"""Daily (EventBridge Scheduler, after midnight in Nairobi) and on demand: reconcile one Nairobi day
with M-Pesa's statement and write its report.

Input: anything without "date" (the scheduler's event): yesterday, Nairobi time; {"date": "2026-11-30"}:
that day (today's window is reconciled too, but stays open until an hour past midnight). Re-running a
day changes nothing more and announces only discrepancies not announced before.
"""

import datetime as dt
from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict

from mpesa import runtime
from mpesa.clock import NAIROBI, now_utc
from mpesa.edge.observability import lambda_entry, logger, metrics
from mpesa.errors import InputError
from mpesa.telemetry import count


class ReconcileTask(BaseModel):
    model_config = ConfigDict(extra="ignore")

    date: dt.date | None = None


def _balances() -> dict[str, Any]:
    """The latest Account Balance results per shortcode, with when M-Pesa computed them."""
    settings = runtime.settings()
    known: dict[str, Any] = {}
    for short_code in sorted(code for code in (settings.business_short_code, settings.b2c_short_code) if code):
        report = runtime.balances().report(short_code)
        if report is not None:
            known[short_code] = asdict(report)
    return known


@lambda_entry()
def handler(event: Any, context: Any) -> dict[str, Any]:
    today = now_utc().astimezone(NAIROBI).date()
    task = ReconcileTask.model_validate(event if isinstance(event, dict) else {})
    day = task.date or today - dt.timedelta(days=1)
    if day > today:
        raise InputError("date", "must not be in the future")
    logger.append_keys(reconciliation_date=day.isoformat())
    result = runtime.reconciliation().run(day)
    report = runtime.reports().save(result, _balances())
    count("DiscrepanciesFound", len(result.discrepancies))
    metrics.add_metadata(key="date", value=day.isoformat())
    return {
        "date": day.isoformat(),
        "records": report["records"],
        "statement_lines": report["statement_lines"],
        "discrepancies": len(result.discrepancies),
        "resolutions": len(result.resolutions),
        "window_closed": result.window_closed,
    }
