"""Fakes for the daily reconciliation's ports: M-Pesa's statement and the reports already announced."""

from dataclasses import dataclass, field
from datetime import timedelta

from mpesa.clock import NAIROBI, now_utc
from mpesa.reconciliation.daily import day_window
from mpesa.reconciliation.statement import StatementLine

SHORT_CODE = "174379"


@dataclass
class FakeStatement:
    lines_by_code: dict[str, list[StatementLine]] = field(default_factory=dict)

    def lines(self, short_code, start, end):
        return [line for line in self.lines_by_code.get(short_code, []) if start <= line.completed_at <= end]

    def add(self, receipt, amount, *, party="2547 ***** 678", reference="ORDER1", at=None):
        line = StatementLine(receipt, at or now_utc(), amount, party, reference, "c2b-pay-bill-debit", SHORT_CODE)
        self.lines_by_code.setdefault(SHORT_CODE, []).append(line)


@dataclass
class FakeReports:
    keys: set[str] = field(default_factory=set)

    def announced(self, day):
        return set(self.keys)


def today():
    return now_utc().astimezone(NAIROBI).date()


def closed():
    return day_window(today())[1] + timedelta(hours=2)
