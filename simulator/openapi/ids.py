"""OpenAPI identifiers, each unique for the life of the simulator (reset does not reuse them).

* SessionID and ConversationID: 32 lowercase hex characters (the shape sandbox answers show).
* TransactionID: 10 uppercase alphanumerics.
"""

from __future__ import annotations

import secrets
import string
import threading
from collections.abc import Callable

_ALNUM = string.ascii_uppercase + string.digits


class OpenApiIds:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._issued: set[str] = set()

    def _fresh(self, build: Callable[[], str]) -> str:
        with self._lock:
            while True:
                value = build()
                if value not in self._issued:
                    self._issued.add(value)
                    return value

    def session_id(self) -> str:
        return self._fresh(lambda: secrets.token_hex(16))

    def conversation_id(self) -> str:
        return self._fresh(lambda: secrets.token_hex(16))

    def transaction_id(self) -> str:
        return self._fresh(lambda: "".join(secrets.choice(_ALNUM) for _ in range(10)))
