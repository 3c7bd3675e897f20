"""Per-container wiring from the Lambda environment: settings, records, events, the providers (Daraja,
Vodacom's OpenAPI), the flows.

Everything is built on first use and cached for the container's life: the first invocation pays the
cost, later ones reuse the clients (and Daraja's session and token). `reset()` is for tests that change
the environment. Tests replace a part by monkeypatching one of these functions (e.g. `gateway`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from mpesa.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

    # Like the other flows, STK's loads with its first use: a payout or C2B function never imports it.
    from mpesa.daraja.client import DarajaClient
    from mpesa.flows.b2c import AccountBalances, B2cGateway, B2cPayouts, PayoutTiming
    from mpesa.flows.c2b import C2BConfig, C2BPayments, RegisterGateway
    from mpesa.flows.c2b.dynamodb import DynamoC2BStore
    from mpesa.flows.stk import FlowTiming, StkGateway, StkPayments
    from mpesa.openapi.client import OpenApiClient
    from mpesa.providers.base import Provider
    from mpesa.providers.openapi import OpenApiGateway
    from mpesa.providers.registry import Providers
    from mpesa.reconciliation.daily import DailyReconciliation
    from mpesa.reconciliation.report import S3Reports
    from mpesa.reconciliation.sweep import Sweep
    from mpesa.records.balances import DynamoBalances
    from mpesa.records.budgets import DynamoBudgets
    from mpesa.records.dynamodb import DynamoRecordStore
    from mpesa.records.events import EventBridgePublisher
    from mpesa.records.inbox import DynamoInbox
    from mpesa.records.model import Record
    from mpesa.records.outbox import Outbox
    from mpesa.settings import MpesaSettings


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigurationError({name: "is required in the function's environment"})
    return value


def flow_timing() -> FlowTiming:
    from mpesa.flows.stk import FlowTiming

    defaults = FlowTiming()
    return FlowTiming(
        wait_seconds=int(os.environ.get("STK_TIMEOUT_WAIT_SECONDS", defaults.wait_seconds)),
        query_interval_seconds=int(os.environ.get("STK_QUERY_INTERVAL_SECONDS", defaults.query_interval_seconds)),
        max_attempts=int(os.environ.get("STK_QUERY_MAX_ATTEMPTS", defaults.max_attempts)),
    )


def stk_timeout_input(transaction_id: str, timing: FlowTiming) -> dict[str, Any]:
    """The input of statemachines/stk_timeout.asl.json, started by the sweep's check of a payment still
    pending after its callback's wait, which made the first query: the flow waits one interval and
    queries on, to the attempts left."""
    return {
        "transaction_id": transaction_id,
        "wait_seconds": timing.query_interval_seconds,
        "query_interval_seconds": timing.query_interval_seconds,
        "max_attempts": timing.max_attempts,
        "resolution": {"attempt": 1},
    }


def payout_timing() -> PayoutTiming:
    from mpesa.flows.b2c import PayoutTiming

    defaults = PayoutTiming()
    return PayoutTiming(
        result_wait_seconds=int(os.environ.get("B2C_RESULT_WAIT_SECONDS", defaults.result_wait_seconds)),
        status_interval_seconds=int(os.environ.get("B2C_STATUS_INTERVAL_SECONDS", defaults.status_interval_seconds)),
        max_status_queries=int(os.environ.get("B2C_STATUS_MAX_QUERIES", defaults.max_status_queries)),
    )


def b2c_timeout_input(payout_id: str, timing: PayoutTiming) -> dict[str, Any]:
    """The input of statemachines/b2c_timeout.asl.json, started by the sweep's check of a payout still
    pending after its Result's wait: the flow asks Transaction Status at once."""
    return {
        "payout_id": payout_id,
        "result_wait_seconds": 0,
        "status_interval_seconds": timing.status_interval_seconds,
        "max_status_queries": timing.max_status_queries,
        "resolution": {"attempt": 0},
    }


def prompt_flow_input(transaction_id: str, timing: FlowTiming) -> dict[str, Any]:
    """The input of statemachines/prompt_flow.asl.json: the prompt, then the same bounded queries."""
    return {
        "transaction_id": transaction_id,
        "query_interval_seconds": timing.query_interval_seconds,
        "max_attempts": timing.max_attempts,
        "resolution": {"attempt": 0},
    }


class StepFunctionsStarter:
    """Starts a state machine per record, named after it (or `name`): starting twice is a no-op (Standard)."""

    def __init__(
        self, state_machine_arn: str, input_for: Callable[[str], dict[str, Any]], client: SFNClient | None = None
    ) -> None:
        self._arn = state_machine_arn
        self._input_for = input_for
        self._client = client

    def start(self, transaction_id: str, *, name: str | None = None) -> None:
        if self._client is None:
            import boto3

            self._client = boto3.client("stepfunctions")
        payload = json.dumps(self._input_for(transaction_id))
        try:
            self._client.start_execution(stateMachineArn=self._arn, name=name or transaction_id, input=payload)
        except self._client.exceptions.ExecutionAlreadyExists:
            return


