"""The session is cached like Daraja's token: memory, then the state table with a refresh lease."""

import threading
import time

import pytest

from mpesa.clock import SYSTEM_CLOCK
from mpesa.credential_cache import Issued, MemoryCredentialCache
from mpesa.errors import NotSentError
from mpesa.openapi.errors import SessionUnavailableError
from mpesa.openapi.sessions import DynamoSessionStore, SessionProvider, session_cache_key
from tests.support.daraja import STATE_TABLE
from tests.support.stack import atomic_dynamodb

ROOT = "https://openapi.m-pesa.com/sandbox/ipg/v2/vodacomTZN/"
KEY = session_cache_key(ROOT, "the-api-key")


def test_the_cache_key_names_host_environment_market_and_key_without_the_key():
    assert KEY.startswith("session#")
    assert len(KEY) == len("session#") + 16
    assert "the-api-key" not in KEY
    others = {
        session_cache_key(ROOT.replace("sandbox", "openapi"), "the-api-key"),
        session_cache_key(ROOT.replace("vodacomTZN", "vodacomDRC"), "the-api-key"),
        session_cache_key("http://127.0.0.1:8089/sandbox/ipg/v2/vodacomTZN/", "the-api-key"),
        session_cache_key(ROOT, "another-api-key"),
    }
    assert KEY not in others
    assert len(others) == 4
    assert session_cache_key(ROOT.rstrip("/"), "the-api-key") == KEY


def test_the_shared_item_holds_the_session_id_never_the_api_key(clock, dynamodb):
    provider = SessionProvider(
        KEY, store=DynamoSessionStore(STATE_TABLE, dynamodb), memory=MemoryCredentialCache(), clock=clock
    )
    provider.credential(lambda: Issued("session-0001", 3600))
    item = dynamodb.get_item(TableName=STATE_TABLE, Key={"pk": {"S": KEY}}, ConsistentRead=True)["Item"]
    assert item["session_id"]["S"] == "session-0001"
    assert "the-api-key" not in str(item)
    assert int(item["expires_at"]["N"]) == int(clock.now()) + 3600
    assert "lease_until" not in item


def test_containers_and_their_threads_create_one_session_between_them(dynamodb):
    """Eight containers (own memory, own lease identity), three threads each, one state table."""
    created = []
    lock = threading.Lock()

    def get_session():
        with lock:
            created.append(1)
            number = len(created)
        time.sleep(0.2)  # getSession takes a while: everyone else arrives meanwhile
        return Issued(f"session-{number:04d}", 3600)

    store = DynamoSessionStore(STATE_TABLE, dynamodb)
    containers = [
        SessionProvider(
            KEY, store=store, memory=MemoryCredentialCache(), clock=SYSTEM_CLOCK, owner=f"c{n}", poll_interval_s=0.02
        )
        for n in range(8)
    ]
    results = []
    errors = []

    def run(provider):
        try:
            value = provider.credential(get_session).value
        except BaseException as exc:
            errors.append(exc)
            return
        with lock:
            results.append(value)

    with atomic_dynamodb():
        threads = [threading.Thread(target=run, args=(c,)) for c in containers for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert errors == []
    assert results == ["session-0001"] * 24
    assert len(created) == 1


def test_no_session_while_another_container_creates_one_is_a_not_sent_error(clock, dynamodb):
    store = DynamoSessionStore(STATE_TABLE, dynamodb)
    now_ms = int(clock.now() * 1000)
    store.try_lease(KEY, "another-container", now_ms, now_ms + 10_000)
    provider = SessionProvider(KEY, store=store, memory=MemoryCredentialCache(), clock=clock)
    with pytest.raises(SessionUnavailableError) as caught:
        provider.credential(lambda: Issued("never", 3600), max_wait_s=0)
    assert isinstance(caught.value, NotSentError)
    assert caught.value.api == "session"


def test_a_refused_session_is_replaced_and_the_new_one_shared(clock, dynamodb):
    store = DynamoSessionStore(STATE_TABLE, dynamodb)
    issued = iter(["session-0001", "session-0002"])
    a = SessionProvider(KEY, store=store, memory=MemoryCredentialCache(), clock=clock, owner="a")
    b = SessionProvider(KEY, store=store, memory=MemoryCredentialCache(), clock=clock, owner="b")
    first = a.credential(lambda: Issued(next(issued), 3600)).value
    assert b.credential(lambda: Issued(next(issued), 3600), reject=first).value == "session-0002"
    assert a.credential(lambda: Issued(next(issued), 3600), reject=first).value == "session-0002"  # no third


def test_sessions_are_renewed_before_their_configured_lifetime_ends(clock):
    provider = SessionProvider(KEY, memory=MemoryCredentialCache(), clock=clock)
    issued = iter(["session-0001", "session-0002"])
    assert provider.credential(lambda: Issued(next(issued), 3600)).value == "session-0001"
    clock.advance(3600 - 301)
    assert provider.credential(lambda: Issued(next(issued), 3600)).value == "session-0001"
    clock.advance(2)  # within five minutes of the end
    assert provider.credential(lambda: Issued(next(issued), 3600)).value == "session-0002"
