"""OpenAPI request and answer bodies as pydantic models (`input_*` out, `output_*` in).

Attributes are snake_case; each carries its wire name as alias. Requests are strict: what we send
is exactly what the OpenAPI documents, identifiers checked by pattern, amounts whole units (int,
sent as a digit string as Vodacom's samples do). Answers are parsed defensively: numbers may arrive
for strings, empty strings stand for absent values, unknown fields are ignored, optional fields may
be missing; but what is present must have the right shape (a TransactionID is an identifier, not a
sentence). `parse_answer` turns any problem into OpenApiResponseError naming the field, never a value.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictInt,
    StringConstraints,
    ValidationError,
)

from mpesa.codes import ResultCodeInfo, classify_ins, classify_transaction_status
from mpesa.openapi.errors import OpenApiResponseError

# --- shapes ------------------------------------------------------------------------------------

# Our ThirdPartyConversationID (and a status query's reference): letters, digits, '-' and '_'.
CONVERSATION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# Vodacom's identifiers in answers: TransactionID (10 alphanumerics in the sandbox), ConversationID (32 hex).
IDENTIFIER_PATTERN = r"^[A-Za-z0-9._-]{1,128}$"
SESSION_ID_PATTERN = r"^[A-Za-z0-9._~+/=-]{8,200}$"
INS_CODE = re.compile(r"^INS-[0-9]{1,6}$", re.IGNORECASE)
MAX_DESCRIPTION = 512  # output_ResponseDesc: kept whole up to this, refused beyond (a body is 64 KiB at most)

ConversationId = Annotated[str, StringConstraints(pattern=CONVERSATION_ID_PATTERN)]
Msisdn = Annotated[str, StringConstraints(pattern=r"^[0-9]{9,15}$")]  # the market's own rule: the client
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
ServiceProviderCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{5,10}$")]
# TransactionReference: 1 to 20 characters (INS-17); letters, digits, spaces and - _ . # / only, no
# leading or trailing space (characters other APIs have failed on silently are refused, never rewritten).
TransactionReference = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9_.#/-](?:[A-Za-z0-9 _.#/-]{0,18}[A-Za-z0-9_.#/-])?$")
]
# PurchasedItemsDesc / PaymentItemsDesc: 1 to 256 printable ASCII characters, not blank at either end.
ItemsDescription = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?$")]
# Whole units, sent as a digit string ("1500"): never a float, never a fraction.
WholeAmount = Annotated[StrictInt, Field(ge=1), PlainSerializer(str, return_type=str)]
TransactionIdIn = Annotated[str, StringConstraints(pattern=CONVERSATION_ID_PATTERN)]


def as_optional_text(value: object) -> object:
    """Numbers become their decimal text; "" and null mean absent; text is stripped."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value  # refused by the str field
    if isinstance(value, int | Decimal):
        value = str(value)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def as_code(value: object) -> object:
    """`INS-0` whatever its case or surrounding spaces; other codes as stripped text."""
    value = as_optional_text(value)
    if isinstance(value, str) and INS_CODE.match(value):
        return value.upper()
    return value


def as_description(value: object) -> object:
    value = as_optional_text(value)
    return "" if value is None else value


Code = Annotated[str, BeforeValidator(as_code), StringConstraints(min_length=1, max_length=64)]
Description = Annotated[str, BeforeValidator(as_description), StringConstraints(max_length=MAX_DESCRIPTION)]
OptionalText = Annotated[Annotated[str, StringConstraints(max_length=128)] | None, BeforeValidator(as_optional_text)]
OptionalIdentifier = Annotated[
    Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)] | None, BeforeValidator(as_optional_text)
]
OptionalSessionId = Annotated[
    Annotated[str, StringConstraints(pattern=SESSION_ID_PATTERN)] | None, BeforeValidator(as_optional_text)
]

# --- requests ----------------------------------------------------------------------------------


