"""The OAuth access token: one per Daraja app, shared by every container, refreshed before expiry.

Daraja may revoke a token when a new one is issued, so containers must not each fetch their own.
The machinery (memory, the state table's item with a refresh lease, the one fetch) is shared with
the Vodacom OpenAPI's session and lives in `mpesa.credential_cache`; this module binds it to
Daraja: the item `token#<sha256(base_url + consumer_key)[:16]>` holding `access_token`, fetched
from `AccessTokenResponse`, with TokenUnavailableError when another container's refresh does not
finish in time. Without a table (local runs, tests) the memory layer alone is used.

Times in the item are epoch milliseconds (N); `expires_at` (epoch seconds) is the table's TTL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from mpesa.clock import SYSTEM_CLOCK, Clock, Deadline
from mpesa.credential_cache import (
    CONTAINER_ID,
    DEFAULT_LEASE_S,
    DEFAULT_POLL_INTERVAL_S,
    DEFAULT_REFRESH_MARGIN_S,
    LEASE_SLACK_S,
    CachedCredential,
    CredentialProvider,
    DynamoCredentialStore,
    Issued,
    SharedState,
)
from mpesa.credential_cache import CredentialStore as TokenStore
from mpesa.credential_cache import CredentialStoreError as TokenStoreError
from mpesa.credential_cache import MemoryCredentialCache as MemoryTokenCache
from mpesa.daraja.errors import TokenUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from mpesa.daraja.models import AccessTokenResponse

__all__ = [
    "CONTAINER_ID",
    "CONTAINER_TOKENS",
    "DEFAULT_LEASE_S",
    "DEFAULT_POLL_INTERVAL_S",
    "DEFAULT_REFRESH_MARGIN_S",
    "LEASE_SLACK_S",
    "CachedToken",
    "DynamoTokenStore",
    "MemoryTokenCache",
    "SharedState",
    "TokenProvider",
    "TokenStore",
    "TokenStoreError",
    "token_cache_key",
]


def token_cache_key(consumer_key: str, base_url: str) -> str:
    """`token#` + 16 hex chars of sha256(base URL + consumer key): sandbox and simulator never share."""
    digest = hashlib.sha256(f"{base_url.rstrip('/')}\n{consumer_key}".encode()).hexdigest()
    return f"token#{digest[:16]}"


def issued_token(response: AccessTokenResponse) -> Issued:
    return Issued(response.access_token, response.expires_in)


class CachedToken(CachedCredential):
    """A Daraja access token as cached (value, fetch time, refresh time, expiry; epoch ms)."""

    @classmethod
    def from_response(cls, response: AccessTokenResponse, now_ms: int, margin_s: float) -> CachedToken:
        return cls.from_issued(issued_token(response), now_ms, margin_s)


class DynamoTokenStore(DynamoCredentialStore):
    """The token item in the state table (hash key `pk`, TTL attribute `expires_at`), token in `access_token`."""

    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        super().__init__(table_name, client, value_attribute="access_token")


CONTAINER_TOKENS = MemoryTokenCache()


class TokenProvider(CredentialProvider):
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
        super().__init__(
            cache_key,
            unavailable=lambda: TokenUnavailableError("oauth", "another container is refreshing the access token"),
            label="Daraja access token",
            store=store,
            memory=CONTAINER_TOKENS if memory is None else memory,
            clock=clock,
            refresh_margin_s=refresh_margin_s,
            lease_s=lease_s,
            poll_interval_s=poll_interval_s,
            owner=owner,
        )

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
        return self.credential(
            lambda: issued_token(fetch()), reject=reject, max_wait_s=max_wait_s, fetch_deadline=fetch_deadline
        ).value
