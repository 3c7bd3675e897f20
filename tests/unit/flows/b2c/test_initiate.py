"""Initiating payouts: the OCID is ours and stored before the call; one request key, one payout."""

from datetime import timedelta
from typing import Any

import pytest

from mpesa.clock import iso, now_utc
from mpesa.daraja.breaker import CircuitBreakerError
from mpesa.daraja.errors import (
    CircuitOpenError,
    DarajaApiError,
    DarajaTransportError,
    DeadlineExceededError,
    OutcomeUnknownError,
    TokenUnavailableError,
)
from mpesa.errors import ConflictError, LimitExceededError, NotPermittedError, RequestInProgressError
from mpesa.flows.b2c import Upstream, initiation_answer, payout_id_for
from mpesa.records import NOT_SENT, Flag, Ref, SettledBy, Status
from tests.unit.flows.b2c.conftest import PHONE, request, status_result


def test_the_originator_conversation_id_is_stored_before_the_call_and_sent(flow):
    seen: list[Any] = []
    real = flow.gateway.b2c_payment

    def spy(**kwargs):
        seen.append(flow.store.get(payout_id_for("key-1")).ref(Ref.ORIGINATOR_CONVERSATION_ID))
        return real(**kwargs)

    flow.gateway.b2c_payment = spy
    result = flow.pay()
    sent = flow.gateway.payouts[0]
    assert seen == [sent["originator_conversation_id"]]  # written first, then sent
    assert result.upstream is Upstream.ACCEPTED
    record = flow.record()
    assert record.ref(Ref.ORIGINATOR_CONVERSATION_ID) == sent["originator_conversation_id"]
    assert record.ref(Ref.CONVERSATION_ID) == "AG_20261126_00000000000000000001"
    assert (record.status, record.amount, record.msisdn) == (Status.PENDING, 500, PHONE)
    assert sent["result_url"].startswith(f"https://pay.example.com/v1/hooks/b2c/result/{record.transaction_id}/")
    assert sent["queue_timeout_url"].startswith(
        f"https://pay.example.com/v1/hooks/b2c/timeout/{record.transaction_id}/"
    )
    assert flow.starter.started == []  # no timer per payout: the sweep checks it after the Result's wait
    code, body, _ = initiation_answer(result)
    assert code == 202
    assert body == {
        "payout_id": record.transaction_id,
        "status": "PENDING",
        "conversation_id": "AG_20261126_00000000000000000001",
        "originator_conversation_id": sent["originator_conversation_id"],
    }


def test_the_same_key_and_request_answers_from_the_record_without_paying_again(flow):
    first = flow.pay()
    again = flow.pay()
    assert len(flow.gateway.payouts) == 1
    assert initiation_answer(again) == initiation_answer(first)


def test_the_same_key_for_another_payout_is_a_conflict(flow):
    flow.pay()
    with pytest.raises(ConflictError):
        flow.pay(amount=600)
    with pytest.raises(ConflictError):
        flow.pay(remarks="Another reason")
    with pytest.raises(ConflictError):
        flow.pay(occasion="Bonus")
    assert len(flow.gateway.payouts) == 1


def test_an_unknown_outcome_is_never_resent_and_the_flow_resolves_it(flow):
    flow.gateway.payout_answers.append(OutcomeUnknownError("b2c_payment", "read timeout"))
    result = flow.pay()
    assert result.upstream is Upstream.UNKNOWN
    assert initiation_answer(result)[0] == 202
    record = flow.record()
    assert record.status is Status.PENDING
    assert Flag.OUTCOME_UNKNOWN_AT_INITIATION.value in record.flags
    assert flow.starter.started == []  # the sweep's check hands it to the timeout flow after the Result's wait
    again = flow.pay()
    assert again.upstream is Upstream.UNKNOWN
    assert len(flow.gateway.payouts) == 1  # the replay did not send it again
    assert flow.publisher.published == []  # no payout.failed for a payout that may exist


def test_an_ambiguous_5xx_is_an_unknown_outcome(flow):
    flow.gateway.payout_answers.append(DarajaApiError("b2c_payment", 500, "500.003.1001", "Internal Server Error"))
    assert flow.pay().upstream is Upstream.UNKNOWN
    assert flow.record().status is Status.PENDING


