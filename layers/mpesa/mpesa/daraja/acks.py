"""What a webhook answers Daraja: plain dicts, no models.

Apart from mpesa.daraja.callbacks, so that a webhook that parses nothing (the Pull Transactions
CallBackURL) answers without importing pydantic and the callback models.
"""

from __future__ import annotations

from typing import Any, Literal

C2BRejectCode = Literal["C2B00011", "C2B00012", "C2B00013", "C2B00014", "C2B00015", "C2B00016"]


def callback_ack() -> dict[str, Any]:
    """Acknowledgement for STK, result, queue-timeout and C2B confirmation callbacks."""
    return {"ResultCode": 0, "ResultDesc": "Accepted"}


def c2b_validation_accept(third_party_trans_id: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"ResultCode": "0", "ResultDesc": "Accepted"}
    if third_party_trans_id:
        answer["ThirdPartyTransID"] = third_party_trans_id
    return answer


def c2b_validation_reject(code: C2BRejectCode) -> dict[str, Any]:
    return {"ResultCode": code, "ResultDesc": "Rejected"}