class OpenApiRequest(BaseModel):
    model_config = ConfigDict(
        validate_by_name=True, validate_by_alias=True, serialize_by_alias=True, extra="forbid", frozen=True
    )

    def wire(self) -> dict[str, Any]:
        """The parameters the OpenAPI expects: wire names, amounts as digit strings."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class C2BSingleStageRequest(OpenApiRequest):
    amount: WholeAmount = Field(alias="input_Amount")
    country: CountryCode = Field(alias="input_Country")
    currency: CurrencyCode = Field(alias="input_Currency")
    customer_msisdn: Msisdn = Field(alias="input_CustomerMSISDN")
    service_provider_code: ServiceProviderCode = Field(alias="input_ServiceProviderCode")
    third_party_conversation_id: ConversationId = Field(alias="input_ThirdPartyConversationID")
    transaction_reference: TransactionReference = Field(alias="input_TransactionReference")
    purchased_items_desc: ItemsDescription = Field(alias="input_PurchasedItemsDesc")


class B2CRequest(OpenApiRequest):
    amount: WholeAmount = Field(alias="input_Amount")
    country: CountryCode = Field(alias="input_Country")
    currency: CurrencyCode = Field(alias="input_Currency")
    customer_msisdn: Msisdn = Field(alias="input_CustomerMSISDN")
    service_provider_code: ServiceProviderCode = Field(alias="input_ServiceProviderCode")
    third_party_conversation_id: ConversationId = Field(alias="input_ThirdPartyConversationID")
    transaction_reference: TransactionReference = Field(alias="input_TransactionReference")
    payment_items_desc: ItemsDescription = Field(alias="input_PaymentItemsDesc")


class ReversalRequest(OpenApiRequest):
    reversal_amount: WholeAmount = Field(alias="input_ReversalAmount")
    country: CountryCode = Field(alias="input_Country")
    service_provider_code: ServiceProviderCode = Field(alias="input_ServiceProviderCode")
    third_party_conversation_id: ConversationId = Field(alias="input_ThirdPartyConversationID")
    transaction_id: TransactionIdIn = Field(alias="input_TransactionID")


class QueryTransactionStatusRequest(OpenApiRequest):
    query_reference: ConversationId = Field(alias="input_QueryReference")
    service_provider_code: ServiceProviderCode = Field(alias="input_ServiceProviderCode")
    third_party_conversation_id: ConversationId = Field(alias="input_ThirdPartyConversationID")
    country: CountryCode = Field(alias="input_Country")


# --- answers -----------------------------------------------------------------------------------


class OpenApiAnswer(BaseModel):
    """Every answer carries `output_ResponseCode` (INS-0 = success) and usually a description."""

    model_config = ConfigDict(
        validate_by_name=True, validate_by_alias=True, serialize_by_alias=True, extra="ignore", frozen=True
    )

    response_code: Code = Field(alias="output_ResponseCode")
    response_desc: Description = Field("", alias="output_ResponseDesc")

    @property
    def info(self) -> ResultCodeInfo:
        """The code in the shared outcome table (`mpesa.codes.classify_ins`: INS codes only)."""
        return classify_ins(self.response_code)


class SessionAnswer(OpenApiAnswer):
    session_id: OptionalSessionId = Field(None, alias="output_SessionID", repr=False)


class TransactionAnswer(OpenApiAnswer):
    """The answer of C2B, B2C or reversal: on success `transaction_id` is M-Pesa's receipt."""

    transaction_id: OptionalIdentifier = Field(None, alias="output_TransactionID")
    conversation_id: OptionalIdentifier = Field(None, alias="output_ConversationID")
    third_party_conversation_id: OptionalText = Field(None, alias="output_ThirdPartyConversationID")


class TransactionStatusAnswer(TransactionAnswer):
    """The status query's answer: `transaction_status` is the found transaction's state (`Completed`,
    ...); `transaction_id` its TransactionID (None while none was issued); `conversation_id` and
    `third_party_conversation_id` are the query's own."""

    transaction_status: OptionalText = Field(None, alias="output_ResponseTransactionStatus")
    original_transaction_id: OptionalIdentifier = Field(None, alias="output_OriginalTransactionID")

    @property
    def status_info(self) -> ResultCodeInfo:
        """The transaction's state in the shared outcome table (`classify_transaction_status`)."""
        return classify_transaction_status(self.transaction_status)


def describe_validation_error(exc: ValidationError) -> str:
    """`output_TransactionID: String should match pattern ...` (wire names, never input values)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def parse_answer[M: OpenApiAnswer](api: str, model: type[M], http_status: int, payload: object) -> M:
    """Validate a decoded JSON answer or raise OpenApiResponseError naming what is missing or wrong."""
    if not isinstance(payload, dict):
        raise OpenApiResponseError(api, http_status, f"expected a JSON object, got {type(payload).__name__}")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise OpenApiResponseError(api, http_status, describe_validation_error(exc)) from None
