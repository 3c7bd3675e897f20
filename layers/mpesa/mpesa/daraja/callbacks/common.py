"""What every Daraja callback parser shares: the bounded JSON decoding, the validation that turns
pydantic's errors into CallbackPayloadError, and the readers of Daraja's item values and dates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from mpesa import safe_json
from mpesa.clock import NAIROBI
from mpesa.daraja.wire import DarajaResponse, describe_validation_error
from mpesa.errors import CallbackPayloadError, InputError, PayloadTooLargeError

Value = int | Decimal | str | None
# What an Item/ResultParameter Value may hold on the wire. Only the items a property reads are checked
# (and must be a Value): an unused item with an object or list Value does not spoil the callback.
RawValue = int | Decimal | str | dict[str, Any] | list[Any] | None
MAX_BODY_BYTES = 64 * 1024  # the same cap as mpesa.edge.body.MAX_CALLBACK_BYTES


def load_json(body: str | bytes | bytearray | Mapping[str, Any]) -> Any:
    """Decode a callback body within mpesa.safe_json's bounds; numbers with a fraction become Decimal,
    never float. Every problem is a CallbackPayloadError."""
    if isinstance(body, Mapping):
        return _decimalise(body)
    try:
        return safe_json.parse(body, max_bytes=MAX_BODY_BYTES)
    except safe_json.JsonBodyError as exc:
        raise CallbackPayloadError("body", exc.message) from None
    except PayloadTooLargeError:
        raise CallbackPayloadError("body", f"is larger than {MAX_BODY_BYTES} bytes") from None


def _decimalise(value: object) -> object:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {str(k): _decimalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decimalise(v) for v in value]
    return value


def validate[M: DarajaResponse](model: type[M], payload: object) -> M:
    if not isinstance(payload, dict):
        raise CallbackPayloadError("body", "must be a JSON object")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise CallbackPayloadError(where, describe_validation_error(exc)) from None


def daraja_time(value: Value, fmt: str, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return datetime.strptime(str(value), fmt).replace(tzinfo=NAIROBI)
    except ValueError:
        raise InputError(field, f"is not a date in the format {fmt}") from None


def scalar(value: RawValue, field: str) -> Value:
    if isinstance(value, dict | list):
        raise InputError(field, "must be a number or text, not a JSON object or list")
    return value


def text_or_none(value: Value) -> str | None:
    return None if value is None or value == "" else str(value)
