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

from mpesa.daraja.errors import DarajaApiError

if TYPE_CHECKING:
    from mpesa.daraja.pull import PulledTransaction, PullTransactionsApi

NOT_REGISTERED = "400.001"  # Pull Transactions' "Invalid ShortCode": not registered for Pull

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
    """The StatementSource of Daraja's Pull Transactions. With `nominated_number`, each shortcode is
    registered before its first read (idempotent: Daraja answers 1001 once it is registered), and again,
    once, when Daraja answers that it is not (400.001 Invalid ShortCode): a registration this container
    made can be lost on Daraja's side (the local simulator forgets them at each reset)."""

    def __init__(
        self, pull: PullTransactionsApi, *, nominated_number: str | None = None, callback_url: str | None = None
    ) -> None:
        self._pull = pull
        self._nominated_number = nominated_number
        self._callback_url = callback_url
        self._registered: set[str] = set()

    def _register(self, short_code: str) -> bool:
        if not (self._nominated_number and self._callback_url):
            return False
        self._pull.register(
            nominated_number=self._nominated_number, callback_url=self._callback_url, short_code=short_code
        )
        self._registered.add(short_code)
        return True

    def _transactions(self, short_code: str, start: datetime, end: datetime) -> list[PulledTransaction]:
        if short_code not in self._registered:
            self._register(short_code)
        try:
            return list(self._pull.window(start, end, short_code=short_code))
        except DarajaApiError as exc:
            if exc.error_code != NOT_REGISTERED or not self._register(short_code):
                raise
        return list(self._pull.window(start, end, short_code=short_code))

    def lines(self, short_code: str, start: datetime, end: datetime) -> Iterable[StatementLine]:
        for transaction in self._transactions(short_code, start, end):
            yield StatementLine(
                receipt=transaction.transaction_id,
                completed_at=transaction.completed_at,
                amount=transaction.amount,
                party=transaction.msisdn,
                bill_reference=transaction.bill_reference,
                transaction_type=transaction.transaction_type,
                short_code=short_code,
            )
