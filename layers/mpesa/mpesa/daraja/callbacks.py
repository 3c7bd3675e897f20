"""Inbound Daraja callbacks: STK result, the async `Result` envelope, C2B validation/confirmation (what a
webhook answers is in mpesa.daraja.acks).

Entry points take the raw request body (str/bytes) and parse JSON with `parse_float=Decimal`, so
`1000.00` never becomes a float. A dict already decoded elsewhere is accepted too (any floats in it
are read through their shortest repr). Every problem raises CallbackPayloadError (an InputError)
naming the field, so a webhook can answer 400 with a log line and no stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, StringConstraints, ValidationError, model_validator

from mpesa import safe_json
from mpesa.clock import NAIROBI, TIMESTAMP_FORMAT
from mpesa.codes import Outcome, handle_mpesa_result
from mpesa.daraja.wire import Code, DarajaResponse, OptionalText, Text, as_list, describe_validation_error
from mpesa.errors import CallbackPayloadError, InputError, PayloadTooLargeError
from mpesa.money import parse_amount

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


def _validate[M: DarajaResponse](model: type[M], payload: object) -> M:
    if not isinstance(payload, dict):
        raise CallbackPayloadError("body", "must be a JSON object")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise CallbackPayloadError(where, describe_validation_error(exc)) from None


def _daraja_time(value: Value, fmt: str, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return datetime.strptime(str(value), fmt).replace(tzinfo=NAIROBI)
    except ValueError:
        raise InputError(field, f"is not a date in the format {fmt}") from None


def _scalar(value: RawValue, field: str) -> Value:
    if isinstance(value, dict | list):
        raise InputError(field, "must be a number or text, not a JSON object or list")
    return value


def _text_or_none(value: Value) -> str | None:
    return None if value is None or value == "" else str(value)


class NameValue(DarajaResponse):
    name: Text = Field(alias="Name")
    value: RawValue = Field(None, alias="Value")


class KeyValue(DarajaResponse):
    key: Text = Field(alias="Key")
    value: RawValue = Field(None, alias="Value")


# --- STK push result --------------------------------------------------------------------------


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
        return _scalar(self.metadata.get(name), f"CallbackMetadata.{name}")

    @property
    def amount(self) -> int | None:
        value = self._item("Amount")
        return None if value is None else parse_amount(value, field="CallbackMetadata.Amount")

    @property
    def receipt(self) -> str | None:
        return _text_or_none(self._item("MpesaReceiptNumber"))

    @property
    def transaction_date(self) -> datetime | None:
        return _daraja_time(self._item("TransactionDate"), TIMESTAMP_FORMAT, "CallbackMetadata.TransactionDate")

    @property
    def phone(self) -> str | None:
        """As sent (a number today; may become masked or hashed): treat as data, not as a key."""
        return _text_or_none(self._item("PhoneNumber"))

    @property
    def balance(self) -> str | None:
        return _text_or_none(self._item("Balance"))


class _StkCallbackBody(DarajaResponse):
    stk_callback: StkCallback = Field(alias="stkCallback")


class StkCallbackEnvelope(DarajaResponse):
    body: _StkCallbackBody = Field(alias="Body")


def parse_stk_callback(body: str | bytes | bytearray | Mapping[str, Any]) -> StkCallback:
    """`{"Body": {"stkCallback": {...}}}` → StkCallback, or CallbackPayloadError."""
    return _validate(StkCallbackEnvelope, load_json(body)).body.stk_callback


# --- async Result (B2C, Transaction Status, Account Balance, Reversal, queue timeout) -----------


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
        return _scalar(self.parameters.get(key), f"ResultParameters.{key}")

    def parameter(self, key: str) -> str | None:
        return _text_or_none(self._item(key))

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
        return _daraja_time(value, "%d.%m.%Y %H:%M:%S", "ResultParameters.TransactionCompletedDateTime")

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
    return _validate(ResultEnvelope, load_json(body)).result


def parse_queue_timeout(body: str | bytes | bytearray | Mapping[str, Any]) -> AsyncResult:
    """A body POSTed to a QueueTimeOutURL: the Result envelope, read as a queue timeout (`is_queue_timeout`,
    outcome "unknown") whatever its ResultCode says."""
    return parse_async_result(body).model_copy(update={"via_queue_timeout_url": True})


# --- C2B validation / confirmation --------------------------------------------------------------


class C2BPayload(DarajaResponse):
    """Validation and confirmation share this shape. MSISDN may be masked or a SHA-256 hash: not a key."""

    transaction_type: OptionalText = Field("", alias="TransactionType")
    trans_id: Annotated[Text, StringConstraints(min_length=1, max_length=40)] = Field(alias="TransID")
    trans_time: OptionalText = Field("", alias="TransTime")
    trans_amount: Annotated[Text, StringConstraints(min_length=1, max_length=24)] = Field(alias="TransAmount")
    business_short_code: Annotated[Text, StringConstraints(min_length=1)] = Field(alias="BusinessShortCode")
    bill_ref_number: OptionalText = Field("", alias="BillRefNumber")
    invoice_number: OptionalText = Field("", alias="InvoiceNumber")
    org_account_balance: OptionalText = Field("", alias="OrgAccountBalance")
    third_party_trans_id: OptionalText = Field("", alias="ThirdPartyTransID")
    msisdn: OptionalText = Field("", alias="MSISDN")
    first_name: OptionalText = Field("", alias="FirstName")
    middle_name: OptionalText = Field("", alias="MiddleName")
    last_name: OptionalText = Field("", alias="LastName")

    @model_validator(mode="after")
    def _amount_is_whole(self) -> Self:
        self.amount  # noqa: B018  (raises InputError, reported as a validation error)
        self.transaction_time  # noqa: B018
        return self

    @property
    def amount(self) -> int:
        return parse_amount(self.trans_amount, field="TransAmount")

    @property
    def transaction_time(self) -> datetime | None:
        return _daraja_time(self.trans_time, TIMESTAMP_FORMAT, "TransTime")


def parse_c2b_payload(body: str | bytes | bytearray | Mapping[str, Any]) -> C2BPayload:
    return _validate(C2BPayload, load_json(body))
