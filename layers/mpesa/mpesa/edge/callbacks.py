"""Authenticating Daraja callbacks, which Safaricom does not sign (docs/security.md).

What we control: the signed callback URL (`mpesa.edge.signed_urls`), the source IP as API Gateway saw
it (the request context, never a client header such as X-Forwarded-For) against an allowlist, strict
payload validation, and correlation with what we stored.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from mpesa.edge.body import callback_text

ALLOWED_IPS_ENV = "MPESA_CALLBACK_ALLOWED_IPS"


class SourceAllowlist:
    """Configured as a comma-separated list of IPs or CIDR blocks; "*" allows any source."""

    def __init__(self, entries: Iterable[str]) -> None:
        cleaned = [e.strip() for e in entries if e.strip()]
        self.allow_any = "*" in cleaned
        self._networks = [ipaddress.ip_network(e, strict=False) for e in cleaned if e != "*"]

    @classmethod
    def parse(cls, text: str | None) -> SourceAllowlist:
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


@cache
def _allowlist(text: str | None) -> SourceAllowlist:
    return SourceAllowlist.parse(text)


def configured_allowlist() -> SourceAllowlist:
    """The allowlist of this function's environment (parsed once per value)."""
    return _allowlist(os.environ.get(ALLOWED_IPS_ENV))


def source_ip(event: Mapping[str, Any]) -> str:
    """API Gateway's own view of the peer (payload v2 request context)."""
    http = ((event.get("requestContext") or {}).get("http")) or {}
    return str(http.get("sourceIp") or "")


def delivery(event: Mapping[str, Any]) -> tuple[str, str, bool]:
    """A webhook's body (bounded, UTF-8), its source address and whether the allowlist admits it."""
    body = callback_text(event)
    peer = source_ip(event)
    return body, peer, configured_allowlist().allows(peer)
