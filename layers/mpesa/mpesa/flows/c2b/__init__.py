"""The C2B (Pay Bill / Buy Goods) flow: URL registration, validation, confirmation, expected payments."""

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
