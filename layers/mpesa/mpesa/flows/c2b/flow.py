"""The C2B flow as one object: what handlers call. Each part lives in its module."""

from __future__ import annotations

from mpesa.flows.c2b.confirmation import C2BConfirmations
from mpesa.flows.c2b.expected import ExpectedPayments
from mpesa.flows.c2b.ports import C2BDeps
from mpesa.flows.c2b.register import C2BRegistration
from mpesa.flows.c2b.validation import C2BValidation


class C2BPayments:
    def __init__(self, deps: C2BDeps) -> None:
        self.deps = deps
        self.validation = C2BValidation(deps)
        self.confirmations = C2BConfirmations(deps)
        self.registration = C2BRegistration(deps)
        self.expected = ExpectedPayments(deps)
