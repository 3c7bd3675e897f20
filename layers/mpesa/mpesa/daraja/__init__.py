"""Daraja (Safaricom M-Pesa API) client, wire models and callback models.

from mpesa.daraja import DarajaClient, Deadline
client = DarajaClient.from_environment()          # settings + STATE_TABLE_NAME
ack = client.stk_push(phone_number="254708374149", amount=1000, account_reference="ORDER1",
                      transaction_desc="Payment", callback_url="https://pay.example.com/v1/hooks/stk",
                      deadline=Deadline.from_remaining_ms(context.get_remaining_time_in_millis))
"""

from mpesa.daraja.auth import TokenProvider, token_cache_key
from mpesa.daraja.callbacks import (
    AccountBalanceEntry,
    AsyncResult,
    C2BPayload,
    CallbackPayloadError,
    StkCallback,
    c2b_validation_accept,
    c2b_validation_reject,
    callback_ack,
    load_json,
    parse_async_result,
    parse_c2b_payload,
    parse_stk_callback,
)
from mpesa.daraja.client import DarajaClient
from mpesa.daraja.credentials import daraja_timestamp, security_credential, stk_password
from mpesa.daraja.errors import (
    CircuitOpenError,
    DarajaApiError,
    DarajaError,
    DarajaResponseError,
    DarajaTransportError,
    DeadlineExceededError,
    DuplicateOriginatorConversationIdError,
    InvalidAccessTokenError,
    OutcomeUnknownError,
    StillProcessingError,
    TokenUnavailableError,
)
from mpesa.daraja.models import (
    AccessTokenResponse,
    AsyncRequestResponse,
    B2CResponse,
    C2BRegisterUrlResponse,
    C2BSimulateResponse,
    StkPushResponse,
    StkQueryResponse,
)
from mpesa.daraja.transport import Deadline
from mpesa.daraja.urls import validate_callback_url

__all__ = [
    "AccessTokenResponse",
    "AccountBalanceEntry",
    "AsyncRequestResponse",
    "AsyncResult",
    "B2CResponse",
    "C2BPayload",
    "C2BRegisterUrlResponse",
    "C2BSimulateResponse",
    "CallbackPayloadError",
    "CircuitOpenError",
    "DarajaApiError",
    "DarajaClient",
    "DarajaError",
    "DarajaResponseError",
    "DarajaTransportError",
    "Deadline",
    "DeadlineExceededError",
    "DuplicateOriginatorConversationIdError",
    "InvalidAccessTokenError",
    "OutcomeUnknownError",
    "StillProcessingError",
    "StkCallback",
    "StkPushResponse",
    "StkQueryResponse",
    "TokenProvider",
    "TokenUnavailableError",
    "c2b_validation_accept",
    "c2b_validation_reject",
    "callback_ack",
    "daraja_timestamp",
    "load_json",
    "parse_async_result",
    "parse_c2b_payload",
    "parse_stk_callback",
    "security_credential",
    "stk_password",
    "token_cache_key",
    "validate_callback_url",
]
