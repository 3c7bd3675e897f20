import base64
import time
import uuid
from typing import Any, cast

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import padding
from urllib3.exceptions import MaxRetryError, NewConnectionError

from mpesa.clock import Deadline
from mpesa.daraja.breaker import CircuitBreaker, CircuitBreakerError, MemoryBreakerStore
from mpesa.daraja.client import DarajaClient
from mpesa.daraja.errors import (
    CircuitOpenError,
    DarajaApiError,
    DarajaError,
    DarajaResponseError,
    DarajaTransportError,
    DeadlineExceededError,
    InvalidAccessTokenError,
    OutcomeUnknownError,
)
from mpesa.daraja.transport import current_budget
from mpesa.errors import ConfigurationError, InputError
from tests.support.daraja import SANDBOX_PASSKEY, make_settings, pem
from tests.support.fake_daraja import (
    ACCEPTED_PUSH,
    B2C,
    OAUTH_PATH,
    PUSH,
    QUERY,
    answer,
    daraja_error,
    make_client,
)

HOOK = "https://pay.example.com/v1/hooks/stk"


@pytest.fixture
def client(settings, clock):
    return make_client(settings, clock)


def push(client, **overrides):
    args = {
        "phone_number": "254708374149",
        "amount": 1000,
        "account_reference": "ORDER_12345",
        "transaction_desc": "Payment",
        "callback_url": HOOK,
    }
    args.update(overrides)
    return client.stk_push(**args)


def b2c(client, **overrides):
    args = {
        "phone_number": "254708374149",
        "amount": 5000,
        "command_id": "BusinessPayment",
        "remarks": "Monthly salary",
        "result_url": "https://pay.example.com/v1/hooks/b2c/result",
        "queue_timeout_url": "https://pay.example.com/v1/hooks/b2c/timeout",
    }
    args.update(overrides)
    return client.b2c_payment(**args)


def test_stk_push_sends_daraja_body_with_eat_timestamp_and_matching_password(fake, client, clock):
    fake.queue(PUSH, answer(200, ACCEPTED_PUSH))
    accepted = push(client)
    assert accepted.checkout_request_id == "ws_CO_191220191020363925"
    body = fake.body(path=PUSH)
    assert body["Timestamp"] == "20260101030000"  # 00:00 UTC is 03:00 in Nairobi
    assert base64.b64decode(body["Password"]).decode() == "174379" + SANDBOX_PASSKEY + body["Timestamp"]
    assert body["Amount"] == 1000
    assert (body["PartyA"], body["PartyB"], body["PhoneNumber"]) == ("254708374149", "174379", "254708374149")
    assert body["CallBackURL"] == HOOK
    pushed = fake.sent_to(PUSH)[0]
    assert pushed.headers["Authorization"] == "Bearer token-1"
    assert pushed.headers["Content-Type"] == "application/json"
    oauth = fake.sent_to(OAUTH_PATH)[0]
    assert oauth.method == "GET"
    assert (
        oauth.headers["Authorization"] == "Basic " + base64.b64encode(b"sim-consumer-key:sim-consumer-secret").decode()
    )


def test_every_call_has_connect_and_read_timeouts(fake, client):
    fake.queue(PUSH, answer(200, ACCEPTED_PUSH))
    push(client)
    assert set(fake.timeouts) == {(1.0, 2.0)}


def test_timeouts_shrink_to_the_time_left_before_the_deadline(fake, client):
    # A query: a push is no longer started with less than connect + read window left (see below).
    fake.queue(QUERY, answer(200, {"ResponseCode": "0", "CheckoutRequestID": "ws_CO_1", "ResultCode": "0"}))
    client.stk_query("ws_CO_1", deadline=Deadline.within(1.5))
    connect_s, read_s = fake.timeouts[-1]
    assert connect_s == 1.0
    assert read_s <= 1.5


def test_money_moving_calls_use_the_connect_only_retry_policy(fake, client):
    fake.queue(PUSH, answer(200, ACCEPTED_PUSH))
    fake.queue(QUERY, answer(200, {"ResponseCode": "0", "CheckoutRequestID": "ws_CO_1", "ResultCode": "0"}))
    push(client)
    client.stk_query("ws_CO_1")
    assert [kind for kind, _ in fake.policies] == ["safe", "connect_only", "safe"]  # oauth, push, query


