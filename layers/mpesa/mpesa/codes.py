"""M-Pesa's codes, one table for everything that reads them (docs/decisions.md, "One table of codes").

`classify(result_code)` is what a result code means wherever it appears (a callback, an STK query, an
async Result, a Vodacom OpenAPI `output_ResponseCode` such as `INS-9`): the outcome in the integration
guide's vocabulary, whether the request has ended, and whether the customer may be asked again (and
after how long). The flows settle records by it, the API shows it, and MpesaService returns it.
`classify_refusal(error_code, message)` does the same for Daraja's synchronous error answers;
`classify_ins` reads an OpenAPI answer's code (INS codes only), and `classify_transaction_status`
the OpenAPI status query's `output_ResponseTransactionStatus`. `handle_mpesa_result` stays exactly
the guide's function.
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
    UNKNOWN = "unknown"  # not a code we know, or one that leaves the outcome open: resolve by query, never assume


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

_U = Disposition.UNKNOWN

# Vodacom M-Pesa OpenAPI `output_ResponseCode`s (peers.md, "Output codes"; shared by the OpenAPI
# markets, Tanzania included). INS-1, INS-9, INS-10 and INS-23 leave the outcome open: a request
# answered with them may have moved money (INS-10: the ThirdPartyConversationID was used before,
# so the first request's outcome decides), so a record never settles on them; query by the
# ThirdPartyConversationID instead. Whether a refusal proves that nothing moved also depends on the
# HTTP status: `mpesa.openapi.answers` decides that, not this table.
_INS_CODES: dict[str, tuple[str, Disposition] | tuple[str, Disposition, int]] = {
    "INS-0": ("request processed successfully", _F),
    "INS-1": ("internal error: the outcome is unknown, query it", _U),
    "INS-2": ("invalid API key", _F),
    "INS-4": ("user is not active", _F),
    "INS-5": ("transaction cancelled by the customer", _F),
    "INS-6": ("transaction failed", _F),
    "INS-9": ("request timeout: the outcome is unknown, query it", _U),
    "INS-10": ("duplicate transaction: the ThirdPartyConversationID was used before; query the original", _U),
    "INS-13": ("invalid shortcode (ServiceProviderCode)", _F),
    "INS-14": ("invalid reference", _F),
    "INS-15": ("invalid amount", _F),
    "INS-16": ("temporary overload: retry after a back-off", _R, 60),
    "INS-17": ("invalid transaction reference (1 to 20 characters)", _F),
    "INS-18": ("invalid TransactionID (no such transaction)", _F),
    "INS-19": ("invalid ThirdPartyReference", _F),
    "INS-20": ("not all parameters provided", _F),
    "INS-21": ("parameter validation failed", _F),
    "INS-22": ("invalid operation type", _F),
    "INS-23": ("unknown status: query again", _U),
    "INS-24": ("invalid InitiatorIdentifier", _F),
    "INS-25": ("invalid SecurityCredential", _F),
    "INS-26": ("not authorised: the session was refused, renew it", _R),
    "INS-989": ("session creation failed", _F),
    "INS-993": ("direct debit missing", _F),
    "INS-994": ("direct debit already exists", _F),
    "INS-995": ("customer profile problem", _F),
    "INS-996": ("customer account not active", _F),
    "INS-997": ("linking transaction not found", _F),
    "INS-998": ("invalid market", _F),
    "INS-2001": ("initiator authentication error", _F),
    "INS-2002": ("receiver invalid", _F),
    "INS-2006": ("insufficient balance", _F),
    "INS-2051": ("MSISDN invalid", _F),
    "INS-2057": ("language code invalid", _F),
}

INS_CODES: frozenset[str] = frozenset(_INS_CODES)
INS_SUCCESS = "INS-0"

# Outcomes the guide's mapping cannot give (it knows Daraja's numeric codes only).
_OUTCOME_OVERRIDES: dict[str, Outcome] = {
    "4001": Outcome.CANCELLED,  # B2B express: user cancelled
    "INS-0": Outcome.SUCCESS,
    "INS-5": Outcome.CANCELLED,
}


def classify(result_code: int | str | None) -> ResultCodeInfo:
    """The guide's outcome where it has one; otherwise the outcome follows from the disposition."""
    code = normalise_code(result_code)
    if code[:4].upper() == "INS-":
        code = code.upper()  # "ins-9" and "INS-9" are the same OpenAPI code
    entry = _CODES.get(code) or _INS_CODES.get(code)
    if entry is None and code in _STORED_TRANSACTION_STATUSES:
        return classify_transaction_status(code)
    if entry is None:
        return ResultCodeInfo(code, "unrecognised result code", Disposition.UNKNOWN, Outcome.UNKNOWN)
    meaning, disposition, *wait = entry
    outcome = Outcome(handle_mpesa_result(code))
    if outcome is Outcome.UNKNOWN:
        outcome = _OUTCOME_OVERRIDES.get(code) or _OUTCOME_BY_DISPOSITION[disposition]
    return ResultCodeInfo(code, meaning, disposition, outcome, wait[0] if wait else None)


