"""M-Pesa's own view of a day: the statement lines of each shortcode, from Pull Transactions.

A line is one completed transaction as M-Pesa lists it: receipt, time, amount, the party (masked or
hashed by M-Pesa), the bill reference. The reconciliation compares the ledger with these lines.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mpesa.daraja.pull import PullTransactionsApi

_DIGITS = re.compile(r"[0-9]+")
_HEX_64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StatementLine:
    receipt: str
    completed_at: datetime
    amount: int
    party: str  # as M-Pesa gives it: masked ("2547 ***** 149"), hashed (SHA-256 hex) or plain
    bill_reference: str
    transaction_type: str
    short_code: str

    def party_may_be(self, msisdn: str) -> bool:
        """Whether `party` can be this MSISDN: equal, the same SHA-256, or the same visible digits."""
        party = self.party.strip().lower()
        if not party or not msisdn:
            return False
        if _HEX_64.fullmatch(party):
            return hashlib.sha256(msisdn.encode()).hexdigest() == party
        if "*" not in party:
            return "".join(_DIGITS.findall(party)) == msisdn
        head, tail = party.split("*", 1)[0], party.rsplit("*", 1)[1]
        visible_head, visible_tail = "".join(_DIGITS.findall(head)), "".join(_DIGITS.findall(tail))
        return msisdn.startswith(visible_head) and msisdn.endswith(visible_tail)


class StatementSource(Protocol):
    def lines(self, short_code: str, start: datetime, end: datetime) -> Iterable[StatementLine]:
        """Every transaction of `short_code` completed in [start, end]."""
        ...


@dataclass(frozen=True)
class Statement:
    """The lines of every shortcode for a window, by receipt."""

    lines: Mapping[str, StatementLine]

    @classmethod
    def read(cls, source: StatementSource, short_codes: Iterable[str], start: datetime, end: datetime) -> Statement:
        found: dict[str, StatementLine] = {}
        for short_code in dict.fromkeys(short_codes):  # each once, in order
            for line in source.lines(short_code, start, end):
                found[line.receipt] = line
        return cls(found)

    def within(self, start: datetime, end: datetime) -> list[StatementLine]:
        return sorted(
            (line for line in self.lines.values() if start <= line.completed_at < end),
            key=lambda line: line.completed_at,
        )


class PullStatement:
    """The StatementSource of Daraja's Pull Transactions."""

    def __init__(self, pull: PullTransactionsApi) -> None:
        self._pull = pull

    def lines(self, short_code: str, start: datetime, end: datetime) -> Iterable[StatementLine]:
        for transaction in self._pull.window(start, end, short_code=short_code):
            yield StatementLine(
                receipt=transaction.transaction_id,
                completed_at=transaction.completed_at,
                amount=transaction.amount,
                party=transaction.msisdn,
                bill_reference=transaction.bill_reference,
                transaction_type=transaction.transaction_type,
                short_code=short_code,
            )
