"""Authenticating Daraja callbacks, which Safaricom does not sign.

What we control: a per-transaction secret in the callback URL (an HMAC of the transaction id), the
source IP (from API Gateway's request context, never a client header), strict payload validation,
and correlation with what we stored. Hex only in URLs: Safaricom rejects callback URLs containing
words such as mpesa, exec, cmd, sql or query, and hex cannot spell them.
"""

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable

FORBIDDEN_URL_WORDS = ("mpesa", "m-pesa", "safaricom", "exec", "exe", "cmd", "sql", "query")
SIGNATURE_HEX_LENGTH = 32
_HEX = re.compile(r"[0-9a-f]+")


def sign(secret: str, purpose: str, transaction_id: str) -> str:
    mac = hmac.new(secret.encode(), f"{purpose}:{transaction_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:SIGNATURE_HEX_LENGTH]


def verify(secret: str, purpose: str, transaction_id: str, signature: str) -> bool:
    if not (_HEX.fullmatch(transaction_id) and _HEX.fullmatch(signature)):
        return False
    return hmac.compare_digest(sign(secret, purpose, transaction_id), signature)


def callback_url(base_url: str, purpose: str, secret: str, transaction_id: str) -> str:
    """e.g. https://pay.example.com/v1/hooks/stk/<transaction id>/<signature>"""
    url = f"{base_url.rstrip('/')}/v1/hooks/{purpose}/{transaction_id}/{sign(secret, purpose, transaction_id)}"
    check_callback_url(url)
    return url


def check_callback_url(url: str) -> None:
    lowered = url.lower()
    for word in FORBIDDEN_URL_WORDS:
        if word in lowered:
            raise ValueError(f"callback URL contains {word!r}, which Safaricom rejects; use another host or path")


class SourceAllowlist:
    """Configured as a comma-separated list of IPs or CIDR blocks; "*" allows any source."""

    def __init__(self, entries: Iterable[str]) -> None:
        cleaned = [e.strip() for e in entries if e.strip()]
        self.allow_any = "*" in cleaned
        self._networks = [ipaddress.ip_network(e, strict=False) for e in cleaned if e != "*"]

    @classmethod
    def parse(cls, text: str | None) -> "SourceAllowlist":
        return cls((text or "").split(","))

    def allows(self, source_ip: str | None) -> bool:
        if self.allow_any:
            return True
        if not source_ip:
            return False
        try:
            address = ipaddress.ip_address(source_ip)
        except ValueError:
            return False
        return any(address in network for network in self._networks)