def test_invalid_token_forces_exactly_one_refresh_and_resend(fake, client):
    fake.queue(PUSH, daraja_error(404, "404.001.03", "Invalid Access Token"), answer(200, ACCEPTED_PUSH))
    assert push(client).checkout_request_id == ACCEPTED_PUSH["CheckoutRequestID"]
    assert [r.headers["Authorization"] for r in fake.sent_to(PUSH)] == ["Bearer token-1", "Bearer token-2"]


def test_a_second_invalid_token_answer_is_raised_not_looped(fake, client):
    fake.queue(PUSH, daraja_error(401, "401.002.01", "Invalid Access Token"))
    fake.queue(PUSH, daraja_error(400, "400.003.01", "Invalid Access Token"))
    with pytest.raises(InvalidAccessTokenError) as caught:
        push(client)
    assert caught.value.error_code == "400.003.01"
    assert len(fake.sent_to(PUSH)) == 2


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (requests.ReadTimeout("read timed out"), "read timeout"),
        (requests.ConnectionError(ConnectionResetError("reset by peer")), "connection failed"),
        (answer(504, "<html>Gateway Timeout</html>"), "HTTP 504"),
        (answer(503, "<html>Incapsula incident ID</html>"), "HTTP 503"),
        (daraja_error(503, "503.001.01", "Service Unavailable"), "HTTP 503"),
        (answer(500, b""), "HTTP 500"),
        (answer(200, "{not json"), "not JSON"),
        (answer(200, {"ResponseCode": "0"}), "CheckoutRequestID"),
    ],
)
def test_stk_push_with_unknown_outcome_is_timeout_and_sent_once(fake, client, outcome, reason):
    fake.queue(PUSH, outcome)
    with pytest.raises(OutcomeUnknownError, match=reason) as caught:
        push(client)
    assert caught.value.error_code == "TIMEOUT"
    assert len(fake.sent_to(PUSH)) == 1


def test_stk_push_surely_not_sent_is_a_transport_error(fake, client):
    refused = requests.ConnectionError(
        MaxRetryError(cast(Any, None), PUSH, NewConnectionError(cast(Any, None), "Connection refused"))
    )
    fake.queue(PUSH, refused)
    with pytest.raises(DarajaTransportError) as caught:
        push(client)
    assert caught.value.request_sent is False


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, "400.002.02", "Bad Request - Invalid PhoneNumber"),
        (500, "500.001.1001", "Merchant does not exist"),
        (500, "500.003.02", "Spike arrest violation"),
    ],
)
def test_daraja_rejections_keep_code_and_message(fake, client, status, code, message):
    fake.queue(PUSH, daraja_error(status, code, message))
    with pytest.raises(DarajaApiError) as caught:
        push(client)
    assert (caught.value.http_status, caught.value.error_code, caught.value.error_message) == (status, code, message)
    assert caught.value.request_id == "req-1"


def test_accepted_status_with_a_non_zero_response_code_is_a_rejection(fake, client):
    fake.queue(PUSH, answer(200, {**ACCEPTED_PUSH, "ResponseCode": "1", "ResponseDescription": "Rejected"}))
    with pytest.raises(DarajaApiError, match="Rejected") as caught:
        push(client)
    assert caught.value.error_code == "1"


def test_query_with_unreadable_answer_is_a_response_error_naming_the_problem(fake, client):
    fake.queue(QUERY, answer(200, "<html>"))
    with pytest.raises(DarajaResponseError, match="not JSON"):
        client.stk_query("ws_CO_1")
    fake.queue(QUERY, answer(200, {"ResponseCode": "0"}))
    with pytest.raises(DarajaResponseError, match="CheckoutRequestID"):
        client.stk_query("ws_CO_1")


def test_query_being_processed_error_is_a_pending_answer(fake, client):
    fake.queue(QUERY, daraja_error(500, "500.001.1001", "The transaction is being processed"))
    answer_ = client.stk_query("ws_CO_1")
    assert answer_.is_pending
    assert answer_.checkout_request_id == "ws_CO_1"


def test_b2c_carries_our_originator_conversation_id_and_an_encrypted_credential(fake, client, key_and_cert):
    fake.queue(B2C, answer(200, {"ConversationID": "AG_1", "OriginatorConversationID": "ocid-1", "ResponseCode": "0"}))
    accepted = b2c(client, originator_conversation_id="ocid-1", occasion="January")
    assert (accepted.conversation_id, accepted.originator_conversation_id) == ("AG_1", "ocid-1")
    body = fake.body(path=B2C)
    assert body["OriginatorConversationID"] == "ocid-1"
    assert body["Occassion"] == "January"
    assert (body["PartyA"], body["InitiatorName"]) == ("600996", "testapi")
    credential = base64.b64decode(body["SecurityCredential"])
    assert key_and_cert[0].decrypt(credential, padding.PKCS1v15()) == b"Safaricom999!*!"


