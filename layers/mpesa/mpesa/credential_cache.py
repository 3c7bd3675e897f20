"""A short-lived credential shared by every container and refreshed before expiry, under a lease.

Two downstreams hand out such credentials: Daraja's OAuth access token (`mpesa.daraja.tokens`) and
the Vodacom OpenAPI's session ID (`mpesa.openapi.sessions`). Both may be invalidated when another
is issued, or cost a round trip each time, so containers must not each fetch their own. Layers,
fastest first:

1. memory (per container, all clients of one app share it);
2. a DynamoDB item `<prefix>#<hash>` in the state table, read with strong consistency; the
   credential is stored (the table is encrypted at rest and only the functions' roles can read it),
   the secret that obtains it never is;
3. the downstream itself, called by the one container that holds the item's refresh lease, granted
   by the conditional write `attribute_not_exists(lease_until) OR lease_until < :now`. The lease
   lasts until the fetch's own deadline plus LEASE_SLACK_S, so it outlives the fetch; the new
   credential is stored only while the lease is still ours (`lease_owner = :me`). A holder that lost
   its lease (it was slower than its lease after all) uses its credential for the call at hand and
   stores nothing: the one stored by the container that took the lease over is the newer one.

A container that finds the credential within its refresh margin while another holds the lease keeps
using the current (still valid) one. One that has no usable credential waits, polling the item,
until a new one appears or the lease expires (the holder failed): then it takes the lease itself.
Without a table (local runs, tests) the memory layer alone is used.

Times in the item are epoch milliseconds (N): `fetched_at_ms`, `refresh_at_ms`, `token_expires_ms`
(the credential's expiry, whatever the credential); `expires_at` (epoch seconds) is the table's TTL.
The attribute holding the credential is named by the store (`access_token` for Daraja).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol, Self

from mpesa.clock import SYSTEM_CLOCK, Clock, Deadline

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

log = logging.getLogger(__name__)

CONTAINER_ID = uuid.uuid4().hex  # identifies this container as a lease owner
DEFAULT_REFRESH_MARGIN_S = 300.0
LEASE_SLACK_S = 2.0  # beyond the fetch's deadline: the save after it, and clock skew between containers
# A lease for a fetch without a deadline; the clients bound every fetch at DEFAULT_LEASE_S - LEASE_SLACK_S.
DEFAULT_LEASE_S = 31.0
DEFAULT_POLL_INTERVAL_S = 0.25


@dataclass(frozen=True)
class Issued:
    """What the downstream handed out: the credential and how long it lives (seconds)."""

    value: str
    lifetime_s: Decimal | float

    def __repr__(self) -> str:  # never print the credential
        return f"Issued(lifetime_s={self.lifetime_s})"


@dataclass(frozen=True)
class CachedCredential:
    value: str
    fetched_at_ms: int
    refresh_at_ms: int  # refresh from here on (expiry minus the margin)
    expires_at_ms: int

    def __repr__(self) -> str:  # never print the credential
        return f"{type(self).__name__}(fetched_at_ms={self.fetched_at_ms}, expires_at_ms={self.expires_at_ms})"

    @classmethod
    def from_issued(cls, issued: Issued, now_ms: int, margin_s: float) -> Self:
        lifetime_ms = int(issued.lifetime_s * 1000)
        # A quarter of the lifetime at most: short-lived (simulator) credentials are still cached.
        margin_ms = min(int(margin_s * 1000), lifetime_ms // 4)
        return cls(issued.value, now_ms, now_ms + lifetime_ms - margin_ms, now_ms + lifetime_ms)

    def fresh(self, now_ms: int, reject: str | None) -> bool:
        return self.value != reject and now_ms < self.refresh_at_ms

    def usable(self, now_ms: int, reject: str | None) -> bool:
        """Still valid (with a little safety), though perhaps due for refresh."""
        safety_ms = min(30_000, (self.expires_at_ms - self.fetched_at_ms) // 10)
        return self.value != reject and now_ms < self.expires_at_ms - safety_ms


@dataclass(frozen=True)
class SharedState:
    token: CachedCredential | None
    lease_until_ms: int | None
    lease_owner: str | None

    def lease_active(self, now_ms: int) -> bool:
        return self.lease_until_ms is not None and self.lease_until_ms >= now_ms


class CredentialStoreError(Exception):
    """The shared store could not be used (not a lost condition): fall back to memory-only."""


class CredentialStore(Protocol):
    def read(self, key: str) -> SharedState: ...

    def try_lease(self, key: str, owner: str, now_ms: int, until_ms: int) -> SharedState | None:
        """The item after granting the lease, or None when another owner holds an unexpired lease."""
        ...

    def save(self, key: str, token: CachedCredential, owner: str | None = None) -> bool:
        """Store the credential and clear the lease. With `owner`: only while `owner` holds the lease
        (False otherwise). Without (tools, tests): False if a later-fetched credential is stored."""
        ...

    def release(self, key: str, owner: str) -> None: ...


class DynamoCredentialStore:
    """The credential item in the state table (hash key `pk`, TTL attribute `expires_at`)."""

    def __init__(self, table_name: str, client: DynamoDBClient, *, value_attribute: str = "credential") -> None:
        self.table_name = table_name
        self.value_attribute = value_attribute
        self._client = client

    def read(self, key: str) -> SharedState:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            item = self._client.get_item(TableName=self.table_name, Key={"pk": {"S": key}}, ConsistentRead=True)
        except (ClientError, BotoCoreError) as exc:
            raise CredentialStoreError(f"read failed ({type(exc).__name__})") from exc
        return _state_from_item(item.get("Item") or {}, self.value_attribute)

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
            raise CredentialStoreError(f"lease failed ({type(exc).__name__})") from exc
        except BotoCoreError as exc:
            raise CredentialStoreError(f"lease failed ({type(exc).__name__})") from exc
        return _state_from_item(answer.get("Attributes") or {}, self.value_attribute)

    def save(self, key: str, token: CachedCredential, owner: str | None = None) -> bool:
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
            # Only the lease holder stores: local fetch times of different containers do not order credentials.
            condition = "lease_owner = :owner"
            values[":owner"] = {"S": owner}
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": key}},
                UpdateExpression="SET #value = :token, fetched_at_ms = :fetched, "
                "refresh_at_ms = :refresh, "
                "token_expires_ms = :expires, expires_at = :ttl REMOVE lease_until, lease_owner",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#value": self.value_attribute},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise CredentialStoreError(f"save failed ({type(exc).__name__})") from exc
        except BotoCoreError as exc:
            raise CredentialStoreError(f"save failed ({type(exc).__name__})") from exc
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
            log.info("credential lease not released (taken over or store unavailable); it expires on its own")


def _number(item: dict[str, AttributeValueTypeDef], name: str) -> int | None:
    value = item.get(name, {}).get("N")
    return None if value is None else int(value.split(".")[0])


def _state_from_item(item: dict[str, AttributeValueTypeDef], value_attribute: str) -> SharedState:
    token = None
    value = item.get(value_attribute, {}).get("S")
    fetched, refresh, expires = (_number(item, n) for n in ("fetched_at_ms", "refresh_at_ms", "token_expires_ms"))
    if value and fetched is not None and refresh is not None and expires is not None:
        token = CachedCredential(value, fetched, refresh, expires)
    return SharedState(token, _number(item, "lease_until"), item.get("lease_owner", {}).get("S"))


class MemoryCredentialCache:
    """Per-container credentials and refresh locks, by cache key."""

    def __init__(self) -> None:
        self._tokens: dict[str, CachedCredential] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: str) -> CachedCredential | None:
        return self._tokens.get(key)

    def put(self, key: str, token: CachedCredential) -> None:
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


class CredentialProvider:
    """Hands out a valid credential; fetches through `fetch` only when no shared one will do.

    `label` names the credential in logs ("Daraja access token"); `unavailable` builds the error
    raised when another container holds the refresh lease and no usable credential appears in time.
    """

    def __init__(
        self,
        cache_key: str,
        *,
        unavailable: Callable[[], Exception],
        label: str = "credential",
        store: CredentialStore | None = None,
        memory: MemoryCredentialCache | None = None,
        clock: Clock = SYSTEM_CLOCK,
        refresh_margin_s: float = DEFAULT_REFRESH_MARGIN_S,
        lease_s: float = DEFAULT_LEASE_S,  # for fetches without a deadline; also bounds a waiter's wait
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        owner: str = CONTAINER_ID,
    ) -> None:
        self.cache_key = cache_key
        self.label = label
        self._unavailable = unavailable
        self._store = store
        self._memory = MemoryCredentialCache() if memory is None else memory
        self._clock = clock
        self._margin_s = refresh_margin_s
        self._lease_ms = int(lease_s * 1000)
        self._poll_s = poll_interval_s
        self._owner = owner

    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)

    def credential(
        self,
        fetch: Callable[[], Issued],
        *,
        reject: str | None = None,
        max_wait_s: float | None = None,
        fetch_deadline: Deadline | None = None,
    ) -> CachedCredential:
        """A credential other than `reject` (the one the downstream just refused), fetching only if needed.

        `fetch_deadline` is the instant by which `fetch` is over (it must honour it): a refresh lease
        taken for the fetch lasts until then plus LEASE_SLACK_S. Without it the lease is `lease_s`.
        """
        key = self.cache_key
        if reject is not None:
            self._memory.discard(key, reject)
        cached = self._memory.get(key)
        if cached is not None and cached.fresh(self._now_ms(), reject):
            return cached
        lock = self._memory.lock(key)
        if cached is not None and cached.usable(self._now_ms(), reject):
            if not lock.acquire(blocking=False):
                return cached  # another thread of this container is refreshing
        else:
            lock.acquire()
        try:
            cached = self._memory.get(key)
            if cached is not None and cached.fresh(self._now_ms(), reject):
                return cached
            if self._store is None:
                return self._fetch_and_keep(fetch)
            wait_s = self._lease_ms / 1000 + self._poll_s
            if max_wait_s is not None:
                wait_s = max(0.0, min(wait_s, max_wait_s))
            return self._shared(self._store, fetch, reject, wait_s, fetch_deadline)
        finally:
            lock.release()

    def _fetch_and_keep(self, fetch: Callable[[], Issued]) -> CachedCredential:
        return self._keep(CachedCredential.from_issued(fetch(), self._now_ms(), self._margin_s))

    def _keep(self, token: CachedCredential) -> CachedCredential:
        self._memory.put(self.cache_key, token)
        return token

    def _lease_ms_for(self, fetch_deadline: Deadline | None) -> int:
        """The lease outlives the fetch: until its deadline plus the slack."""
        if fetch_deadline is None:
            return self._lease_ms
        return int((max(fetch_deadline.remaining_s(), 0.0) + LEASE_SLACK_S) * 1000)

    def _shared(
        self,
        store: CredentialStore,
        fetch: Callable[[], Issued],
        reject: str | None,
        wait_s: float,
        fetch_deadline: Deadline | None,
    ) -> CachedCredential:
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
                        return self._refresh_under_lease(store, fetch)
            except CredentialStoreError as exc:
                log.warning("shared %s store unavailable, fetching one for this container: %s", self.label, exc)
                return self._fetch_and_keep(fetch)
            # Another container holds the lease. The current credential, if still valid, will do meanwhile.
            if state.token is not None and state.token.usable(now_ms, reject):
                return self._keep(state.token)
            if now_ms >= give_up_ms:
                raise self._unavailable()
            self._clock.sleep(min(self._poll_s, (give_up_ms - now_ms) / 1000))

    def _refresh_under_lease(self, store: CredentialStore, fetch: Callable[[], Issued]) -> CachedCredential:
        key = self.cache_key
        try:
            issued = fetch()
        except BaseException:
            store.release(key, self._owner)  # let another container try at once
            raise
        token = CachedCredential.from_issued(issued, self._now_ms(), self._margin_s)
        log.info("fetched a new %s (expires in %s s)", self.label, issued.lifetime_s)
        try:
            if not store.save(key, token, owner=self._owner):
                # Our lease ran out and another container took it over: its credential is (or will be)
                # the shared one, and newer than ours. Ours serves this call only: not stored, not kept.
                log.warning("%s refresh lease lost during the fetch: used once, not stored", self.label)
                return token
        except CredentialStoreError as exc:
            log.warning("could not share the new %s: %s", self.label, exc)
        return self._keep(token)
