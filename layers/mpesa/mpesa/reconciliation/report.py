"""The daily report: a JSON summary and a CSV of the day's records, kept in S3.

Summary: counts and sums per flow, status and currency, the success rate per flow (successes among
records that ended), the discrepancies and resolutions of the run, and the latest account balances
with their age. Amounts are whole units (int), never floats. Phone numbers are masked.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from mpesa.clock import iso, now_utc
from mpesa.markets import mask_msisdn
from mpesa.reconciliation.daily import RunResult, day_window
from mpesa.records.model import Record, Status

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CSV_COLUMNS = (
    "transaction_id",
    "flow",
    "status",
    "amount",
    "currency",
    "receipt",
    "phone",
    "created_at",
    "settled_at",
    "settled_by",
    "result_code",
    "flags",
)


class BalanceSource(Protocol):
    def latest(self) -> Mapping[str, Any]:
        """The latest known balances per shortcode, each with the time it was reported."""
        ...


def summary(result: RunResult, balances: Mapping[str, Any] | None = None) -> dict[str, Any]:
    start, end = day_window(result.day)
    totals: dict[str, dict[str, dict[str, dict[str, int]]]] = defaultdict(lambda: defaultdict(dict))
    ended: dict[str, int] = defaultdict(int)
    succeeded: dict[str, int] = defaultdict(int)
    for record in result.records:
        flow, status = record.kind.value, record.status.value
        cell = totals[flow][status].setdefault(record.currency or "-", {"count": 0, "amount": 0})
        cell["count"] += 1
        cell["amount"] += record.amount
        if record.status.is_final:
            ended[flow] += 1
            succeeded[flow] += record.status is Status.SUCCESS
    return {
        "date": result.day.isoformat(),
        "generated_at": iso(now_utc()),
        "window": {"start": iso(start), "end": iso(end), "closed": result.window_closed},
        "records": len(result.records),
        "statement_lines": len(result.statement_lines),
        "totals": {flow: dict(by_status) for flow, by_status in totals.items()},
        "success_rate": {flow: round(succeeded[flow] / ended[flow], 4) for flow in ended if ended[flow]},
        "discrepancies": [
            {**{k: v for k, v in asdict(d).items() if k != "kind"}, "kind": d.kind.value, "key": d.key(result.day)}
            for d in result.discrepancies
        ],
        "resolutions": [{**asdict(r), "kind": r.kind.value} for r in result.resolutions],
        "balances": dict(balances or {}),
    }


def records_csv(records: list[Record]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for record in sorted(records, key=lambda r: r.created_at):
        writer.writerow(
            [
                record.transaction_id,
                record.kind.value,
                record.status.value,
                record.amount,
                record.currency,
                record.receipt or "",
                mask_msisdn(record.msisdn) if record.msisdn.isdigit() else record.msisdn,
                record.created_at,
                record.settled_at or "",
                record.settled_by.value if record.settled_by else "",
                record.result_code or "",
                " ".join(record.flags),
            ]
        )
    return out.getvalue()


class S3Reports:
    """Reports in an S3 bucket: `reports/<date>/summary.json` and `reports/<date>/transactions.csv`."""

    def __init__(self, bucket: str, client: S3Client | None = None) -> None:
        self._bucket = bucket
        self._client = client

    @property
    def client(self) -> S3Client:
        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        return self._client

    def save(self, result: RunResult, balances: Mapping[str, Any] | None = None) -> dict[str, Any]:
        report = summary(result, balances)
        previous = self.summary(result.day)
        if previous is not None:  # keep what was announced before: a re-run announces only new ones
            report["announced"] = sorted({*previous.get("announced", []), *result.announced})
        else:
            report["announced"] = sorted(result.announced)
        self.client.put_object(
            Bucket=self._bucket,
            Key=_key(result.day, "summary.json"),
            Body=json.dumps(report, separators=(",", ":")).encode(),
            ContentType="application/json",
        )
        self.client.put_object(
            Bucket=self._bucket,
            Key=_key(result.day, "transactions.csv"),
            Body=records_csv(result.records).encode(),
            ContentType="text/csv",
        )
        return report

    def summary(self, day: date) -> dict[str, Any] | None:
        try:
            body = self.client.get_object(Bucket=self._bucket, Key=_key(day, "summary.json"))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None
        loaded: dict[str, Any] = json.loads(body)
        return loaded

    def announced(self, day: date) -> set[str]:
        previous = self.summary(day)
        return set(previous.get("announced", [])) if previous else set()

    def csv_url(self, day: date, expires_s: int = 900) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": _key(day, "transactions.csv")}, ExpiresIn=expires_s
        )

    def latest_day(self, before: datetime | None = None) -> date | None:
        """The most recent day with a report (for the console)."""
        answer = self.client.list_objects_v2(Bucket=self._bucket, Prefix="reports/", Delimiter="/")
        days = sorted(p["Prefix"].split("/")[1] for p in answer.get("CommonPrefixes", []))
        return date.fromisoformat(days[-1]) if days else None


def _key(day: date, name: str) -> str:
    return f"reports/{day.isoformat()}/{name}"
