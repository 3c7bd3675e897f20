import threading
import time
from decimal import Decimal
from typing import Any, cast

import pytest

from mpesa.clock import Deadline
from mpesa.daraja.errors import TokenUnavailableError
from mpesa.daraja.models import AccessTokenResponse
from mpesa.daraja.tokens import (
    DEFAULT_LEASE_S,
    CachedToken,
    DynamoTokenStore,
    MemoryTokenCache,
    TokenProvider,
    token_cache_key,
)
from tests.support.daraja import STATE_TABLE as TABLE

KEY = token_cache_key("consumer-key", "https://sandbox.safaricom.co.ke")


class Daraja:
    """Counts OAuth fetches and hands out token-1, token-2, ..."""

    def __init__(self, expires_in="3599"):
        self.fetches = 0
        self.expires_in = expires_in

    def __call__(self):
        self.fetches += 1
        return AccessTokenResponse(access_token=f"token-{self.fetches}", expires_in=Decimal(self.expires_in))


def provider(clock, store=None, owner="container-a", **options):
    return TokenProvider(KEY, store=store, memory=MemoryTokenCache(), clock=clock, owner=owner, **options)


def item(dynamodb):
    return dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": KEY}}, ConsistentRead=True).get("Item", {})


def test_cache_key_hashes_the_consumer_key_and_base_url():
    assert KEY.startswith("token#")
    assert len(KEY) == len("token#") + 16
    assert "consumer-key" not in KEY
    assert token_cache_key("consumer-key", "http://127.0.0.1:8000") != KEY


def test_memory_only_token_is_reused_until_five_minutes_before_expiry(clock):
    daraja, tokens = Daraja(), provider(clock)
    assert tokens.token(daraja) == "token-1"
    clock.advance(3599 - 301)
    assert tokens.token(daraja) == "token-1"
    clock.advance(2)
    assert tokens.token(daraja) == "token-2"
    assert daraja.fetches == 2


def test_short_lived_tokens_refresh_at_three_quarters_of_their_life(clock):
    daraja, tokens = Daraja(expires_in="2"), provider(clock)
    tokens.token(daraja)
    clock.advance(1.4)
    assert tokens.token(daraja) == "token-1"
    clock.advance(0.2)
    assert tokens.token(daraja) == "token-2"


def test_a_rejected_token_is_refetched_even_if_fresh(clock):
    daraja, tokens = Daraja(), provider(clock)
    first = tokens.token(daraja)
    assert tokens.token(daraja, reject=first) == "token-2"
    assert tokens.token(daraja) == "token-2"


