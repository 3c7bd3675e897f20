"""The B2C payout flow: request, guard-rails, initiate, results, resolve; and account balances."""

from mpesa.flows.b2c.balance import AccountBalances, BalanceStore
from mpesa.flows.b2c.events import B2cEvents, payout_view
from mpesa.flows.b2c.flow import B2cPayouts
from mpesa.flows.b2c.guardrails import GuardRails
from mpesa.flows.b2c.initiate import IdempotencyConflictError
from mpesa.flows.b2c.outcomes import Initiation, ResolveStep, Upstream, initiation_answer
from mpesa.flows.b2c.ports import B2cDeps, B2cGateway, Budgets, FlowStarter, PayoutTiming
from mpesa.flows.b2c.request import PayoutBody, PayoutRequest, payout_id_for, validate_request

__all__ = [
    "AccountBalances",
    "B2cDeps",
    "B2cEvents",
    "B2cGateway",
    "B2cPayouts",
    "BalanceStore",
    "Budgets",
    "FlowStarter",
    "GuardRails",
    "IdempotencyConflictError",
    "Initiation",
    "PayoutBody",
    "PayoutRequest",
    "PayoutTiming",
    "ResolveStep",
    "Upstream",
    "initiation_answer",
    "payout_id_for",
    "payout_view",
    "validate_request",
]
