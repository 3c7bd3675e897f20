import base64
import uuid
from typing import Any, cast

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import padding
from urllib3.exceptions import MaxRetryError, NewConnectionError

from mpesa.breaker import CircuitBreakerError
from mpesa.daraja import (
    CircuitOpenError,
    DarajaApiError,
    DarajaError,
    DarajaResponseError,
    DarajaTransportError,
    Deadline,
    DeadlineExceededError,
    InvalidAccessTokenError,
    OutcomeUnknownError,
)
from mpesa.errors import ConfigurationError, InputError
from tests.unit.daraja.fake_daraja import (
    ACCEPTED_PUSH,
    B2C,
    OAUTH_PATH,
    PUSH,
    QUERY,
    answer,
    daraja_error,
    make_client,
)
from tests.unit.daraja.helpers import SANDBOX_PASSKEY, make_settings, pem

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
    fake.queue(PUSH, answer(200, ACCEPTED_PUSH))
    push(client, deadline=Deadline.within(1.5))
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
