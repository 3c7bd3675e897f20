"""The B2C payout flow: request, guard-rails, initiate, results, resolve; and account balances.

Names load on first use: a function imports only the parts of the flow it uses (a webhook that
checks its URL never builds the flow, nor the models and records behind it).
"""

from typing import TYPE_CHECKING

from mpesa.lazy import lazy_exports

_EXPORTS = {
    "AccountBalances": "mpesa.flows.b2c.balance",
    "BalanceStore": "mpesa.flows.b2c.balance",
    "B2cEvents": "mpesa.flows.b2c.events",
    "payout_view": "mpesa.flows.b2c.events",
    "B2cPayouts": "mpesa.flows.b2c.flow",
    "GuardRails": "mpesa.flows.b2c.guardrails",
    "IdempotencyConflictError": "mpesa.flows.b2c.initiate",
    "Initiation": "mpesa.flows.b2c.outcomes",
    "ResolveStep": "mpesa.flows.b2c.outcomes",
    "Upstream": "mpesa.flows.b2c.outcomes",
    "initiation_answer": "mpesa.flows.b2c.outcomes",
    "B2cDeps": "mpesa.flows.b2c.ports",
    "B2cGateway": "mpesa.flows.b2c.ports",
    "Budgets": "mpesa.flows.b2c.ports",
    "FlowStarter": "mpesa.flows.b2c.ports",
    "PayoutTiming": "mpesa.flows.b2c.ports",
    "PayoutBody": "mpesa.flows.b2c.request",
    "PayoutRequest": "mpesa.flows.b2c.request",
    "payout_id_for": "mpesa.flows.b2c.request",
    "validate_request": "mpesa.flows.b2c.request",
}

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

if TYPE_CHECKING:
    from mpesa.flows.b2c.balance import AccountBalances, BalanceStore
    from mpesa.flows.b2c.events import B2cEvents, payout_view
    from mpesa.flows.b2c.flow import B2cPayouts
    from mpesa.flows.b2c.guardrails import GuardRails
    from mpesa.flows.b2c.initiate import IdempotencyConflictError
    from mpesa.flows.b2c.outcomes import Initiation, ResolveStep, Upstream, initiation_answer
    from mpesa.flows.b2c.ports import B2cDeps, B2cGateway, Budgets, FlowStarter, PayoutTiming
    from mpesa.flows.b2c.request import PayoutBody, PayoutRequest, payout_id_for, validate_request


__getattr__ = lazy_exports(__name__, _EXPORTS)
