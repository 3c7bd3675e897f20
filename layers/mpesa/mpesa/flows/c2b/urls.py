"""The C2B webhook URLs we register with Daraja, and their check when Daraja calls them.

Each shortcode gets `<base>/v1/hooks/c2b/<shortcode>/<secret>/validation` and `.../confirmation`, the
secret being the first 128 bits of HMAC-SHA256(MPESA_CALLBACK_SECRET, "c2b:<shortcode>") in hex. Only
Safaricom and we know it, so a call on the URL comes from whom we gave it to; hex cannot spell the
words Safaricom rejects in URLs (mpesa, exec, cmd, sql, query...). Registered URLs are permanent in
production: rotating MPESA_CALLBACK_SECRET changes them and needs a new registration (docs/operations.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mpesa.daraja.urls import validate_callback_url
from mpesa.edge.signed_urls import signed_callback_url, verify
from mpesa.errors import ConfigurationError, InputError

if TYPE_CHECKING:
    from mpesa.settings import MpesaSettings

PURPOSE = "c2b"
_SECRET_SEGMENT = re.compile(r"(/v1/hooks/c2b/[0-9]+/)[0-9a-f]+(/)")


@dataclass(frozen=True)
class HookUrls:
    validation: str
    confirmation: str


def hook_urls(settings: MpesaSettings, short_code: str) -> HookUrls:
    """The shortcode's webhook URLs, as Daraja will accept them; ConfigurationError names what is wrong."""
    base = signed_callback_url(settings, PURPOSE, short_code)  # ConfigurationError without base or secret
    urls = HookUrls(validation=f"{base}/validation", confirmation=f"{base}/confirmation")
    try:
        validate_callback_url(urls.confirmation, require_https=not settings.is_sandbox)
    except InputError as exc:
        raise ConfigurationError({"MPESA_CALLBACK_BASE_URL": exc.message}) from None
    return urls


def verify_hook(settings: MpesaSettings, short_code: str, secret: str) -> bool:
    """Whether `secret` is the path secret we give Daraja for `short_code` (constant-time)."""
    key = settings.callback_secret
    return key is not None and verify(key.get_secret_value(), PURPOSE, short_code, secret)


def redact(url: str) -> str:
    """The URL with its secret segment hidden, for answers and logs."""
    return _SECRET_SEGMENT.sub(r"\1***\2", url)
