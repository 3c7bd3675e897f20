"""The STK Push (Lipa Na M-Pesa Online) flow: request, initiate, callbacks, resolve.

Names load on first use: a function imports only the parts of the flow it uses (the status
endpoint reads a payment's view without building the flow, nor the callback models behind it).
"""

from typing import TYPE_CHECKING

from mpesa.lazy import lazy_exports

_EXPORTS = {
    "StkEvents": "mpesa.flows.stk.events",
    "payment_view": "mpesa.flows.stk.events",
    "StkPayments": "mpesa.flows.stk.flow",
    "IdempotencyConflictError": "mpesa.flows.stk.initiate",
    "Initiation": "mpesa.flows.stk.outcomes",
    "QueryResult": "mpesa.flows.stk.outcomes",
    "ResolveStep": "mpesa.flows.stk.outcomes",
    "Upstream": "mpesa.flows.stk.outcomes",
    "initiation_answer": "mpesa.flows.stk.outcomes",
    "FlowStarter": "mpesa.flows.stk.ports",
    "FlowTiming": "mpesa.flows.stk.ports",
    "PromptStarter": "mpesa.flows.stk.ports",
    "StkDeps": "mpesa.flows.stk.ports",
    "StkGateway": "mpesa.flows.stk.ports",
    "PromptStep": "mpesa.flows.stk.prompt",
    "StkPaymentRequest": "mpesa.flows.stk.request",
    "StkPushBody": "mpesa.flows.stk.request",
    "transaction_id_for": "mpesa.flows.stk.request",
    "validate_request": "mpesa.flows.stk.request",
    "status_for": "mpesa.providers.base",
}

__all__ = [
    "FlowStarter",
    "FlowTiming",
    "IdempotencyConflictError",
    "Initiation",
    "PromptStarter",
    "PromptStep",
    "QueryResult",
    "ResolveStep",
    "StkDeps",
    "StkEvents",
    "StkGateway",
    "StkPaymentRequest",
    "StkPayments",
    "StkPushBody",
    "Upstream",
    "initiation_answer",
    "payment_view",
    "status_for",
    "transaction_id_for",
    "validate_request",
]

if TYPE_CHECKING:
    from mpesa.flows.stk.events import StkEvents, payment_view
    from mpesa.flows.stk.flow import StkPayments
    from mpesa.flows.stk.initiate import IdempotencyConflictError
    from mpesa.flows.stk.outcomes import Initiation, QueryResult, ResolveStep, Upstream, initiation_answer
    from mpesa.flows.stk.ports import FlowStarter, FlowTiming, PromptStarter, StkDeps, StkGateway
    from mpesa.flows.stk.prompt import PromptStep
    from mpesa.flows.stk.request import StkPaymentRequest, StkPushBody, transaction_id_for, validate_request
    from mpesa.providers.base import status_for


__getattr__ = lazy_exports(__name__, _EXPORTS)
