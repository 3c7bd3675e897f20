"""Callback bodies in Daraja's shapes (daraja-api.md §3.2, §3.4 to 3.8, §4)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from simulator import clock
from simulator.state import ResultCode, StkRecord

CENTS = Decimal("0.01")
SUCCESS_DESC = "The service request is processed successfully."
QUEUE_TIMEOUT_DESC = "The service request has timed out."
# Daraja's own internal result endpoint, echoed in ReferenceData of real B2C/balance results.
INTERNAL_QUEUE_TIMEOUT_URL = "https://internalsandbox.safaricom.co.ke/mpesa/b2cresults/v1/submit"

Pairs = Sequence[tuple[str, Any]]


def money(value: int | Decimal) -> Decimal:
    """Amount with two decimals, exact (``10`` → ``Decimal("10.00")``)."""
    return Decimal(value).quantize(CENTS)


def money_text(value: int | Decimal) -> str:
    return format(money(value), "f")


def stk_callback(record: StkRecord) -> dict[str, Any]:
    """``Body.stkCallback``; CallbackMetadata only on success (Balance has no Value)."""
    inner: dict[str, Any] = {
        "MerchantRequestID": record.merchant_request_id,
        "CheckoutRequestID": record.checkout_request_id,
        "ResultCode": record.result_code,
        "ResultDesc": record.result_desc,
    }
    if record.result_code == 0 and record.receipt is not None and record.settled_at is not None:
        inner["CallbackMetadata"] = {
            "Item": [
                {"Name": "Amount", "Value": money(record.amount)},
                {"Name": "MpesaReceiptNumber", "Value": record.receipt},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": clock.compact_number(record.settled_at)},
                {"Name": "PhoneNumber", "Value": int(record.phone_number)},
            ]
        }
    return {"Body": {"stkCallback": inner}}


def result_envelope(
    *,
    result_code: ResultCode,
    result_desc: str,
    originator_conversation_id: str,
    conversation_id: str,
    transaction_id: str,
    parameters: Pairs | None = None,
    reference_items: Pairs | None = None,
    result_type: int = 0,
) -> dict[str, Any]:
    """The ``{"Result": {...}}`` envelope of B2C, status, balance, reversal and queue timeouts."""
    result: dict[str, Any] = {
        "ResultType": result_type,
        "ResultCode": result_code,
        "ResultDesc": result_desc,
        "OriginatorConversationID": originator_conversation_id,
        "ConversationID": conversation_id,
        "TransactionID": transaction_id,
    }
    if parameters:
        result["ResultParameters"] = {"ResultParameter": [{"Key": k, "Value": v} for k, v in parameters]}
    if reference_items:
        items = [{"Key": k, "Value": v} for k, v in reference_items]
        # Daraja sends a single ReferenceItem as an object, not a one-element list.
        result["ReferenceData"] = {"ReferenceItem": items[0] if len(items) == 1 else items}
    return {"Result": result}


def with_string_result_code(payload: Any) -> Any:
    """The ``result_code_as_string`` quirk: a copy of a callback body whose ``ResultCode`` (STK
    ``Body.stkCallback`` or the ``Result`` envelope) is a string, e.g. ``"0"``; others unchanged."""
    if not isinstance(payload, dict):
        return payload
    if isinstance(payload.get("Result"), dict) and "ResultCode" in payload["Result"]:
        result = dict(payload["Result"])
        result["ResultCode"] = str(result["ResultCode"])
        return {**payload, "Result": result}
    body = payload.get("Body")
    if isinstance(body, dict) and isinstance(body.get("stkCallback"), dict):
        inner = dict(body["stkCallback"])
        inner["ResultCode"] = str(inner["ResultCode"])
        return {**payload, "Body": {**body, "stkCallback": inner}}
    return payload


def queue_timeout(originator_conversation_id: str, conversation_id: str) -> dict[str, Any]:
    """QueueTimeOutURL body: undocumented by Safaricom; the shape libraries expect (README)."""
    return result_envelope(
        result_type=1,
        result_code=1,
        result_desc=QUEUE_TIMEOUT_DESC,
        originator_conversation_id=originator_conversation_id,
        conversation_id=conversation_id,
        transaction_id="",
        reference_items=[("QueueTimeoutURL", INTERNAL_QUEUE_TIMEOUT_URL)],
    )


def c2b_msisdn(msisdn: str, version: Literal["v1", "v2"]) -> str:
    """v2: SHA-256 hex of the MSISDN (as real confirmations since 2024); v1: masked ``2547 ***** 149``."""
    if version == "v2":
        return hashlib.sha256(msisdn.encode("ascii")).hexdigest()
    return f"{msisdn[:4]} ***** {msisdn[-3:]}"


def c2b_notification(
    *,
    command_id: str,
    trans_id: str,
    trans_time: datetime,
    amount: int,
    shortcode: str,
    bill_ref_number: str,
    org_account_balance: str,
    third_party_trans_id: str,
    msisdn: str,
    version: Literal["v1", "v2"],
) -> dict[str, Any]:
    """Validation and confirmation share this shape (OrgAccountBalance is blank on validation)."""
    return {
        "TransactionType": "Buy Goods" if command_id == "CustomerBuyGoodsOnline" else "Pay Bill",
        "TransID": trans_id,
        "TransTime": clock.compact(trans_time),
        "TransAmount": money_text(amount),
        "BusinessShortCode": shortcode,
        "BillRefNumber": bill_ref_number,
        "InvoiceNumber": "",
        "OrgAccountBalance": org_account_balance,
        "ThirdPartyTransID": third_party_trans_id,
        "MSISDN": c2b_msisdn(msisdn, version),
        "FirstName": "John",
        "MiddleName": "",
        "LastName": "Doe",
    }


def account_line(name: str, amount: Decimal) -> str:
    """``Name|KES|current|available|reserved|uncleared``."""
    value = money_text(amount)
    return f"{name}|KES|{value}|{value}|0.00|0.00"
