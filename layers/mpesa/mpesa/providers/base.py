"""What a provider is: one M-Pesa operator's API behind the flows, and what its answers mean.

The flows never see an operator's own answers or errors: a provider turns each request into one of
four outcomes (`Accepted`, `Refused`, `NotSent`, `Unknown`) and each status query into a `QueryAnswer`
(a final Status, or still open), `Mismatched`, `QueryRefused` or `AskedLater`; transient trouble with
a query is `ProviderUnavailableError` (or a subclass), which the state machines retry. See
docs/providers.md for how to add one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from mpesa.clock import Deadline
from mpesa.codes import classify
from mpesa.records.model import Record, Ref, SettledBy, Settlement, Status

if TYPE_CHECKING:
    from mpesa.flows.b2c.request import PayoutRequest


def status_for(result_code: str | None) -> Status | None:
    """The final state a result code means (mpesa.codes decides whether it is final), or None when it
    does not settle the request."""
    info = classify(result_code)
    if not info.final:
        return None
    return _STATUS_BY_CODE.get(info.code, Status.FAILED)


_STATUS_BY_CODE = {
    "0": Status.SUCCESS,
    "1032": Status.CANCELLED,
    "1037": Status.TIMEOUT,
    "INS-0": Status.SUCCESS,
    "INS-5": Status.CANCELLED,
    # The OpenAPI status query's transaction states, kept as result codes (mpesa.codes.classify).
    "Completed": Status.SUCCESS,
    "Cancelled": Status.CANCELLED,
    "Expired": Status.TIMEOUT,
}


# --- what became of a request ----------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    """The provider took the request. `refs` are its identifiers for it (stored on the record); when its
    answer is already the outcome (the OpenAPI answers only once the money moved), `settlement` says it."""

    refs: Mapping[Ref, str] = field(default_factory=dict)
    settlement: Settlement | None = None


@dataclass(frozen=True)
class Refused:
    """A definite refusal: nothing moved. `status` is how the record ends (FAILED, or CANCELLED when the
    customer declined)."""

    code: str
    description: str
    status: Status = Status.FAILED


@dataclass(frozen=True)
class NotSent:
    """The request surely never reached the provider: it may be sent again (with the same identifiers)."""

    reason: str
    error: str  # the error's type name, for logs


@dataclass(frozen=True)
class Unknown:
    """The request may have been processed: never sent again; its outcome is learned by query."""

    reason: str
    refs: Mapping[Ref, str] = field(default_factory=dict)


SendOutcome = Accepted | Refused | NotSent | Unknown


# --- what a status query taught ------------------------------------------------------------------


@dataclass(frozen=True)
class QueryAnswer:
    """The provider's answer about a request: `status` is the final state it means, or None while the
    request is open (`pending`: still being processed). The rest goes into the settlement."""

    result_code: str | None
    result_desc: str
    pending: bool = False
    status: Status | None = None
    refs: Mapping[Ref, str] = field(default_factory=dict)
    receipt: str | None = None

    def settlement(self) -> Settlement | None:
        if self.status is None or self.result_code is None:
            return None
        return Settlement(
            self.status,
            self.result_code,
            self.result_desc,
            SettledBy.QUERY,
            refs=self.refs,
            receipt=self.receipt,
        )


@dataclass(frozen=True)
class Mismatched:
    """The answer named another request than the one asked about: it is applied to nothing."""


@dataclass(frozen=True)
class QueryRefused:
    """The provider refused the query itself (its code): nothing was learned."""

    code: str | None


@dataclass(frozen=True)
class AskedLater:
    """The provider answers by webhook (Daraja's Transaction Status): `reference` names that query."""

    reference: str | None


QueryOutcome = QueryAnswer | Mismatched | QueryRefused | AskedLater


# --- the provider --------------------------------------------------------------------------------


class PayoutReplies(Protocol):
    """Where a provider that answers payouts by webhook sends its answers (the B2C flow's signed URLs)."""

    def result_url(self) -> str: ...

    def queue_timeout_url(self) -> str: ...

    def status_result_url(self) -> str: ...

    def status_timeout_url(self) -> str: ...


class Provider(Protocol):
    """One operator's M-Pesa API, as the flows use it (mpesa.providers.registry says which market it serves).

    `prompt_waits_for_customer`: its prompt call answers only once the customer acted (or the prompt
    timed out), so the STK flow runs it off the API path (the prompt state machine). Identifiers a
    provider wants chosen before a call (`*_refs`) are stored on the record before anything is sent.
    """

    name: str
    prompt_waits_for_customer: bool
    # The provider refuses a request re-sent with the same identifiers (Daraja's OriginatorConversationID),
    # so a payout whose sending is in doubt may go out again with them. Otherwise the flow claims each send
    # on the record (`RecordStore.claim_send`) and never sends twice.
    refuses_duplicates: bool

    def prompt_wait_s(self) -> float:
        """How long one prompt call may take (0 when it answers at once)."""
        ...

    def prompt_refs(self) -> dict[Ref, str]: ...

    def prompt(self, record: Record, *, callback_url: str | None, deadline: Deadline | None) -> SendOutcome:
        """Ask the customer (the record's MSISDN) to pay the record's amount."""
        ...

    def can_query(self, record: Record) -> bool:
        """Whether the record carries what a status query needs."""
        ...

    def query_prompt(self, record: Record, *, deadline: Deadline | None) -> QueryOutcome:
        """The state of a prompt. Raises ProviderUnavailableError on transient trouble."""
        ...

    def payout_account(self) -> str:
        """The account payouts are paid from (the budgets' key): Daraja's B2C shortcode, the OpenAPI's
        ServiceProviderCode."""
        ...

    def payout_refs(self) -> dict[Ref, str]: ...

    def payout(
        self, record: Record, request: PayoutRequest, *, replies: PayoutReplies, deadline: Deadline | None
    ) -> SendOutcome:
        """Pay the record's amount to its MSISDN. ConfigurationError or InputError (raised) mean nothing
        was sent."""
        ...

    def query_payout(self, record: Record, *, replies: PayoutReplies, deadline: Deadline | None) -> QueryOutcome:
        """The state of a payout. Raises ProviderUnavailableError on transient trouble."""
        ...
