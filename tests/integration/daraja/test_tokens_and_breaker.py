"""OAuth token expiry, revocation and sharing; the circuit breaker; retries on OAuth; typed errors."""

import asyncio
import socket
import time

import pytest

from mpesa.daraja.breaker import CircuitBreaker, CircuitBreakerError, DynamoBreakerStore, MemoryBreakerStore
from mpesa.daraja.errors import CircuitOpenError, DarajaApiError, DarajaTransportError, StillProcessingError
from mpesa.daraja.tokens import CachedToken, MemoryTokenCache, token_cache_key
from mpesa.service import MpesaService
from tests.support.daraja import STATE_TABLE, FakeClock, moto_state_table
from tests.support.daraja_simulator import build_client

OAUTH = "/oauth/v1/generate"
QUERY = "/mpesa/stkpushquery/v1/query"
PUSH = "/mpesa/stkpush/v1/processrequest"


def statuses(simulator, path):
    return [r["status"] for r in simulator.requests(path)]


def start_push(client, receiver, phone="254712345678"):
    return client.stk_push(
        phone_number=phone,
        amount=10,
        account_reference="INV-40",
        transaction_desc="Order 40",
        callback_url=receiver.url + "/v1/hooks/stk",
    ).checkout_request_id


def test_token_is_fetched_once_and_reused(simulator, receiver, client):
    cid = start_push(client, receiver)
    client.stk_query(cid)
    client.stk_query(cid)
    assert statuses(simulator, OAUTH) == [200]


def test_token_is_refreshed_before_it_expires(simulator, receiver, settings_for):
    simulator.configure(timestamp_max_skew_s=None)  # the fake clock also stamps the query, 55 min ahead
    clock = FakeClock(time.time())
    client = build_client(settings_for(), clock=clock)
    cid = start_push(client, receiver)
    clock.advance(3599 - 299)  # inside the 5-minute refresh margin
    client.stk_query(cid)
    assert statuses(simulator, OAUTH) == [200, 200]
    assert 401 not in statuses(simulator, QUERY)  # refreshed early, never rejected


def test_token_that_expired_at_daraja_is_refreshed_once_on_invalid_access_token(simulator, receiver, settings_for):
    simulator.configure(token_ttl_s=0.3)
    frozen = FakeClock(time.time())  # our side believes the token is still fresh
    client = build_client(settings_for(), clock=frozen)
    cid = start_push(client, receiver)
    time.sleep(0.4)  # let Daraja's (simulated) token expire; nothing is asserted about timing
    assert client.stk_query(cid).checkout_request_id == cid
    assert statuses(simulator, QUERY) == [401, 200]
    assert statuses(simulator, OAUTH) == [200, 200]


def test_revoked_token_gets_exactly_one_forced_refresh(simulator, receiver, client):
    cid = start_push(client, receiver)
    simulator.revoke_tokens()
    client.stk_query(cid)
    assert statuses(simulator, QUERY) == [401, 200]
    assert statuses(simulator, OAUTH) == [200, 200]


def test_containers_sharing_the_state_table_share_one_token(simulator, receiver, settings_for):
    simulator.configure(new_token_revokes_old=True)  # the FAQ's claim: a new token revokes the old
    with moto_state_table() as dynamodb:
        container_a = build_client(settings_for(), state_table_name=STATE_TABLE, dynamodb=dynamodb)
        container_b = build_client(settings_for(), state_table_name=STATE_TABLE, dynamodb=dynamodb)
        cid = start_push(container_a, receiver)
        container_b.stk_query(cid)
        container_a.stk_query(cid)
    assert statuses(simulator, OAUTH) == [200]
    assert 401 not in statuses(simulator, QUERY)


def test_containers_with_private_tokens_revoke_each_other(simulator, receiver, settings_for):
    """Why the token is shared: each private fetch revokes the other container's token."""
    simulator.configure(new_token_revokes_old=True)
    container_a = build_client(settings_for(), memory=MemoryTokenCache())
    container_b = build_client(settings_for(), memory=MemoryTokenCache())
    cid = start_push(container_a, receiver)
    container_b.stk_query(cid)
    container_a.stk_query(cid)  # a's token was revoked by b's fetch: one forced refresh recovers
    assert statuses(simulator, OAUTH) == [200, 200, 200]
    assert statuses(simulator, QUERY) == [200, 401, 200]


