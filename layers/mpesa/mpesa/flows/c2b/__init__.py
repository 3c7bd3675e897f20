"""The C2B (Pay Bill / Buy Goods) flow: URL registration, validation, confirmation, expected payments.

Names load on first use (mpesa.lazy): the validation and confirmation webhooks check their hook token
with `urls` alone at start; the flow, its store and its models load with the first request, and the
list endpoints import their views without them.
"""

from typing import TYPE_CHECKING

from mpesa.lazy import lazy_exports

_EXPORTS = {
    "C2BConfig": "mpesa.flows.c2b.config",
    "OnError": "mpesa.flows.c2b.config",
    "ValidationMode": "mpesa.flows.c2b.config",
    "Confirmation": "mpesa.flows.c2b.confirmation",
    "C2BEvents": "mpesa.flows.c2b.events",
    "listing_view": "mpesa.flows.c2b.events",
    "payment_view": "mpesa.flows.c2b.events",
    "ExpectedPaymentBody": "mpesa.flows.c2b.expected",
    "expected_payment_view": "mpesa.flows.c2b.expected",
    "C2BPayments": "mpesa.flows.c2b.flow",
    "ListQuery": "mpesa.flows.c2b.listing",
    "encode_cursor": "mpesa.flows.c2b.listing",
    "parse_query": "mpesa.flows.c2b.listing",
    "TRANS_ID": "mpesa.flows.c2b.model",
    "ExpectedPaymentExistsError": "mpesa.flows.c2b.model",
    "check_reference": "mpesa.flows.c2b.model",
    "check_trans_id": "mpesa.flows.c2b.model",
    "C2BDeps": "mpesa.flows.c2b.ports",
    "C2BStore": "mpesa.flows.c2b.ports",
    "RegisterGateway": "mpesa.flows.c2b.ports",
    "Written": "mpesa.flows.c2b.ports",
    "Registered": "mpesa.flows.c2b.register",
    "RegistrationResult": "mpesa.flows.c2b.register",
    "hook_urls": "mpesa.flows.c2b.urls",
    "verify_hook": "mpesa.flows.c2b.urls",
    "Decision": "mpesa.flows.c2b.validation",
}

__all__ = [
    "TRANS_ID",
    "C2BConfig",
    "C2BDeps",
    "C2BEvents",
    "C2BPayments",
    "C2BStore",
    "Confirmation",
    "Decision",
    "ExpectedPaymentBody",
    "ExpectedPaymentExistsError",
    "ListQuery",
    "OnError",
    "RegisterGateway",
    "Registered",
    "RegistrationResult",
    "ValidationMode",
    "Written",
    "check_reference",
    "check_trans_id",
    "encode_cursor",
    "expected_payment_view",
    "hook_urls",
    "listing_view",
    "parse_query",
    "payment_view",
    "verify_hook",
]

if TYPE_CHECKING:
    from mpesa.flows.c2b.config import C2BConfig, OnError, ValidationMode
    from mpesa.flows.c2b.confirmation import Confirmation
    from mpesa.flows.c2b.events import C2BEvents, listing_view, payment_view
    from mpesa.flows.c2b.expected import ExpectedPaymentBody, expected_payment_view
    from mpesa.flows.c2b.flow import C2BPayments
    from mpesa.flows.c2b.listing import ListQuery, encode_cursor, parse_query
    from mpesa.flows.c2b.model import TRANS_ID, ExpectedPaymentExistsError, check_reference, check_trans_id
    from mpesa.flows.c2b.ports import C2BDeps, C2BStore, RegisterGateway, Written
    from mpesa.flows.c2b.register import Registered, RegistrationResult
    from mpesa.flows.c2b.urls import hook_urls, verify_hook
    from mpesa.flows.c2b.validation import Decision


__getattr__ = lazy_exports(__name__, _EXPORTS)
