"""Identifiers in Daraja's shapes. One generator per simulator guarantees uniqueness of each kind."""

from __future__ import annotations

import secrets
import string
import threading
import uuid
from collections.abc import Callable
from datetime import datetime

from simulator.clock import NAIROBI

_ALNUM = string.ascii_uppercase + string.digits
_HEX = "0123456789abcdef"


def _digits(count: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(count))


def request_id() -> str:
    """``requestId`` of synchronous error bodies."""
    return str(uuid.uuid4())


class IdGenerator:
    """Makes receipts, CheckoutRequestIDs, ConversationIDs… never handing out the same one twice."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._issued: set[str] = set()

    def _fresh(self, build: Callable[[], str]) -> str:
        with self._lock:
            while True:
                value = build()
                if value not in self._issued:
                    self._issued.add(value)
                    return value

    def receipt(self, moment: datetime) -> str:
        """10 uppercase alphanumerics; like M-Pesa the first two letters encode year and month."""
        local = moment.astimezone(NAIROBI)
        year = chr(ord("N") + (local.year - 2019) % 26)
        month = chr(ord("A") + local.month - 1)
        return self._fresh(lambda: year + month + "".join(secrets.choice(_ALNUM) for _ in range(8)))

    def merchant_request_id(self) -> str:
        """``NNNNN-NNNNNNNN-1``."""
        return self._fresh(lambda: f"{_digits(5)}-{_digits(8)}-1")

    def checkout_request_id(self, moment: datetime) -> str:
        """``ws_CO_`` + DDMMYYYYHHMMSS + digits."""
        stamp = moment.astimezone(NAIROBI).strftime("%d%m%Y%H%M%S")
        return self._fresh(lambda: f"ws_CO_{stamp}{_digits(6)}")

    def conversation_id(self, moment: datetime) -> str:
        """``AG_YYYYMMDD_`` + 20 hex characters."""
        day = moment.astimezone(NAIROBI).strftime("%Y%m%d")
        return self._fresh(lambda: f"AG_{day}_" + "".join(secrets.choice(_HEX) for _ in range(20)))

    def originator_conversation_id(self) -> str:
        """Gateway-generated OCID (B2C v1, status, balance, reversal, C2B): ``NNNNN-NNNNNN-N``."""
        return self._fresh(lambda: f"{_digits(5)}-{_digits(6)}-{secrets.randbelow(9) + 1}")

    def token(self) -> str:
        """An opaque 28-character access token."""
        alphabet = string.ascii_letters + string.digits
        return self._fresh(lambda: "".join(secrets.choice(alphabet) for _ in range(28)))

    def failed_transaction_id(self, moment: datetime) -> str:
        """Placeholder TransactionID of failed results: receipt-like prefix then zeros (may repeat)."""
        local = moment.astimezone(NAIROBI)
        year = chr(ord("N") + (local.year - 2019) % 26)
        month = chr(ord("A") + local.month - 1)
        return year + month + secrets.choice(_ALNUM) + "0000000"
