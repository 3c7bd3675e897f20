"""The container's one boto3 session, built on first use.

It is boto3's default session, the one `boto3.client(...)` and `boto3.resource(...)` use, so every
client the package makes shares it, and the Powertools utilities that would build a session of their
own (parameters, idempotency) are handed it: the credential chain, the endpoint data and each
service's model load once per container. Nothing here runs at import: no AWS client is made before
a handler needs one. `AWS_ENDPOINT_URL` (e.g. a moto server) is honoured by boto3 itself.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from boto3.session import Session

_lock = threading.Lock()


def session() -> Session:
    import boto3

    with _lock:
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        shared = boto3.DEFAULT_SESSION
    if shared is None:  # pragma: no cover - setup_default_session() always sets it
        raise RuntimeError("boto3 has no default session")
    return shared
