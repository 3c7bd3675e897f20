"""The OpenAPI session: one per application (API key), environment and market, shared by every container.

getSession costs a round trip and sessions live for hours, so containers share one: the session ID
is cached in memory and in the state table item `session#<sha256(api root + API key)[:16]>`
(attribute `session_id`), refreshed before its configured lifetime ends by the one container that
holds the item's refresh lease. The machinery is Daraja's token cache, generalised in
`mpesa.credential_cache`. Only the session ID is cached; the bearer sent with each request is a
fresh encryption of it (`mpesa.openapi.crypto`). The API key itself is never stored.

getSession does not say how long a session lives: it is configured (`MPESA_TZ_SESSION_LIFETIME_S`,
the lifetime set for the application on the portal). A session that the OpenAPI refuses earlier
(INS-26) is rejected here (`reject=`) and replaced by the pipeline.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from mpesa.clock import SYSTEM_CLOCK, Clock
from mpesa.credential_cache import (
    CONTAINER_ID,
    DEFAULT_LEASE_S,
    DEFAULT_POLL_INTERVAL_S,
    DEFAULT_REFRESH_MARGIN_S,
    CredentialProvider,
    CredentialStore,
    DynamoCredentialStore,
    MemoryCredentialCache,
)
from mpesa.openapi.errors import SessionUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SESSION_API = "session"


def session_cache_key(api_root: str, api_key: str) -> str:
    """`session#` + 16 hex chars of sha256(API root + API key): the root names host, environment and
    market, so sandbox, production, markets and the simulator never share a session."""
    digest = hashlib.sha256(f"{api_root.rstrip('/')}\n{api_key}".encode()).hexdigest()
    return f"session#{digest[:16]}"


class DynamoSessionStore(DynamoCredentialStore):
    """The session item in the state table (hash key `pk`, TTL `expires_at`), the ID in `session_id`."""

    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        super().__init__(table_name, client, value_attribute="session_id")


CONTAINER_SESSIONS = MemoryCredentialCache()


class SessionProvider(CredentialProvider):
    """Hands out a live session ID; creates one through getSession only when no shared one will do."""

    def __init__(
        self,
        cache_key: str,
        *,
        store: CredentialStore | None = None,
        memory: MemoryCredentialCache | None = None,
        clock: Clock = SYSTEM_CLOCK,
        refresh_margin_s: float = DEFAULT_REFRESH_MARGIN_S,
        lease_s: float = DEFAULT_LEASE_S,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        owner: str = CONTAINER_ID,
    ) -> None:
        super().__init__(
            cache_key,
            unavailable=lambda: SessionUnavailableError(SESSION_API, "another container is creating the session"),
            label="OpenAPI session",
            store=store,
            memory=CONTAINER_SESSIONS if memory is None else memory,
            clock=clock,
            refresh_margin_s=refresh_margin_s,
            lease_s=lease_s,
            poll_interval_s=poll_interval_s,
            owner=owner,
        )
