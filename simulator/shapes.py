"""Odd callback shapes: the same facts, laid out the ways Daraja is seen to send them.

Daraja's callbacks do not always match its documentation (daraja-api.md §1, §3.2, §3.5): numbers
arrive as strings and strings as numbers, the STK ``Balance`` item sometimes carries a
``{Amount={...}}`` string, a list with one element arrives as a bare object, and a successful STK
callback has been seen without its ``CallbackMetadata``. ``callback_shape`` (config) chooses one of
these for every callback, or ``random`` picks one per callback among those that change it.

A shape that does not apply to a callback (``missing_metadata`` on a B2C result, say) leaves it as
it is; the callback log then names ``standard`` as the shape sent.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

STANDARD: Final = "standard"
RANDOM: Final = "random"
ODD_SHAPES: tuple[str, ...] = (
    "numbers_as_strings",
    "strings_as_numbers",
    "balance_string",
    "single_object",
    "missing_metadata",
)

# Identifiers stay strings under ``strings_as_numbers``: an all-digit client OCID, say, is an ID.
ID_KEYS = frozenset(
    {
        "OriginatorConversationID",
        "ConversationID",
        "TransactionID",
        "CheckoutRequestID",
        "MerchantRequestID",
        "TransID",
        "ThirdPartyTransID",
        "MpesaReceiptNumber",
        "TransactionReceipt",
        "ReceiptNo",
        "OriginalTransactionID",
        "ResultDesc",
        "Key",
        "Name",
    }
)
# Documented as lists; a single element is sometimes sent as a bare object (XML-to-JSON style).
LIST_KEYS = frozenset({"Item", "ResultParameter", "ReferenceItem"})
NUMERIC = re.compile(r"^\d+(\.\d+)?$")
CENTS = Decimal("0.01")


def reshape(payload: Any, shape: str, *, balance: Decimal, rng: random.Random) -> tuple[Any, str]:
    """``payload`` in ``shape`` and the name of the shape actually applied (``standard`` when
    the shape does not change this payload). ``balance`` fills the ``balance_string`` value."""
    if shape == STANDARD:
        return payload, STANDARD
    candidates = ODD_SHAPES if shape == RANDOM else (shape,)
    changed = {name: _TRANSFORMS[name](payload, balance) for name in candidates}
    applicable = [name for name, value in changed.items() if value != payload]
    if not applicable:
        return payload, STANDARD
    chosen = rng.choice(applicable) if shape == RANDOM else applicable[0]
    return changed[chosen], chosen


# --- the shapes -------------------------------------------------------------------------------
def numbers_as_strings(payload: Any, balance: Decimal | None = None) -> Any:
    """Every JSON number becomes a string: ``ResultCode`` ``"0"``, ``Amount`` ``"10.00"``,
    ``PhoneNumber`` ``"254708374149"``, ``TransactionDate`` ``"20240101120000"``."""
    if isinstance(payload, bool) or payload is None:
        return payload
    if isinstance(payload, int):
        return str(payload)
    if isinstance(payload, Decimal):
        return format(payload, "f")
    if isinstance(payload, dict):
        return {key: numbers_as_strings(value) for key, value in payload.items()}
    if isinstance(payload, list):
        return [numbers_as_strings(value) for value in payload]
    return payload


def strings_as_numbers(payload: Any, balance: Decimal | None = None) -> Any:
    """Every all-digit string that is not an identifier becomes a JSON number: C2B ``TransAmount``
    ``150.00``, ``TransTime`` and ``BusinessShortCode`` as numbers, a digit-only ``BillRefNumber``
    losing its leading zeros, ``ResultCode`` ``"0"`` as ``0``."""
    return _strings_as_numbers(payload, None)


def _strings_as_numbers(payload: Any, key: str | None) -> Any:
    if isinstance(payload, str):
        if key in ID_KEYS or not NUMERIC.match(payload):
            return payload
        return Decimal(payload) if "." in payload else int(payload)
    if isinstance(payload, dict):
        name = payload.get("Key", payload.get("Name"))
        label = name if isinstance(name, str) else None
        return {
            field: _strings_as_numbers(value, label if field == "Value" and label is not None else field)
            for field, value in payload.items()
        }
    if isinstance(payload, list):
        return [_strings_as_numbers(value, key) for value in payload]
    return payload


def balance_string(payload: Any, balance: Decimal | None = None) -> Any:
    """A successful STK callback whose ``Balance`` item carries the string Daraja sometimes sends,
    ``{Amount={CurrencyCode=KES, MinimumAmount=<cents>, BasicAmount=<amount>}}``."""
    amount = (balance if balance is not None else Decimal(0)).quantize(CENTS)
    text = f"{{Amount={{CurrencyCode=KES, MinimumAmount={int(amount * 100)}, BasicAmount={amount}}}}}"

    def fill(item: Any) -> Any:
        if isinstance(item, dict) and item.get("Name") == "Balance":
            return {"Name": "Balance", "Value": text}
        return item

    return _map_stk_items(payload, fill)


def single_object(payload: Any, balance: Decimal | None = None) -> Any:
    """``CallbackMetadata.Item``, ``ResultParameters.ResultParameter`` and
    ``ReferenceData.ReferenceItem`` as one object instead of a list. A one-element list becomes
    its element (what Daraja's XML-to-JSON conversion does); a longer list keeps only its first
    element, so the callback is also incomplete (an STK success then has ``Amount`` but no
    receipt) and the integration has to confirm the outcome by query."""
    if isinstance(payload, dict):
        result: dict[str, Any] = {}
        for key, value in payload.items():
            if key in LIST_KEYS and isinstance(value, list) and value:
                result[key] = single_object(value[0])
            else:
                result[key] = single_object(value)
        return result
    if isinstance(payload, list):
        return [single_object(value) for value in payload]
    return payload


def missing_metadata(payload: Any, balance: Decimal | None = None) -> Any:
    """A successful STK callback (``ResultCode`` 0) without ``CallbackMetadata``."""
    inner = _stk_inner(payload)
    if inner is None or "CallbackMetadata" not in inner:
        return payload
    stripped = {key: value for key, value in inner.items() if key != "CallbackMetadata"}
    return {**payload, "Body": {**payload["Body"], "stkCallback": stripped}}


_TRANSFORMS: dict[str, Callable[[Any, Decimal], Any]] = {
    "numbers_as_strings": numbers_as_strings,
    "strings_as_numbers": strings_as_numbers,
    "balance_string": balance_string,
    "single_object": single_object,
    "missing_metadata": missing_metadata,
}


# --- helpers ----------------------------------------------------------------------------------
def _stk_inner(payload: Any) -> dict[str, Any] | None:
    body = payload.get("Body") if isinstance(payload, dict) else None
    inner = body.get("stkCallback") if isinstance(body, dict) else None
    return inner if isinstance(inner, dict) else None


def _map_stk_items(payload: Any, change: Callable[[Any], Any]) -> Any:
    inner = _stk_inner(payload)
    metadata = inner.get("CallbackMetadata") if inner is not None else None
    if inner is None or not isinstance(metadata, dict):
        return payload
    items = metadata.get("Item")
    new_items = [change(item) for item in items] if isinstance(items, list) else change(items)
    new_inner = {**inner, "CallbackMetadata": {**metadata, "Item": new_items}}
    return {**payload, "Body": {**payload["Body"], "stkCallback": new_inner}}
