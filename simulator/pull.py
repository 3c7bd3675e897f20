"""Pull Transactions (daraja-api.md §3.14; Safaricom's PullTransaction page): register a shortcode
once, then page through its completed transactions, served from the simulator's own journal.

The journal is the receipts the simulator issued (STK and C2B payments, B2C payouts, reversals),
so a transaction whose callback was dropped (``callback_mode: drop``) is found here too: that is
what the API is for.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from simulator import clock, payloads, sandbox, validation
from simulator.errors import DarajaError, invalid
from simulator.state import PullRegistration, Receipt

if TYPE_CHECKING:
    from simulator.core import Simulator

REGISTERED = ("1000", "Shortcode Registered Successfully")
ALREADY_REGISTERED = ("1001", "ShortCode already Registered")
FOUND = ("1000", "Success")
NONE_FOUND = ("1001", "No transactions available for the selected time period")
# The page's error table: "400.001 Invalid ShortCode" (here: a shortcode not registered for Pull)
# and "500 Failed to retrieve transactions. The short code does not have any available transactions."
NOT_REGISTERED = (400, "400.001", "Invalid ShortCode")
NOTHING_AT_ALL = (
    500,
    "500.003.1001",
    "Failed to retrieve transactions. The short code does not have any available transactions.",
)
# The docs show both "0722000000" and "254722000000" for NominatedNumber.
NOMINATED_NUMBER = re.compile(r"^(254|0)(7|1)\d{8}$")
# "YYYY-MM-DD HH:mm:ss" in EAT; the docs' own samples also drop the seconds and the hour's zero.
PULL_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{1,2}):(\d{2})(?::(\d{2}))?$")
MAX_OFFSET = 10_000_000

# ``transactiontype`` by the receipt's ReasonType. Only "c2b-pay-bill-debit" is in Safaricom's
# page; the other names are the simulator's (the page says the API lists C2B only).
TRANSACTION_TYPES = {
    "Pay Bill Online": "c2b-pay-bill-debit",
    "Pay Bill": "c2b-pay-bill-debit",
    "Buy Goods Online": "c2b-buy-goods-debit",
    "Buy Goods": "c2b-buy-goods-debit",
    "Reversal": "reversal",
}
B2C_TYPE = "b2c-payment"
CUSTOMER_NAME = "John Doe"


def parse_pull_date(body: validation.Body, field: str) -> datetime:
    value = validation.as_text(body.get(field))
    match = PULL_DATE.match(value.strip()) if value is not None else None
    if match is None:
        raise invalid(field)
    year, month, day, hour, minute, second = (int(part) if part else 0 for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=clock.NAIROBI)
    except ValueError:
        raise invalid(field) from None


class PullService:
    def __init__(self, sim: Simulator) -> None:
        self._sim = sim

    def register(self, body: validation.Body) -> dict[str, Any]:
        shortcode = validation.shortcode(body, "ShortCode")
        validation.one_of(body, "RequestType", ("Pull",))
        nominated = validation.as_text(body.get("NominatedNumber"))
        if nominated is None or not (NOMINATED_NUMBER.match(nominated) or nominated in sandbox.NUMBERS):
            raise invalid("NominatedNumber")
        callback_url = validation.callback_url(body, "CallBackURL")
        fresh = self._sim.store.register_pull(
            PullRegistration(
                shortcode=shortcode,
                nominated_number=nominated,
                callback_url=callback_url,
                registered_at=clock.now_eat(),
            )
        )
        status, description = REGISTERED if fresh else ALREADY_REGISTERED
        return {
            "ResponseRefID": str(uuid.uuid4()),
            "ResponseStatus": status,
            "ShortCode": shortcode,
            "ResponseDescription": description,
        }

    def query(self, body: validation.Body) -> dict[str, Any]:
        config = self._sim.config
        shortcode = validation.shortcode(body, "ShortCode")
        start = parse_pull_date(body, "StartDate")
        end = parse_pull_date(body, "EndDate")
        if end < start:
            raise invalid("EndDate")
        offset = validation.whole_number(body, "OffSetValue", minimum=0, maximum=MAX_OFFSET)
        if self._sim.store.pull_registration(shortcode) is None:
            raise DarajaError(*NOT_REGISTERED)
        kept = self._journal(shortcode, clock.now_eat() - timedelta(seconds=config.pull_retention_s))
        if not kept:
            raise DarajaError(*NOTHING_AT_ALL)
        in_window = [r for r in kept if start <= r.completed_at <= end]
        page = in_window[offset : offset + config.pull_page_size]
        code, message = FOUND if page else NONE_FOUND
        return {
            "ResponseRefID": str(uuid.uuid4()),
            "ResponseCode": code,
            "ResponseMessage": message,
            # One list inside another, as in the samples practitioners captured.
            "Response": [[self._item(receipt) for receipt in page]],
        }

    def _journal(self, shortcode: str, since: datetime) -> list[Receipt]:
        """Completed transactions of ``shortcode`` since ``since``, oldest first (then by receipt)."""
        found = [
            r
            for r in self._sim.store.list_receipts()
            if r.shortcode == shortcode and r.state == "completed" and r.completed_at >= since
        ]
        return sorted(found, key=lambda r: (r.completed_at, r.receipt))

    def _item(self, receipt: Receipt) -> dict[str, Any]:
        business = self._sim.config.business_name
        pays_customer = receipt.kind == "b2c"
        return {
            "transactionId": receipt.receipt,
            "trxDate": receipt.completed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "msisdn": payloads.c2b_msisdn(receipt.party, "v1"),  # masked: 2547 ***** 149
            "sender": business if pays_customer or receipt.kind == "reversal" else CUSTOMER_NAME,
            "transactiontype": B2C_TYPE if pays_customer else TRANSACTION_TYPES.get(receipt.reason, receipt.reason),
            "billreference": receipt.bill_reference,
            "amount": payloads.money_text(receipt.amount),
            "organizationname": business,
        }


def pull_registration_view(registration: PullRegistration) -> dict[str, Any]:
    return {
        "shortcode": registration.shortcode,
        "nominated_number": registration.nominated_number,
        "callback_url": registration.callback_url,
        "registered_at": clock.iso(registration.registered_at),
    }