@cache
def settings() -> MpesaSettings:
    from mpesa.settings import load_settings

    return load_settings()


@cache
def store() -> DynamoRecordStore:
    from mpesa.records.dynamodb import DynamoRecordStore

    return DynamoRecordStore(env("TRANSACTIONS_TABLE_NAME"))


@cache
def inbox() -> DynamoInbox:
    from datetime import timedelta

    from mpesa.records.inbox import DEFAULT_PER_SOURCE_HOURLY, DEFAULT_RETENTION, DynamoInbox

    return DynamoInbox(
        env("TRANSACTIONS_TABLE_NAME"),
        retention=timedelta(days=int(os.environ.get("MPESA_INBOX_RETENTION_DAYS", DEFAULT_RETENTION.days))),
        per_source_hourly=int(os.environ.get("MPESA_INBOX_PER_SOURCE_HOURLY", DEFAULT_PER_SOURCE_HOURLY)),
    )


@cache
def publisher() -> EventBridgePublisher:
    from mpesa.records.events import EventBridgePublisher

    return EventBridgePublisher(env("EVENT_BUS_NAME"))


@cache
def outbox() -> Outbox:
    from mpesa.flows.b2c.events import B2cEvents
    from mpesa.flows.c2b.events import C2BEvents
    from mpesa.flows.stk.events import StkEvents
    from mpesa.records.model import Kind
    from mpesa.records.outbox import EventCatalog, Outbox

    catalogs: dict[Kind, EventCatalog] = {Kind.STK: StkEvents(), Kind.B2C: B2cEvents(), Kind.C2B: C2BEvents()}
    return Outbox(store(), publisher(), catalogs)


@cache
def budgets() -> DynamoBudgets:
    from mpesa.records.budgets import DynamoBudgets

    return DynamoBudgets(env("TRANSACTIONS_TABLE_NAME"))


@cache
def balances() -> DynamoBalances:
    from mpesa.records.balances import DynamoBalances

    return DynamoBalances(env("TRANSACTIONS_TABLE_NAME"))


@cache
def daraja() -> DarajaClient:
    from mpesa.daraja.client import DarajaClient

    return DarajaClient(settings(), state_table_name=os.environ.get("STATE_TABLE_NAME"))


@cache
def openapi() -> OpenApiClient:
    from mpesa.openapi.client import OpenApiClient

    return OpenApiClient.from_environment(settings())


def gateway() -> StkGateway:
    """What the STK flow calls for M-Pesa (looked up at each use, so a test can replace it)."""
    return daraja()


def openapi_gateway() -> OpenApiGateway:
    """What the Tanzanian provider calls (looked up at each use, so a test can replace it)."""
    return openapi()


@cache
def providers() -> Providers:
    """Each market's provider (mpesa.providers.registry): Kenya is Daraja, Tanzania Vodacom's OpenAPI.
    Each loads with its market's first request: a Kenyan payment never imports the OpenAPI client (nor
    cryptography, which encrypts its session key)."""
    from mpesa.markets import Country
    from mpesa.providers.registry import Providers

    return Providers(settings(), {Country.KE: _daraja_provider, Country.TZ: _openapi_provider})


def _daraja_provider() -> Provider:
    from mpesa.providers.daraja import DarajaProvider

    return DarajaProvider(settings(), stk=lambda: gateway(), b2c=lambda: b2c_gateway())


def _openapi_provider() -> Provider:
    from mpesa.providers.openapi import OpenApiProvider

    return OpenApiProvider(settings(), lambda: openapi_gateway())


def b2c_gateway() -> B2cGateway:
    """What the B2C flow calls for M-Pesa (looked up at each use, so a test can replace it)."""
    return daraja()


@cache
def b2c_payouts() -> B2cPayouts:
    from mpesa.flows.b2c import B2cDeps, B2cPayouts, GuardRails

    timing = payout_timing()
    arn = os.environ.get("B2C_TIMEOUT_STATE_MACHINE_ARN")
    starter = StepFunctionsStarter(arn, lambda payout: b2c_timeout_input(payout, timing)) if arn else None
    return B2cPayouts(
        B2cDeps(
            settings=settings(),
            store=store(),
            inbox=inbox(),
            outbox=outbox(),
            budgets=budgets(),
            gateway=lambda: b2c_gateway(),
            flow=starter,
            timing=timing,
            guard_rails=GuardRails.from_settings(settings()),
            providers=providers(),
        )
    )