def classify_ins(response_code: str | None) -> ResultCodeInfo:
    """An OpenAPI `output_ResponseCode` in the same table: only `INS-*` codes are read. Anything else,
    even Daraja's "0", is unrecognised here (never final, never a success)."""
    code = (response_code or "").strip()
    if code[:4].upper() != "INS-":
        return ResultCodeInfo(code, "unrecognised result code", Disposition.UNKNOWN, Outcome.UNKNOWN)
    return classify(code)


# The OpenAPI status query's `output_ResponseTransactionStatus`. Only `Completed` is attested by
# public sources; the others are the values our simulator answers. Any other value is unknown:
# never final (resolve it later, or by a person).
_TRANSACTION_STATUSES: dict[str, tuple[str, Disposition, Outcome]] = {
    "completed": ("Completed", _F, Outcome.SUCCESS),
    "cancelled": ("Cancelled", _F, Outcome.CANCELLED),
    "failed": ("Failed", _F, Outcome.FAILED),
    # The prompt ended unanswered: nothing moved, and asking the customer again may succeed.
    "expired": ("Expired", _R, Outcome.RETRY),
    "pending": ("Pending", _P, Outcome.UNKNOWN),
}


# A record settled by the OpenAPI status query keeps the transaction's status as its result code
# (the query's own INS-0 only says that the query worked): `classify` reads these exact names too.
_STORED_TRANSACTION_STATUSES = frozenset(name for name, _, _ in _TRANSACTION_STATUSES.values())


def classify_transaction_status(status: str | None) -> ResultCodeInfo:
    """What an OpenAPI status query's transaction status means, in the same vocabulary as `classify`."""
    text = (status or "").strip()
    entry = _TRANSACTION_STATUSES.get(text.lower())
    if entry is None:
        return ResultCodeInfo(text, "unrecognised transaction status", Disposition.UNKNOWN, Outcome.UNKNOWN)
    name, disposition, outcome = entry
    return ResultCodeInfo(name, f"transaction {name.lower()}", disposition, outcome)


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


# OpenAPI refusals that name a fault in the request itself (amount, reference, number, parameters).
_INS_CALLER_ERRORS = frozenset({"INS-14", "INS-15", "INS-17", "INS-19", "INS-20", "INS-21", "INS-2051"})


def classify_refusal(error_code: str | None, error_message: str) -> RefusalInfo:
    """What a synchronous refusal (Daraja's `errorCode` and `errorMessage`, or an OpenAPI INS code)
    means for the caller."""
    code = error_code or ""
    if code.startswith(BAD_REQUEST_CODE_PREFIX) or code in _INS_CALLER_ERRORS:
        return RefusalInfo(code, Refusal.CALLER_ERROR, False)
    if code == "INS-16":  # "temporary overloading": refused before processing, like Daraja's spike arrest
        return RefusalInfo(code, Refusal.RATE_LIMITED, True, classify(code).retry_after_s)
    if code == STILL_PROCESSING_ERROR and "lock" in error_message.lower():
        # 500.001.1001 "Unable to lock subscriber": the same wait as result code 1001.
        return RefusalInfo(code, Refusal.CUSTOMER_BUSY, True, classify("1001").retry_after_s)
    return _REFUSALS.get(code, RefusalInfo(code, Refusal.UPSTREAM, False))
