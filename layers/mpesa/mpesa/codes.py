"""M-Pesa's codes, one table for everything that reads them (docs/decisions.md, "One table of codes").

`classify(result_code)` is what a result code means wherever it appears (a callback, an STK query, an
async Result): the outcome in the integration guide's vocabulary, whether the request has ended, and
whether the customer may be asked again (and after how long). The flows settle records by it, the API
shows it, and MpesaService returns it. `classify_refusal(error_code, message)` does the same for
Daraja's synchronous error answers. `handle_mpesa_result` stays exactly the guide's function.
"""

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    """The integration guide's vocabulary (`handle_mpesa_result`)."""

    SUCCESS = "success"
    FAILED = "failed"
    RETRY = "retry"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


class Disposition(StrEnum):
    FINAL = "final"  # the transaction has ended; do not repeat the same request
    RETRYABLE = "retryable"  # transient; a new request may succeed after a back-off
    PENDING = "pending"  # still being processed; keep polling
    UNKNOWN = "unknown"  # not a code we know: resolve by query, never assume


@dataclass(frozen=True)
class ResultCodeInfo:
    code: str
    meaning: str
    disposition: Disposition
    outcome: Outcome
    retry_after_s: int | None = None  # the guide's or Daraja's wait before asking the customer again

    @property
    def final(self) -> bool:
        """The request has ended (whatever the result): a record may settle on it."""
        return self.disposition in (Disposition.FINAL, Disposition.RETRYABLE)

    @property
    def retryable(self) -> bool:
        """A new request (asking the customer again) may succeed."""
        return self.disposition is Disposition.RETRYABLE


STILL_PROCESSING_ERROR = "500.001.1001"  # STK query's "The transaction is being processed" error body


def normalise_code(code: int | str | None) -> str:
    """Codes arrive as numbers or strings ("0", 1032, "C2B00011"); compare them as stripped text."""
    if code is None or isinstance(code, bool):
        return ""
    text = str(code).strip()
    if text.lstrip("-").isdigit():
        return str(int(text))  # "0032" and 32 are the same code
    return text


def handle_mpesa_result(result_code: int | str) -> str:
    """Exactly the integration guide's mapping, with codes accepted as int or string."""
    code = normalise_code(result_code)
    if code == "0":
        return Outcome.SUCCESS.value
    if code in {"1", "2001"}:
        return Outcome.FAILED.value
    if code in {"17", "1037"}:
        return Outcome.RETRY.value
    if code == "1032":
        return Outcome.CANCELLED.value
    return Outcome.UNKNOWN.value


_F, _R, _P = Disposition.FINAL, Disposition.RETRYABLE, Disposition.PENDING

# Every code in the Daraja reference's result-code table (§6), with our disposition (and, for retryable
# ones with a known wait, the seconds to wait before asking again).
_CODES: dict[str, tuple[str, Disposition] | tuple[str, Disposition, int]] = {
    "0": ("success", _F),
    "1": ("insufficient balance", _F),
    "2": ("amount below the minimum", _F),
    "3": ("amount above the maximum", _F),
    "4": ("daily limit exceeded", _F),
    "8": ("maximum balance exceeded", _F),
    "11": ("debit party invalid", _F),
    "2006": ("account status does not allow the transaction", _F),
    "15": ("duplicate detected: query the status of the original", _F),
    "17": ("rule limited or internal failure: retry after two minutes", _R, 120),
    "18": ("initiator credential check failed", _F),
    "20": ("unknown initiator", _F),
    "21": ("initiator lacks the role", _F),
    "22": ("initiator inactive", _F),
    "24": ("missing mandatory fields", _F),
    "25": ("invalid parameters", _F),
    "26": ("traffic blocking: system too busy", _R, 60),
    "29": ("invalid command", _F),
    "100000001": ("system overloaded", _R, 60),
    "100000002": ("throttled", _R, 60),
    "100000011": ("rate exceeded", _R, 60),
    "1001": ("unable to lock subscriber: another transaction in progress", _R, 60),
    "1019": ("transaction expired", _F),
    "1025": ("error sending the push request", _R),
    "9999": ("error sending the push request", _R),
    "1032": ("cancelled by the user", _F),
    "1037": ("the phone could not be reached", _R),
    "2001": ("wrong PIN, or invalid initiator information", _F),
    "2028": ("not permitted for this product", _F),
    "SFC_IC0003": ("operator does not exist", _F),
    "2040": ("recipient not registered", _F),
    "8006": ("security credential locked", _F),
    "4999": ("still under processing", _P),
    "E3008": ("bad debt contract (non-test number in sandbox)", _F),
    "R000001": ("already reversed", _F),
    "R000002": ("invalid original transaction ID", _F),
    "4001": ("cancelled by the user", _F),
    STILL_PROCESSING_ERROR: ("the transaction is being processed", _P),
    # Our own codes, for outcomes M-Pesa did not state itself.
    "NOT_SENT": ("the request never reached M-Pesa", _F),
    "NOT_IN_STATEMENT": ("M-Pesa's statement does not list it once its window closed: never paid", _F),
    "C2B00011": ("rejected: invalid MSISDN", _F),
    "C2B00012": ("rejected: invalid account number", _F),
    "C2B00013": ("rejected: invalid amount", _F),
    "C2B00014": ("rejected: invalid KYC details", _F),
    "C2B00015": ("rejected: invalid shortcode", _F),
    "C2B00016": ("rejected: other error", _F),
}

