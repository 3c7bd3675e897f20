"""HTTP to Daraja: one pooled `requests.Session` per retry policy per container, urllib3 retries, deadlines.

Two policies (see docs/daraja-client.md):

- SAFE (OAuth, STK query, Transaction Status, Account Balance, C2B register, B2C v3 with our
  OriginatorConversationID): network errors, connect and read, and HTTP 503/504 are retried.
- CONNECT_ONLY (STK push, Reversal, C2B simulate: they move money and carry no idempotency key):
  only failures before the request was sent (connection refused, connect timeout) are retried.

The schedule is the integration guide's: 3 retries after 2 s, 4 s, 8 s (`backoff_factor` 2,
factor·2^(n-1); urllib3's own schedule would start at 0 s). A retry is started only if its backoff
plus a whole attempt (connect + read timeout) fits before the caller's deadline.

Inside `call_budget` every attempt also stops reading at the deadline: each socket read waits at most
the read timeout and never past the deadline, so a server that trickles its answer cannot keep a call
alive beyond it (the read timeout alone is per socket read). The budget also records whether any
attempt may have reached Daraja (it got an answer of any status, or failed after connecting), so a
later "connection refused" is not mistaken for "never sent".
"""

from __future__ import annotations

import http.client
import io
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from itertools import takewhile
from types import TracebackType
from typing import Any, Self

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import ConnectionPool, HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError, ResponseError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from mpesa.clock import Deadline

USER_AGENT = "mpesa-serverless/0.1 (+https://github.com/mpesa-serverless/mpesa-serverless)"
RETRY_STATUSES = frozenset({503, 504})


@dataclass
class CallBudget:
    """One HTTP exchange (all its urllib3 attempts): its deadline, and what its attempts did."""

    deadline: Deadline
    attempt_s: float  # the longest one attempt can take: connect + read timeout
    # True once an attempt may have reached Daraja: urllib3 saw an answer (of any status) or an error
    # after the connection was made, and considered a retry. A final answer that was not retried is
    # not counted: the caller has it.
    reached: bool = False
    # True once another attempt was started after one that may have reached Daraja: the final
    # answer (or error) then speaks for the last attempt only.
    retried_after_reaching: bool = False


_BUDGET: ContextVar[CallBudget | None] = ContextVar("daraja_budget", default=None)


@contextmanager
def call_budget(deadline: Deadline, attempt_s: float) -> Iterator[CallBudget]:
    """Retries started inside this block must fit `deadline`, and no read goes past it (the context
    var follows the thread). Yields the budget, which records whether an attempt may have been sent."""
    budget = CallBudget(deadline, attempt_s)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def current_budget() -> CallBudget | None:
    """The budget of the exchange running in this context, if any."""
    return _BUDGET.get()


def _before_sending(error: Exception | None) -> bool:
    """The connection was never made (refused, unreachable, DNS, connect timeout): nothing was sent."""
    return isinstance(error, ConnectTimeoutError)  # NewConnectionError and NameResolutionError included


class BoundedRetry(Retry):
    """urllib3 Retry with the guide's 2/4/8 s schedule that never starts a retry the deadline cannot fit."""

    def get_backoff_time(self) -> float:
        consecutive = len(list(takewhile(lambda h: h.redirect_location is None, reversed(self.history))))
        if consecutive == 0:
            return 0.0
        backoff: float = self.backoff_factor * (2 ** (consecutive - 1))
        return max(0.0, min(self.backoff_max, backoff))

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        budget = _BUDGET.get()
        reached = response is not None or (error is not None and not _before_sending(error))
        if budget is not None and reached:
            budget.reached = True  # this attempt may have been processed, whatever the next one does
        new_retry = super().increment(method, url, response, error, _pool, _stacktrace)
        if budget is None:
            return new_retry
        if budget.deadline.remaining_s() < new_retry.get_backoff_time() + budget.attempt_s:
            # No time for another whole attempt: stop here. For a retryable status urllib3 then returns
            # the response itself (raise_on_status is False); for an error, the error surfaces.
            reason = error or ResponseError(f"no time left to retry HTTP {response.status if response else '?'}")
            raise MaxRetryError(_pool, url or "", reason) from reason  # type: ignore[arg-type]
        if reached:
            budget.retried_after_reaching = True
        return new_retry


# --- reads that stop at the deadline -------------------------------------------------------------


