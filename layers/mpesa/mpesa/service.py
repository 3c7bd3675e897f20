"""`MpesaService`: the integration guide's API over DarajaClient, for code written against the seed.

    mpesa = MpesaService()                       # load_settings(): env vars, or the secret (MPESA_SECRET_ID)
    result = await mpesa.stk_push(phone_number="254708374149", amount=1000.00,
                                  account_reference="ORDER_12345", transaction_desc="Payment")
    if result["success"]: ...result["checkout_request_id"]...
    status = await mpesa.query_stk_push(checkout_request_id=...)

Every method returns a dict with the guide's keys: `success`, `status`, `checkout_request_id`,
`conversation_id`, `result_code`, `error_code`, `error_message` (plus `merchant_request_id`,
`originator_conversation_id`, `result_desc`, `customer_message`, ...). Problems are returned, not
raised: invalid input → error_code "INVALID_INPUT" naming the field; an STK push or B2C whose
outcome is unknown → "TIMEOUT" (never re-sent; query later); Daraja's error → its errorCode.
Raised: CircuitBreakerError (as in the guide's examples) and ConfigurationError (a deployment bug).

`success` means: for stk_push/b2c_payment/get_account_balance, the request was accepted (the
outcome arrives later: `status` "pending"); for query_stk_push, the payment succeeded. A pending
query has `status` "pending" and `result_code` None, so the guide's polling loop
(`if status["result_code"] is not None: return status`) keeps polling. A query's `status` is the
outcome mpesa.codes gives the code (the guide's `handle_mpesa_result` where the guide lists the code),
with `retryable` and `retry_after_s`: the same answer the payment API and the flows give. Daraja's
refusals carry `retryable`/`retry_after_s` too (500.001.1001 "Unable to lock subscriber": 60 s).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any, get_args

from mpesa.codes import Outcome, classify, classify_refusal
from mpesa.daraja.aws import state_table_name as state_table_from_env
from mpesa.daraja.breaker import CircuitBreakerError
from mpesa.daraja.client import DarajaClient
from mpesa.daraja.errors import (
    AnswerMismatchError,
    DarajaApiError,
    DarajaError,
    DarajaResponseError,
    DarajaTransportError,
    DeadlineExceededError,
    OutcomeUnknownError,
    TokenUnavailableError,
)
from mpesa.daraja.models import AsyncRequestResponse, B2CCommand, B2CResponse, StkPushResponse, StkQueryResponse
from mpesa.daraja.urls import validate_callback_url
from mpesa.errors import ConfigurationError, InputError
from mpesa.markets import TransactionKind, check_amount, market_for, normalise_msisdn
from mpesa.money import parse_amount
from mpesa.settings import MpesaSettings, load_settings

__all__ = ["CircuitBreakerError", "MpesaService"]

STK_CALLBACK_PATH = "/v1/hooks/stk"
B2C_RESULT_PATH = "/v1/hooks/b2c/result"
B2C_TIMEOUT_PATH = "/v1/hooks/b2c/timeout"
BALANCE_RESULT_PATH = "/v1/hooks/balance/result"
BALANCE_TIMEOUT_PATH = "/v1/hooks/balance/timeout"

RESULT_KEYS = (
    "success",
    "status",
    "checkout_request_id",
    "merchant_request_id",
    "conversation_id",
    "originator_conversation_id",
    "result_code",
    "result_desc",
    "error_code",
    "error_message",
    "customer_message",
)


def _result(**values: Any) -> dict[str, Any]:
    result: dict[str, Any] = dict.fromkeys(RESULT_KEYS)
    result["success"] = False
    result.update(values)
    return result


def _invalid(exc: InputError, **values: Any) -> dict[str, Any]:
    return _result(status="failed", error_code="INVALID_INPUT", error_message=str(exc), field=exc.field, **values)


def _failure(exc: DarajaError, **values: Any) -> dict[str, Any]:
    """The result dict for a Daraja failure (CircuitOpenError is re-raised before this)."""
    if isinstance(exc, OutcomeUnknownError):
        values.setdefault("originator_conversation_id", exc.originator_conversation_id)
        return _result(status="unknown", error_code=exc.error_code, error_message=str(exc), **values)
    if isinstance(exc, DarajaApiError):
        code = exc.error_code or f"HTTP_{exc.http_status}"
        refusal = classify_refusal(exc.error_code, exc.error_message)
        return _result(
            status="failed",
            error_code=code,
            error_message=exc.error_message,
            retryable=refusal.retryable,
            retry_after_s=refusal.retry_after_s,
            **values,
        )
    if isinstance(exc, AnswerMismatchError):  # about another payment: it says nothing about this one
        return _result(status="unknown", error_code="ANSWER_MISMATCH", error_message=str(exc), **values)
    codes: list[tuple[type[DarajaError], str]] = [
        (DarajaResponseError, "INVALID_RESPONSE"),
        (DarajaTransportError, "NETWORK_ERROR"),
        (DeadlineExceededError, "DEADLINE_EXCEEDED"),
        (TokenUnavailableError, "TOKEN_UNAVAILABLE"),
    ]
    code = next((c for cls, c in codes if isinstance(exc, cls)), "DARAJA_ERROR")
    return _result(status="failed", error_code=code, error_message=str(exc), **values)


def _answered[A](request: Callable[[], A], present: Callable[[A], dict[str, Any]], **values: Any) -> dict[str, Any]:
    """`present(request())`, or the result dict of the InputError or DarajaError that `request` raised.

    `values` go into those problem results. CircuitBreakerError is raised (as the guide's examples
    expect), and so is anything else (ConfigurationError). `present` runs outside the mapping.
    """
    try:
        answer = request()
    except InputError as exc:
        return _invalid(exc, **values)
    except CircuitBreakerError:
        raise
    except DarajaError as exc:
        return _failure(exc, **values)
    return present(answer)


def _code_value(code: str) -> int | str:
    """Numeric codes as int (as the guide's `handle_mpesa_result(result_code: int)`), others as text."""
    return int(code) if code.lstrip("-").isdigit() else code


def _pending(**values: Any) -> dict[str, Any]:
    """An accepted request: its outcome arrives later."""
    return _result(success=True, status="pending", **values)


def _stk_pushed(answer: StkPushResponse) -> dict[str, Any]:
    return _pending(
        checkout_request_id=answer.checkout_request_id,
        merchant_request_id=answer.merchant_request_id,
        result_desc=answer.response_description,
        customer_message=answer.customer_message,
        response_code=answer.response_code,
    )


def _stk_status(checkout_request_id: str, answer: StkQueryResponse) -> dict[str, Any]:
    common = {"checkout_request_id": checkout_request_id, "merchant_request_id": answer.merchant_request_id or None}
    if answer.is_pending:
        return _result(
            status="pending",
            result_code=None,
            result_desc=answer.result_desc,
            pending_code=answer.processing_error_code or answer.result_code,
            **common,
        )
    if answer.result_code is None:
        return _result(status="unknown", result_desc=answer.result_desc, **common)
    info = classify(answer.result_code)  # the same table the flows and the API read
    return _result(
        success=info.outcome is Outcome.SUCCESS,
        status=info.outcome.value,
        result_code=_code_value(answer.result_code),
        result_desc=answer.result_desc,
        disposition=info.disposition.value,
        retryable=info.retryable,
        retry_after_s=info.retry_after_s,
        **common,
    )


def _b2c_accepted(answer: B2CResponse) -> dict[str, Any]:
    return _pending(
        conversation_id=answer.conversation_id,
        originator_conversation_id=answer.originator_conversation_id,
        result_desc=answer.response_description,
        response_code=answer.response_code,
        duplicate=answer.accepted_earlier,
    )


def _balance_requested(answer: AsyncRequestResponse) -> dict[str, Any]:
    return _pending(
        conversation_id=answer.conversation_id,
        originator_conversation_id=answer.originator_conversation_id or None,
        result_desc=answer.response_description,
        response_code=answer.response_code,
    )


class MpesaService:
    """The seed's service. Inject `settings` or a ready `client` (tests, custom retry/breaker options).

    `state_table_name` defaults to the STATE_TABLE_NAME environment variable ("" = memory only).
    """

    def __init__(
        self,
        settings: MpesaSettings | None = None,
        *,
        client: DarajaClient | None = None,
        state_table_name: str | None = None,
    ) -> None:
        if client is None:
            table = state_table_from_env() if state_table_name is None else (state_table_name or None)
            client = DarajaClient(settings or load_settings(), state_table_name=table)
        self.client = client
        self.settings = client.settings

    def _default_url(self, path: str) -> str:
        base = self.settings.callback_base_url
        if base is None:
            raise ConfigurationError({"MPESA_CALLBACK_BASE_URL": "is required unless callback URLs are passed"})
        url = str(base).rstrip("/") + path
        try:
            return validate_callback_url(url, require_https=not self.settings.is_sandbox)
        except InputError as exc:
            raise ConfigurationError({"MPESA_CALLBACK_BASE_URL": exc.message}) from None

    # --- STK push ------------------------------------------------------------------------------

    async def stk_push(
        self,
        phone_number: str,
        amount: object,
        account_reference: str,
        transaction_desc: str,
        *,
        country: str = "KE",
        callback_url: str | None = None,
    ) -> dict[str, Any]:
        return await asyncio.to_thread(
            self._stk_push, phone_number, amount, account_reference, transaction_desc, country, callback_url
        )

    def _stk_push(
        self,
        phone_number: str,
        amount: object,
        account_reference: str,
        transaction_desc: str,
        country: str,
        callback_url: str | None,
    ) -> dict[str, Any]:
        def push() -> StkPushResponse:
            market = market_for(country)
            msisdn = normalise_msisdn(phone_number, market, sandbox=self.settings.is_sandbox)
            whole = check_amount(
                parse_amount(amount), market, TransactionKind.STK_PUSH, self.settings.limit_overrides()
            )
            url = callback_url if callback_url is not None else self._default_url(STK_CALLBACK_PATH)
            return self.client.stk_push(
                phone_number=msisdn,
                amount=whole,
                account_reference=account_reference,
                transaction_desc=transaction_desc,
                callback_url=url,
            )

        return _answered(push, _stk_pushed)

    async def query_stk_push(self, checkout_request_id: str) -> dict[str, Any]:
        return await asyncio.to_thread(self._query_stk_push, checkout_request_id)

    def _query_stk_push(self, checkout_request_id: str) -> dict[str, Any]:
        if not isinstance(checkout_request_id, str) or not checkout_request_id.strip():
            return _invalid(InputError("checkout_request_id", "is required"))
        cid = checkout_request_id.strip()
        return _answered(
            lambda: self.client.stk_query(cid), lambda answer: _stk_status(cid, answer), checkout_request_id=cid
        )

    # --- B2C -------------------------------------------------------------------------------------

    async def b2c_payment(
        self,
        phone_number: str,
        amount: object,
        occasion: str | None,
        remarks: str,
        command_id: str = "BusinessPayment",
        *,
        country: str = "KE",
        originator_conversation_id: str | None = None,
        result_url: str | None = None,
        queue_timeout_url: str | None = None,
    ) -> dict[str, Any]:
        """Pay out. Store `originator_conversation_id` before calling to make a retry safe (a uuid4
        is made when absent and returned); a repeat with the same one is never paid twice."""
        ocid = originator_conversation_id or str(uuid.uuid4())
        return await asyncio.to_thread(
            self._b2c_payment,
            phone_number,
            amount,
            occasion,
            remarks,
            command_id,
            country,
            ocid,
            result_url,
            queue_timeout_url,
        )

    def _b2c_payment(
        self,
        phone_number: str,
        amount: object,
        occasion: str | None,
        remarks: str,
        command_id: str,
        country: str,
        ocid: str,
        result_url: str | None,
        queue_timeout_url: str | None,
    ) -> dict[str, Any]:
        def pay() -> B2CResponse:
            market = market_for(country)
            msisdn = normalise_msisdn(phone_number, market, sandbox=self.settings.is_sandbox)
            whole = check_amount(parse_amount(amount), market, TransactionKind.B2C, self.settings.limit_overrides())
            commands: tuple[B2CCommand, ...] = get_args(B2CCommand)
            command = next((c for c in commands if c == command_id), None)
            if command is None:
                raise InputError("command_id", f"must be one of {', '.join(commands)}")
            return self.client.b2c_payment(
                phone_number=msisdn,
                amount=whole,
                command_id=command,
                remarks=remarks,
                occasion=occasion,
                originator_conversation_id=ocid,
                result_url=result_url if result_url is not None else self._default_url(B2C_RESULT_PATH),
                queue_timeout_url=(
                    queue_timeout_url if queue_timeout_url is not None else self._default_url(B2C_TIMEOUT_PATH)
                ),
            )

        return _answered(pay, _b2c_accepted, originator_conversation_id=ocid)

    # --- Account balance -------------------------------------------------------------------------

    async def get_account_balance(
        self, *, result_url: str | None = None, queue_timeout_url: str | None = None
    ) -> dict[str, Any]:
        """Ask for the balance; Daraja POSTs it to the result URL (parse with `parse_async_result`)."""
        return await asyncio.to_thread(self._get_account_balance, result_url, queue_timeout_url)

    def _get_account_balance(self, result_url: str | None, queue_timeout_url: str | None) -> dict[str, Any]:
        def ask() -> AsyncRequestResponse:
            return self.client.account_balance(
                result_url=result_url if result_url is not None else self._default_url(BALANCE_RESULT_PATH),
                queue_timeout_url=(
                    queue_timeout_url if queue_timeout_url is not None else self._default_url(BALANCE_TIMEOUT_PATH)
                ),
            )

        return _answered(ask, _balance_requested)
