"""M-Pesa result codes: the integration guide's mapping, and a richer disposition for each known code."""

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

# Every code in the Daraja reference's result-code table (§6), with our disposition.
_CODES: dict[str, tuple[str, Disposition]] = {
    "0": ("success", _F),
    "1": ("insufficient balance", _F),
    "2": ("amount below the minimum", _F),
    "3": ("amount above the maximum", _F),
    "4": ("daily limit exceeded", _F),
    "8": ("maximum balance exceeded", _F),
    "11": ("debit party invalid", _F),
    "2006": ("account status does not allow the transaction", _F),
    "15": ("duplicate detected: query the status of the original", _F),
    "17": ("rule limited or internal failure: retry after two minutes", _R),
    "18": ("initiator credential check failed", _F),
    "20": ("unknown initiator", _F),
    "21": ("initiator lacks the role", _F),
    "22": ("initiator inactive", _F),
    "24": ("missing mandatory fields", _F),
    "25": ("invalid parameters", _F),
    "26": ("traffic blocking: system too busy", _R),
    "29": ("invalid command", _F),
    "100000001": ("system overloaded", _R),
    "100000002": ("throttled", _R),
    "100000011": ("rate exceeded", _R),
    "1001": ("unable to lock subscriber: another transaction in progress", _R),
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
    meaning, disposition = _CODES[code]
    outcome = Outcome(handle_mpesa_result(code))
    if outcome is Outcome.UNKNOWN:
        outcome = _OUTCOME_BY_DISPOSITION[disposition]
        if code == "4001":  # B2B express: user cancelled
            outcome = Outcome.CANCELLED
    return ResultCodeInfo(code, meaning, disposition, outcome)


_OUTCOME_BY_DISPOSITION = {
    Disposition.FINAL: Outcome.FAILED,
    Disposition.RETRYABLE: Outcome.RETRY,
    Disposition.PENDING: Outcome.UNKNOWN,
    Disposition.UNKNOWN: Outcome.UNKNOWN,
}


def is_pending(result_code: int | str | None) -> bool:
    return classify(result_code).disposition is Disposition.PENDING
