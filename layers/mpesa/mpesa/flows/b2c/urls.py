"""The callback URLs a payout (and a balance request) sends: one signed URL per record and purpose,
`<base>/v1/hooks/<purpose>/<id>/<signature>` (mpesa.edge.signed_urls). template.yaml serves each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mpesa.edge.signed_urls import signed_callback_url

if TYPE_CHECKING:
    from mpesa.settings import MpesaSettings

RESULT = "b2c/result"  # the payout's Result
QUEUE_TIMEOUT = "b2c/timeout"  # the payout timed out in M-Pesa's queue: outcome unknown
STATUS_RESULT = "b2c/status"  # Transaction Status about the payout
STATUS_TIMEOUT = "b2c/status-timeout"  # that query timed out in the queue: ask again later
RECONCILIATION_STATUS = "b2c/recon-status"  # Transaction Status asked by the daily reconciliation
BALANCE_RESULT = "balance/result"
BALANCE_TIMEOUT = "balance/timeout"
PURPOSES = (
    RESULT,
    QUEUE_TIMEOUT,
    STATUS_RESULT,
    STATUS_TIMEOUT,
    RECONCILIATION_STATUS,
    BALANCE_RESULT,
    BALANCE_TIMEOUT,
)


def url(settings: MpesaSettings, purpose: str, record_id: str) -> str:
    return signed_callback_url(settings, purpose, record_id)


@dataclass(frozen=True)
class PayoutUrls:
    """A payout's signed webhook URLs, made when a provider that answers by webhook asks for them
    (mpesa.providers.base.PayoutReplies): a provider that answers at once never needs the settings."""

    settings: MpesaSettings
    payout_id: str
    status_purpose: str = STATUS_RESULT  # whose Transaction Status: the timeout flow's or the reconciliation's

    def result_url(self) -> str:
        return url(self.settings, RESULT, self.payout_id)

    def queue_timeout_url(self) -> str:
        return url(self.settings, QUEUE_TIMEOUT, self.payout_id)

    def status_result_url(self) -> str:
        return url(self.settings, self.status_purpose, self.payout_id)

    def status_timeout_url(self) -> str:
        return url(self.settings, STATUS_TIMEOUT, self.payout_id)