def test_oauth_503_burst_is_retried(simulator, client):
    simulator.fault(OAUTH, "status", status=503, count=3)
    assert client.access_token()
    assert statuses(simulator, OAUTH) == [503, 503, 503, 200]


def test_wrong_consumer_secret_is_a_typed_oauth_error(simulator, settings_for):
    client = build_client(settings_for(MMO_MPESA_CONSUMER_SECRET="wrong"))
    with pytest.raises(DarajaApiError) as caught:
        client.stk_query("ws_CO_1")
    assert (caught.value.api, caught.value.http_status, caught.value.error_code) == ("oauth", 400, "400.008.01")
    assert statuses(simulator, QUERY) == []


def test_connect_failures_on_stk_push_are_retried_and_reported_as_not_sent(settings_for):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = settings_for(MPESA_BASE_URL=f"http://127.0.0.1:{port}")
    memory = MemoryTokenCache()
    now_ms = int(time.time() * 1000)
    key = token_cache_key(settings.consumer_key.get_secret_value(), settings.daraja_base_url)
    memory.put(key, CachedToken("preloaded", now_ms, now_ms + 3_000_000, now_ms + 3_599_000))
    client = build_client(settings, memory=memory)
    with pytest.raises(DarajaTransportError) as caught:
        client.stk_push(
            phone_number="254708374149",
            amount=10,
            account_reference="INV-41",
            transaction_desc="Order 41",
            callback_url="http://127.0.0.1:9/v1/hooks/stk",
        )
    assert caught.value.request_sent is False
    result = asyncio.run(MpesaService(client=client).stk_push("254708374149", 10, "INV-41", "Order 41"))
    assert result["error_code"] == "NETWORK_ERROR"


def test_breaker_opens_after_five_upstream_failures_and_recovers(simulator, receiver, settings_for):
    clock = FakeClock(time.time())
    breaker = CircuitBreaker("daraja", store=MemoryBreakerStore(), clock=clock.now)
    client = build_client(settings_for(), breaker=breaker)
    cid = start_push(client, receiver, phone="254708374149")
    simulator.fault(QUERY, "status", status=502, count=5)  # not retried (only 503/504 are)
    for _ in range(5):
        with pytest.raises(DarajaApiError):
            client.stk_query(cid)
    with pytest.raises(CircuitOpenError):
        client.stk_query(cid)
    with pytest.raises(CircuitBreakerError):  # as the guide's examples catch it
        asyncio.run(MpesaService(client=client).stk_push("254708374149", 10, "INV-42", "Order 42"))
    assert len(simulator.requests(QUERY)) == 5  # nothing sent while open
    clock.advance(61)
    assert client.stk_query(cid).checkout_request_id == cid  # the half-open trial succeeds
    assert client.stk_query(cid).checkout_request_id == cid  # closed again


def test_breaker_state_is_shared_through_the_state_table(simulator, receiver, settings_for):
    clock = FakeClock(time.time())
    with moto_state_table() as dynamodb:

        def container():
            breaker = CircuitBreaker("daraja", store=DynamoBreakerStore(STATE_TABLE, dynamodb), clock=clock.now)
            return build_client(settings_for(), breaker=breaker)

        a, b = container(), container()
        cid = start_push(a, receiver)
        simulator.fault(QUERY, "status", status=500, count=5)  # 500.003.1001 Internal Server Error
        for client in (a, b, a, b, a):
            with pytest.raises(DarajaApiError):
                client.stk_query(cid)
        with pytest.raises(CircuitOpenError):
            b.stk_query(cid)


def test_business_errors_do_not_open_the_breaker(simulator, receiver, client):
    simulator.configure(stk_query_pending_style="500.001.1001")
    cid = start_push(client, receiver)
    for _ in range(6):
        assert client.stk_query(cid).is_pending  # 500.001.1001 "being processed" is an answer
    for _ in range(6):
        with pytest.raises(DarajaApiError) as caught:
            client.stk_query("ws_CO_does_not_exist")
        assert not isinstance(caught.value, StillProcessingError)
    assert client.stk_query(cid).is_pending