def test_b2c_makes_a_uuid4_originator_conversation_id_when_none_is_given(fake, client):
    fake.queue(B2C, answer(200, {"ConversationID": "AG_1", "ResponseCode": "0"}))
    accepted = b2c(client)
    assert uuid.UUID(accepted.originator_conversation_id).version == 4
    assert fake.body(path=B2C)["OriginatorConversationID"] == accepted.originator_conversation_id


def test_b2c_duplicate_originator_conversation_id_means_accepted_earlier(fake, client):
    fake.queue(B2C, daraja_error(500, "500.002.1001", "Duplicate OriginatorConversationID."))
    accepted = b2c(client, originator_conversation_id="ocid-1")
    assert accepted.accepted_earlier
    assert accepted.accepted
    assert accepted.conversation_id is None
    assert accepted.originator_conversation_id == "ocid-1"


def test_b2c_without_an_answer_is_unknown_with_the_ocid_to_query(fake, client):
    fake.queue(B2C, requests.ReadTimeout("read timed out"))
    with pytest.raises(OutcomeUnknownError) as caught:
        b2c(client, originator_conversation_id="ocid-7")
    assert caught.value.originator_conversation_id == "ocid-7"


def test_five_upstream_failures_open_the_circuit_and_then_nothing_is_sent(fake, client, clock):
    fake.queue(QUERY, *[answer(503, "<html>") for _ in range(5)])
    for _ in range(5):
        with pytest.raises(DarajaApiError):
            client.stk_query("ws_CO_1")
    with pytest.raises(CircuitOpenError) as caught:
        client.stk_query("ws_CO_1")
    assert isinstance(caught.value, CircuitBreakerError)
    assert isinstance(caught.value, DarajaError)
    assert len(fake.sent_to(QUERY)) == 5
    clock.advance(61)
    fake.queue(QUERY, answer(200, {"ResponseCode": "0", "CheckoutRequestID": "ws_CO_1", "ResultCode": "0"}))
    assert client.stk_query("ws_CO_1").result_code == "0"


def test_validation_errors_do_not_count_towards_the_breaker(fake, client):
    fake.queue(PUSH, *[daraja_error(400, "400.002.02", "Bad Request - Invalid Amount") for _ in range(6)])
    for _ in range(6):
        with pytest.raises(DarajaApiError):
            push(client)
    assert len(fake.sent_to(PUSH)) == 6


def test_no_time_left_means_nothing_is_sent(fake, client):
    with pytest.raises(DeadlineExceededError):
        push(client, deadline=Deadline.within(0.1))
    assert fake.sent == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"phone_number": "0708374149"}, "phone_number"),
        ({"account_reference": "THIRTEEN-CHAR"}, "account_reference"),
        ({"callback_url": "https://pay.example.com/mpesa/stk"}, "callback_url"),
    ],
)
def test_invalid_input_is_refused_before_anything_is_sent(fake, client, overrides, field):
    with pytest.raises(InputError) as caught:
        push(client, **overrides)
    assert caught.value.field == field
    assert fake.sent == []


def test_production_callback_urls_must_be_https(fake, clock, key_and_cert):
    production = make_settings(MPESA_ENVIRONMENT="production", MPESA_CERTIFICATE_PEM=pem(key_and_cert[1]))
    with pytest.raises(InputError, match="https"):
        push(make_client(production, clock), callback_url="http://pay.example.com/v1/hooks/stk")


def test_c2b_paths_follow_the_configured_api_version(fake, clock):
    for version in ("v1", "v2"):
        client = make_client(make_settings(MPESA_C2B_API_VERSION=version), clock)
        fake.queue(
            f"/mpesa/c2b/{version}/registerurl",
            answer(200, {"OriginatorCoversationID": "o-1", "ResponseCode": "0", "ResponseDescription": "success"}),
        )
        registered = client.c2b_register_urls(
            confirmation_url="https://pay.example.com/v1/hooks/c2b/confirmation",
            validation_url="https://pay.example.com/v1/hooks/c2b/validation",
        )
        assert registered.originator_conversation_id == "o-1"
    assert [b["ResponseType"] for b in (fake.body(0, "/mpesa/c2b/v1/registerurl"),)] == ["Completed"]


