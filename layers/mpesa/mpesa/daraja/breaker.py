"""Circuit breaker per downstream, shared by every container through the state table.

The integration guide's behaviour: 5 consecutive failures open the circuit for 60 s; then it is
half-open and lets exactly one trial call through (claimed with a conditional write that records the
trial's id; only that trial's verdict or release counts); the trial's success closes it, its failure
opens it for another 60 s. A claim lasts TRIAL_SECONDS; the trial call is cut to `max_trial_call_s`,
so it reports before its claim runs out and a second trial never overlaps it. While open, calls fail fast with
CircuitBreakerError. Only upstream trouble counts as a failure (connection errors, timeouts, 5xx
other than business answers); a 4xx or business error is an answer, i.e. a success for the breaker.

State lives in the item `breaker#<name>` (hash key `pk`, TTL `expires_at`) when a table is given,
updated only with conditional writes; otherwise in this container's memory.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

log = logging.getLogger(__name__)

FAILURE_THRESHOLD = 5
OPEN_SECONDS = 60.0
TRIAL_SECONDS = 30.0  # a claimed trial that never reports back frees the slot after this
TRIAL_SLACK_SECONDS = 1.0  # a trial call ends this long before its claim (verdict write, clock skew)
STATE_TTL_SECONDS = 7 * 24 * 3600


def _count_opened() -> None:
    # Powertools' metrics load when a circuit opens, not with the client: importing the Daraja client
    # alone (the SDK use) stays light.
    from mpesa.telemetry import count

    count("CircuitOpened")


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreakerError(Exception):
    """The downstream is considered unavailable; no request was sent. `retry_after_s` is a hint."""

    def __init__(self, name: str, retry_after_s: float) -> None:
        super().__init__(f"circuit '{name}' is open: not calling it for another {max(retry_after_s, 0):.0f} s")
        self.name = name
        self.retry_after_s = max(retry_after_s, 0.0)


@dataclass(frozen=True)
class Snapshot:
    open: bool
    failures: int
    open_until_ms: int
    trial_until_ms: int
    trial_id: str | None = None


CLOSED = Snapshot(False, 0, 0, 0)


class BreakerStore(Protocol):
    """`trial_id` names the claim: reopen, close(trial=True) and release_trial act only for the trial
    that holds the slot, so a trial that outlived its claim cannot end or free another's."""

    def load(self, name: str) -> Snapshot: ...

    def claim_trial(self, name: str, now_ms: int, until_ms: int, trial_id: str) -> bool: ...

    def add_failure(self, name: str, threshold: int, open_until_ms: int) -> bool:
        """Count a failure while closed; open when the threshold is reached. True if this call opened it."""
        ...

    def reopen(self, name: str, open_until_ms: int, trial_id: str) -> None: ...

    def close(self, name: str, *, trial: bool, trial_id: str | None = None) -> None: ...

    def release_trial(self, name: str, trial_id: str) -> None: ...


class MemoryBreakerStore:
    def __init__(self) -> None:
        self._states: dict[str, Snapshot] = {}
        self._lock = threading.Lock()

    def load(self, name: str) -> Snapshot:
        return self._states.get(name, CLOSED)

    def claim_trial(self, name: str, now_ms: int, until_ms: int, trial_id: str) -> bool:
        with self._lock:
            s = self._states.get(name, CLOSED)
            if not s.open or s.open_until_ms > now_ms or s.trial_until_ms >= now_ms:
                return False
            self._states[name] = Snapshot(True, s.failures, s.open_until_ms, until_ms, trial_id)
            return True

    def add_failure(self, name: str, threshold: int, open_until_ms: int) -> bool:
        with self._lock:
            s = self._states.get(name, CLOSED)
            if s.open:
                return False
            failures = s.failures + 1
            opened = failures >= threshold
            self._states[name] = Snapshot(opened, failures, open_until_ms if opened else 0, 0)
            return opened

    def reopen(self, name: str, open_until_ms: int, trial_id: str) -> None:
        with self._lock:
            s = self._states.get(name, CLOSED)
            if s.open and s.trial_id == trial_id:
                self._states[name] = Snapshot(True, s.failures, open_until_ms, 0)

    def close(self, name: str, *, trial: bool, trial_id: str | None = None) -> None:
        with self._lock:
            s = self._states.get(name, CLOSED)
            # A trial closes an open circuit (if the slot is still its own); a plain success resets a closed one.
            if (s.open and trial and s.trial_id == trial_id) or (not s.open and not trial):
                self._states[name] = CLOSED

    def release_trial(self, name: str, trial_id: str) -> None:
        with self._lock:
            s = self._states.get(name, CLOSED)
            if s.trial_id == trial_id:
                self._states[name] = Snapshot(s.open, s.failures, s.open_until_ms, 0)


