"""Callback URLs that Daraja will accept.

Safaricom rejects (at request time, `Invalid CallBackURL`) URLs containing certain words anywhere,
in any case, and blocks some tunnelling hosts. The default API Gateway host
(`*.execute-api.*.amazonaws.com`) contains `exe`/`exec`: production needs a custom domain.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from mpesa.errors import InputError
from mpesa.rules import BLOCKED_URL_HOSTS, forbidden_url_word

MAX_URL_LENGTH = 1024


def check_url_shape(url: str) -> str:
    """An absolute http(s) URL with a host and no whitespace; raises ValueError (for pydantic models)."""
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters")
    if any(ch.isspace() for ch in url):
        raise ValueError("must not contain whitespace")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    return url


def validate_callback_url(url: str, *, field: str = "callback_url", require_https: bool = False) -> str:
    """Return `url` if Daraja will accept it as a callback URL, else raise InputError naming `field`."""
    if not isinstance(url, str):
        raise InputError(field, "must be a URL string")
    try:
        check_url_shape(url)
    except ValueError as exc:
        raise InputError(field, str(exc)) from None
    if require_https and urlsplit(url).scheme != "https":
        raise InputError(field, "must use https in production")
    word = forbidden_url_word(url)
    if word is not None:
        raise InputError(field, f"must not contain {word!r}: Safaricom rejects such callback URLs")
    host = (urlsplit(url).hostname or "").lower()
    for blocked in BLOCKED_URL_HOSTS:
        if blocked in host:
            raise InputError(field, f"must not be a {blocked} host: Safaricom blocks it")
    return url