def test_reversal_sends_receiver_identifier_type_11_and_is_never_resent(fake, client):
    fake.queue("/mpesa/reversal/v1/request", requests.ReadTimeout("read timed out"))
    with pytest.raises(OutcomeUnknownError):
        client.reversal(
            transaction_id="NLJ7RT61SV",
            amount=1000,
            result_url="https://pay.example.com/v1/hooks/reversal/result",
            queue_timeout_url="https://pay.example.com/v1/hooks/reversal/timeout",
        )
    body = fake.body(path="/mpesa/reversal/v1/request")
    assert (body["RecieverIdentifierType"], body["ReceiverParty"], body["Amount"]) == ("11", "174379", 1000)


def test_configuration_gaps_are_named(fake, clock):
    with pytest.raises(ConfigurationError, match="MPESA_TILL_NUMBER"):
        push(make_client(make_settings(MPESA_TRANSACTION_TYPE="CustomerBuyGoodsOnline"), clock))
    with pytest.raises(ConfigurationError, match="MPESA_CERTIFICATE_PEM"):
        b2c(make_client(make_settings(), clock))
    with pytest.raises(ConfigurationError, match="sandbox"):
        make_client(make_settings(MPESA_ENVIRONMENT="production"), clock).c2b_simulate(amount=10, msisdn="254708374149")
    assert fake.sent == []


# --- review regressions ---------------------------------------------------------------------------

REVERSAL = "/mpesa/reversal/v1/request"
ACCEPTED_ASYNC = {"ConversationID": "AG_1", "OriginatorConversationID": "o-1", "ResponseCode": "0"}


def refused():
    return requests.ConnectionError(
        MaxRetryError(cast(Any, None), "/x", NewConnectionError(cast(Any, None), "Connection refused"))
    )


def after_an_attempt_that_may_have_reached_daraja(outcome):
    """What urllib3 leaves when it retried a 503 or a read timeout: the budget says an attempt may have
    been processed, and `outcome` is what the last attempt got."""

    def last_attempt():
        budget = current_budget()
        assert budget is not None
        budget.reached = budget.retried_after_reaching = True
        return outcome

    return last_attempt


def reversal(client):
    return client.reversal(
        transaction_id="NLJ7RT61SV",
        amount=1000,
        result_url="https://pay.example.com/v1/hooks/reversal/result",
        queue_timeout_url="https://pay.example.com/v1/hooks/reversal/timeout",
    )


def c2b_simulate(client):
    return client.c2b_simulate(amount=10, msisdn="254708374149", bill_ref_number="INV-1")


MONEY_MOVING = {
    "stk_push": (PUSH, push),
    "b2c_payment": (B2C, b2c),
    "reversal": (REVERSAL, reversal),
    "c2b_simulate": ("/mpesa/c2b/v2/simulate", c2b_simulate),
}


def test_b2c_retry_that_cannot_connect_after_an_attempt_that_may_have_reached_daraja_is_unknown(fake, client):
    fake.queue(B2C, after_an_attempt_that_may_have_reached_daraja(refused()))
    with pytest.raises(OutcomeUnknownError, match="may have reached") as caught:
        b2c(client, originator_conversation_id="ocid-3")
    assert caught.value.originator_conversation_id == "ocid-3"


def test_query_retry_that_cannot_connect_after_an_answered_attempt_is_reported_as_sent(fake, client):
    fake.queue(QUERY, after_an_attempt_that_may_have_reached_daraja(refused()))
    with pytest.raises(DarajaTransportError) as caught:
        client.stk_query("ws_CO_1")
    assert caught.value.request_sent is True


@pytest.mark.parametrize(
    "last",
    [
        daraja_error(400, "400.002.02", "Bad Request - Invalid Amount"),
        daraja_error(500, "500.003.02", "Spike arrest violation"),
        daraja_error(404, "404.001.03", "Invalid Access Token"),
        answer(200, {"ConversationID": "AG_1", "ResponseCode": "1", "ResponseDescription": "Rejected"}),
    ],
    ids=["400", "spike-arrest", "invalid-token", "not-accepted"],
)
def test_b2c_retry_rejected_after_an_attempt_that_may_have_been_processed_is_unknown(fake, client, last):
    fake.queue(B2C, after_an_attempt_that_may_have_reached_daraja(last))
    with pytest.raises(OutcomeUnknownError) as caught:
        b2c(client, originator_conversation_id="ocid-4")
    assert caught.value.originator_conversation_id == "ocid-4"
    assert len(fake.sent_to(B2C)) == 1  # not re-sent with a fresh token either


