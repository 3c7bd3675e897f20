"""Per-container wiring from the Lambda environment: settings, store, events, Daraja, the timeout flow.

Built lazily and cached: the first invocation pays the cost, later ones reuse the clients (and the
Daraja session and token). `reset()` is for tests that change the environment.
"""

import json
import os
from functools import cache
from typing import TYPE_CHECKING

import boto3

from mpesa.events import EventPublisher
from mpesa.ledger import TransactionStore
from mpesa.settings import MpesaSettings, load_settings
from mpesa.stk import FlowTiming, StkGateway, StkPayments

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        from mpesa.errors import ConfigurationError

        raise ConfigurationError({name: "is required in the function's environment"})
    return value


def flow_timing() -> FlowTiming:
    defaults = FlowTiming()
    return FlowTiming(
        wait_seconds=int(os.environ.get("STK_TIMEOUT_WAIT_SECONDS", defaults.wait_seconds)),
        query_interval_seconds=int(os.environ.get("STK_QUERY_INTERVAL_SECONDS", defaults.query_interval_seconds)),
        max_attempts=int(os.environ.get("STK_QUERY_MAX_ATTEMPTS", defaults.max_attempts)),
    )


class StepFunctionsFlow:
    """Starts the wait-then-query flow. The execution is named after the transaction: starting twice is a no-op."""

    def __init__(self, state_machine_arn: str, timing: FlowTiming, client: "SFNClient | None" = None) -> None:
        self._arn = state_machine_arn
        self._timing = timing
        self._client = client or boto3.client("stepfunctions")

    def start(self, transaction_id: str) -> None:
        payload = {
            "transaction_id": transaction_id,
            "wait_seconds": self._timing.wait_seconds,
            "query_interval_seconds": self._timing.query_interval_seconds,
            "max_attempts": self._timing.max_attempts,
            "resolution": {"attempt": 0},
        }
        try:
            self._client.start_execution(stateMachineArn=self._arn, name=transaction_id, input=json.dumps(payload))
        except self._client.exceptions.ExecutionAlreadyExists:
            return


@cache
def settings() -> MpesaSettings:
    return load_settings()


@cache
def store() -> TransactionStore:
    return TransactionStore(env("TRANSACTIONS_TABLE_NAME"))


@cache
def publisher() -> EventPublisher:
    return EventPublisher(env("EVENT_BUS_NAME"))


@cache
def gateway() -> StkGateway:
    from mpesa.daraja.client import DarajaClient

    return DarajaClient(settings(), state_table_name=os.environ.get("STATE_TABLE_NAME"))


@cache
def stk_payments() -> StkPayments:
    timing = flow_timing()
    arn = os.environ.get("STK_TIMEOUT_STATE_MACHINE_ARN")
    return StkPayments(
        settings=settings(),
        store=store(),
        publisher=publisher(),
        gateway=gateway,
        flow=StepFunctionsFlow(arn, timing) if arn else None,
        timing=timing,
    )


def reset() -> None:
    for built in (settings, store, publisher, gateway, stk_payments):
        built.cache_clear()