def test_a_refusal_fails_the_payout_releases_its_budget_and_is_announced_once(flow):
    flow.gateway.payout_answers.append(DarajaApiError("b2c_payment", 400, "400.002.02", "Bad Request - Invalid PartyB"))
    result = flow.pay()
    assert result.upstream is Upstream.REJECTED
    code, body, _ = initiation_answer(result)
    assert (code, body["mpesa_error_code"]) == (422, "400.002.02")
    record = flow.record()
    assert (record.status, record.settled_by) == (Status.FAILED, SettledBy.INITIATION)
    assert flow.budgets.total("shortcode") == 0
    assert flow.publisher.types() == ["payout.failed"]
    assert initiation_answer(flow.pay())[:2] == (code, body)  # a replay answers the same, sends nothing
    assert len(flow.gateway.payouts) == 1
    assert flow.budgets.total("shortcode") == 0


def test_a_payout_that_never_left_may_be_sent_again_with_the_same_key(flow):
    flow.gateway.payout_answers.append(DarajaTransportError("b2c_payment", "connection refused", request_sent=False))
    result = flow.pay()
    assert result.upstream is Upstream.NOT_SENT
    assert result.record.result_code == NOT_SENT
    assert flow.budgets.total("shortcode") == 0
    assert flow.publisher.published == []
    retried = flow.pay()
    assert retried.upstream is Upstream.ACCEPTED
    assert len(flow.gateway.payouts) == 2
    assert flow.budgets.total("shortcode") == 500


def test_a_crash_between_the_record_and_the_call_is_resent_with_the_same_ocid(flow):
    flow.gateway.payout_answers.append(RuntimeError("the container died"))
    with pytest.raises(RuntimeError):
        flow.pay()
    stored = flow.record()
    assert stored.status is Status.PENDING
    assert stored.ref(Ref.CONVERSATION_ID) is None
    with pytest.raises(RequestInProgressError):
        flow.pay()  # too soon to tell a crash from a request still waiting for Daraja
    aged(flow, stored.transaction_id)
    result = flow.pay()
    assert result.upstream is Upstream.ACCEPTED
    ocids = [p["originator_conversation_id"] for p in flow.gateway.payouts]
    assert ocids == [stored.ref(Ref.ORIGINATOR_CONVERSATION_ID)] * 2  # never a new OCID


def paid_then_died(flow):
    """The first request reaches Daraja (which accepts it and will pay) and the Lambda dies before the
    answer is stored: the record is PENDING with no ConversationID and no unknown-outcome flag."""
    real = flow.gateway.b2c_payment

    def sent_then_died(**kwargs):
        real(**kwargs)
        raise RuntimeError("the container died after the request")

    flow.gateway.b2c_payment = sent_then_died
    with pytest.raises(RuntimeError):
        flow.pay()
    flow.gateway.b2c_payment = real
    stored = flow.record()
    assert (stored.status, stored.ref(Ref.CONVERSATION_ID), stored.flags) == (Status.PENDING, None, ())
    aged(flow, stored.transaction_id)
    return stored


def test_a_resend_that_daraja_already_had_is_accepted_earlier_not_paid_twice(flow):
    """The first request left, but the container died before storing the answer."""
    paid_then_died(flow)
    result = flow.pay()
    assert result.upstream is Upstream.ACCEPTED
    assert result.record.ref(Ref.CONVERSATION_ID) is None  # the duplicate answer carries none
    assert flow.starter.started == []  # the sweep's check starts Transaction Status after the Result's wait


RESEND_NOT_SENT = [
    pytest.param(DarajaTransportError("b2c_payment", "connection refused", request_sent=False), id="refused"),
    pytest.param(CircuitOpenError("b2c_payment", CircuitBreakerError("daraja", 30.0)), id="breaker-open"),
    pytest.param(TokenUnavailableError("b2c_payment", "no token"), id="no-token"),
    pytest.param(DeadlineExceededError("b2c_payment", "too little time left"), id="no-time"),
]
RESEND_REFUSED = [
    pytest.param(DarajaApiError("b2c_payment", 429, "500.003.02", "Spike arrest violation"), id="spike-arrest-429"),
    pytest.param(DarajaApiError("b2c_payment", 500, "500.003.03", "Quota violation"), id="quota"),
    pytest.param(DarajaApiError("b2c_payment", 400, "400.002.02", "Bad Request - Invalid PartyB"), id="400"),
]


