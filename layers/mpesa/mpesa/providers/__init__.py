"""Providers: each market's M-Pesa operator API behind the flows (KE: Daraja, TZ: Vodacom's OpenAPI).

The flows depend on `mpesa.providers.base` (the Provider Protocol and its outcomes) and the registry;
the concrete providers (`mpesa.providers.daraja`, `mpesa.providers.openapi`) are built where they are
wired (mpesa.runtime). docs/providers.md says how to add one.
"""

from mpesa.providers.base import (
    Accepted,
    AskedLater,
    Mismatched,
    NotSent,
    PayoutReplies,
    Provider,
    QueryAnswer,
    QueryOutcome,
    QueryRefused,
    Refused,
    SendOutcome,
    Unknown,
    status_for,
)
from mpesa.providers.registry import Providers, check_served

__all__ = [
    "Accepted",
    "AskedLater",
    "Mismatched",
    "NotSent",
    "PayoutReplies",
    "Provider",
    "Providers",
    "QueryAnswer",
    "QueryOutcome",
    "QueryRefused",
    "Refused",
    "SendOutcome",
    "Unknown",
    "check_served",
    "status_for",
]