class _DeadlineReader(io.RawIOBase):
    """The socket reader under http.client's response: every read waits at most the read timeout and
    never past the deadline; at the deadline it raises socket.timeout (urllib3: ReadTimeoutError)."""

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, deadline: Deadline) -> None:
        super().__init__()
        self._raw = raw
        self._sock = sock
        self._deadline = deadline
        self._read_timeout = sock.gettimeout()  # what urllib3 set for this response

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        left = self._deadline.remaining_s()
        if left <= 0:
            raise TimeoutError("the deadline passed while reading the answer")
        self._sock.settimeout(left if self._read_timeout is None else min(self._read_timeout, left))
        return self._raw.readinto(buffer)

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        if not self.closed:
            self._raw.close()  # gives the socket reference back (http.client's makefile bookkeeping)
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, debuglevel: int = 0, method: str | None = None, url: str | None = None):
        super().__init__(sock, debuglevel, method, url)
        budget = _BUDGET.get()
        if budget is not None:
            buffered: Any = self.fp  # sock.makefile("rb"): nothing read from it yet
            self.fp = io.BufferedReader(_DeadlineReader(buffered.detach(), sock, budget.deadline))


class _DeadlineHTTPConnection(HTTPConnection):
    response_class = _DeadlineResponse


class _DeadlineHTTPSConnection(HTTPSConnection):
    response_class = _DeadlineResponse


class DeadlineHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter over connection pools whose responses stop reading at the call's deadline."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": DeadlineHTTPConnectionPool,
            "https": DeadlineHTTPSConnectionPool,
        }


class RetryKind(StrEnum):
    SAFE = "safe"
    CONNECT_ONLY = "connect_only"


@dataclass(frozen=True)
class RetryPolicy:
    kind: RetryKind
    retries: int = 3
    backoff_factor: float = 2.0

    def build(self) -> BoundedRetry:
        common: dict[str, Any] = {
            "total": self.retries,
            "connect": self.retries,
            "redirect": 0,
            "other": 0,
            "backoff_factor": self.backoff_factor,
            "backoff_jitter": 0.0,
            "raise_on_status": False,
            "raise_on_redirect": False,
            "respect_retry_after_header": False,
            "allowed_methods": None,  # POSTs too: the policy, not the verb, says what is safe
        }
        if self.kind is RetryKind.SAFE:
            return BoundedRetry(read=self.retries, status=self.retries, status_forcelist=RETRY_STATUSES, **common)
        # read=False: a read error (timeout, reset after sending) is re-raised at once, never retried.
        return BoundedRetry(read=False, status=0, status_forcelist=frozenset(), **common)


_sessions: dict[RetryPolicy, requests.Session] = {}
_sessions_lock = threading.Lock()


def session_for(policy: RetryPolicy) -> requests.Session:
    """The container-wide session for `policy` (created once, reused across invocations)."""
    with _sessions_lock:
        session = _sessions.get(policy)
        if session is None:
            session = requests.Session()
            adapter = DeadlineAdapter(max_retries=policy.build(), pool_connections=4, pool_maxsize=16)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            session.headers["User-Agent"] = USER_AGENT
            session.headers["Accept"] = "application/json"
            session.trust_env = False  # no proxies or .netrc credentials picked up from the environment
            _sessions[policy] = session
        return session


def request_not_sent(exc: requests.RequestException) -> bool:
    """True only when this error surely came before sending: no connection was established.

    It speaks for the last attempt only: whether an earlier attempt of the same exchange may have
    reached Daraja is `CallBudget.reached`.
    """
    if isinstance(exc, requests.ConnectTimeout):
        return True
    cause: object = exc.args[0] if exc.args else None
    if isinstance(cause, MaxRetryError):
        cause = cause.reason
    return isinstance(cause, NewConnectionError | ConnectTimeoutError)


def exchange_failure(exc: requests.RequestException, budget: CallBudget, peer: str) -> tuple[bool, str]:
    """Whether a failed exchange may have been sent (if any attempt of it may have reached `peer`, not
    just the last) and the reason to report, which says so when the deadline cut the answer short or a
    retry failed to connect after an attempt that may have reached `peer`."""
    last_not_sent = request_not_sent(exc)
    sent = budget.reached or not last_not_sent
    reason = describe_transport_error(exc)
    if not last_not_sent and budget.deadline.remaining_s() <= 0:
        reason = f"deadline reached before the whole answer was read ({reason})"
    elif last_not_sent and sent:
        reason = f"{reason} on a retry, after an attempt that may have reached {peer}"
    return sent, reason


def describe_transport_error(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, requests.ReadTimeout):
        return "read timeout"
    cause: object = exc.args[0] if exc.args else None
    if isinstance(cause, MaxRetryError):
        cause = cause.reason
    if isinstance(cause, NewConnectionError):
        return "connection refused or unreachable"
    if isinstance(cause, ConnectTimeoutError):
        return "connect timeout"
    name = type(cause).__name__ if isinstance(cause, BaseException) else type(exc).__name__
    if "ReadTimeout" in name:
        return "read timeout"
    return f"connection failed ({name})"
