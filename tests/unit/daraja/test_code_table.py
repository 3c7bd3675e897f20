"""One table of codes: every result code in the Daraja reference (§6) means the same through
MpesaService (query_stk_push), the STK flow (the record's status) and the payment API (its view)."""

import asyncio
import json

import pytest

from mpesa.codes import KNOWN_CODES, Disposition, classify
from mpesa.daraja.callbacks import parse_stk_callback
from mpesa.flows.stk import payment_view, status_for, validate_request
from mpesa.records import Status
from mpesa.service import MpesaService
from tests.support.daraja import make_settings
from tests.support.fake_daraja import QUERY, answer, make_client
from tests.support.fakes import stk_flow
from tests.support.stk import stk_callback

# Codes of other APIs' envelopes or of our own C2B answers: not results of an STK payment.
NOT_STK_RESULTS = {"500.001.1001"} | {code for code in KNOWN_CODES if code.startswith("C2B")}
STK_CODES = sorted(KNOWN_CODES - NOT_STK_RESULTS)


def query_through_the_service(fake, settings, clock, code):
    fake.queue(
        QUERY,
        answer(
            200,
            {
                "ResponseCode": "0",
                "ResponseDescription": "accepted",
                "MerchantRequestID": "m-1",
                "CheckoutRequestID": "ws_CO_1",
                "ResultCode": code,
                "ResultDesc": f"result {code}",
            },
        ),
    )
    return asyncio.run(MpesaService(client=make_client(settings, clock)).query_stk_push("ws_CO_1"))


def settle_through_the_flow(code):
    flow = stk_flow(make_settings(MPESA_CALLBACK_SECRET="s" * 40))
    request = validate_request(
        country="KE",
        phone_number="254712345678",
        amount="10",
        account_reference="ORDER1",
        transaction_desc="Test",
        settings=flow.settings,
    )
    record = flow.payments.initiate(request, request_key=f"k\n{code}").record
    payload = stk_callback(record.checkout_request_id, result_code=int(code) if code.isdigit() else code)
    flow.payments.apply_callback(parse_stk_callback(json.dumps(payload)), transaction_id=record.transaction_id)
    return flow.store.get(record.transaction_id)


@pytest.mark.parametrize("code", STK_CODES)
def test_a_code_means_the_same_through_the_service_the_flow_and_the_api(fake, settings, clock, code):
    info = classify(code)
    service = query_through_the_service(fake, settings, clock, code)
    record = settle_through_the_flow(code)
    view = payment_view(record)
    if info.disposition is Disposition.PENDING:
        assert (service["status"], service["result_code"]) == ("pending", None)
        assert status_for(code) is None
        assert record.status is Status.PENDING
        return
    assert service["status"] == info.outcome.value
    assert (service["retryable"], service["retry_after_s"]) == (info.retryable, info.retry_after_s)
    assert record.status is (status_for(code) or Status.PENDING)
    assert info.final == record.status.is_final
    if record.status.is_final:
        assert (view["outcome"], view["retryable"], view["retry_after_s"]) == (
            info.outcome.value,
            info.retryable,
            info.retry_after_s,
        )


def test_unable_to_lock_subscriber_is_retryable_after_a_minute_everywhere():
    assert (classify(1001).final, classify(1001).retryable, classify(1001).retry_after_s) == (True, True, 60)
    assert status_for("1001") is Status.FAILED  # this prompt ended; the customer may be asked again
