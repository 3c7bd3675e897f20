"""Account Balance: ask Daraja (asynchronous), store the latest balances per shortcode from its Result,
and show them with their age. A Result on the signed URL of the request is applied; one on the guide's
route is applied only when its ConversationID is one we asked for."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from mpesa.clock import NAIROBI, TIMESTAMP_FORMAT, Deadline, iso, now_utc
from mpesa.daraja.callbacks.results import AsyncResult, parse_async_result, parse_queue_timeout
from mpesa.daraja.errors import DarajaApiError
from mpesa.errors import CallbackPayloadError, CallbackRefusedError, DarajaUnavailableError, InputError
from mpesa.flows.b2c import urls
from mpesa.flows.b2c.ports import B2cGateway
from mpesa.records.balances import AccountEntry, BalanceReport, BalanceRequest
from mpesa.telemetry import logger

if TYPE_CHECKING:
    from mpesa.settings import MpesaSettings


class BalanceStore(Protocol):
    def save_request(self, request: BalanceRequest) -> None: ...

    def get_request(self, request_id: str) -> BalanceRequest | None: ...

    def find_request(self, conversation_id: str) -> BalanceRequest | None: ...

    def finish_request(self, request_id: str, state: str, detail: str = "") -> bool: ...

    def save_report(self, report: BalanceReport) -> bool: ...

    def report(self, short_code: str) -> BalanceReport | None: ...


class AccountBalances:
    def __init__(self, settings: MpesaSettings, store: BalanceStore, gateway: Callable[[], B2cGateway]) -> None:
        self._settings = settings
        self._store = store
        self._gateway = gateway

    def short_codes(self) -> list[str]:
        """The shortcodes this deployment may ask about: the B2C one first, then the business one."""
        codes = [self._settings.b2c_short_code, self._settings.business_short_code]
        return list(dict.fromkeys(code for code in codes if code))

    def request(self, short_code: str | None, *, deadline: Deadline | None = None) -> BalanceRequest:
        allowed = self.short_codes()
        code = short_code or allowed[0]
        if code not in allowed:
            raise InputError("short_code", f"must be one of this deployment's shortcodes ({', '.join(allowed)})")
        request = BalanceRequest(uuid.uuid4().hex, code, iso(now_utc()))
        self._store.save_request(request)  # before the call: the Result may come before its answer
        try:
            answer = self._gateway().account_balance(
                party_a=code,
                identifier_type="4",
                result_url=urls.url(self._settings, urls.BALANCE_RESULT, request.request_id),
                queue_timeout_url=urls.url(self._settings, urls.BALANCE_TIMEOUT, request.request_id),
                remarks="Account balance",
                deadline=deadline,
            )
        except DarajaApiError as exc:
            self._store.finish_request(request.request_id, "failed", f"{exc.error_code}: {exc.error_message}")
            raise DarajaUnavailableError(f"M-Pesa refused the balance request ({exc.error_code})") from exc
        stored = BalanceRequest(request.request_id, code, request.requested_at, answer.conversation_id)
        self._store.save_request(stored)
        return stored

    def receive(
        self, body: str, *, source_ip: str, source_allowed: bool, request_id: str | None, timed_out: bool
    ) -> bool:
        """A Result (or queue timeout) about a balance request; True when balances were stored."""
        if not source_allowed:
            raise CallbackRefusedError("source IP not allowed")
        result = parse_queue_timeout(body) if timed_out else parse_async_result(body)
        request = self._request_for(result, request_id)
        if request is None:
            logger.warning("balance result for no request of ours; not stored", extra={"signed": bool(request_id)})
            return False
        if result.is_queue_timeout:
            self._store.finish_request(request.request_id, "timed_out", result.result_desc)
            return False
        if not result.succeeded:
            self._store.finish_request(request.request_id, "failed", f"{result.result_code}: {result.result_desc}")
            return False
        try:
            entries = result.account_balances
            reported = _completed_at(result)
        except InputError as exc:
            raise CallbackPayloadError(exc.field, exc.message) from None
        report = BalanceReport(
            short_code=request.short_code,
            accounts=tuple(
                AccountEntry(e.name, e.currency, str(e.current), str(e.available), str(e.reserved), str(e.uncleared))
                for e in entries
            ),
            reported_at=iso(reported or now_utc()),
            received_at=iso(now_utc()),
            conversation_id=result.conversation_id,
        )
        stored = self._store.save_report(report)
        self._store.finish_request(request.request_id, "reported")
        return stored

    def latest(self, now: datetime) -> list[dict[str, Any]]:
        """The latest balances per shortcode, with their age in seconds (None when never reported)."""
        views: list[dict[str, Any]] = []
        for code in self.short_codes():
            report = self._store.report(code)
            if report is None:
                views.append({"short_code": code, "accounts": [], "reported_at": None, "age_seconds": None})
                continue
            age = (now - datetime.fromisoformat(report.reported_at)).total_seconds()
            views.append(
                {
                    "short_code": code,
                    "accounts": [vars(entry) for entry in report.accounts],
                    "reported_at": report.reported_at,
                    "received_at": report.received_at,
                    "age_seconds": max(0, int(age)),
                }
            )
        return views

    def _request_for(self, result: AsyncResult, request_id: str | None) -> BalanceRequest | None:
        if request_id is not None:
            request = self._store.get_request(request_id)
            stored = request.conversation_id if request else None
            if request is not None and stored and result.conversation_id and stored != result.conversation_id:
                logger.warning("balance result names another ConversationID than the request; not stored")
                return None
            return request
        return self._store.find_request(result.conversation_id) if result.conversation_id else None


def _completed_at(result: AsyncResult) -> datetime | None:
    text = result.parameter("BOCompletedTime")
    if not text:
        return None
    try:
        return datetime.strptime(text[:14], TIMESTAMP_FORMAT).replace(tzinfo=NAIROBI)
    except ValueError:
        raise InputError("ResultParameters.BOCompletedTime", "is not a date in the format YYYYMMDDHHmmss") from None
