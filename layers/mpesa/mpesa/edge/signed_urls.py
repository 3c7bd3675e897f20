"""Callback URLs that name their record and prove we issued them.

Each request we send to M-Pesa carries `<base>/v1/hooks/<purpose>/<transaction id>/<signature>`, the
signature being the first 128 bits of HMAC-SHA256(callback secret, "<purpose>:<transaction id>"). Only
we and M-Pesa know the URL, so a callback on it is authenticated; and it names the record, so it can
settle the record even when M-Pesa's answer to our request was lost. Hex only: the words Safaricom
rejects in callback URLs (mpesa, exec, cmd, sql, query...) cannot appear.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import TYPE_CHECKING

from mpesa.errors import CallbackRefusedError, ConfigurationError
from mpesa.rules import forbidden_url_word

if TYPE_CHECKING:
    from pydantic import SecretStr

    from mpesa.settings import MpesaSettings

SIGNATURE_HEX_LENGTH = 32
_HEX = re.compile(r"[0-9a-f]+")


def sign(secret: str, purpose: str, transaction_id: str) -> str:
    mac = hmac.new(secret.encode(), f"{purpose}:{transaction_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:SIGNATURE_HEX_LENGTH]


def verify(secret: str, purpose: str, transaction_id: str, signature: str) -> bool:
    if not (_HEX.fullmatch(transaction_id) and _HEX.fullmatch(signature)):
        return False
    return hmac.compare_digest(sign(secret, purpose, transaction_id), signature)


def require_signature(secret: SecretStr | None, purpose: str, record_id: str, signature: str) -> None:
    """A webhook on a signed URL: CallbackRefusedError (403) unless the path's signature is ours (and
    always when no callback secret is configured)."""
    if secret is None or not verify(secret.get_secret_value(), purpose, record_id, signature):
        raise CallbackRefusedError("bad URL signature")


def callback_url(base_url: str, purpose: str, secret: str, transaction_id: str) -> str:
    """e.g. https://pay.example.com/v1/hooks/stk/<transaction id>/<signature>"""
    url = f"{base_url.rstrip('/')}/v1/hooks/{purpose}/{transaction_id}/{sign(secret, purpose, transaction_id)}"
    word = forbidden_url_word(url)
    if word is not None:
        raise ValueError(f"callback URL contains {word!r}, which Safaricom rejects; use another host or path")
    return url


def signed_callback_url(settings: MpesaSettings, purpose: str, transaction_id: str) -> str:
    """The callback URL for one record, from MPESA_CALLBACK_BASE_URL and MPESA_CALLBACK_SECRET."""
    base, secret = settings.callback_base_url, settings.callback_secret
    missing = {}
    if base is None:
        missing["MPESA_CALLBACK_BASE_URL"] = "is required"
    if secret is None:
        missing["MPESA_CALLBACK_SECRET"] = "is required"  # noqa: S105 (a setting's name)
    if base is None or secret is None:
        raise ConfigurationError(missing)
    try:
        return callback_url(str(base), purpose, secret.get_secret_value(), transaction_id)
    except ValueError as exc:
        raise ConfigurationError({"MPESA_CALLBACK_BASE_URL": str(exc)}) from None
