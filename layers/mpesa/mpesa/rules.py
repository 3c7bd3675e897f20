"""Fixed rules of M-Pesa's APIs, defined once: the payment API, the Daraja client and `MpesaService`
all apply these functions, so a value accepted (or refused) by one is accepted (or refused) by all.

Prompt texts (STK AccountReference and TransactionDesc; docs/decisions.md "Prompt texts"):
- both are made of letters, digits, spaces and `- _ . # /` only: other characters have made Daraja
  fail silently (daraja-api.md §8.11); such a value is refused, never rewritten;
- the account reference identifies the payment to the customer (it is shown in the prompt) and to
  reconciliation: it is refused when longer than Daraja's 12 characters, never cut;
- the description is a free-text note that Daraja caps at 13 characters: longer text is cut to its
  first 13 characters, and the text actually sent is what the record keeps and the API returns.
"""

from mpesa.errors import InputError

ACCOUNT_REFERENCE_MAX = 12
TRANSACTION_DESC_MAX = 13
PROMPT_TEXT_SYMBOLS = " -_.#/"
# B2C Remarks (2-100) and Occasion (up to 100), as Daraja documents them (daraja-api.md §3.5).
REMARKS_MIN, REMARKS_MAX = 2, 100
OCCASION_MAX = 100

# Words Safaricom rejects anywhere in a callback URL, in any case (daraja-api.md §8, pitfall 1). "exe"
# also covers "exec" and the default API Gateway host "execute-api".
FORBIDDEN_URL_WORDS: tuple[str, ...] = ("m-pesa", "mpesa", "safaricom", "exe", "cmd", "sql", "query")
BLOCKED_URL_HOSTS: tuple[str, ...] = ("ngrok", "mockbin", "requestbin")


def _prompt_characters(text: str, field: str) -> str:
    if not all(ch.isascii() and (ch.isalnum() or ch in PROMPT_TEXT_SYMBOLS) for ch in text):
        raise InputError(field, "may contain only letters, digits, spaces and - _ . # /")
    return text


def _required_text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise InputError(field, "must be text")
    text = value.strip()
    if not text:
        raise InputError(field, "must not be empty")
    return text


def account_reference(value: object, field: str = "account_reference") -> str:
    """The reference shown in the customer's prompt: valid as given, or refused."""
    text = _required_text(value, field)
    if len(text) > ACCOUNT_REFERENCE_MAX:
        raise InputError(field, f"must be at most {ACCOUNT_REFERENCE_MAX} characters (Daraja's limit), got {len(text)}")
    return _prompt_characters(text, field)


def transaction_desc(value: object, field: str = "transaction_desc") -> str:
    """The description sent to Daraja: its first 13 characters (trailing spaces dropped)."""
    text = _prompt_characters(_required_text(value, field), field)
    return text[:TRANSACTION_DESC_MAX].rstrip()


def remarks(value: object, field: str = "remarks") -> str:
    text = _required_text(value, field)
    if not REMARKS_MIN <= len(text) <= REMARKS_MAX:
        raise InputError(field, f"must be {REMARKS_MIN} to {REMARKS_MAX} characters, got {len(text)}")
    return _printable(text, field)


def occasion(value: object, field: str = "occasion") -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = _required_text(value, field)
    if len(text) > OCCASION_MAX:
        raise InputError(field, f"must be at most {OCCASION_MAX} characters, got {len(text)}")
    return _printable(text, field)


def _printable(text: str, field: str) -> str:
    if not (text.isascii() and text.isprintable()):
        raise InputError(field, "must be printable ASCII text")
    return text


def forbidden_url_word(url: str) -> str | None:
    """The first word of FORBIDDEN_URL_WORDS in `url`, if any."""
    lowered = url.lower()
    return next((word for word in FORBIDDEN_URL_WORDS if word in lowered), None)