@cache
def account_balances() -> AccountBalances:
    from mpesa.flows.b2c import AccountBalances

    return AccountBalances(settings(), balances(), lambda: b2c_gateway())


@cache
def stk_payments() -> StkPayments:
    from mpesa.flows.stk import StkDeps, StkPayments

    timing = flow_timing()
    arn = os.environ.get("STK_TIMEOUT_STATE_MACHINE_ARN")
    starter = StepFunctionsStarter(arn, lambda txn: stk_timeout_input(txn, timing)) if arn else None
    prompt_arn = os.environ.get("PROMPT_FLOW_STATE_MACHINE_ARN")
    prompt_starter = (
        StepFunctionsStarter(prompt_arn, lambda txn: prompt_flow_input(txn, timing)) if prompt_arn else None
    )
    return StkPayments(
        StkDeps(
            settings=settings(),
            store=store(),
            inbox=inbox(),
            outbox=outbox(),
            gateway=lambda: gateway(),
            flow=starter,
            timing=timing,
            providers=providers(),
            prompt_flow=prompt_starter,
        )
    )


@cache
def c2b_config() -> C2BConfig:
    from mpesa.flows.c2b import C2BConfig

    return C2BConfig.from_env(os.environ, settings().business_short_code)


@cache
def c2b_store() -> DynamoC2BStore:
    from mpesa.flows.c2b.dynamodb import DynamoC2BStore

    return DynamoC2BStore(env("TRANSACTIONS_TABLE_NAME"))


def c2b_gateway() -> RegisterGateway:
    """What C2B registration calls for M-Pesa (looked up at each use, so a test can replace it)."""
    return daraja()


@cache
def c2b_payments() -> C2BPayments:
    from mpesa.flows.c2b import C2BDeps, C2BPayments

    return C2BPayments(
        C2BDeps(
            settings=settings(),
            config=c2b_config(),
            store=c2b_store(),
            inbox=inbox(),
            outbox=outbox(),
            gateway=lambda: c2b_gateway(),
        )
    )


@cache
def sweep() -> Sweep:
    from mpesa.reconciliation.stragglers import StragglerPass
    from mpesa.reconciliation.sweep import Sweep

    stk, b2c = stk_payments().resolution, b2c_payouts().resolution
    return Sweep(store(), outbox(), [stk, b2c], StragglerPass(store(), outbox(), [stk, b2c]))


@cache
def reports() -> S3Reports:
    from mpesa.reconciliation.report import S3Reports

    return S3Reports(env("REPORTS_BUCKET_NAME"))


def pull_callback_url() -> str | None:
    """The CallBackURL Pull Transactions is registered with (Daraja documents no call to it; served anyway)."""
    base = settings().callback_base_url
    return None if base is None else str(base).rstrip("/") + "/v1/hooks/pull"


@cache
def reconciliation() -> DailyReconciliation:
    from mpesa.flows.b2c.reconcile import PayoutReconciler
    from mpesa.flows.c2b.reconcile import C2BReconciler
    from mpesa.flows.stk.reconcile import StkReconciler
    from mpesa.providers.registry import DARAJA, markets_of
    from mpesa.reconciliation.daily import DailyReconciliation, FlowReconciler
    from mpesa.reconciliation.statement import PullStatement

    fail_absent = os.environ.get("RECONCILIATION_FAIL_ABSENT", "true").lower() != "false"
    reconcilers: list[FlowReconciler] = [StkReconciler(stk_payments().deps, fail_absent=fail_absent)]
    if settings().b2c_short_code:
        payouts = b2c_payouts()
        reconcilers.append(PayoutReconciler(payouts.deps, payouts.resolution))
    c2b = c2b_payments()
    reconcilers.append(C2BReconciler(c2b.deps, c2b.confirmations))
    return DailyReconciliation(
        store(),
        PullStatement(
            daraja().pull,
            nominated_number=settings().pull_nominated_number,
            callback_url=pull_callback_url(),
        ),
        outbox(),
        reconcilers,
        reports(),
        statement_countries=markets_of(DARAJA),  # Pull Transactions is Daraja's statement
        review=_review_unconfirmed,
    )


def _review_unconfirmed(record: Record) -> None:
    from mpesa.records.model import Kind

    if record.kind is Kind.STK:
        stk_payments().callbacks.review_unconfirmed(record)


def reset() -> None:
    built = (settings, store, inbox, publisher, outbox, daraja, stk_payments, sweep, reports, reconciliation)
    parts = (budgets, balances, b2c_payouts, account_balances, c2b_config, c2b_store, c2b_payments, openapi, providers)
    for part in (*built, *parts):
        part.cache_clear()
