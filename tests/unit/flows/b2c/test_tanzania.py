"""A Tanzanian payout through the B2C flow (fakes): the same guard-rails, budgets, record and events as
Kenya's, paid through Vodacom's OpenAPI, whose answer is the outcome; an unknown outcome is learned by
the status query with the same ThirdPartyConversationID, never by paying again."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import pytest

from mpesa.clock import iso, now_utc
from mpesa.errors import LimitExceededError, RequestInProgressError
from mpesa.flows.b2c import B2cDeps, B2cPayouts, GuardRails, PayoutRequest, Upstream, initiation_answer, payout_id_for
from mpesa.openapi.errors import OpenApiNotSentError, OpenApiOutcomeUnknownError, OpenApiRefusedError
from mpesa.records import Flag, Kind, NewRecord, Record, Ref, SettledBy, Status
from tests.support.fakes import (
    FakeB2cGateway,
    FakeOpenApiGateway,
    InMemoryBudgets,
    InMemoryRecordStore,
    RecordingPublisher,
    RecordingStarter,
    openapi_status,
    providers_for,
    tanzania_settings,
)
from tests.unit.flows.b2c.conftest import Flow

PHONE = "255741234567"


@dataclass
class TzPayouts:
    payouts: B2cPayouts
    deps: B2cDeps
    store: InMemoryRecordStore
    publisher: RecordingPublisher
    openapi: FakeOpenApiGateway
    daraja: FakeB2cGateway
    budgets: InMemoryBudgets
    starter: RecordingStarter

    def pay(self, key: str = "tz-key-1", **overrides: object):
        values: dict[str, object] = {
            "country": "TZ",
            "msisdn": PHONE,
            "amount": 2500,
            "command_id": "BusinessPayment",
            "remarks": "Refund for order 9",
            "occasion": None,
        }
        values.update(overrides)
        return self.payouts.initiate(PayoutRequest(**values), request_key=key)  # type: ignore[arg-type]

    def record(self, key: str = "tz-key-1") -> Record:
        return self.store.get(payout_id_for(key))


@pytest.fixture
def tz(flow: Flow) -> TzPayouts:
    """The B2C flow of the unit tests (conftest), with Tanzania served by a fake OpenAPI."""
    settings, openapi = tanzania_settings(MPESA_B2C_SHORT_CODE="600996"), FakeOpenApiGateway()
    deps = replace(flow.deps, settings=settings, providers=providers_for(settings, openapi, b2c=flow.gateway))
    payouts = B2cPayouts(deps)
    return TzPayouts(payouts, deps, flow.store, flow.publisher, openapi, flow.gateway, flow.budgets, flow.starter)


def test_a_payout_is_paid_through_the_openapi_and_settled_by_its_answer(tz):
    result = tz.pay()
    assert result.upstream is Upstream.ACCEPTED
    record = tz.record()
    caller_id = record.ref(Ref.THIRD_PARTY_CONVERSATION_ID)
    (sent,) = tz.openapi.payouts
    assert sent["third_party_conversation_id"] == caller_id
    assert (sent["customer_msisdn"], sent["amount"]) == (PHONE, 2500)
    assert tz.daraja.payouts == []  # never Daraja
    assert (record.status, record.receipt, record.settled_by) == (Status.SUCCESS, "TXN0000001", SettledBy.ANSWER)
    assert record.currency == "TZS"
    assert "completed_at" in record.details
    assert tz.publisher.types() == ["payout.succeeded"]
    assert tz.starter.started == []  # nothing left to resolve
    status, body, _ = initiation_answer(result)
    assert (status, body["status"], body["third_party_conversation_id"]) == (202, "SUCCESS", caller_id)
    assert body["originator_conversation_id"] is None


def test_the_budgets_are_kept_per_service_provider_code(tz):
    tz.pay()
    assert tz.budgets.total("shortcode") == 2500
    (held,) = tz.budgets.holds.values()
    assert {c.key for c in held[0].counters if c.scope.value == "shortcode"} == {"000000"}


def test_the_same_guard_rails_refuse_before_anything_is_written(tz):
    rails = replace(tz.deps, guard_rails=GuardRails(max_per_payout=2000))
    with pytest.raises(LimitExceededError, match="TZS"):
        B2cPayouts(rails).initiate(
            PayoutRequest("TZ", PHONE, 2500, "BusinessPayment", "Refund for order 9", None), request_key="k"
        )
    assert tz.openapi.payouts == []


def test_a_refused_payout_fails_and_gives_its_budget_back(tz):
    tz.openapi.payout_answers.append(OpenApiRefusedError("b2c_payment", 422, "INS-2006", "Insufficient balance"))
    result = tz.pay()
    assert result.upstream is Upstream.REJECTED
    record = tz.record()
    assert (record.status, record.result_code) == (Status.FAILED, "INS-2006")
    assert tz.budgets.total("shortcode") == 0
    assert tz.publisher.types() == ["payout.failed"]
    status, body, _ = initiation_answer(result)
    assert (status, body["mpesa_error_code"]) == (502, "INS-2006")


def test_a_refusal_naming_the_request_is_the_callers_error(tz):
    tz.openapi.payout_answers.append(OpenApiRefusedError("b2c_payment", 400, "INS-2051", "MSISDN invalid."))
    assert initiation_answer(tz.pay())[0] == 422


def test_an_unknown_outcome_is_resolved_by_query_and_never_paid_twice(tz):
    tz.openapi.payout_answers.append(
        OpenApiOutcomeUnknownError("b2c_payment", "read timeout", third_party_conversation_id="x")
    )
    result = tz.pay()
    assert result.upstream is Upstream.UNKNOWN
    record = tz.record()
    assert Flag.OUTCOME_UNKNOWN_AT_INITIATION.value in record.flags
    assert tz.starter.started == []  # after the Result's wait, the sweep's check starts the flow that queries it
    assert tz.budgets.total("shortcode") == 2500  # it may have been paid: the budget stays taken
    again = tz.pay()  # a replay never pays again
    assert again.upstream is Upstream.UNKNOWN
    tz.openapi.query_answers.append(openapi_status("Completed", "LATE000002"))
    step = tz.payouts.resolve(record.transaction_id, 0, 5)
    assert (step.status, step.settled) == (Status.SUCCESS, True)
    settled = tz.record()
    assert (settled.receipt, settled.settled_by) == ("LATE000002", SettledBy.QUERY)
    assert tz.openapi.queries == [record.ref(Ref.THIRD_PARTY_CONVERSATION_ID)]
    assert len(tz.openapi.payouts) == 1
    assert tz.publisher.types() == ["payout.succeeded"]


def test_a_failed_answer_to_the_query_fails_the_payout_and_releases_its_budget(tz):
    unknown = OpenApiOutcomeUnknownError("b2c_payment", "INS-1", third_party_conversation_id="x")
    tz.openapi.payout_answers.append(unknown)
    tz.pay()
    tz.openapi.query_answers.append(openapi_status("Failed"))
    later = now_utc() + timedelta(hours=1)
    assert tz.payouts.resolution.resolve_due(tz.record(), later, None) == ["status_asked", "resolved"]
    assert (tz.record().status, tz.budgets.total("shortcode")) == (Status.FAILED, 0)


def test_a_payout_that_never_left_may_be_retried_with_the_same_key(tz):
    tz.openapi.payout_answers.append(OpenApiNotSentError("b2c_payment", "connection refused"))
    assert tz.pay().upstream is Upstream.NOT_SENT
    assert tz.budgets.total("shortcode") == 0
    first_id = tz.record().ref(Ref.THIRD_PARTY_CONVERSATION_ID)
    assert tz.pay().upstream is Upstream.ACCEPTED
    assert tz.record().ref(Ref.THIRD_PARTY_CONVERSATION_ID) != first_id  # a new request, a new ID
    assert len(tz.openapi.payouts) == 2
    assert tz.budgets.total("shortcode") == 2500


def test_a_replay_after_a_crash_sends_only_a_payout_whose_send_was_never_claimed(tz):
    # A crash in the call: the send was claimed first, so it may have left; the replay never sends it.
    tz.openapi.payout_answers.append(RuntimeError("the Lambda died in the call"))
    with pytest.raises(RuntimeError):
        tz.pay()
    assert tz.record().send_claimed_at is not None
    entry = tz.store._entries[tz.record().transaction_id]  # replayed after API Gateway's 30 s
    entry.record = replace(entry.record, created_at=iso(now_utc() - timedelta(seconds=31)))
    assert tz.pay().upstream is Upstream.UNKNOWN
    assert len(tz.openapi.payouts) == 1
    # A crash between the record and the claim: nothing left; the replay claims it and pays, once.
    caller_id = "b" * 32
    tz.store.create_pending(
        NewRecord(
            kind=Kind.B2C,
            transaction_id=payout_id_for("tz-key-2"),
            country="TZ",
            currency="TZS",
            amount=2500,
            msisdn=PHONE,
            details={"command_id": "BusinessPayment", "remarks": "Refund for order 9"},
            next_check_at=now_utc(),
            refs={Ref.THIRD_PARTY_CONVERSATION_ID: caller_id},
        )
    )
    with pytest.raises(RequestInProgressError):
        tz.pay("tz-key-2")  # the first request may still be about to claim it
    entry = tz.store._entries[payout_id_for("tz-key-2")]
    entry.record = replace(entry.record, created_at=iso(now_utc() - timedelta(seconds=31)))
    assert tz.pay("tz-key-2").upstream is Upstream.ACCEPTED
    assert tz.pay("tz-key-2").upstream is Upstream.ACCEPTED
    assert [p["third_party_conversation_id"] for p in tz.openapi.payouts[1:]] == [caller_id]


def test_a_ugandan_payout_is_never_recorded(tz):
    from mpesa.errors import InputError

    with pytest.raises(InputError) as refused:
        tz.pay(country="UG", msisdn="256772123456", amount=1000)
    assert refused.value.field == "country"
    assert tz.store.due("b2c", now_utc() + timedelta(days=1)) == []


def test_a_claimed_replay_that_is_not_sent_fails_truthfully_since_nothing_ever_left(tz):
    """Unlike Kenya's re-send, a Tanzanian replay sends only a payout whose send was never claimed: no
    earlier request can have left, so "not sent" is the payout's whole story (FAILED NOT_SENT, budget
    back) and a further replay is a new request, paid once."""
    caller_id = "c" * 32
    payout_id = payout_id_for("tz-key-3")
    tz.store.create_pending(
        NewRecord(
            kind=Kind.B2C,
            transaction_id=payout_id,
            country="TZ",
            currency="TZS",
            amount=2500,
            msisdn=PHONE,
            details={"command_id": "BusinessPayment", "remarks": "Refund for order 9"},
            next_check_at=now_utc(),
            refs={Ref.THIRD_PARTY_CONVERSATION_ID: caller_id},
        )
    )
    entry = tz.store._entries[payout_id]  # the first request died between the record and the claim
    entry.record = replace(entry.record, created_at=iso(now_utc() - timedelta(seconds=31)))
    tz.openapi.payout_answers.append(OpenApiNotSentError("b2c_payment", "connection refused"))
    assert tz.pay("tz-key-3").upstream is Upstream.NOT_SENT
    assert (tz.record("tz-key-3").status, tz.record("tz-key-3").send_claimed_at is not None) == (Status.FAILED, True)
    assert tz.pay("tz-key-3").upstream is Upstream.ACCEPTED
    sent = [p["third_party_conversation_id"] for p in tz.openapi.payouts]
    assert sent[0] == caller_id
    assert len(sent) == 2
    assert sent[1] != caller_id
    assert tz.pay("tz-key-3").upstream is Upstream.ACCEPTED
    assert len(tz.openapi.payouts) == 2
