"""Vodacom's OpenAPI as a provider, over a fake client raising the client's own errors: every INS code
becomes one normalized outcome (paid, refused, not sent, unknown), and every status answer a final
Status or an open request. Nothing here decides anything the shared outcome table does not."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mpesa.clock import Deadline
from mpesa.codes import INS_CODES, Disposition, classify_ins
from mpesa.daraja.breaker import CircuitBreakerError
from mpesa.errors import ConfigurationError, ProviderUnavailableError
from mpesa.flows.b2c import PayoutRequest
from mpesa.flows.b2c.urls import PayoutUrls
from mpesa.openapi.errors import (
    OpenApiAnswerMismatchError,
    OpenApiCircuitOpenError,
    OpenApiDeadlineExceededError,
    OpenApiDuplicateError,
    OpenApiNotSentError,
    OpenApiOutcomeUnknownError,
    OpenApiRefusedError,
    OpenApiResponseError,
    OpenApiTransportError,
    OpenApiUnavailableError,
    SessionRefusedError,
    SessionUnavailableError,
    TransactionNotFoundError,
)
from mpesa.providers.base import Accepted, Mismatched, NotSent, QueryAnswer, QueryRefused, Refused, Unknown
from mpesa.providers.openapi import OpenApiProvider
from mpesa.records.model import Kind, Record, Ref, SettledBy, Status
from tests.support.fakes import FakeOpenApiGateway, openapi_status, tanzania_settings

CALLER = "a" * 32
SETTINGS = tanzania_settings()


def record(kind: Kind = Kind.STK) -> Record:
    details = {"account_reference": "ORDER1", "transaction_desc": "Two tickets"}
    if kind is Kind.B2C:
        details = {"command_id": "BusinessPayment", "remarks": "Refund for order 9"}
    return Record(
        kind,
        "f" * 32,
        Status.PENDING,
        "TZ",
        "TZS",
        1500,
        "255741234567",
        "2026-12-01T10:00:00.000Z",
        "2026-12-01T10:00:00.000Z",
        details=details,
        refs={Ref.THIRD_PARTY_CONVERSATION_ID: CALLER},
    )


PAYOUT = PayoutRequest("TZ", "255741234567", 1500, "BusinessPayment", "Refund for order 9", None)


@pytest.fixture
def openapi() -> FakeOpenApiGateway:
    return FakeOpenApiGateway()


@pytest.fixture
def provider(openapi: FakeOpenApiGateway) -> OpenApiProvider:
    return OpenApiProvider(SETTINGS, lambda: openapi)


def prompt(provider: OpenApiProvider) -> object:
    return provider.prompt(record(), callback_url=None, deadline=Deadline.within(30))


def payout(provider: OpenApiProvider) -> object:
    return provider.payout(record(Kind.B2C), PAYOUT, replies=PayoutUrls(SETTINGS, "f" * 32), deadline=None)


def test_the_identifiers_are_chosen_before_the_call_and_sent_with_it(provider, openapi):
    assert set(provider.prompt_refs()) == {Ref.THIRD_PARTY_CONVERSATION_ID}
    assert provider.prompt_refs() != provider.prompt_refs()
    assert set(provider.payout_refs()) == {Ref.THIRD_PARTY_CONVERSATION_ID}
    prompt(provider)
    payout(provider)
    (sent,) = openapi.prompts
    assert sent["third_party_conversation_id"] == CALLER
    assert (sent["customer_msisdn"], sent["amount"], sent["transaction_reference"]) == ("255741234567", 1500, "ORDER1")
    assert sent["purchased_items_desc"] == "Two tickets"
    (paid,) = openapi.payouts
    assert paid["third_party_conversation_id"] == CALLER
    assert paid["transaction_reference"] == ("f" * 32)[:20]
    assert paid["payment_items_desc"] == "Refund for order 9"


def test_a_record_made_for_another_provider_is_never_sent(provider, openapi):
    without = replace(record(), refs={})
    with pytest.raises(ConfigurationError):
        provider.prompt(without, callback_url=None, deadline=None)
    assert openapi.prompts == []
    assert provider.can_query(without) is False


@pytest.mark.parametrize("send", [prompt, payout], ids=["prompt", "payout"])
def test_a_paid_answer_is_the_settlement_with_the_receipt(provider, send):
    outcome = send(provider)
    assert isinstance(outcome, Accepted)
    paid = outcome.settlement
    assert paid is not None
    assert (paid.status, paid.result_code, paid.source) == (Status.SUCCESS, "INS-0", SettledBy.ANSWER)
    assert paid.receipt == "TXN0000001"
    assert paid.refs == {Ref.CONVERSATION_ID: "c" * 32} == outcome.refs
    assert ("completed_at" in paid.details) is (send is payout)  # a payout reports it, as a B2C Result does


def _error_for(code: str) -> Exception:
    """What the client raises for a money-moving request answered with `code` (mpesa.openapi.answers):
    a refusal when the table says the request ended, an unknown outcome otherwise."""
    if classify_ins(code).final:
        return OpenApiRefusedError("c2b_single_stage", 400, code, f"refused {code}")
    if code == "INS-10":
        return OpenApiDuplicateError("c2b_single_stage", "duplicate", third_party_conversation_id=CALLER)
    return OpenApiOutcomeUnknownError(
        "c2b_single_stage", code, third_party_conversation_id=CALLER, response_code=code, conversation_id="e" * 32
    )


@pytest.mark.parametrize("code", sorted(INS_CODES - {"INS-0"} | {"INS-77"}))
@pytest.mark.parametrize("send", [prompt, payout], ids=["prompt", "payout"])
def test_each_ins_code_is_one_outcome(provider, openapi, send, code):
    openapi.prompt_answers.append(_error_for(code))
    openapi.payout_answers.append(_error_for(code))
    outcome = send(provider)
    info = classify_ins(code)
    if info.final:
        assert isinstance(outcome, Refused)
        assert (outcome.code, outcome.description) == (code, f"refused {code}")
        cancelled = send is prompt and code == "INS-5"  # only a customer declines, and only a prompt
        assert outcome.status is (Status.CANCELLED if cancelled else Status.FAILED)
    else:
        assert info.disposition is Disposition.UNKNOWN
        assert isinstance(outcome, Unknown)  # may have moved money: the query decides, never a re-send


def test_an_unknown_outcome_keeps_the_conversation_id_to_store(provider, openapi):
    openapi.prompt_answers.append(_error_for("INS-9"))
    outcome = prompt(provider)
    assert isinstance(outcome, Unknown)
    assert outcome.refs == {Ref.CONVERSATION_ID: "e" * 32}


def test_a_gateway_refusal_without_an_ins_code_is_refused_with_its_status(provider, openapi):
    openapi.payout_answers.append(OpenApiRefusedError("b2c_payment", 404, None, "not found"))
    outcome = payout(provider)
    assert isinstance(outcome, Refused)
    assert outcome.code == "HTTP404"


@pytest.mark.parametrize(
    "error",
    [
        OpenApiNotSentError("c2b_single_stage", "connection refused"),
        OpenApiDeadlineExceededError("c2b_single_stage", "no time left"),
        SessionUnavailableError("session", "another container is creating it"),
        OpenApiCircuitOpenError("c2b_single_stage", CircuitBreakerError("openapi-vodacomTZN", 30.0)),
        OpenApiTransportError("session", "read timeout", request_sent=True),  # about the session, not the C2B
        OpenApiResponseError("session", 200, "output_SessionID: missing"),
    ],
    ids=type,
)
def test_errors_that_moved_nothing_are_not_sent(provider, openapi, error):
    openapi.prompt_answers.append(error)
    outcome = prompt(provider)
    assert isinstance(outcome, NotSent)
    assert outcome.error == type(error).__name__


def test_a_session_refused_twice_is_a_refusal(provider, openapi):
    openapi.prompt_answers.append(SessionRefusedError("c2b_single_stage", 401, "INS-26", "Not authorised"))
    assert prompt(provider) == Refused("INS-26", "Not authorised", Status.FAILED)


# --- the status query ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "prompt_status", "payout_status"),
    [
        ("Completed", Status.SUCCESS, Status.SUCCESS),
        ("Cancelled", Status.CANCELLED, Status.FAILED),
        ("Failed", Status.FAILED, Status.FAILED),
        ("Expired", Status.TIMEOUT, Status.FAILED),
        ("Pending", None, None),
        ("Reversed", None, None),  # not a state we know: never final
        ("", None, None),
    ],
)
def test_each_transaction_state_is_a_final_status_or_open(provider, openapi, state, prompt_status, payout_status):
    for kind, expected in ((Kind.STK, prompt_status), (Kind.B2C, payout_status)):
        openapi.query_answers.append(openapi_status(state, "TXN0000009" if state == "Completed" else ""))
        answer = provider.query_prompt(record(kind), deadline=None)
        assert isinstance(answer, QueryAnswer)
        assert answer.status is expected
        assert answer.pending is (state == "Pending")
        assert answer.receipt == ("TXN0000009" if expected is Status.SUCCESS else None)
        settlement = answer.settlement()
        assert (settlement is None) is (expected is None)
        if settlement is not None:
            assert (settlement.source, settlement.result_code) == (SettledBy.QUERY, state)
    assert openapi.queries == [CALLER] * 2  # by our ThirdPartyConversationID


def test_not_found_leaves_the_request_open(provider, openapi):
    openapi.query_answers.append(TransactionNotFoundError("query_transaction_status", 400, "INS-18", "Invalid"))
    answer = provider.query_prompt(record(), deadline=None)
    assert isinstance(answer, QueryAnswer)
    assert (answer.result_code, answer.status, answer.settlement()) == ("INS-18", None, None)


def test_an_answer_about_another_request_is_a_mismatch(provider, openapi):
    openapi.query_answers.append(OpenApiAnswerMismatchError("query_transaction_status", CALLER, "b" * 32))
    assert provider.query_prompt(record(), deadline=None) == Mismatched()


def test_a_refused_query_teaches_nothing(provider, openapi):
    openapi.query_answers.append(OpenApiRefusedError("query_transaction_status", 400, "INS-13", "Invalid shortcode"))
    assert provider.query_prompt(record(), deadline=None) == QueryRefused("INS-13")
    assert provider.query_prompt(replace(record(), refs={}), deadline=None) == QueryRefused(None)


@pytest.mark.parametrize(
    "error",
    [
        OpenApiUnavailableError("query_transaction_status", 503, "INS-16", "overloaded"),
        OpenApiTransportError("query_transaction_status", "reset", request_sent=True),
        OpenApiResponseError("query_transaction_status", 200, "unreadable"),
    ],
    ids=type,
)
def test_transient_trouble_is_provider_unavailable(provider, openapi, error):
    openapi.query_answers.append(error)
    with pytest.raises(ProviderUnavailableError):
        provider.query_payout(record(Kind.B2C), replies=PayoutUrls(SETTINGS, "f" * 32), deadline=None)


def test_payouts_are_paid_from_the_service_provider_code(provider):
    assert provider.payout_account() == "000000"
    unset = OpenApiProvider(tanzania_settings(MPESA_TZ_SERVICE_PROVIDER_CODE=None), lambda: FakeOpenApiGateway())
    with pytest.raises(ConfigurationError):
        unset.payout_account()


def test_the_prompt_takes_as_long_as_the_customer_may(provider):
    assert provider.prompt_waits_for_customer is True
    assert provider.prompt_wait_s() >= SETTINGS.tz_c2b_read_timeout_s
