"""M-Pesa payments on AWS serverless: the domain package shared by every Lambda function.

The public surface for code written against the integration guide:

    from mpesa import MpesaService, CircuitBreakerError, handle_mpesa_result

Everything else is organised by concern (docs/decisions.md, "Package layout"): the domain basics
(errors, clock, money, markets, codes, rules, settings), `daraja` (the client), `records`, `flows`,
`reconciliation`, `edge` and `runtime`. Names load on first use, so importing `mpesa` costs nothing.
"""

from typing import TYPE_CHECKING

from mpesa.lazy import lazy_exports

_EXPORTS = {
    "MpesaService": "mpesa.service",
    "CircuitBreakerError": "mpesa.daraja.breaker",
    "handle_mpesa_result": "mpesa.codes",
    "InputError": "mpesa.errors",
    "ConfigurationError": "mpesa.errors",
}

__all__ = [
    "CircuitBreakerError",
    "ConfigurationError",
    "InputError",
    "MpesaService",
    "handle_mpesa_result",
]

if TYPE_CHECKING:
    from mpesa.codes import handle_mpesa_result
    from mpesa.daraja.breaker import CircuitBreakerError
    from mpesa.errors import ConfigurationError, InputError
    from mpesa.service import MpesaService


__getattr__ = lazy_exports(__name__, _EXPORTS)
