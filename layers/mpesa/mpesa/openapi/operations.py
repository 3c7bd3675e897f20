"""The OpenAPI operations the client calls, and how each may be sent (docs/openapi-client.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mpesa.daraja.transport import RetryKind
from mpesa.openapi.sessions import SESSION_API


@dataclass(frozen=True)
class Operation:
    api: str
    path: str  # appended to the API root (`.../ipg/v2/<market>/`); the trailing slash is required
    method: Literal["GET", "POST", "PUT"]
    retry: RetryKind
    moves_money: bool  # an unanswered request may have moved money: never re-sent, resolved by query
    waits_for_customer: bool = False  # answered only after the customer acts: the long read timeout


SESSION = Operation(SESSION_API, "getSession/", "GET", RetryKind.SAFE, False)
C2B_SINGLE_STAGE = Operation(
    "c2b_single_stage", "c2bPayment/singleStage/", "POST", RetryKind.CONNECT_ONLY, True, waits_for_customer=True
)
B2C_PAYMENT = Operation("b2c_payment", "b2cPayment/", "POST", RetryKind.CONNECT_ONLY, True)
REVERSAL = Operation("reversal", "reversal/", "PUT", RetryKind.CONNECT_ONLY, True)
QUERY_TRANSACTION_STATUS = Operation(
    "query_transaction_status", "queryTransactionStatus/", "GET", RetryKind.SAFE, False
)
