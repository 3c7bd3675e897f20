"""The async `Result` Daraja POSTs to a ResultURL or QueueTimeOutURL (B2C, Transaction Status, Account
Balance, Reversal, a queue timeout)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, model_validator

from mpesa.codes import Outcome, handle_mpesa_result
from mpesa.daraja.callbacks.common import RawValue, Value, daraja_time, load_json, scalar, text_or_none, validate
from mpesa.daraja.wire import Code, DarajaResponse, OptionalText, Text, as_list
from mpesa.errors import InputError
from mpesa.money import parse_amount


class KeyValue(DarajaResponse):
    key: Text = Field(alias="Key")
    value: RawValue = Field(None, alias="Value")


def _parameters_object(value: object) -> object:
    if isinstance(value, list):
        return {"ResultParameter": value}
    return {} if value == "" else value


def _reference_object(value: object) -> object:
    if isinstance(value, list):
        return {"ReferenceItem": value}
    return {} if value == "" else value


class ResultParameters(DarajaResponse):
    items: Annotated[list[KeyValue], BeforeValidator(as_list)] = Field(default_factory=list, alias="ResultParameter")


class ReferenceData(DarajaResponse):
    items: Annotated[list[KeyValue], BeforeValidator(as_list)] = Field(default_factory=list, alias="ReferenceItem")


@dataclass(frozen=True)
class AccountBalanceEntry:
    """One account of an Account Balance result: `Name|Currency|Current|Available|Reserved|Uncleared`."""

    name: str
    currency: str
    current: Decimal
    available: Decimal
    reserved: Decimal
    uncleared: Decimal


def _balance_amount(text: str) -> Decimal:
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        raise InputError("ResultParameters.AccountBalance", f"has a non-numeric amount {text!r}") from None
    if not amount.is_finite():
        raise InputError("ResultParameters.AccountBalance", f"has a non-numeric amount {text!r}")
    return amount


class AsyncResult(DarajaResponse):
    """`Result` POSTed to ResultURL (and, by assumption, to QueueTimeOutURL: its payload is undocumented).

    ResultCode 0 on Transaction Status only means the query worked: read `transaction_status`.
    """

    result_type: OptionalText = Field("", alias="ResultType")
    result_code: Code = Field(alias="ResultCode")
    result_desc: OptionalText = Field("", alias="ResultDesc")
    originator_conversation_id: OptionalText = Field("", alias="OriginatorConversationID")
    conversation_id: OptionalText = Field("", alias="ConversationID")
    transaction_id: OptionalText = Field("", alias="TransactionID")
    result_parameters: Annotated[ResultParameters | None, BeforeValidator(_parameters_object)] = Field(
        None, alias="ResultParameters"
    )
    reference_data: Annotated[ReferenceData | None, BeforeValidator(_reference_object)] = Field(
        None, alias="ReferenceData"
    )

    # Set by parse_queue_timeout: the body came to the QueueTimeOutURL (whatever ResultCode it carries).
    via_queue_timeout_url: bool = Field(False, exclude=True)

    @model_validator(mode="after")
    def _correlatable(self) -> Self:
        if not self.conversation_id and not self.originator_conversation_id:
            raise ValueError("one of ConversationID or OriginatorConversationID is required")
        return self

    @property
    def is_queue_timeout(self) -> bool:
        """The request timed out in M-Pesa's queue: its outcome is UNKNOWN, never "failed".

        Daraja does not document this payload; what is sent (and what the simulator sends) is the Result
        envelope with ResultType 1 ("waiting for further messages") and ResultCode 1 "The service request
        has timed out." ResultCode 1 also means "insufficient balance", so the code alone must never be
        read: a body on the QueueTimeOutURL, a ResultType of 1, or a "timed out" description says it.
        """
        return self.via_queue_timeout_url or self.result_type == "1" or "timed out" in self.result_desc.lower()

    @property
    def succeeded(self) -> bool:
        return self.result_code == "0" and not self.is_queue_timeout

    @property
    def is_final(self) -> bool:
        """A final answer about the request (success or failure); a queue timeout is not one."""
        return not self.is_queue_timeout

    @property
    def outcome(self) -> str:
        """The integration guide's vocabulary; a queue timeout is "unknown" (query, never re-send)."""
        if self.is_queue_timeout:
            return Outcome.UNKNOWN.value
        return handle_mpesa_result(self.result_code)

    @property
    def parameters(self) -> dict[str, RawValue]:
        if self.result_parameters is None:
            return {}
        return {item.key: item.value for item in self.result_parameters.items}

    @property
    def references(self) -> dict[str, RawValue]:
        if self.reference_data is None:
            return {}
        return {item.key: item.value for item in self.reference_data.items}

    def _item(self, key: str) -> Value:
        return scalar(self.parameters.get(key), f"ResultParameters.{key}")

    def parameter(self, key: str) -> str | None:
        return text_or_none(self._item(key))

    # B2C
    @property
    def transaction_amount(self) -> int | None:
        value = self._item("TransactionAmount")
        return None if value is None else parse_amount(value, field="ResultParameters.TransactionAmount")

    @property
    def transaction_receipt(self) -> str | None:
        return self.parameter("TransactionReceipt")

    @property
    def receiver_party_public_name(self) -> str | None:
        return self.parameter("ReceiverPartyPublicName")

    @property
    def transaction_completed_at(self) -> datetime | None:
        value = self._item("TransactionCompletedDateTime")
        return daraja_time(value, "%d.%m.%Y %H:%M:%S", "ResultParameters.TransactionCompletedDateTime")

    @property
    def recipient_is_registered(self) -> bool | None:
        value = self.parameter("B2CRecipientIsRegisteredCustomer")
        return None if value is None else value.upper() == "Y"

    # Transaction Status
    @property
    def transaction_status(self) -> str | None:
        return self.parameter("TransactionStatus")

    # Account Balance
    @property
    def account_balances(self) -> list[AccountBalanceEntry]:
        text = self.parameter("AccountBalance")
        if text is None:
            return []
        entries = []
        for chunk in text.split("&"):
            fields = chunk.split("|")
            if len(fields) != 6:
                raise InputError("ResultParameters.AccountBalance", "each account must have 6 '|' fields")
            name, currency, *amounts = fields
            current, available, reserved, uncleared = (_balance_amount(a) for a in amounts)
            entries.append(AccountBalanceEntry(name.strip(), currency.strip(), current, available, reserved, uncleared))
        return entries


class ResultEnvelope(DarajaResponse):
    result: AsyncResult = Field(alias="Result")


def parse_async_result(body: str | bytes | bytearray | Mapping[str, Any]) -> AsyncResult:
    """`{"Result": {...}}` → AsyncResult, or CallbackPayloadError."""
    return validate(ResultEnvelope, load_json(body)).result


def parse_queue_timeout(body: str | bytes | bytearray | Mapping[str, Any]) -> AsyncResult:
    """A body POSTed to a QueueTimeOutURL: the Result envelope, read as a queue timeout (`is_queue_timeout`,
    outcome "unknown") whatever its ResultCode says."""
    return parse_async_result(body).model_copy(update={"via_queue_timeout_url": True})
