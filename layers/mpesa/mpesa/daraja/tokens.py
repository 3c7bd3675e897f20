"""The OAuth access token: one per Daraja app, shared by every container, refreshed before expiry.

Daraja may revoke a token when a new one is issued, so containers must not each fetch their own.
Layers, fastest first:

1. memory (per container, all clients of one app share it);
2. a DynamoDB item `token#<sha256(base_url + consumer_key)[:16]>` in the state table, read with
   strong consistency; the token is stored (the table is encrypted at rest and only the functions'
   roles can read it), the consumer secret never is;
3. Daraja itself, called by the one container that holds the item's refresh lease, granted by the
   conditional write `attribute_not_exists(lease_until) OR lease_until < :now`. The lease lasts
   until the fetch's own deadline plus LEASE_SLACK_S, so it outlives the fetch; the new token is
   stored only while the lease is still ours (`lease_owner = :me`). A holder that lost its lease
   (it was slower than its lease after all) uses its token for the call at hand and stores nothing:
   the token stored by the container that took the lease over is the newer one.

A container that finds the token within its refresh margin while another holds the lease keeps
using the current (still valid) token. One that has no usable token waits, polling the item, until
a new token appears or the lease expires (the holder failed): then it takes the lease itself.
Without a table (local runs, tests) the memory layer alone is used.

Times in the item are epoch milliseconds (N); `expires_at` (epoch seconds) is the table's TTL.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mpesa.clock import SYSTEM_CLOCK, Clock, Deadline
from mpesa.daraja.errors import TokenUnavailableError
from mpesa.daraja.models import AccessTokenResponse

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

log = logging.getLogger(__name__)

CONTAINER_ID = uuid.uuid4().hex  # identifies this container as a lease owner
DEFAULT_REFRESH_MARGIN_S = 300.0
LEASE_SLACK_S = 2.0  # beyond the fetch's deadline: the save after it, and clock skew between containers
# A lease for a fetch without a deadline; DarajaClient bounds every fetch at DEFAULT_LEASE_S - LEASE_SLACK_S.
DEFAULT_LEASE_S = 31.0
DEFAULT_POLL_INTERVAL_S = 0.25


def token_cache_key(consumer_key: str, base_url: str) -> str:
    """`token#` + 16 hex chars of sha256(base URL + consumer key): sandbox and simulator never share."""
    digest = hashlib.sha256(f"{base_url.rstrip('/')}\n{consumer_key}".encode()).hexdigest()
    return f"token#{digest[:16]}"


@dataclass(frozen=True)
class CachedToken:
    value: str
    fetched_at_ms: int
    refresh_at_ms: int  # refresh from here on (expiry minus the margin)
    expires_at_ms: int

    def __repr__(self) -> str:  # never print the token
        return f"CachedToken(fetched_at_ms={self.fetched_at_ms}, expires_at_ms={self.expires_at_ms})"

    @classmethod
    def from_response(cls, response: AccessTokenResponse, now_ms: int, margin_s: float) -> CachedToken:
        lifetime_ms = int(response.expires_in * 1000)
        # A quarter of the lifetime at most: short-lived (simulator) tokens are still cached.
        margin_ms = min(int(margin_s * 1000), lifetime_ms // 4)
        return cls(response.access_token, now_ms, now_ms + lifetime_ms - margin_ms, now_ms + lifetime_ms)

    def fresh(self, now_ms: int, reject: str | None) -> bool:
        return self.value != reject and now_ms < self.refresh_at_ms

    def usable(self, now_ms: int, reject: str | None) -> bool:
        """Still valid (with a little safety), though perhaps due for refresh."""
        safety_ms = min(30_000, (self.expires_at_ms - self.fetched_at_ms) // 10)
        return self.value != reject and now_ms < self.expires_at_ms - safety_ms


@dataclass(frozen=True)
class SharedState:
    token: CachedToken | None
    lease_until_ms: int | None
    lease_owner: str | None

    def lease_active(self, now_ms: int) -> bool:
        return self.lease_until_ms is not None and self.lease_until_ms >= now_ms


class TokenStoreError(Exception):
    """The shared store could not be used (not a lost condition): fall back to memory-only."""


class TokenStore(Protocol):
    def read(self, key: str) -> SharedState: ...

    def try_lease(self, key: str, owner: str, now_ms: int, until_ms: int) -> SharedState | None:
        """The item after granting the lease, or None when another owner holds an unexpired lease."""
        ...

    def save(self, key: str, token: CachedToken, owner: str | None = None) -> bool:
        """Store the token and clear the lease. With `owner`: only while `owner` holds the lease (False
        otherwise). Without (tools, tests): False if a later-fetched token is stored."""
        ...

    def release(self, key: str, owner: str) -> None: ...


class DynamoTokenStore:
    """The token item in the state table (hash key `pk`, TTL attribute `expires_at`)."""

    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self.table_name = table_name
        self._client = client

    def read(self, key: str) -> SharedState:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            item = self._client.get_item(TableName=self.table_name, Key={"pk": {"S": key}}, ConsistentRead=True)
        except (ClientError, BotoCoreError) as exc:
            raise TokenStoreError(f"read failed ({type(exc).__name__})") from exc
        return _state_from_item(item.get("Item") or {})

    def try_lease(self, key: str, owner: str, now_ms: int, until_ms: int) -> SharedState | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": key}},
                UpdateExpression="SET lease_until = :until, lease_owner = :owner, "
                "expires_at = if_not_exists(expires_at, :ttl)",
                ConditionExpression="attribute_not_exists(lease_until) OR lease_until < :now",
                ExpressionAttributeValues={
                    ":until": {"N": str(until_ms)},
                    ":owner": {"S": owner},
                    ":now": {"N": str(now_ms)},
                    ":ttl": {"N": str(until_ms // 1000 + 3600)},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise TokenStoreError(f"lease failed ({type(exc).__name__})") from exc
        except BotoCoreError as exc:
            raise TokenStoreError(f"lease failed ({type(exc).__name__})") from exc
        return _state_from_item(answer.get("Attributes") or {})

    def save(self, key: str, token: CachedToken, owner: str | None = None) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        values: dict[str, AttributeValueTypeDef] = {
            ":token": {"S": token.value},
            ":fetched": {"N": str(token.fetched_at_ms)},
            ":refresh": {"N": str(token.refresh_at_ms)},
            ":expires": {"N": str(token.expires_at_ms)},
            ":ttl": {"N": str(-(-token.expires_at_ms // 1000))},
        }
        if owner is None:
            condition = "attribute_not_exists(fetched_at_ms) OR fetched_at_ms <= :fetched"
        else:
            # Only the lease holder stores: local fetch times of different containers do not order tokens.
            condition = "lease_owner = :owner"
            values[":owner"] = {"S": owner}
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": key}},
                UpdateExpression="SET access_token = :token, fetched_at_ms = :fetched, "
                "refresh_at_ms = :refresh, "
                "token_expires_ms = :expires, expires_at = :ttl REMOVE lease_until, lease_owner",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise TokenStoreError(f"save failed ({type(exc).__name__})") from exc
        except BotoCoreError as exc:
            raise TokenStoreError(f"save failed ({type(exc).__name__})") from exc
        return True

    def release(self, key: str, owner: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": key}},
                UpdateExpression="REMOVE lease_until, lease_owner",
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except (ClientError, BotoCoreError):
            log.info("token lease not released (taken over or store unavailable); it expires on its own")


def _number(item: dict[str, AttributeValueTypeDef], name: str) -> int | None:
    value = item.get(name, {}).get("N")
    return None if value is None else int(value.split(".")[0])


def _state_from_item(item: dict[str, AttributeValueTypeDef]) -> SharedState:
    token = None
    value = item.get("access_token", {}).get("S")
    fetched, refresh, expires = (_number(item, n) for n in ("fetched_at_ms", "refresh_at_ms", "token_expires_ms"))
    if value and fetched is not None and refresh is not None and expires is not None:
        token = CachedToken(value, fetched, refresh, expires)
    return SharedState(token, _number(item, "lease_until"), item.get("lease_owner", {}).get("S"))


class MemoryTokenCache:
    """Per-container tokens and refresh locks, by cache key."""

    def __init__(self) -> None:
        self._tokens: dict[str, CachedToken] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: str) -> CachedToken | None:
        return self._tokens.get(key)

    def put(self, key: str, token: CachedToken) -> None:
        self._tokens[key] = token

    def discard(self, key: str, value: str) -> None:
        with self._guard:
            current = self._tokens.get(key)
            if current is not None and current.value == value:
                del self._tokens[key]

    def lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def clear(self) -> None:
        with self._guard:
            self._tokens.clear()


CONTAINER_TOKENS = MemoryTokenCache()


class TokenProvider:
    """Hands out a valid token; fetches through `fetch` only when no shared token will do."""

    def __init__(
        self,
        cache_key: str,
        *,
        store: TokenStore | None = None,
        memory: MemoryTokenCache | None = None,
        clock: Clock = SYSTEM_CLOCK,
        refresh_margin_s: float = DEFAULT_REFRESH_MARGIN_S,
        lease_s: float = DEFAULT_LEASE_S,  # for fetches without a deadline; also bounds a waiter's wait
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        owner: str = CONTAINER_ID,
    ) -> None:
        self.cache_key = cache_key
        self._store = store
        self._memory = CONTAINER_TOKENS if memory is None else memory
        self._clock = clock
        self._margin_s = refresh_margin_s
        self._lease_ms = int(lease_s * 1000)
        self._poll_s = poll_interval_s
        self._owner = owner

    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)

    def token(
        self,
        fetch: Callable[[], AccessTokenResponse],
        *,
        reject: str | None = None,
        max_wait_s: float | None = None,
        fetch_deadline: Deadline | None = None,
    ) -> str:
        """A token other than `reject` (the one Daraja just called invalid), fetching only if needed.

        `fetch_deadline` is the instant by which `fetch` is over (it must honour it): a refresh lease
        taken for the fetch lasts until then plus LEASE_SLACK_S. Without it the lease is `lease_s`.
        """
        key = self.cache_key
        if reject is not None:
            self._memory.discard(key, reject)
        cached = self._memory.get(key)
        if cached is not None and cached.fresh(self._now_ms(), reject):
            return cached.value
        lock = self._memory.lock(key)
        if cached is not None and cached.usable(self._now_ms(), reject):
            if not lock.acquire(blocking=False):
                return cached.value  # another thread of this container is refreshing
        else:
            lock.acquire()
        try:
            cached = self._memory.get(key)
            if cached is not None and cached.fresh(self._now_ms(), reject):
                return cached.value
            if self._store is None:
                return self._fetch_and_keep(fetch)
            wait_s = self._lease_ms / 1000 + self._poll_s
            if max_wait_s is not None:
                wait_s = max(0.0, min(wait_s, max_wait_s))
            return self._shared(self._store, fetch, reject, wait_s, fetch_deadline)
        finally:
            lock.release()

    def _fetch_and_keep(self, fetch: Callable[[], AccessTokenResponse]) -> str:
        token = CachedToken.from_response(fetch(), self._now_ms(), self._margin_s)
        self._memory.put(self.cache_key, token)
        return token.value

    def _keep(self, token: CachedToken) -> str:
        self._memory.put(self.cache_key, token)
        return token.value

    def _lease_ms_for(self, fetch_deadline: Deadline | None) -> int:
        """The lease outlives the fetch: until its deadline plus the slack."""
        if fetch_deadline is None:
            return self._lease_ms
        return int((max(fetch_deadline.remaining_s(), 0.0) + LEASE_SLACK_S) * 1000)

    def _shared(
        self,
        store: TokenStore,
        fetch: Callable[[], AccessTokenResponse],
        reject: str | None,
        wait_s: float,
        fetch_deadline: Deadline | None,
    ) -> str:
        key = self.cache_key
        give_up_ms = self._now_ms() + int(wait_s * 1000)
        while True:
            try:
                state = store.read(key)
                now_ms = self._now_ms()
                if state.token is not None and state.token.fresh(now_ms, reject):
                    return self._keep(state.token)
                if not state.lease_active(now_ms):
                    lease_until_ms = now_ms + self._lease_ms_for(fetch_deadline)
                    granted = store.try_lease(key, self._owner, now_ms, lease_until_ms)
                    if granted is not None:
                        if granted.token is not None and granted.token.fresh(now_ms, reject):
                            store.release(key, self._owner)  # refreshed by someone between our read and lease
                            return self._keep(granted.token)
                        return self._refresh_under_lease(store, fetch, reject)
            except TokenStoreError as exc:
                log.warning("shared token store unavailable, fetching a token for this container: %s", exc)
                return self._fetch_and_keep(fetch)
            # Another container holds the lease. The current token, if still valid, will do meanwhile.
            if state.token is not None and state.token.usable(now_ms, reject):
                return self._keep(state.token)
            if now_ms >= give_up_ms:
                raise TokenUnavailableError("oauth", "another container is refreshing the access token")
            self._clock.sleep(min(self._poll_s, (give_up_ms - now_ms) / 1000))

    def _refresh_under_lease(
        self, store: TokenStore, fetch: Callable[[], AccessTokenResponse], reject: str | None
    ) -> str:
        key = self.cache_key
        try:
            response = fetch()
        except BaseException:
            store.release(key, self._owner)  # let another container try at once
            raise
        token = CachedToken.from_response(response, self._now_ms(), self._margin_s)
        log.info("fetched a new Daraja access token (expires in %s s)", response.expires_in)
        try:
            if not store.save(key, token, owner=self._owner):
                # Our lease ran out and another container took it over: its token is (or will be) the
                # shared one, and newer than ours. Ours serves this call only: not stored, not kept.
                log.warning("token refresh lease lost during the fetch: new token used once, not stored")
                return token.value
        except TokenStoreError as exc:
            log.warning("could not share the new access token: %s", exc)
        return self._keep(token)
