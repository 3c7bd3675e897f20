"""Pull Transactions as the reconciliation reads it: a shortcode is registered before its first read,
and again, once, when Daraja says it is not registered (a registration lost on its side)."""

from datetime import UTC, datetime, timedelta

import pytest

from mpesa.daraja.errors import DarajaApiError
from mpesa.reconciliation.statement import PullStatement

START = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)


class ForgetfulPull:
    """Daraja's Pull Transactions API, which forgets registrations when told to."""

    def __init__(self) -> None:
        self.registered: set[str] = set()
        self.calls: list[str] = []

    def register(self, *, nominated_number: str, callback_url: str, short_code: str) -> None:
        self.calls.append(f"register {short_code}")
        self.registered.add(short_code)

    def window(self, start: datetime, end: datetime, *, short_code: str) -> list[object]:
        self.calls.append(f"read {short_code}")
        if short_code not in self.registered:
            raise DarajaApiError("pull_query", 400, "400.001", "Invalid ShortCode")
        return []


def read(statement: PullStatement, short_code: str = "174379") -> list[object]:
    return list(statement.lines(short_code, START, START + timedelta(days=1)))


def test_a_shortcode_is_registered_once_then_again_when_daraja_forgot_it():
    pull = ForgetfulPull()
    statement = PullStatement(pull, nominated_number="0708374149", callback_url="https://pay.example.com/v1/hooks/pull")
    read(statement)
    read(statement)
    assert pull.calls == ["register 174379", "read 174379", "read 174379"]
    pull.registered.clear()
    pull.calls.clear()
    read(statement)
    assert pull.calls == ["read 174379", "register 174379", "read 174379"]


def test_without_a_nominated_number_nothing_is_registered_and_the_refusal_stands():
    pull = ForgetfulPull()
    with pytest.raises(DarajaApiError):
        read(PullStatement(pull))
    assert pull.calls == ["read 174379"]
