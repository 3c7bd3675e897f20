"""Daraja's STK Push result callback (`{"Body": {"stkCallback": {...}}}`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, StringConstraints, model_validator

from mpesa.clock import TIMESTAMP_FORMAT
from mpesa.codes import handle_mpesa_result
from mpesa.daraja.callbacks.common import RawValue, Value, daraja_time, load_json, scalar, text_or_none, validate
from mpesa.daraja.wire import Code, DarajaResponse, OptionalText, Text, as_list
from mpesa.money import parse_amount


class NameValue(DarajaResponse):
    name: Text = Field(alias="Name")
    value: RawValue = Field(None, alias="Value")


class CallbackMetadata(DarajaResponse):
    items: Annotated[list[NameValue], BeforeValidator(as_list)] = Field(default_factory=list, alias="Item")


class StkCallback(DarajaResponse):
    """`Body.stkCallback`. CallbackMetadata is present only on success (ResultCode 0)."""

    merchant_request_id: OptionalText = Field("", alias="MerchantRequestID")
    checkout_request_id: Annotated[Text, StringConstraints(min_length=1, max_length=100)] = Field(
        alias="CheckoutRequestID"
    )
    result_code: Code = Field(alias="ResultCode")
    result_desc: OptionalText = Field("", alias="ResultDesc")
    callback_metadata: CallbackMetadata | None = Field(None, alias="CallbackMetadata")

    @model_validator(mode="after")
    def _success_carries_the_payment(self) -> Self:
        if self.succeeded:
            amount = self.amount
            if amount is None:
                raise ValueError("a successful callback must carry CallbackMetadata Amount")
            if amount <= 0:
                raise ValueError("a successful callback must carry a positive CallbackMetadata Amount")
            if self.receipt is None:
                raise ValueError("a successful callback must carry CallbackMetadata MpesaReceiptNumber")
            self.transaction_date  # noqa: B018  (validates the format when present)
        return self

    @property
    def succeeded(self) -> bool:
        return self.result_code == "0"

    @property
    def outcome(self) -> str:
        """The integration guide's vocabulary: success / failed / retry / cancelled / unknown."""
        return handle_mpesa_result(self.result_code)

    @property
    def metadata(self) -> dict[str, RawValue]:
        """Item Name → Value (an item without Value, like Balance, maps to None)."""
        if self.callback_metadata is None:
            return {}
        return {item.name: item.value for item in self.callback_metadata.items}

    def _item(self, name: str) -> Value:
        return scalar(self.metadata.get(name), f"CallbackMetadata.{name}")

    @property
    def amount(self) -> int | None:
        value = self._item("Amount")
        return None if value is None else parse_amount(value, field="CallbackMetadata.Amount")

    @property
    def receipt(self) -> str | None:
        return text_or_none(self._item("MpesaReceiptNumber"))

    @property
    def transaction_date(self) -> datetime | None:
        return daraja_time(self._item("TransactionDate"), TIMESTAMP_FORMAT, "CallbackMetadata.TransactionDate")

    @property
    def phone(self) -> str | None:
        """As sent (a number today; may become masked or hashed): treat as data, not as a key."""
        return text_or_none(self._item("PhoneNumber"))

    @property
    def balance(self) -> str | None:
        return text_or_none(self._item("Balance"))


class _StkCallbackBody(DarajaResponse):
    stk_callback: StkCallback = Field(alias="stkCallback")


class StkCallbackEnvelope(DarajaResponse):
    body: _StkCallbackBody = Field(alias="Body")


def parse_stk_callback(body: str | bytes | bytearray | Mapping[str, Any]) -> StkCallback:
    """`{"Body": {"stkCallback": {...}}}` → StkCallback, or CallbackPayloadError."""
    return validate(StkCallbackEnvelope, load_json(body)).body.stk_callback