@pytest.mark.parametrize("failure", [*RESEND_NOT_SENT, *RESEND_REFUSED])
def test_a_resend_that_fails_settles_nothing_and_never_sends_a_new_ocid(flow, failure):
    """Regression: "not sent" or "refused" describes only the re-sent copy, never the crashed first
    request, which Daraja accepted. Settling FAILED/NOT_SENT made the record replaceable, and the next
    replay paid the recipient a second time under a new OCID."""
    stored = paid_then_died(flow)
    ocid = stored.ref(Ref.ORIGINATOR_CONVERSATION_ID)
    assert flow.budgets.total("shortcode") == 500
    flow.gateway.payout_answers.append(failure)
    result = flow.pay()  # the replay re-sends the same OCID (rule 3), and that copy fails
    assert result.upstream is Upstream.UNKNOWN
    code, body, _ = initiation_answer(result)
    assert code == 202
    assert "Do not retry with a new Idempotency-Key" in body["detail"]
    record = flow.record()
    assert record.status is Status.PENDING
    assert record.result_code != NOT_SENT
    assert Flag.OUTCOME_UNKNOWN_AT_INITIATION.value in record.flags  # Transaction Status settles it
    assert flow.budgets.total("shortcode") == 500  # the budget is kept: the money may have moved
    assert flow.budgets.total("recipient") == 500
    assert flow.publisher.published == []  # no payout.failed for a payout that may be paid
    sends = len(flow.gateway.payouts)
    for _ in range(2):  # further replays, still inside the window: answered from the record, never sent
        assert flow.pay().upstream is Upstream.UNKNOWN
    assert len(flow.gateway.payouts) == sends == 2
    assert {p["originator_conversation_id"] for p in flow.gateway.payouts} == {ocid}  # never a second OCID
    assert flow.budgets.total("shortcode") == 500


def test_a_resend_that_cannot_be_built_settles_nothing(flow, monkeypatch):
    """A configuration error on the re-send raises as before, but the payout is not failed or freed."""
    from mpesa.errors import ConfigurationError

    stored = paid_then_died(flow)
    flow.gateway.payout_answers.append(ConfigurationError({"MPESA_B2C_SHORT_CODE": "is required"}))
    with pytest.raises(ConfigurationError):
        flow.pay()
    record = flow.record()
    assert record.status is Status.PENDING
    assert Flag.OUTCOME_UNKNOWN_AT_INITIATION.value in record.flags
    assert flow.budgets.total("shortcode") == 500
    assert flow.pay().upstream is Upstream.UNKNOWN
    assert {p["originator_conversation_id"] for p in flow.gateway.payouts} == {
        stored.ref(Ref.ORIGINATOR_CONVERSATION_ID)
    }


def test_a_resent_payout_left_unknown_is_settled_by_transaction_status(flow):
    """The unknown outcome after a failed re-send is not stranded: the sweep's Transaction Status settles it."""
    stored = paid_then_died(flow)
    flow.gateway.payout_answers.append(DarajaApiError("b2c_payment", 429, "500.003.02", "Spike arrest violation"))
    assert flow.pay().upstream is Upstream.UNKNOWN
    step = flow.payouts.resolve(stored.transaction_id, 0, 3)
    assert (step.status, step.attempt) == (Status.PENDING, 1)
    (query,) = flow.gateway.status_queries
    assert query["originator_conversation_id"] == stored.ref(Ref.ORIGINATOR_CONVERSATION_ID)
    answer = status_result(flow.record())  # Completed: the first request paid
    flow.payouts.receive_status_result(answer, source_ip="", source_allowed=True, payout_id=stored.transaction_id)
    record = flow.record()
    assert (record.status, record.settled_by) == (Status.SUCCESS, SettledBy.QUERY)
    assert flow.budgets.total("shortcode") == 500
    assert flow.publisher.types() == ["payout.succeeded"]
    assert len(flow.gateway.payouts) == 2  # the crashed request and its one re-sent copy, same OCID


def test_an_old_unacknowledged_payout_is_not_resent_but_asked_about(flow):
    flow.gateway.payout_answers.append(RuntimeError("the container died"))
    with pytest.raises(RuntimeError):
        flow.pay()
    payout_id = payout_id_for("key-1")
    entry = flow.store._entries[payout_id]
    from dataclasses import replace

    entry.record = replace(entry.record, created_at=iso(now_utc() - timedelta(minutes=11)))
    result = flow.pay()
    assert result.upstream is Upstream.UNKNOWN
    assert len(flow.gateway.payouts) == 1
    assert Flag.OUTCOME_UNKNOWN_AT_INITIATION.value in flow.record().flags


