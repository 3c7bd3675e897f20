"""Every callback URL the code can send to Daraja is a route that template.yaml serves.

The URLs are captured by running the code that builds them (MpesaService's defaults, the STK push, the
payout, its Transaction Status queries, the balance request) against recording doubles, so a new URL
or a renamed route cannot slip past this test.
"""

import asyncio
import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from local.cfn import load_template
from mpesa.daraja.models import AsyncRequestResponse, B2CResponse, StkPushResponse
from mpesa.flows.b2c import AccountBalances, B2cDeps, B2cEvents, B2cPayouts, GuardRails, PayoutRequest, PayoutTiming
from mpesa.flows.stk import FlowTiming, StkDeps, StkEvents, StkPaymentRequest, StkPayments
from mpesa.records import Kind
from mpesa.records.outbox import Outbox
from mpesa.service import MpesaService
from tests.local.process import REPO_ROOT as ROOT
from tests.support.daraja import make_settings
from tests.support.fakes import (
    FakeB2cGateway,
    FakeStkGateway,
    InMemoryBalances,
    InMemoryBudgets,
    InMemoryInbox,
    InMemoryRecordStore,
    RecordingPublisher,
    accepted_payout,
    accepted_push,
    async_accepted,
)

SETTINGS = make_settings(MPESA_CALLBACK_SECRET="s" * 40)
URL_ARGUMENTS = ("callback_url", "result_url", "queue_timeout_url")


def template_routes() -> list[re.Pattern[str]]:
    template = load_template(ROOT / "template.yaml")
    routes = []
    for resource in template["Resources"].values():
        for event in (resource.get("Properties") or {}).get("Events", {}).values():
            if event["Type"] == "HttpApi" and event["Properties"]["Method"] == "POST":
                path = event["Properties"]["Path"]
                routes.append(re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", path) + "$"))
    return routes


class RecordingClient:
    """Stands in for DarajaClient under MpesaService: records the URLs it is given."""

    def __init__(self) -> None:
        self.settings = SETTINGS
        self.urls: list[str] = []

    def _record(self, kwargs: dict[str, Any]) -> None:
        self.urls.extend(str(kwargs[name]) for name in URL_ARGUMENTS if kwargs.get(name))

    def stk_push(self, **kwargs: Any) -> StkPushResponse:
        self._record(kwargs)
        return accepted_push("ws_CO_1")

    def b2c_payment(self, **kwargs: Any) -> B2CResponse:
        self._record(kwargs)
        return accepted_payout(kwargs["originator_conversation_id"], "AG_1")

    def account_balance(self, **kwargs: Any) -> AsyncRequestResponse:
        self._record(kwargs)
        return async_accepted(1)


def service_urls() -> list[str]:
    client = RecordingClient()
    service = MpesaService(client=client)  # type: ignore[arg-type]
    asyncio.run(service.stk_push("254708374149", 10, "ORDER1", "Payment"))
    asyncio.run(service.b2c_payment("254708374149", 500, "Refund", "Refund for order 1"))
    asyncio.run(service.get_account_balance())
    return client.urls


def flow_urls() -> list[str]:
    store, inbox, publisher = InMemoryRecordStore(), InMemoryInbox(), RecordingPublisher()
    outbox = Outbox(store, publisher, {Kind.STK: StkEvents(), Kind.B2C: B2cEvents()})
    stk_gateway, b2c_gateway = FakeStkGateway(), FakeB2cGateway()
    stk = StkPayments(StkDeps(SETTINGS, store, inbox, outbox, lambda: stk_gateway, None, FlowTiming()))
    stk.initiate(StkPaymentRequest("KE", "254708374149", 10, "ORDER1", "Payment"), request_key="k")
    b2c = B2cPayouts(
        B2cDeps(
            SETTINGS, store, inbox, outbox, InMemoryBudgets(), lambda: b2c_gateway, None, PayoutTiming(), GuardRails()
        )
    )
    request = PayoutRequest("KE", "254708374149", 500, "BusinessPayment", "Refund for order 1", None)
    payout_id = b2c.initiate(request, request_key="k").record.transaction_id
    b2c.resolve(payout_id, 0, 1)
    AccountBalances(SETTINGS, InMemoryBalances(), lambda: b2c_gateway).request(None)
    urls = [push["callback_url"] for push in stk_gateway.pushes]
    for call in [*b2c_gateway.payouts, *b2c_gateway.status_queries, *b2c_gateway.balance_requests]:
        urls.extend(str(call[name]) for name in URL_ARGUMENTS if call.get(name))
    return urls


SENT = sorted({urlsplit(url).path for url in [*service_urls(), *flow_urls()]})


def test_the_code_sends_the_urls_we_expect_to_check():
    assert len(SENT) >= 10
    assert {"/v1/hooks/b2c/result", "/v1/hooks/b2c/timeout", "/v1/hooks/balance/result"} <= set(SENT)


@pytest.mark.parametrize("path", SENT)
def test_every_callback_url_the_code_sends_is_a_template_route(path):
    assert any(route.match(path) for route in template_routes()), f"{path} is not served by template.yaml"