def test_b2c_retry_meeting_the_duplicate_check_is_accepted_earlier(fake, client):
    duplicate = daraja_error(500, "500.002.1001", "Duplicate OriginatorConversationID.")
    fake.queue(B2C, after_an_attempt_that_may_have_reached_daraja(duplicate))
    assert b2c(client, originator_conversation_id="ocid-5").accepted_earlier


@pytest.mark.parametrize("api", list(MONEY_MOVING))
@pytest.mark.parametrize(
    ("status", "code", "message"),
    [(500, "500.003.1001", "Internal Server Error"), (500, "500.000.9999", "Something else")],
)
def test_a_5xx_daraja_error_outside_the_allowlist_is_unknown_on_money_moving_apis(
    fake, client, api, status, code, message
):
    path, call = MONEY_MOVING[api]
    fake.queue(path, daraja_error(status, code, message))
    with pytest.raises(OutcomeUnknownError, match=code) as caught:
        call(client)
    assert caught.value.http_status == status
    assert len(fake.sent_to(path)) == 1


@pytest.mark.parametrize("api", list(MONEY_MOVING))
@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, "400.002.02", "Bad Request - Invalid Amount"),
        (
            500,
            "500.001.1001",
            "Unable to lock subscriber, a transaction is already in process for the current subscriber",
        ),
        (500, "500.003.02", "Error Occurred: Spike Arrest Violation"),
        (500, "500.003.03", "Error Occurred: Quota Violation"),
    ],
)
def test_allowlisted_rejections_are_definite_on_money_moving_apis(fake, client, api, status, code, message):
    path, call = MONEY_MOVING[api]
    fake.queue(path, daraja_error(status, code, message))
    with pytest.raises(DarajaApiError) as caught:
        call(client)
    assert (caught.value.http_status, caught.value.error_code) == (status, code)


def test_a_push_without_time_for_a_whole_attempt_is_not_started(fake, client):
    # connect 1 s + read 2 s: with 2.5 s left the push would most likely end as an unknown outcome.
    with pytest.raises(DeadlineExceededError, match="needed"):
        push(client, deadline=Deadline.within(2.5))
    assert fake.sent == []  # not even a token


def test_a_token_wait_that_ate_the_budget_stops_the_push_before_it_is_sent(fake, settings, clock):
    class SlowTokens:
        def token(self, fetch, **_):
            time.sleep(0.2)  # another container's refresh, or a slow OAuth answer
            return "token-slow"

    breaker = CircuitBreaker("daraja", store=MemoryBreakerStore(), clock=clock.now)
    client = DarajaClient(settings, tokens=cast(Any, SlowTokens()), breaker=breaker, clock=clock)
    with pytest.raises(DeadlineExceededError):
        push(client, deadline=Deadline.within(3.1))  # 3 s needed for the push itself
    assert fake.sent_to(PUSH) == []


def test_the_token_fetch_before_a_push_leaves_time_for_the_push(fake, client):
    fake.queue(PUSH, answer(200, ACCEPTED_PUSH))
    push(client, deadline=Deadline.within(4.5))
    _, oauth_read_s = fake.timeouts[0]
    assert oauth_read_s <= 1.5  # 3 s of the 4.5 s are kept for the push
    assert fake.timeouts[1] == (1.0, 2.0)


def test_a_half_open_trial_call_ends_before_its_claim_on_the_slot(fake, clock):
    client = make_client(make_settings(MPESA_READ_TIMEOUT_S=30), clock)
    fake.queue(QUERY, *[answer(502, "<html>") for _ in range(5)])
    for _ in range(5):
        with pytest.raises(DarajaApiError):
            client.stk_query("ws_CO_1")
    clock.advance(61)
    fake.queue(QUERY, answer(200, {"ResponseCode": "0", "CheckoutRequestID": "ws_CO_1", "ResultCode": "0"}))
    client.stk_query("ws_CO_1", deadline=Deadline.within(300))
    _, read_s = fake.timeouts[-1]
    assert read_s <= client.breaker.trial_seconds - 1