KNOWN_CODES: frozenset[str] = frozenset(_CODES)


def classify(result_code: int | str | None) -> ResultCodeInfo:
    """The guide's outcome where it has one; otherwise the outcome follows from the disposition."""
    code = normalise_code(result_code)
    if code not in _CODES:
        return ResultCodeInfo(code, "unrecognised result code", Disposition.UNKNOWN, Outcome.UNKNOWN)
    meaning, disposition, *wait = _CODES[code]
    outcome = Outcome(handle_mpesa_result(code))
    if outcome is Outcome.UNKNOWN:
        outcome = _OUTCOME_BY_DISPOSITION[disposition]
        if code == "4001":  # B2B express: user cancelled
            outcome = Outcome.CANCELLED
    return ResultCodeInfo(code, meaning, disposition, outcome, wait[0] if wait else None)


_OUTCOME_BY_DISPOSITION = {
    Disposition.FINAL: Outcome.FAILED,
    Disposition.RETRYABLE: Outcome.RETRY,
    Disposition.PENDING: Outcome.UNKNOWN,
    Disposition.UNKNOWN: Outcome.UNKNOWN,
}


def is_pending(result_code: int | str | None) -> bool:
    return classify(result_code).disposition is Disposition.PENDING


class Refusal(StrEnum):
    """What a synchronous refusal of a request means for the caller."""

    CALLER_ERROR = "caller_error"  # the request itself is wrong: fix it before trying again
    CUSTOMER_BUSY = "customer_busy"  # another prompt is open on the customer's phone
    RATE_LIMITED = "rate_limited"  # Daraja's spike arrest or quota
    UPSTREAM = "upstream"  # Daraja's own trouble or our configuration (credentials, shortcode)


@dataclass(frozen=True)
class RefusalInfo:
    code: str
    refusal: Refusal
    retryable: bool
    retry_after_s: int | None = None


BAD_REQUEST_CODE_PREFIX = "400.002"  # "Bad Request - Invalid <Field>" and "Invalid request payload"
_REFUSALS: dict[str, RefusalInfo] = {
    "500.003.02": RefusalInfo("500.003.02", Refusal.RATE_LIMITED, True, 10),  # spike arrest
    "500.003.03": RefusalInfo("500.003.03", Refusal.RATE_LIMITED, True, 60),  # quota
}


def classify_refusal(error_code: str | None, error_message: str) -> RefusalInfo:
    """What Daraja's synchronous error answer (`errorCode`, `errorMessage`) means for the caller."""
    code = error_code or ""
    if code.startswith(BAD_REQUEST_CODE_PREFIX):
        return RefusalInfo(code, Refusal.CALLER_ERROR, False)
    if code == STILL_PROCESSING_ERROR and "lock" in error_message.lower():
        # 500.001.1001 "Unable to lock subscriber": the same wait as result code 1001.
        return RefusalInfo(code, Refusal.CUSTOMER_BUSY, True, classify("1001").retry_after_s)
    return _REFUSALS.get(code, RefusalInfo(code, Refusal.UPSTREAM, False))
