"""Pull Transactions: M-Pesa's own list of a shortcode's completed transactions (daraja-api.md §3.14).

Register the shortcode once (`register`), then read a time window page by page (`window`): the
reconciliation's view of what really happened, including payments whose callbacks never arrived.
Daraja pages by a fixed count it does not publish; `OffSetValue` is the row to start from, and a page
past the end (or an empty window) answers ResponseCode 1001 with an empty list.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BeforeValidator, Field, StringConstraints, field_validator

from mpesa.clock import NAIROBI, Deadline
from mpesa.daraja.errors import DarajaApiError
from mpesa.daraja.pipeline import PULL_QUERY, PULL_REGISTER
from mpesa.daraja.wire import DarajaRequest, DarajaResponse, OptionalText, ShortCode, Text, as_list
from mpesa.money import parse_amount

if TYPE_CHECKING:
    from mpesa.daraja.pipeline import RequestPipeline

PULL_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # Nairobi time
SUCCESS, NOTHING_MORE = "1000", "1001"  # 1001: already registered / no (more) transactions
NO_TRANSACTIONS_MESSAGE = "does not have any available transactions"
MAX_PAGES = 1000  # a window larger than this many pages is read in smaller windows by the caller

TransactionId = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{8,20}$")]


class PullRegisterRequest(DarajaRequest):
    short_code: ShortCode = Field(alias="ShortCode")
    request_type: str = Field("Pull", alias="RequestType")
    nominated_number: Annotated[str, StringConstraints(pattern=r"^(0|254)[17][0-9]{8}$")] = Field(
        alias="NominatedNumber"
    )
    callback_url: str = Field(alias="CallBackURL")


class PullQueryRequest(DarajaRequest):
    short_code: ShortCode = Field(alias="ShortCode")
    start_date: str = Field(alias="StartDate")
    end_date: str = Field(alias="EndDate")
    offset: Annotated[int, Field(ge=0)] = Field(alias="OffSetValue")


class PullRegisterResponse(DarajaResponse):
    response_ref_id: OptionalText = Field("", alias="ResponseRefID")
    response_status: Annotated[Text, StringConstraints(min_length=1)] = Field(alias="ResponseStatus")
    response_description: OptionalText = Field("", alias="ResponseDescription")

    @property
    def registered(self) -> bool:
        """Registered now, or earlier (1001: the first registration stands)."""
        return self.response_status in (SUCCESS, NOTHING_MORE)


class PulledTransaction(DarajaResponse):
    """One completed transaction as M-Pesa lists it. `msisdn` is masked by M-Pesa: data, never a key."""

    transaction_id: TransactionId = Field(alias="transactionId")
    completed_at: datetime = Field(alias="trxDate")
    msisdn: OptionalText = Field("", alias="msisdn")
    sender: OptionalText = Field("", alias="sender")
    transaction_type: OptionalText = Field("", alias="transactiontype")
    bill_reference: OptionalText = Field("", alias="billreference")
    amount: int = Field(alias="amount")
    organization_name: OptionalText = Field("", alias="organizationname")

    @field_validator("completed_at", mode="before")
    @classmethod
    def _time(cls, value: Any) -> Any:
        """ISO with a zone (`2026-03-09T11:05:06Z`), or `YYYY-MM-DD HH:mm:ss` in Nairobi time."""
        if isinstance(value, str) and "T" not in value:
            return datetime.strptime(value.strip(), PULL_TIME_FORMAT).replace(tzinfo=NAIROBI)
        return value

    @field_validator("amount", mode="before")
    @classmethod
    def _whole(cls, value: Any) -> int:
        return parse_amount(value, field="amount")


def _page(value: object) -> object:
    """`Response` is a list holding one list (the page); a flat list or a single object is read too."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        return value[0]
    return as_list(value)


class PullQueryResponse(DarajaResponse):
    response_ref_id: OptionalText = Field("", alias="ResponseRefID")
    response_code: Annotated[Text, StringConstraints(min_length=1)] = Field(alias="ResponseCode")
    response_message: OptionalText = Field("", alias="ResponseMessage")
    transactions: Annotated[list[PulledTransaction], BeforeValidator(_page)] = Field(
        default_factory=list, alias="Response"
    )


class PullTransactionsApi:
    """The Pull Transactions API over the client's request pipeline."""

    def __init__(self, pipeline: RequestPipeline, default_short_code: str) -> None:
        self._pipeline = pipeline
        self._short_code = default_short_code

    def register(
        self,
        *,
        nominated_number: str,
        callback_url: str,
        short_code: str | None = None,
        deadline: Deadline | None = None,
    ) -> PullRegisterResponse:
        request = PullRegisterRequest(
            short_code=short_code or self._short_code,
            nominated_number=nominated_number,
            callback_url=callback_url,
        )
        status, payload = self._pipeline.call(PULL_REGISTER, request.wire(), deadline)
        return self._pipeline.parse(PULL_REGISTER, PullRegisterResponse, status, payload)

    def query(
        self,
        start: datetime,
        end: datetime,
        offset: int = 0,
        *,
        short_code: str | None = None,
        deadline: Deadline | None = None,
    ) -> list[PulledTransaction]:
        """One page from `offset`; empty past the end. `start`/`end` must be timezone-aware."""
        request = PullQueryRequest(
            short_code=short_code or self._short_code,
            start_date=_pull_time(start),
            end_date=_pull_time(end),
            offset=offset,
        )
        try:
            status, payload = self._pipeline.call(PULL_QUERY, request.wire(), deadline)
        except DarajaApiError as exc:
            if NO_TRANSACTIONS_MESSAGE in exc.error_message.lower():
                return []  # registered, but nothing at all in M-Pesa's retention
            raise
        answer = self._pipeline.parse(PULL_QUERY, PullQueryResponse, status, payload)
        if answer.response_code == NOTHING_MORE:
            return []
        if answer.response_code != SUCCESS:
            raise DarajaApiError(PULL_QUERY.api, status, answer.response_code, answer.response_message)
        return answer.transactions

    def window(
        self, start: datetime, end: datetime, *, short_code: str | None = None, deadline: Deadline | None = None
    ) -> Iterator[PulledTransaction]:
        """Every transaction completed in [start, end], page after page (offset pagination)."""
        offset = 0
        for _ in range(MAX_PAGES):
            page = self.query(start, end, offset, short_code=short_code, deadline=deadline)
            if not page:
                return
            yield from page
            offset += len(page)
        raise DarajaApiError(PULL_QUERY.api, 200, None, f"more than {MAX_PAGES} pages: use a smaller window")


def _pull_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("Pull Transactions times must be timezone-aware")
    return moment.astimezone(NAIROBI).strftime(PULL_TIME_FORMAT)
