"""The STK Push (Lipa Na M-Pesa Online) flow: request, initiate, callbacks, resolve."""

from mpesa.flows.stk.events import StkEvents, payment_view
from mpesa.flows.stk.flow import StkPayments
from mpesa.flows.stk.initiate import IdempotencyConflictError
from mpesa.flows.stk.outcomes import Initiation, QueryResult, ResolveStep, Upstream, initiation_answer
from mpesa.flows.stk.ports import FlowStarter, FlowTiming, PromptStarter, StkDeps, StkGateway
from mpesa.flows.stk.prompt import PromptStep
from mpesa.flows.stk.request import StkPaymentRequest, StkPushBody, transaction_id_for, validate_request
from mpesa.providers.base import status_for

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
