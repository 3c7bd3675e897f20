"""C2B test helpers: Daraja's validation/confirmation bodies, and our webhook paths for a shortcode."""

from __future__ import annotations

import hashlib
from typing import Any

from mpesa.edge.signed_urls import sign
from tests.support.apigw import call_route

HASHED_MSISDN = hashlib.sha256(b"254708374149").hexdigest()  # what C2B v2 sends
MASKED_MSISDN = "2547 ***** 149"  # what the docs (and the simulator's v1) show
SHORT_CODE = "174379"


def c2b_payload(
    trans_id: str = "TKQ4AB7XYZ",
    *,
    amount: Any = "150.00",
    reference: str = "INV001",
    short_code: str = SHORT_CODE,
    msisdn: str = HASHED_MSISDN,
    kind: str = "Pay Bill",
    first_name: str = "John",
    last_name: str = "Doe",
    trans_time: str = "20261126102115",
    balance: str = "",
) -> dict[str, Any]:
    return {
        "TransactionType": kind,
        "TransID": trans_id,
        "TransTime": trans_time,
        "TransAmount": amount,
        "BusinessShortCode": short_code,
        "BillRefNumber": reference,
        "InvoiceNumber": "",
        "OrgAccountBalance": balance,
        "ThirdPartyTransID": "",
        "MSISDN": msisdn,
        "FirstName": first_name,
        "MiddleName": "",
        "LastName": last_name,
    }


def hook_path(callback_secret: str, which: str, short_code: str = SHORT_CODE, *, secret: str | None = None) -> str:
    """`/v1/hooks/c2b/<short_code>/<secret>/<which>`, the secret derived as the flow derives it."""
    secret = secret if secret is not None else sign(callback_secret, "c2b", short_code)
    return f"/v1/hooks/c2b/{short_code}/{secret}/{which}"


VALIDATION_ROUTE = "/v1/hooks/c2b/{short_code}/{secret}/validation"
CONFIRMATION_ROUTE = "/v1/hooks/c2b/{short_code}/{secret}/confirmation"


# --- driving the C2B handlers in one process (tests/integration/c2b) -----------------------------


def deliver(
    handlers: dict[str, Any],
    which: str,
    payload: Any,
    *,
    short_code: str = SHORT_CODE,
    secret: str | None = None,
    source_ip: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """A validation or confirmation request on our URL for `short_code` (the right secret by default)."""
    from mpesa import runtime

    callback_secret = runtime.settings().callback_secret
    assert callback_secret is not None
    path = hook_path(callback_secret.get_secret_value(), which, short_code, secret=secret)
    route = VALIDATION_ROUTE if which == "validation" else CONFIRMATION_ROUTE
    return call_route(
        handlers[f"c2b_{which}"], "POST", path, route=route, body=payload, source_ip=source_ip, headers=headers
    )
