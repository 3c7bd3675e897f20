"""The ``INS-*`` output codes the simulator emits and the one error shape they all share.

HTTP statuses follow the list in peers.md ("Vodacom M-Pesa OpenAPI — protocol notes", taken from a
Vodacom Mozambique documentation mirror that the OpenAPI markets share); codes that list gives no
status for answer 400. Descriptions are the short texts of that list. Where public clients disagree
(for example INS-26, which one Tanzanian client calls "Invalid Currency Used") the simulator keeps
the peers.md meaning; simulator/README.md names each disagreement.

Every answer of a transaction operation (C2B, B2C, reversal, status query) carries the same keys,
success or not: ``output_ResponseCode``, ``output_ResponseDesc``, ``output_TransactionID``,
``output_ConversationID``, ``output_ThirdPartyConversationID`` (an empty string where there is no
value). ``getSession`` answers carry only the code and description (plus ``output_SessionID`` on
success).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Ins:
    code: str
    http_status: int
    description: str


SUCCESS = Ins("INS-0", 200, "Request processed successfully")
INTERNAL_ERROR = Ins("INS-1", 500, "Internal Error")
INVALID_API_KEY = Ins("INS-2", 401, "Invalid API Key")
CANCELLED = Ins("INS-5", 401, "Transaction cancelled by customer")
FAILED = Ins("INS-6", 401, "Transaction Failed")
TIMEOUT = Ins("INS-9", 408, "Request timeout")
DUPLICATE = Ins("INS-10", 409, "Duplicate Transaction")
INVALID_SHORTCODE = Ins("INS-13", 400, "Invalid Shortcode Used")
INVALID_AMOUNT = Ins("INS-15", 400, "Invalid Amount Used")
OVERLOADED = Ins("INS-16", 503, "Unable to handle the request due to a temporary overloading")
INVALID_REFERENCE = Ins("INS-17", 400, "Invalid Transaction Reference. Length Should Be Between 1 and 20.")
INVALID_TRANSACTION_ID = Ins("INS-18", 400, "Invalid TransactionID Used")
MISSING_PARAMETERS = Ins("INS-20", 400, "Not All Parameters Provided. Please try again.")
VALIDATION_FAILED = Ins("INS-21", 400, "Parameter validations failed. Please try again.")
NOT_AUTHORISED = Ins("INS-26", 401, "Not authorised")
SESSION_FAILED = Ins("INS-989", 400, "Session Creation Failed")
INVALID_MARKET = Ins("INS-998", 400, "Invalid Market")
INSUFFICIENT_BALANCE = Ins("INS-2006", 422, "Insufficient balance")
INVALID_MSISDN = Ins("INS-2051", 400, "MSISDN invalid.")

# Every code the simulator can emit (simulator/README.md has one table row per entry).
EMITTED: tuple[Ins, ...] = (
    SUCCESS,
    INTERNAL_ERROR,
    INVALID_API_KEY,
    CANCELLED,
    FAILED,
    TIMEOUT,
    DUPLICATE,
    INVALID_SHORTCODE,
    INVALID_AMOUNT,
    OVERLOADED,
    INVALID_REFERENCE,
    INVALID_TRANSACTION_ID,
    MISSING_PARAMETERS,
    VALIDATION_FAILED,
    NOT_AUTHORISED,
    SESSION_FAILED,
    INVALID_MARKET,
    INSUFFICIENT_BALANCE,
    INVALID_MSISDN,
)
BY_CODE: dict[str, Ins] = {ins.code: ins for ins in EMITTED}

# Successful money movements (C2B, B2C, reversal) answer 201; getSession and the status query 200.
CREATED = 201


def body(ins: Ins, **outputs: str) -> dict[str, Any]:
    """``{"output_ResponseCode", "output_ResponseDesc", ...}``; ``outputs`` are added as ``output_<Name>``."""
    answer: dict[str, Any] = {"output_ResponseCode": ins.code, "output_ResponseDesc": ins.description}
    for name, value in outputs.items():
        answer[f"output_{name}"] = value
    return answer


def transaction_body(
    ins: Ins, *, transaction_id: str, conversation_id: str, third_party_conversation_id: str, **extra: str
) -> dict[str, Any]:
    """The answer of a transaction operation: code, description and the three echo fields (always present)."""
    return body(
        ins,
        TransactionID=transaction_id,
        ConversationID=conversation_id,
        ThirdPartyConversationID=third_party_conversation_id,
        **extra,
    )


class OpenApiError(Exception):
    """A refused request: the ``INS-*`` code decides the HTTP status and the description.

    ``transaction_id`` is set where a transaction exists (a C2B that failed after the prompt has
    none; the echo is then an empty string)."""

    def __init__(self, ins: Ins, *, transaction_id: str = "") -> None:
        super().__init__(f"{ins.code} {ins.description}")
        self.ins = ins
        self.transaction_id = transaction_id