def test_threads_of_one_container_fetch_once(clock):
    release = threading.Event()
    fetches = []

    def slow_fetch():
        fetches.append(1)
        release.wait(5)
        return AccessTokenResponse(access_token="token-1", expires_in=Decimal(3599))

    tokens = provider(clock)
    results = []
    threads = [threading.Thread(target=lambda: results.append(tokens.token(slow_fetch))) for _ in range(5)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    release.set()
    for t in threads:
        t.join(5)
    assert results == ["token-1"] * 5
    assert len(fetches) == 1


def test_second_container_uses_the_shared_token_without_fetching(clock, dynamodb):
    store = DynamoTokenStore(TABLE, dynamodb)
    daraja = Daraja()
    assert provider(clock, store, owner="a").token(daraja) == "token-1"
    assert provider(clock, store, owner="b").token(daraja) == "token-1"
    assert daraja.fetches == 1


def test_shared_item_holds_the_token_never_the_secret_and_expires_by_ttl(clock, dynamodb):
    provider(clock, DynamoTokenStore(TABLE, dynamodb)).token(Daraja())
    stored = item(dynamodb)
    assert stored["pk"]["S"] == KEY
    assert stored["access_token"]["S"] == "token-1"
    assert "consumer-secret" not in str(stored)
    assert int(stored["expires_at"]["N"]) == int(clock.now()) + 3599
    assert "lease_until" not in stored  # the lease is released with the save


def test_waiting_container_picks_up_the_token_the_lease_holder_stores(clock, dynamodb):
    store = DynamoTokenStore(TABLE, dynamodb)
    now_ms = int(clock.now() * 1000)
    assert store.try_lease(KEY, "holder", now_ms, now_ms + 10_000) is not None
    holder_token = CachedToken("token-from-holder", now_ms, now_ms + 3_000_000, now_ms + 3_599_000)
    clock.on_sleep = lambda: store.save(KEY, holder_token)  # the holder finishes while we wait

    daraja = Daraja()
    assert provider(clock, store).token(daraja) == "token-from-holder"
    assert daraja.fetches == 0
    assert clock.sleeps  # it did wait (on the injected clock)


def test_lease_holder_that_died_is_taken_over_after_its_lease_expires(clock, dynamodb):
    store = DynamoTokenStore(TABLE, dynamodb)
    now_ms = int(clock.now() * 1000)
    store.try_lease(KEY, "dead-container", now_ms, now_ms + 10_000)

    daraja = Daraja()
    assert provider(clock, store).token(daraja) == "token-1"
    assert daraja.fetches == 1
    assert sum(clock.sleeps) >= 10  # waited for the lease to run out, not less


def test_within_the_margin_the_current_token_is_used_while_another_refreshes(clock, dynamodb):
    store = DynamoTokenStore(TABLE, dynamodb)
    daraja = Daraja()
    provider(clock, store, owner="a").token(daraja)
    clock.advance(3599 - 200)  # inside the 5-minute margin, still valid
    now_ms = int(clock.now() * 1000)
    store.try_lease(KEY, "refresher", now_ms, now_ms + 10_000)
    assert provider(clock, store, owner="b").token(daraja) == "token-1"
    assert daraja.fetches == 1
    assert clock.sleeps == []


def test_no_usable_token_and_no_time_to_wait_is_a_typed_error(clock, dynamodb):
    store = DynamoTokenStore(TABLE, dynamodb)
    now_ms = int(clock.now() * 1000)
    store.try_lease(KEY, "holder", now_ms, now_ms + 10_000)
    with pytest.raises(TokenUnavailableError):
        provider(clock, store).token(Daraja(), max_wait_s=0)


def test_failed_fetch_releases_the_lease_for_others(clock, dynamodb):
    store = DynamoTokenStore(TABLE, dynamodb)

    def broken():
        raise ConnectionError("daraja down")

    with pytest.raises(ConnectionError):
        provider(clock, store).token(broken)
    assert "lease_until" not in item(dynamodb)


def test_forced_refresh_uses_a_token_another_container_already_renewed(clock, dynamodb):
    store = DynamoTokenStore(TABLE, dynamodb)
    daraja = Daraja()
    a, b = provider(clock, store, owner="a"), provider(clock, store, owner="b")
    old = a.token(daraja)
    assert b.token(daraja, reject=old) == "token-2"  # b was told token-1 is invalid
    assert a.token(daraja, reject=old) == "token-2"  # a learns the same: no third fetch
    assert daraja.fetches == 2


def test_newest_token_wins_when_two_holders_overlap(clock, dynamodb):
    store = DynamoTokenStore(TABLE, dynamodb)
    now_ms = int(clock.now() * 1000)
    newer = CachedToken("newer", now_ms + 5, now_ms + 3_000_000, now_ms + 3_599_000)
    older = CachedToken("older", now_ms, now_ms + 3_000_000, now_ms + 3_599_000)
    assert store.save(KEY, newer)
    assert not store.save(KEY, older)
    assert item(dynamodb)["access_token"]["S"] == "newer"


def test_unreachable_store_falls_back_to_a_container_token(clock):
    store = DynamoTokenStore("no-such-table", cast(Any, _Unreachable()))
    assert provider(clock, store).token(Daraja()) == "token-1"


class _Unreachable:
    def __getattr__(self, name):
        from botocore.exceptions import EndpointConnectionError

        def fail(**_):
            raise EndpointConnectionError(endpoint_url="https://dynamodb.invalid")

        return fail


def test_the_refresh_lease_outlasts_the_fetchs_deadline(clock, dynamodb):
    store = DynamoTokenStore(TABLE, dynamodb)
    lease_left_ms = []

    def fetch():
        lease_left_ms.append(int(item(dynamodb)["lease_until"]["N"]) - int(clock.now() * 1000))
        return AccessTokenResponse(access_token="token-1", expires_in=Decimal(3599))

    # An OAuth fetch can take 20 s and more (connect + read timeouts, retries): the lease covers it all.
    provider(clock, store).token(fetch, fetch_deadline=Deadline.within(25))
    assert lease_left_ms[0] >= 25_000


def test_a_holder_that_outlived_its_lease_neither_stores_nor_keeps_its_token(clock, dynamodb):
    store = DynamoTokenStore(TABLE, dynamodb)
    issued = []  # Daraja's view: with one token per app, the last one issued is the valid one

    def issue(name):
        issued.append(name)
        return AccessTokenResponse(access_token=name, expires_in=Decimal(3599))

    a_memory = MemoryTokenCache()
    a = TokenProvider(KEY, store=store, memory=a_memory, clock=clock, owner="a")
    b = provider(clock, store, owner="b")

    def slow_fetch_a():
        token = issue("TA")  # issued at once, but the answer is slow:
        clock.advance(DEFAULT_LEASE_S + 1)  # A's lease runs out meanwhile,
        assert b.token(lambda: issue("TB")) == "TB"  # B takes it over and stores TB
        return token

    assert a.token(slow_fetch_a) == "TA"  # for the call at hand only
    assert issued == ["TA", "TB"]
    assert item(dynamodb)["access_token"]["S"] == "TB"
    assert a_memory.get(KEY) is None


def test_a_save_needs_the_lease(clock, dynamodb):
    store = DynamoTokenStore(TABLE, dynamodb)
    now_ms = int(clock.now() * 1000)
    token = CachedToken("mine", now_ms, now_ms + 3_000_000, now_ms + 3_599_000)
    store.try_lease(KEY, "b", now_ms, now_ms + 10_000)
    assert not store.save(KEY, token, owner="a")
    assert store.save(KEY, token, owner="b")
    assert "lease_owner" not in item(dynamodb)
