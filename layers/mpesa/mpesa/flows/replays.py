"""A replay of an Idempotency-Key while the first request with it may still run (STK pushes and payouts)."""

from __future__ import annotations

from datetime import datetime, timedelta

from mpesa.records.model import Flag, Record, Status

IN_FLIGHT = timedelta(seconds=30)  # API Gateway's limit: a first request younger than this may still run


def first_request_may_still_run(record: Record, answer_id: str | None, now: datetime) -> bool:
    """The first request with this key may still be waiting for M-Pesa's answer (`answer_id`, the ID
    M-Pesa's answer gives, not stored yet): nothing says what became of it, so a replay is told to ask
    again (409 `request_in_progress`), neither that it is unknown nor sent a second time beside it."""
    if record.status is not Status.PENDING or answer_id is not None:
        return False
    if Flag.OUTCOME_UNKNOWN_AT_INITIATION in record.flags or not record.created_at:
        return False
    return now - record.created < IN_FLIGHT
