"""An answer is checked against its question before anything is done with it."""

import asyncio

import pytest

from mpesa.daraja.errors import AnswerMismatchError
from mpesa.service import MpesaService
from tests.support.fake_daraja import QUERY, answer, make_client


def query_answer(checkout_request_id, result_code="0"):
    return answer(
        200,
        {
            "ResponseCode": "0",
            "ResponseDescription": "accepted",
            "MerchantRequestID": "m-1",
            "CheckoutRequestID": checkout_request_id,
            "ResultCode": result_code,
            "ResultDesc": "ok",
        },
    )


def test_an_stk_query_answer_about_another_checkout_is_refused(fake, settings, clock):
    fake.queue(QUERY, query_answer("ws_CO_other"))
    with pytest.raises(AnswerMismatchError) as caught:
        make_client(settings, clock).stk_query("ws_CO_asked")
    assert (caught.value.asked, caught.value.answered) == ("ws_CO_asked", "ws_CO_other")
    assert "ws_CO" not in str(caught.value)  # identifiers stay out of messages and logs


def test_the_service_reports_it_as_unknown_never_as_the_other_payments_result(fake, settings, clock):
    fake.queue(QUERY, query_answer("ws_CO_other", "0"))
    result = asyncio.run(MpesaService(client=make_client(settings, clock)).query_stk_push("ws_CO_asked"))
    assert (result["success"], result["status"], result["error_code"]) == (False, "unknown", "ANSWER_MISMATCH")
    assert result["result_code"] is None