def test_an_accepted_payout_is_answered_from_the_write_that_stores_its_conversation_id(flow, monkeypatch):
    reads: list[str] = []
    real_get = flow.store.get

    def counted(transaction_id):
        reads.append(transaction_id)
        return real_get(transaction_id)

    monkeypatch.setattr(flow.store, "get", counted)
    result = flow.pay()
    assert result.record.ref(Ref.CONVERSATION_ID) == "AG_20261126_00000000000000000001"
    assert reads == [payout_id_for("key-1")]  # the replay check only: attach_refs returns the record


def test_bookkeeping_failures_after_the_call_still_answer_202(flow, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("DynamoDB throttled")

    monkeypatch.setattr(flow.store, "attach_refs", broken)
    flow.starter.fail = True
    result = flow.pay()
    assert result.upstream is Upstream.ACCEPTED
    assert initiation_answer(result)[1]["conversation_id"] == "AG_20261126_00000000000000000001"


# --- guard-rails ----------------------------------------------------------------------------------


def test_a_recipient_outside_the_allowlist_is_refused_with_403_and_nothing_is_written(flow):
    guarded = flow.with_guard_rails(allowed_recipients=frozenset({"254712345678"}))
    with pytest.raises(NotPermittedError) as refused:
        guarded.pay()
    assert (refused.value.field, refused.value.code) == ("phone_number", "recipient_not_allowed")
    assert guarded.store._entries == {}
    assert guarded.gateway.payouts == []
    assert guarded.pay(msisdn="254712345678").upstream is Upstream.ACCEPTED


def test_a_payout_above_the_maximum_is_refused_before_anything(flow):
    guarded = flow.with_guard_rails(max_per_payout=499)
    with pytest.raises(LimitExceededError) as refused:
        guarded.pay()
    assert (refused.value.field, refused.value.code) == ("amount", "payout_limit_exceeded")
    assert guarded.store._entries == {}
    assert guarded.gateway.payouts == []


def test_the_shortcode_budget_refuses_what_would_exceed_it_and_a_failure_gives_back(flow):
    guarded = flow.with_guard_rails(daily_budget=1000)
    assert guarded.pay("k1", amount=600).upstream is Upstream.ACCEPTED
    with pytest.raises(LimitExceededError) as refused:
        guarded.pay("k2", amount=500)
    assert (refused.value.field, refused.value.code) == ("amount", "daily_budget_exceeded")
    assert "shortcode" in refused.value.message
    assert list(guarded.store._entries) == [payout_id_for("k1")]
    assert len(guarded.gateway.payouts) == 1
    guarded.gateway.payout_answers.append(DarajaApiError("b2c_payment", 400, "400.002.02", "Bad Request"))
    assert guarded.pay("k3", amount=400).upstream is Upstream.REJECTED  # fits, fails, gives back
    assert guarded.pay("k4", amount=400).upstream is Upstream.ACCEPTED


def test_the_recipient_budget_is_per_recipient(flow):
    guarded = flow.with_guard_rails(recipient_daily_budget=800)
    assert guarded.pay("k1", amount=500).upstream is Upstream.ACCEPTED
    with pytest.raises(LimitExceededError) as refused:
        guarded.pay("k2", amount=500)
    assert "recipient" in refused.value.message
    assert guarded.pay("k3", amount=500, msisdn="254712345678").upstream is Upstream.ACCEPTED


def test_a_replay_keeps_one_reservation(flow):
    guarded = flow.with_guard_rails(daily_budget=1000)
    guarded.pay("k1", amount=600)
    guarded.pay("k1", amount=600)
    assert guarded.budgets.total("shortcode") == 600


def test_request_details_keep_the_occasion_only_when_given():
    assert "occasion" not in request().details
    assert request(occasion="Refund").details["occasion"] == "Refund"


def test_a_replay_answers_as_the_first_request_even_if_the_limits_changed_since(flow):
    first = flow.pay()
    stricter = flow.with_guard_rails(max_per_payout=100, allowed_recipients=frozenset({"254712345678"}))
    assert initiation_answer(stricter.pay()) == initiation_answer(first)
    assert len(flow.gateway.payouts) == 1


def aged(flow, payout_id, seconds=31):
    """As if the replay came after API Gateway's 30 s: the first request is surely over by then."""
    from dataclasses import replace

    entry = flow.store._entries[payout_id]
    entry.record = replace(entry.record, created_at=iso(now_utc() - timedelta(seconds=seconds)))
