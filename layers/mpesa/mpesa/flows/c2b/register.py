"""Registering our C2B URLs with Daraja (Register URL, v1 or v2 per MPESA_C2B_API_VERSION).

Idempotent: the sandbox overwrites a registration, so the same call may be repeated. Production
registers once: a second call answers `500.003.1001 Urls are already registered`. That is success when
the URLs (and ResponseType and version) are the ones we registered last, which we keep since Daraja
cannot be asked; otherwise it is a conflict that only Safaricom can clear (docs/operations.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from mpesa.clock import Deadline, iso, now_utc
from mpesa.daraja.errors import URLS_REGISTERED_CODE, DarajaApiError
from mpesa.errors import InputError
from mpesa.flows.c2b.model import Registration
from mpesa.flows.c2b.ports import C2BDeps
from mpesa.flows.c2b.urls import HookUrls, hook_urls, redact
from mpesa.telemetry import logger

_ALREADY_REGISTERED = ("already registered", "duplicate notification")


class Registered(StrEnum):
    REGISTERED = "registered"  # Daraja accepted the URLs
    ALREADY_REGISTERED = "already_registered"  # Daraja has these very URLs from an earlier call
    CONFLICT = "conflict"  # Daraja has other URLs for the shortcode: Safaricom must delete them first


@dataclass(frozen=True)
class RegistrationResult:
    outcome: Registered
    short_code: str
    api_version: str
    response_type: str
    urls: HookUrls
    originator_conversation_id: str = ""
    daraja_message: str = ""

    def view(self) -> dict[str, str]:
        return {
            "status": self.outcome.value,
            "short_code": self.short_code,
            "api_version": self.api_version,
            "response_type": self.response_type,
            "validation_url": redact(self.urls.validation),
            "confirmation_url": redact(self.urls.confirmation),
            "originator_conversation_id": self.originator_conversation_id,
            "daraja_message": self.daraja_message,
        }


class C2BRegistration:
    def __init__(self, deps: C2BDeps) -> None:
        self._deps = deps

    def register(self, short_code: str | None, *, deadline: Deadline | None = None) -> RegistrationResult:
        """Register the validation and confirmation URLs of `short_code` (default: the first configured).
        Raises InputError for a shortcode not configured, ConfigurationError for unusable URLs, and
        Daraja's errors (DarajaApiError: refused; UnavailableError, NotSentError: try again)."""
        deps = self._deps
        codes = deps.config.short_codes
        code = short_code or codes[0]
        if code not in codes:
            raise InputError("short_code", "is not one of this deployment's C2B shortcodes (C2B_SHORT_CODES)")
        urls = hook_urls(deps.settings, code)
        version, response_type = deps.settings.c2b_api_version, deps.config.response_type
        digest = hashlib.sha256(f"{version}|{response_type}|{urls.validation}|{urls.confirmation}".encode()).hexdigest()
        try:
            answer = deps.gateway().c2b_register_urls(
                confirmation_url=urls.confirmation,
                validation_url=urls.validation,
                response_type=response_type,
                short_code=code,
                deadline=deadline,
            )
        except DarajaApiError as exc:
            if not _already_registered(exc):
                raise
            stored = deps.store.registration(code)
            same = stored is not None and stored.digest == digest
            logger.warning("URLs already registered at Daraja", extra={"ours": same, "short_code": code})
            outcome = Registered.ALREADY_REGISTERED if same else Registered.CONFLICT
            return RegistrationResult(outcome, code, version, response_type, urls, daraja_message=exc.error_message)
        ocid = answer.originator_conversation_id
        deps.store.save_registration(Registration(code, version, response_type, digest, iso(now_utc()), ocid))
        logger.info("C2B URLs registered", extra={"short_code": code, "api_version": version})
        return RegistrationResult(
            Registered.REGISTERED,
            code,
            version,
            response_type,
            urls,
            originator_conversation_id=ocid,
            daraja_message=answer.response_description,
        )


def _already_registered(exc: DarajaApiError) -> bool:
    message = exc.error_message.lower()
    return exc.error_code == URLS_REGISTERED_CODE and any(phrase in message for phrase in _ALREADY_REGISTERED)
