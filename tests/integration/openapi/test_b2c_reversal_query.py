"""B2C, reversal and the status query against the simulator: money in Decimal at the simulator's side,
whole shillings at ours; refusals that moved nothing; duplicates that must be resolved by query."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mpesa.codes import Disposition, Outcome
from mpesa.errors import MayHaveMovedError, RefusedError
from mpesa.openapi.client import new_conversation_id
from mpesa.openapi.errors import (
    OpenApiAnswerMismatchError,
    OpenApiDuplicateError,
    OpenApiRefusedError,
    TransactionNotFoundError,
)

PAYS, NO_FUNDS, UNREGISTERED = "255740000001", "255740000002", "255740000009"


def pay_out(client, caller_id=None, amount=2500, msisdn=PAYS):
    return client.b2c_payment(
        customer_msisdn=msisdn,
        amount=amount,
        transaction_reference="PAYOUT-9",
        payment_items_desc="Salary",
        third_party_conversation_id=caller_id or new_conversation_id(),
    )


def balance(simulator):
    return Decimal(simulator.balance())


def test_a_payout_pays_once_and_the_query_confirms_it(simulator, client):
    before = balance(simulator)
    caller_id = new_conversation_id()
    paid = pay_out(client, caller_id)
    assert paid.info.outcome is Outcome.SUCCESS
    assert balance(simulator) == before - 2500
    status = client.query_transaction_status(caller_id, expected_transaction_id=paid.transaction_id)
    assert (status.transaction_status, status.transaction_id) == ("Completed", paid.transaction_id)
    assert status.status_info.outcome is Outcome.SUCCESS
    by_receipt = client.query_transaction_status(paid.transaction_id)
    assert by_receipt.transaction_id == paid.transaction_id


def test_a_payout_above_the_balance_is_refused_and_moves_nothing(simulator, client):
    simulator.set_balance("1000")
    caller_id = new_conversation_id()
    with pytest.raises(OpenApiRefusedError) as caught:
        pay_out(client, caller_id, amount=2500)
    assert isinstance(caught.value, RefusedError)
    assert (caught.value.response_code, caught.value.http_status) == ("INS-2006", 422)
    assert (caught.value.info.disposition, caught.value.info.outcome) == (Disposition.FINAL, Outcome.FAILED)
    assert balance(simulator) == 1000
    assert client.query_transaction_status(caller_id).status_info.outcome is Outcome.FAILED


@pytest.mark.parametrize(("msisdn", "code"), [(NO_FUNDS, "INS-2006"), (UNREGISTERED, "INS-2051")])
def test_payouts_to_the_failing_test_numbers_are_refusals(simulator, client, msisdn, code):
    before = balance(simulator)
    with pytest.raises(OpenApiRefusedError) as caught:
        pay_out(client, msisdn=msisdn)
    assert caught.value.response_code == code
    assert balance(simulator) == before


def test_a_repeated_conversation_id_is_a_duplicate_to_resolve_never_a_second_payout(simulator, client):
    caller_id = new_conversation_id()
    paid = pay_out(client, caller_id)
    before = balance(simulator)
    with pytest.raises(OpenApiDuplicateError) as caught:
        pay_out(client, caller_id)
    duplicate = caught.value
    assert isinstance(duplicate, MayHaveMovedError)  # the first request's outcome decides
    assert (duplicate.response_code, duplicate.third_party_conversation_id) == ("INS-10", caller_id)
    assert not duplicate.is_upstream_failure
    assert balance(simulator) == before
    assert [t["transaction_id"] for t in simulator.transactions(third_party_conversation_id=caller_id)] == [
        paid.transaction_id
    ]
    assert client.query_transaction_status(caller_id).transaction_id == paid.transaction_id


def test_a_reversal_gives_the_money_back_once(simulator, client):
    paid = pay_out(client)
    before = balance(simulator)
    reversal_id = new_conversation_id()
    reversed_ = client.reversal(
        transaction_id=paid.transaction_id, amount=2500, third_party_conversation_id=reversal_id
    )
    assert reversed_.transaction_id not in (None, paid.transaction_id)  # the reversal's own TransactionID
    assert balance(simulator) == before + 2500
    assert simulator.transactions(third_party_conversation_id=paid.third_party_conversation_id)[0]["reversed_by"] == (
        reversed_.transaction_id
    )

    again_id = new_conversation_id()
    with pytest.raises(OpenApiDuplicateError):  # INS-10 "already reversed": resolved by query, not assumed
        client.reversal(transaction_id=paid.transaction_id, amount=2500, third_party_conversation_id=again_id)
    assert client.query_transaction_status(again_id).status_info.outcome is Outcome.FAILED
    assert balance(simulator) == before + 2500
    assert simulator.call_counts()[reversal_id] == {"reversal": 1}


@pytest.mark.parametrize(
    ("transaction_id", "amount", "code"),
    [("UNKNOWN123", 2500, "INS-18"), (None, 1000, "INS-15")],
)
def test_reversals_that_cannot_be_done_are_refusals(simulator, client, transaction_id, amount, code):
    paid = pay_out(client)
    before = balance(simulator)
    with pytest.raises(OpenApiRefusedError) as caught:
        client.reversal(
            transaction_id=transaction_id or paid.transaction_id,
            amount=amount,
            third_party_conversation_id=new_conversation_id(),
        )
    assert caught.value.response_code == code
    assert balance(simulator) == before


def test_an_unknown_reference_is_not_found(simulator, client):
    with pytest.raises(TransactionNotFoundError) as caught:
        client.query_transaction_status(new_conversation_id())
    assert (caught.value.response_code, caught.value.http_status) == ("INS-18", 400)


def test_a_status_answer_about_another_transaction_is_not_applied(simulator, client):
    first, second = pay_out(client), pay_out(client)
    with pytest.raises(OpenApiAnswerMismatchError) as caught:
        client.query_transaction_status(
            first.third_party_conversation_id, expected_transaction_id=second.transaction_id
        )
    assert (caught.value.asked, caught.value.answered_with) == (second.transaction_id, first.transaction_id)


def test_the_query_sends_its_own_conversation_id_and_checks_the_echo(simulator, client):
    paid = pay_out(client)
    own = new_conversation_id()
    status = client.query_transaction_status(paid.third_party_conversation_id, third_party_conversation_id=own)
    assert status.third_party_conversation_id == own
    assert simulator.call_counts()[own] == {"query": 1}
    assert simulator.call_counts()[paid.third_party_conversation_id] == {"b2c": 1}
