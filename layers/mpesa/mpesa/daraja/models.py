"""Daraja request and response bodies as pydantic models.

Attributes are snake_case; each carries its Daraja wire name as alias (Safaricom's misspellings
included: `Occassion`, `RecieverIdentifierType`, `OriginatorCoversationID`). Requests are strict
(what we send is exactly what Daraja documents); responses are parsed defensively: numbers may
arrive as strings and strings as numbers, unknown fields are ignored, and optional fields may be
missing. Validate responses with `parse_response`, which turns any problem into DarajaResponseError.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, AliasChoices, Field, StrictInt, StringConstraints, ValidationError, model_validator

from mpesa.codes import is_pending
from mpesa.daraja.errors import DarajaResponseError, StillProcessingError
from mpesa.daraja.urls import check_url_shape

# The API vocabularies live with the base types (flows read them without building these models);
# re-exported here, their public home.
from mpesa.daraja.wire import B2CCommand as B2CCommand
from mpesa.daraja.wire import C2BCommand as C2BCommand
from mpesa.daraja.wire import (
    Code,
    DarajaRequest,
    DarajaResponse,
    OptionalText,
    ShortCode,
    Text,
    describe_validation_error,
)
from mpesa.daraja.wire import IdentifierType as IdentifierType

Msisdn = Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")]
Timestamp = Annotated[str, StringConstraints(pattern=r"^[0-9]{14}$")]
Url = Annotated[str, AfterValidator(check_url_shape)]
WholeAmount = Annotated[StrictInt, Field(ge=1)]
Remarks = Annotated[str, StringConstraints(min_length=2, max_length=100)]
Occasion = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Secret = Annotated[str, StringConstraints(min_length=1)]


# --- requests --------------------------------------------------------------------------------


class StkPushRequest(DarajaRequest):
    business_short_code: ShortCode = Field(alias="BusinessShortCode")
    password: Secret = Field(alias="Password", repr=False)
    timestamp: Timestamp = Field(alias="Timestamp")
    transaction_type: C2BCommand = Field(alias="TransactionType")
    amount: WholeAmount = Field(alias="Amount")
    party_a: Msisdn = Field(alias="PartyA")
    party_b: ShortCode = Field(alias="PartyB")
    phone_number: Msisdn = Field(alias="PhoneNumber")
    call_back_url: Url = Field(alias="CallBackURL")
    account_reference: Annotated[str, StringConstraints(min_length=1, max_length=12)] = Field(alias="AccountReference")
    transaction_desc: Annotated[str, StringConstraints(min_length=1, max_length=13)] = Field(alias="TransactionDesc")


class StkQueryRequest(DarajaRequest):
    business_short_code: ShortCode = Field(alias="BusinessShortCode")
    password: Secret = Field(alias="Password", repr=False)
    timestamp: Timestamp = Field(alias="Timestamp")
    checkout_request_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        alias="CheckoutRequestID"
    )


class B2CRequest(DarajaRequest):
    """B2C v3: the OriginatorConversationID is ours, so a repeat is rejected as a duplicate, not paid."""

    originator_conversation_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        alias="OriginatorConversationID"
    )
    initiator_name: Secret = Field(alias="InitiatorName")
    security_credential: Secret = Field(alias="SecurityCredential", repr=False)
    command_id: B2CCommand = Field(alias="CommandID")
    amount: WholeAmount = Field(alias="Amount")
    party_a: ShortCode = Field(alias="PartyA")
    party_b: Msisdn = Field(alias="PartyB")
    remarks: Remarks = Field(alias="Remarks")
    queue_timeout_url: Url = Field(alias="QueueTimeOutURL")
    result_url: Url = Field(alias="ResultURL")
    occasion: Occasion | None = Field(None, alias="Occassion")


class C2BRegisterUrlRequest(DarajaRequest):
    short_code: ShortCode = Field(alias="ShortCode")
    response_type: Literal["Completed", "Cancelled"] = Field(alias="ResponseType")
    confirmation_url: Url = Field(alias="ConfirmationURL")
    validation_url: Url = Field(alias="ValidationURL")


class C2BSimulateRequest(DarajaRequest):
    short_code: ShortCode = Field(alias="ShortCode")
    command_id: C2BCommand = Field(alias="CommandID")
    amount: WholeAmount = Field(alias="Amount")
    msisdn: Msisdn = Field(alias="Msisdn")
    bill_ref_number: Annotated[str, StringConstraints(max_length=20)] | None = Field(None, alias="BillRefNumber")


class TransactionStatusRequest(DarajaRequest):
    initiator: Secret = Field(alias="Initiator")
    security_credential: Secret = Field(alias="SecurityCredential", repr=False)
    command_id: Literal["TransactionStatusQuery"] = Field("TransactionStatusQuery", alias="CommandID")
    transaction_id: Annotated[str, StringConstraints(min_length=1)] | None = Field(None, alias="TransactionID")
    original_conversation_id: Annotated[str, StringConstraints(min_length=1)] | None = Field(
        None, alias="OriginalConversationID"
    )
    party_a: Annotated[str, StringConstraints(pattern=r"^[0-9]{5,12}$")] = Field(alias="PartyA")
    identifier_type: IdentifierType = Field("4", alias="IdentifierType")
    result_url: Url = Field(alias="ResultURL")
    queue_timeout_url: Url = Field(alias="QueueTimeOutURL")
    remarks: Remarks = Field(alias="Remarks")
    occasion: Occasion | None = Field(None, alias="Occasion")

    @model_validator(mode="after")
    def _identifies_a_transaction(self) -> Self:
        if self.transaction_id is None and self.original_conversation_id is None:
            raise ValueError("one of TransactionID or OriginalConversationID is required")
        return self


class AccountBalanceRequest(DarajaRequest):
    initiator: Secret = Field(alias="Initiator")
    security_credential: Secret = Field(alias="SecurityCredential", repr=False)
    command_id: Literal["AccountBalance"] = Field("AccountBalance", alias="CommandID")
    party_a: ShortCode = Field(alias="PartyA")
    identifier_type: IdentifierType = Field("4", alias="IdentifierType")
    remarks: Remarks = Field(alias="Remarks")
    queue_timeout_url: Url = Field(alias="QueueTimeOutURL")
    result_url: Url = Field(alias="ResultURL")


class ReversalRequest(DarajaRequest):
    initiator: Secret = Field(alias="Initiator")
    security_credential: Secret = Field(alias="SecurityCredential", repr=False)
    command_id: Literal["TransactionReversal"] = Field("TransactionReversal", alias="CommandID")
    transaction_id: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(alias="TransactionID")
    amount: WholeAmount = Field(alias="Amount")
    receiver_party: ShortCode = Field(alias="ReceiverParty")
    reciever_identifier_type: Literal["11"] = Field("11", alias="RecieverIdentifierType")
    result_url: Url = Field(alias="ResultURL")
    queue_timeout_url: Url = Field(alias="QueueTimeOutURL")
    remarks: Remarks = Field(alias="Remarks")
    occasion: Occasion | None = Field(None, alias="Occasion")


# --- responses -------------------------------------------------------------------------------


class ErrorBody(DarajaResponse):
    """`{"requestId": "...", "errorCode": "...", "errorMessage": "..."}` with a 4xx/5xx status."""

    request_id: Text | None = Field(None, alias="requestId")
    error_code: Annotated[Text, StringConstraints(min_length=1)] = Field(alias="errorCode")
    error_message: OptionalText = Field("", alias="errorMessage")


class AccessTokenResponse(DarajaResponse):
    access_token: Annotated[str, StringConstraints(min_length=1)] = Field(alias="access_token", repr=False)
    # 3599 or "3599" (fractions allowed, for simulators with short-lived tokens).
    expires_in: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] = Field(alias="expires_in")


class AcknowledgedResponse(DarajaResponse):
    """Every synchronous answer carries ResponseCode ("0" = accepted for processing)."""

    response_code: Code = Field(alias="ResponseCode")
    response_description: OptionalText = Field("", alias="ResponseDescription")

    @property
    def accepted(self) -> bool:
        return self.response_code == "0"


class StkPushResponse(AcknowledgedResponse):
    """ "Accepted" only: the customer has not paid yet. The callback (or STK query) tells the outcome."""

    merchant_request_id: Text = Field(alias="MerchantRequestID")
    checkout_request_id: Annotated[Text, StringConstraints(min_length=1)] = Field(alias="CheckoutRequestID")
    customer_message: OptionalText = Field("", alias="CustomerMessage")


class StkQueryResponse(DarajaResponse):
    """The state of an STK push. Pending either as ResultCode 4999 or as the 500.001.1001 error answer."""

    response_code: Code | None = Field(None, alias="ResponseCode")
    response_description: OptionalText = Field("", alias="ResponseDescription")
    merchant_request_id: OptionalText = Field("", alias="MerchantRequestID")
    checkout_request_id: Annotated[Text, StringConstraints(min_length=1)] = Field(alias="CheckoutRequestID")
    result_code: Code | None = Field(alias="ResultCode")
    result_desc: OptionalText = Field("", alias="ResultDesc")
    # Set (not a wire field) when Daraja answered 500.001.1001 "The transaction is being processed".
    processing_error_code: str | None = Field(None, exclude=True)

    @property
    def is_pending(self) -> bool:
        return self.processing_error_code is not None or is_pending(self.result_code)

    @classmethod
    def still_processing(cls, checkout_request_id: str, error: StillProcessingError) -> StkQueryResponse:
        return cls(
            checkout_request_id=checkout_request_id,
            result_code=None,
            result_desc=error.error_message,
            processing_error_code=error.error_code,
        )


class B2CResponse(DarajaResponse):
    """Accepted B2C request. `accepted_earlier`: Daraja already had this OCID (pending, not paid twice)."""

    conversation_id: Text | None = Field(alias="ConversationID")
    originator_conversation_id: Annotated[Text, StringConstraints(min_length=1)] = Field(
        alias="OriginatorConversationID"
    )
    response_code: Code | None = Field(alias="ResponseCode")
    response_description: OptionalText = Field("", alias="ResponseDescription")
    accepted_earlier: bool = Field(False, exclude=True)

    @property
    def accepted(self) -> bool:
        return self.accepted_earlier or self.response_code == "0"


class C2BRegisterUrlResponse(AcknowledgedResponse):
    originator_conversation_id: OptionalText = Field(
        "", validation_alias=AliasChoices("OriginatorCoversationID", "OriginatorConversationID")
    )


class C2BSimulateResponse(AcknowledgedResponse):
    originator_conversation_id: OptionalText = Field(
        "", validation_alias=AliasChoices("OriginatorCoversationID", "OriginatorConversationID")
    )
    conversation_id: OptionalText = Field("", alias="ConversationID")


class AsyncRequestResponse(AcknowledgedResponse):
    """Transaction Status, Account Balance, Reversal: accepted now, the result is POSTed to ResultURL."""

    conversation_id: Annotated[Text, StringConstraints(min_length=1)] = Field(alias="ConversationID")
    originator_conversation_id: OptionalText = Field("", alias="OriginatorConversationID")


def parse_response[M: DarajaResponse](api: str, model: type[M], http_status: int, payload: object) -> M:
    """Validate a decoded JSON answer or raise DarajaResponseError naming what is missing or wrong."""
    if not isinstance(payload, dict):
        raise DarajaResponseError(api, http_status, f"expected a JSON object, got {type(payload).__name__}")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise DarajaResponseError(api, http_status, describe_validation_error(exc)) from None