class DynamoBreakerStore:
    """`breaker#<name>`: state (S), failures (N), open_until / trial_until (N, epoch ms), trial_id (S),
    expires_at (TTL)."""

    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self.table_name = table_name
        self._client = client

    @staticmethod
    def _key(name: str) -> dict[str, AttributeValueTypeDef]:
        return {"pk": {"S": f"breaker#{name}"}}

    @staticmethod
    def _ttl() -> AttributeValueTypeDef:
        return {"N": str(int(time.time()) + STATE_TTL_SECONDS)}

    def _update(self, name: str, expression: str, condition: str, values: dict[str, AttributeValueTypeDef]) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=self._key(name),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def load(self, name: str) -> Snapshot:
        item = self._client.get_item(TableName=self.table_name, Key=self._key(name)).get("Item") or {}
        if not item:
            return CLOSED

        def number(attr: str) -> int:
            return int(item.get(attr, {}).get("N", "0"))

        return Snapshot(
            item.get("state", {}).get("S") == "open",
            number("failures"),
            number("open_until"),
            number("trial_until"),
            item.get("trial_id", {}).get("S"),
        )

    def claim_trial(self, name: str, now_ms: int, until_ms: int, trial_id: str) -> bool:
        return self._update(
            name,
            "SET trial_until = :until, trial_id = :id",
            "#state = :open AND open_until <= :now AND (attribute_not_exists(trial_until) OR trial_until < :now)",
            {
                ":until": {"N": str(until_ms)},
                ":now": {"N": str(now_ms)},
                ":open": {"S": "open"},
                ":id": {"S": trial_id},
            },
        )

    def add_failure(self, name: str, threshold: int, open_until_ms: int) -> bool:
        from botocore.exceptions import ClientError

        try:
            answer = self._client.update_item(
                TableName=self.table_name,
                Key=self._key(name),
                UpdateExpression="SET #state = :closed, expires_at = :ttl ADD failures :one",
                ConditionExpression="attribute_not_exists(#state) OR #state = :closed",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":closed": {"S": "closed"},
                    ":one": {"N": "1"},
                    ":ttl": self._ttl(),
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False  # already open
            raise
        failures = int(answer.get("Attributes", {}).get("failures", {}).get("N", "0"))
        if failures < threshold:
            return False
        return self._update(
            name,
            "SET #state = :open, open_until = :until REMOVE trial_until, trial_id",
            "#state = :closed",
            {":open": {"S": "open"}, ":closed": {"S": "closed"}, ":until": {"N": str(open_until_ms)}},
        )

    def reopen(self, name: str, open_until_ms: int, trial_id: str) -> None:
        self._update(
            name,
            "SET open_until = :until REMOVE trial_until, trial_id",
            "#state = :open AND trial_id = :id",
            {":open": {"S": "open"}, ":until": {"N": str(open_until_ms)}, ":id": {"S": trial_id}},
        )

    def close(self, name: str, *, trial: bool, trial_id: str | None = None) -> None:
        # A trial closes an open circuit it still holds; a plain success only resets a closed one's count.
        values: dict[str, AttributeValueTypeDef] = {
            ":closed": {"S": "closed"},
            ":zero": {"N": "0"},
            ":ttl": self._ttl(),
        }
        condition = "#state = :closed"
        if trial:
            condition = "#state = :open AND trial_id = :id"
            values.update({":open": {"S": "open"}, ":id": {"S": trial_id or ""}})
        self._update(
            name,
            "SET #state = :closed, failures = :zero, expires_at = :ttl REMOVE open_until, trial_until, trial_id",
            condition,
            values,
        )

    def release_trial(self, name: str, trial_id: str) -> None:
        self._update(
            name,
            "REMOVE trial_until, trial_id",
            "#state = :open AND trial_id = :id",
            {":open": {"S": "open"}, ":id": {"S": trial_id}},
        )


CONTAINER_BREAKERS = MemoryBreakerStore()


class Permit:
    """Permission for one call. Report how it went exactly once: success, failure, or release (no verdict)."""

    def __init__(
        self, breaker: CircuitBreaker, *, trial: bool, failures_seen: int, trial_id: str | None = None
    ) -> None:
        self._breaker = breaker
        self.trial = trial
        self.trial_id = trial_id
        self._failures_seen = failures_seen
        self._done = False

    def _finish(self) -> bool:
        if self._done:
            return False
        self._done = True
        return True

    def success(self) -> None:
        if self._finish() and (self.trial or self._failures_seen):
            self._breaker._guarded(lambda s: s.close(self._breaker.name, trial=self.trial, trial_id=self.trial_id))
            if self.trial:
                log.info("circuit '%s' closed after a successful trial call", self._breaker.name)

    def failure(self) -> None:
        if not self._finish():
            return
        b = self._breaker
        open_until = b._now_ms() + int(b.open_seconds * 1000)
        if self.trial:
            b._guarded(lambda s: s.reopen(b.name, open_until, self.trial_id or ""))
            log.warning("circuit '%s' re-opened: the trial call failed", b.name)
            _count_opened()
        elif b._guarded(lambda s: s.add_failure(b.name, b.failure_threshold, open_until)):
            log.warning("circuit '%s' opened after %d consecutive failures", b.name, b.failure_threshold)
            _count_opened()

    def release(self) -> None:
        if self._finish() and self.trial:
            self._breaker._guarded(lambda s: s.release_trial(self._breaker.name, self.trial_id or ""))


class CircuitBreaker:
    def __init__(
        self,
        name: str = "daraja",
        *,
        store: BreakerStore | None = None,
        failure_threshold: int = FAILURE_THRESHOLD,
        open_seconds: float = OPEN_SECONDS,
        trial_seconds: float = TRIAL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self._store: BreakerStore = CONTAINER_BREAKERS if store is None else store
        self.failure_threshold = failure_threshold
        self.open_seconds = open_seconds
        self.trial_seconds = trial_seconds
        self._clock = clock

    @classmethod
    def shared(
        cls,
        name: str,
        table_name: str | None,
        *,
        client: DynamoDBClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> CircuitBreaker:
        """The guide's breaker, backed by the state table when `table_name` is set, else by memory."""
        if not table_name:
            return cls(name, clock=clock)
        if client is None:
            from mpesa.daraja.aws import dynamodb_client

            client = dynamodb_client()
        return cls(name, store=DynamoBreakerStore(table_name, client), clock=clock)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    @property
    def max_trial_call_s(self) -> float:
        """How long a trial call may take: it must report before its claim (`trial_seconds`) frees the slot."""
        return max(self.trial_seconds - TRIAL_SLACK_SECONDS, 0.0)

    def _guarded[T](self, action: Callable[[BreakerStore], T]) -> T | None:
        """Breaker bookkeeping must never turn a finished call into an error: log and carry on."""
        try:
            return action(self._store)
        except Exception as exc:  # noqa: BLE001  (state store trouble is logged, not raised)
            log.warning("circuit '%s' state not updated: %s", self.name, type(exc).__name__)
            return None

    def state(self) -> BreakerState:
        s = self._store.load(self.name)
        if not s.open:
            return BreakerState.CLOSED
        return BreakerState.OPEN if s.open_until_ms > self._now_ms() else BreakerState.HALF_OPEN

    def acquire(self) -> Permit:
        """A permit for one call, or CircuitBreakerError when open (or half-open with its trial taken)."""
        snapshot = self._guarded(lambda s: s.load(self.name))
        if snapshot is None or not snapshot.open:
            return Permit(self, trial=False, failures_seen=1 if snapshot is None else snapshot.failures)
        now_ms = self._now_ms()
        if snapshot.open_until_ms > now_ms:
            raise CircuitBreakerError(self.name, (snapshot.open_until_ms - now_ms) / 1000)
        until = now_ms + int(self.trial_seconds * 1000)
        trial_id = uuid.uuid4().hex
        if self._guarded(lambda s: s.claim_trial(self.name, now_ms, until, trial_id)):
            return Permit(self, trial=True, failures_seen=snapshot.failures, trial_id=trial_id)
        raise CircuitBreakerError(self.name, self.trial_seconds)
