"""Every INS code the simulator emits, reached through the client, lands in the shared outcome table
as the shared table says (tests/support/ins_codes.py), with the right error class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mpesa.clock import Deadline
from mpesa.codes import classify_ins
from mpesa.errors import InputError, MayHaveMovedError, RefusedError
from mpesa.openapi.client import new_conversation_id
from mpesa.openapi.errors import (
    OpenApiDuplicateError,
    OpenApiOutcomeUnknownError,
    OpenApiRefusedError,
    SessionRefusedError,
    TransactionNotFoundError,
)
from simulator.openapi import codes as simulator_codes
from simulator.openapi.routes import FAULT_CODES
from tests.support.ins_codes import EXPECTED
from tests.support.openapi import build_openapi_client

B2C = "/sandbox/ipg/v2/vodacomTZN/b2cPayment/"


def pay_out(client: Any, msisdn: str = "255740000001", amount: int = 800, caller_id: str | None = None) -> Any:
    return client.b2c_payment(
        customer_msisdn=msisdn,
        amount=amount,
        transaction_reference="PAYOUT-5",
        payment_items_desc="Refund",
        third_party_conversation_id=caller_id or new_conversation_id(),
    )


def collect(client: Any, msisdn: str) -> Any:
    return client.c2b_single_stage(
        customer_msisdn=msisdn,
        amount=800,
        transaction_reference="ORDER-5",
        purchased_items_desc="Ticket",
        third_party_conversation_id=new_conversation_id(),
        deadline=Deadline.within(30),
    )


def _success(simulator, settings_for):
    return pay_out(build_openapi_client(settings_for()))


def _internal_error(simulator, settings_for):
    simulator.fault(B2C, "status", status=500)
    pay_out(build_openapi_client(settings_for()))


def _invalid_api_key(simulator, settings_for):
    pay_out(build_openapi_client(settings_for(MPESA_TZ_API_KEY="wrong")))


def _cancelled(simulator, settings_for):
    collect(build_openapi_client(settings_for()), "255740000003")


def _failed(simulator, settings_for):
    collect(build_openapi_client(settings_for()), "255740000004")


def _timeout(simulator, settings_for):
    collect(build_openapi_client(settings_for()), "255740000005")


def _duplicate(simulator, settings_for):
    client, caller_id = build_openapi_client(settings_for()), new_conversation_id()
    pay_out(client, caller_id=caller_id)
    pay_out(client, caller_id=caller_id)


def _invalid_shortcode(simulator, settings_for):
    pay_out(build_openapi_client(settings_for(MPESA_TZ_SERVICE_PROVIDER_CODE="123456")))


def _invalid_amount(simulator, settings_for):
    pay_out(build_openapi_client(settings_for()), amount=5_000_001)


def _overloaded(simulator, settings_for):
    simulator.fault(B2C, "status", status=503)
    pay_out(build_openapi_client(settings_for()))


def _invalid_transaction_id(simulator, settings_for):
    build_openapi_client(settings_for()).query_transaction_status("NOSUCHTX01")


def _validation_failed(simulator, settings_for):
    simulator.fault(B2C, "status", status=400)
    pay_out(build_openapi_client(settings_for()))


def _not_authorised(simulator, settings_for):
    simulator.configure(openapi_session_activation_delay_s=60)
    pay_out(build_openapi_client(settings_for()))


def _session_failed(simulator, settings_for):
    simulator.configure(openapi_allowed_origin="https://pinned.example")
    pay_out(build_openapi_client(settings_for()))


def _invalid_market(simulator, settings_for):
    settings = settings_for(MPESA_TZ_MARKET="vodacomDRC", MPESA_TZ_COUNTRY="DRC", MPESA_TZ_CURRENCY="USD")
    pay_out(build_openapi_client(settings))


def _insufficient_balance(simulator, settings_for):
    pay_out(build_openapi_client(settings_for()), msisdn="255740000002")


def _invalid_msisdn(simulator, settings_for):
    collect(build_openapi_client(settings_for()), "255740000009")


Scenario = Callable[[Any, Any], Any]
# code -> (how to make the simulator answer it, the error the client raises; None = success)
SCENARIOS: dict[str, tuple[Scenario, type[Exception] | None]] = {
    "INS-0": (_success, None),
    "INS-1": (_internal_error, OpenApiOutcomeUnknownError),
    "INS-2": (_invalid_api_key, SessionRefusedError),
    "INS-5": (_cancelled, OpenApiRefusedError),
    "INS-6": (_failed, OpenApiRefusedError),
    "INS-9": (_timeout, OpenApiOutcomeUnknownError),
    "INS-10": (_duplicate, OpenApiDuplicateError),
    "INS-13": (_invalid_shortcode, OpenApiRefusedError),
    "INS-15": (_invalid_amount, OpenApiRefusedError),
    "INS-16": (_overloaded, OpenApiRefusedError),
    "INS-18": (_invalid_transaction_id, TransactionNotFoundError),
    "INS-21": (_validation_failed, OpenApiRefusedError),
    "INS-26": (_not_authorised, SessionRefusedError),
    "INS-989": (_session_failed, SessionRefusedError),
    "INS-998": (_invalid_market, SessionRefusedError),
    "INS-2006": (_insufficient_balance, OpenApiRefusedError),
    "INS-2051": (_invalid_msisdn, OpenApiRefusedError),
}
# What our client refuses before sending, so the simulator never gets to answer it.
CAUGHT_BEFORE_SENDING = {"INS-17": {"transaction_reference": "R" * 21}, "INS-20": {"payment_items_desc": ""}}


def test_every_emitted_code_is_covered_here():
    assert {ins.code for ins in simulator_codes.EMITTED} == set(SCENARIOS) | set(CAUGHT_BEFORE_SENDING)
    assert {ins.code for ins in FAULT_CODES.values()} <= set(SCENARIOS)


@pytest.mark.parametrize("code", sorted(SCENARIOS))
def test_each_emitted_code_reaches_its_outcome(simulator, settings_for, code):
    scenario, expected = SCENARIOS[code]
    if expected is None:
        answer = scenario(simulator, settings_for)
        assert answer.response_code == code
        assert (answer.info.disposition, answer.info.outcome) == EXPECTED[code]
        return
    with pytest.raises(expected) as caught:
        scenario(simulator, settings_for)
    error = caught.value
    assert error.response_code == code
    info = classify_ins(error.response_code)
    assert (info.disposition, info.outcome) == EXPECTED[code]
    if isinstance(error, OpenApiRefusedError):
        assert isinstance(error, RefusedError)
        assert error.info == info
        assert info.final  # a refusal is always an ended request
    else:
        assert isinstance(error, MayHaveMovedError)
        assert not info.final  # an unknown outcome is never settled on its code


@pytest.mark.parametrize("code", sorted(CAUGHT_BEFORE_SENDING))
def test_codes_for_requests_we_never_send_are_refused_locally(simulator, settings_for, code):
    client = build_openapi_client(settings_for())
    field, value = next(iter(CAUGHT_BEFORE_SENDING[code].items()))
    values = {
        "customer_msisdn": "255740000001",
        "amount": 800,
        "transaction_reference": "PAYOUT-6",
        "payment_items_desc": "Refund",
        "third_party_conversation_id": new_conversation_id(),
    }
    with pytest.raises(InputError) as caught:
        client.b2c_payment(**(values | {field: value}))
    assert caught.value.field == field
    assert simulator.calls() == []
