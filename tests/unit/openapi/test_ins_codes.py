"""Every INS code in the shared outcome table: the same vocabulary as Daraja's codes, unknowns never final."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mpesa.codes import (
    INS_CODES,
    KNOWN_CODES,
    Disposition,
    Outcome,
    classify,
    classify_ins,
    classify_transaction_status,
)
from simulator.openapi import codes as simulator_codes
from tests.support.ins_codes import EXPECTED, F, R, U


def test_the_table_covers_exactly_the_documented_codes():
    assert set(EXPECTED) == INS_CODES
    assert not INS_CODES & KNOWN_CODES  # Daraja's own list (and every test over it) is unchanged


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_each_ins_code_has_its_disposition_and_outcome(code):
    info = classify(code)
    assert (info.code, info.disposition, info.outcome) == (code, *EXPECTED[code])
    assert info.meaning != "unrecognised result code"


@pytest.mark.parametrize("ins", simulator_codes.EMITTED, ids=lambda ins: ins.code)
def test_every_code_the_simulator_emits_maps_to_its_outcome(ins):
    info = classify(ins.code)
    assert (info.disposition, info.outcome) == EXPECTED[ins.code]


def test_the_codes_that_leave_money_open_are_never_final():
    for code in ("INS-1", "INS-9", "INS-10", "INS-23"):
        assert not classify(code).final
        assert classify(code).outcome is Outcome.UNKNOWN


def test_codes_compare_without_case_or_spaces():
    assert classify(" ins-9 ").code == "INS-9"
    assert classify("Ins-0").outcome is Outcome.SUCCESS


def test_overload_carries_a_wait():
    assert classify("INS-16").retry_after_s == 60


@given(st.integers(min_value=0, max_value=999_999).map(lambda n: f"INS-{n}").filter(lambda c: c not in INS_CODES))
def test_an_unknown_ins_code_is_never_final(code):
    info = classify(code)
    assert info.disposition is Disposition.UNKNOWN
    assert info.outcome is Outcome.UNKNOWN
    assert not info.final


@pytest.mark.parametrize(
    ("status", "disposition", "outcome"),
    [
        ("Completed", F, Outcome.SUCCESS),
        ("completed ", F, Outcome.SUCCESS),
        ("Cancelled", F, Outcome.CANCELLED),
        ("Failed", F, Outcome.FAILED),
        ("Expired", R, Outcome.RETRY),
        ("Pending", Disposition.PENDING, Outcome.UNKNOWN),
        ("Reversed", U, Outcome.UNKNOWN),
        ("", U, Outcome.UNKNOWN),
        (None, U, Outcome.UNKNOWN),
    ],
)
def test_transaction_statuses_in_the_same_table(status, disposition, outcome):
    info = classify_transaction_status(status)
    assert (info.disposition, info.outcome) == (disposition, outcome)


@pytest.mark.parametrize("code", ["0", "1032", "C2B00011", "", None, "INS"])
def test_openapi_answers_are_read_through_ins_codes_only(code):
    """A Daraja code in an OpenAPI answer means nothing there: never a success, never final."""
    info = classify_ins(code)
    assert (info.disposition, info.outcome) == (U, Outcome.UNKNOWN)
    assert classify_ins("ins-5").outcome is Outcome.CANCELLED
