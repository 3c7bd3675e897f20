"""A Pay Bill end to end through the local stack, over HTTP only: the stack registered its C2B URLs
with the simulator at start; a customer pays (the simulator's C2B simulate, as Daraja's sandbox);
the simulator delivers the confirmation to the front; the API shows the payment and its invoice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import SHORT_CODE, Stack, pay_bill
from tests.local.process import http, wait_for

pytestmark = pytest.mark.e2e


def events(stack: Stack, trans_id: str) -> list[dict[str, Any]]:
    if not stack.events_log.exists():
        return []
    with stack.events_log.open(encoding="utf-8") as handle:
        seen = [json.loads(line) for line in handle if line.strip()]
    return [e for e in seen if e.get("detail", {}).get("trans_id") == trans_id]


def test_the_stack_registers_its_c2b_urls_with_the_simulator_at_start(stack: Stack) -> None:
    line = f"C2B URLs registered with the simulator for shortcode {SHORT_CODE} (v2"
    # The front answers health checks as soon as it serves; the registration follows it.
    assert wait_for(lambda: line in stack.process.log_path.read_text(encoding="utf-8"), 30, message="registration")


def test_a_pay_bill_goes_end_to_end(fresh: Stack) -> None:
    status, registered = http("POST", f"{fresh.api}/v1/c2b/register", {})  # the reset forgot it
    assert (status, registered["status"]) == (200, "registered"), registered
    expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    status, invoice = http(
        "POST", f"{fresh.api}/v1/c2b/expected", {"account_reference": "E2E-1", "amount": 150, "expires_at": expires}
    )
    assert status in (200, 201), invoice
    pay_bill(fresh, 150, "e2e-1")
    (delivered,) = wait_for(
        lambda: fresh.simulator_get("/simulator/callbacks?kind=c2b_confirmation"), 15, message="the confirmation"
    )
    assert (delivered["delivered"], delivered["response_status"]) == (True, 200)
    assert delivered["url"].startswith(f"{fresh.api}/v1/hooks/c2b/{SHORT_CODE}/")
    trans_id = delivered["payload"]["TransID"]
    status, payment = http("GET", f"{fresh.api}/v1/c2b/transactions/{trans_id}")
    assert status == 200, payment
    assert (payment["amount"], payment["account_reference"], payment["counted"]) == (150, "e2e-1", True)
    assert payment["expected_payment"]["match"] == "paid"
    assert len(payment["phone"]) == 64  # v2 sends a SHA-256 of the number: shown as given
    today = datetime.now(UTC).date().isoformat()
    status, listing = http("GET", f"{fresh.api}/v1/c2b/transactions?from={today}&to={today}")
    assert status == 200, listing
    assert trans_id in [item["trans_id"] for item in listing["items"]]
    status, invoice = http("GET", f"{fresh.api}/v1/c2b/expected/E2E-1")
    assert (status, invoice["status"], invoice["paid_total"]) == (200, "paid", 150)
    kinds = wait_for(lambda: sorted(e["detail-type"] for e in events(fresh, trans_id)), 15, message="events")
    assert kinds == ["c2b.matched", "c2b.received"]


def test_a_forged_confirmation_is_refused(fresh: Stack) -> None:
    body = {"TransID": "TKQ4AB7XYZ", "TransAmount": "150.00", "BusinessShortCode": SHORT_CODE, "TransTime": ""}
    status, answer = http("POST", f"{fresh.api}/v1/hooks/c2b/{SHORT_CODE}/{'0' * 32}/confirmation", body)
    assert (status, answer["error"]) == (403, "forbidden")
    assert http("GET", f"{fresh.api}/v1/c2b/transactions/TKQ4AB7XYZ")[0] == 404
