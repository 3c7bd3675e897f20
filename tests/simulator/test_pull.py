"""Pull Transactions: register once, then page through the shortcode's completed transactions."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from simulator.clock import NAIROBI
from tests.support.daraja_wire import B2C_SHORTCODE, SUCCESS_NUMBER, Daraja, wait_until
from tests.support.receiver import CallbackReceiver

REGISTER = "/pulltransactions/v1/register"
QUERY = "/pulltransactions/v1/query"
STK_SHORTCODE = "174379"


def register(daraja: Daraja, shortcode: str = STK_SHORTCODE, **overrides: Any) -> requests.Response:
    body: dict[str, Any] = {
        "ShortCode": shortcode,
        "RequestType": "Pull",
        "NominatedNumber": "0722000000",
        "CallBackURL": f"{daraja.callbacks}/pull",
    }
    body.update(overrides)
    return daraja.post(REGISTER, body)


def pull_date(moment: datetime) -> str:
    return moment.astimezone(NAIROBI).strftime("%Y-%m-%d %H:%M:%S")


def query(
    daraja: Daraja,
    shortcode: str = STK_SHORTCODE,
    offset: Any = "0",
    start: datetime | None = None,
    end: datetime | None = None,
    **overrides: Any,
) -> requests.Response:
    now = datetime.now(tz=NAIROBI)
    body: dict[str, Any] = {
        "ShortCode": shortcode,
        "StartDate": pull_date(start or now - timedelta(hours=1)),
        "EndDate": pull_date(end or now + timedelta(minutes=1)),
        "OffSetValue": offset,
    }
    body.update(overrides)
    return daraja.post(QUERY, body)


def transactions(response: requests.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    [page] = body["Response"]
    assert isinstance(page, list)
    return page


def paid_stk(daraja: Daraja, receiver: CallbackReceiver, amount: int = 10, reference: str = "INV-001") -> str:
    count = len(receiver.records("/stk")) + 1
    daraja.stk_push(SUCCESS_NUMBER, amount=amount, AccountReference=reference)
    items = receiver.wait("/stk", count=count)[-1].body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    receipt: str = next(i["Value"] for i in items if i["Name"] == "MpesaReceiptNumber")
    return receipt


# --- register -----------------------------------------------------------------------------------
def test_register_once_then_already_registered(daraja: Daraja) -> None:
    first = register(daraja)
    assert first.status_code == 200
    body = first.json()
    assert (body["ResponseStatus"], body["ShortCode"]) == ("1000", STK_SHORTCODE)
    assert body["ResponseDescription"] == "Shortcode Registered Successfully"
    assert re.fullmatch(r"[0-9a-f-]{36}", body["ResponseRefID"])
    again = register(daraja, NominatedNumber="254722000000").json()
    assert (again["ResponseStatus"], again["ResponseDescription"]) == ("1001", "ShortCode already Registered")
    [kept] = daraja.control("GET", "/pull/registrations").json()
    assert kept["nominated_number"] == "0722000000"  # the first registration stands


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ShortCode": "17437x"}, "ShortCode"),
        ({"RequestType": "Push"}, "RequestType"),
        ({"RequestType": None}, "RequestType"),
        ({"NominatedNumber": "072200000"}, "NominatedNumber"),
        ({"NominatedNumber": "+254722000000"}, "NominatedNumber"),
        ({"CallBackURL": "https://pay.example.com/mpesa/pull"}, "CallBackURL"),
    ],
)
def test_register_validates_fields(daraja: Daraja, overrides: dict[str, Any], field: str) -> None:
    response = register(daraja, **overrides)
    assert response.status_code == 400
    assert response.json()["errorMessage"] == f"Bad Request - Invalid {field}"
    assert daraja.control("GET", "/pull/registrations").json() == []


def test_register_and_query_need_a_token(daraja: Daraja) -> None:
    for path in (REGISTER, QUERY):
        response = requests.post(f"{daraja.base}{path}", json={"ShortCode": STK_SHORTCODE}, timeout=5)
        assert (response.status_code, response.json()["errorCode"]) == (401, "404.001.04")


def test_body_must_be_json(daraja: Daraja) -> None:
    response = requests.post(
        f"{daraja.base}{QUERY}",
        data="ShortCode=174379",
        headers={"Authorization": f"Bearer {daraja.token()}", "Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    assert (response.status_code, response.json()["errorCode"]) == (400, "400.002.05")


# --- query --------------------------------------------------------------------------------------
def test_query_of_an_unregistered_shortcode_is_refused(daraja: Daraja) -> None:
    response = query(daraja)
    assert response.status_code == 400
    assert (response.json()["errorCode"], response.json()["errorMessage"]) == ("400.001", "Invalid ShortCode")


def test_query_of_a_shortcode_without_any_transaction_is_500(daraja: Daraja) -> None:
    register(daraja)
    response = query(daraja)
    assert response.status_code == 500
    assert response.json()["errorMessage"].startswith("Failed to retrieve transactions.")


def test_stk_payment_is_listed_in_daraja_shape(daraja: Daraja, receiver: CallbackReceiver) -> None:
    register(daraja)
    receipt = paid_stk(daraja, receiver, amount=168, reference="37207636392")
    response = query(daraja)
    body = response.json()
    assert (body["ResponseCode"], body["ResponseMessage"]) == ("1000", "Success")
    assert body["ResponseRefID"]
    [item] = transactions(response)
    assert item == {
        "transactionId": receipt,
        "trxDate": item["trxDate"],
        "msisdn": "2547 ***** 149",
        "sender": "John Doe",
        "transactiontype": "c2b-pay-bill-debit",
        "billreference": "37207636392",
        "amount": "168.00",
        "organizationname": "SIMULATOR SHOP",
    }
    settled = daraja.control("GET", "/receipts").json()[0]["completed_at"]
    assert datetime.strptime(item["trxDate"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) == datetime.fromisoformat(
        settled
    ).replace(microsecond=0)


def test_a_payment_whose_callback_was_dropped_is_listed(daraja: Daraja, receiver: CallbackReceiver) -> None:
    register(daraja)
    daraja.control("PATCH", "/config", {"callback_mode": "drop"})
    checkout = daraja.stk_push(SUCCESS_NUMBER)["CheckoutRequestID"]
    record = wait_until(lambda: (r := daraja.control("GET", f"/stk/{checkout}").json())["receipt"] and r)
    wait_until(lambda: daraja.control("GET", "/callbacks?kind=stk").json())
    assert receiver.records("/stk") == []
    assert [t["transactionId"] for t in transactions(query(daraja))] == [record["receipt"]]


def test_journal_has_payments_payouts_and_reversals_per_shortcode(daraja: Daraja, receiver: CallbackReceiver) -> None:
    register(daraja)
    register(daraja, B2C_SHORTCODE)
    stk_receipt = paid_stk(daraja, receiver, amount=40)
    daraja.post(
        "/mpesa/c2b/v2/simulate",
        {
            "ShortCode": STK_SHORTCODE,
            "CommandID": "CustomerBuyGoodsOnline",
            "Amount": 15,
            "Msisdn": SUCCESS_NUMBER,
            "BillRefNumber": None,
        },
    )
    c2b_receipt = wait_until(
        lambda: [r["receipt"] for r in daraja.control("GET", "/receipts").json() if r["kind"] == "c2b"]
    )[0]
    daraja.post(
        "/mpesa/reversal/v1/request",
        daraja.initiator_body(
            CommandID="TransactionReversal",
            TransactionID=stk_receipt,
            Amount=40,
            ReceiverParty=STK_SHORTCODE,
            RecieverIdentifierType="11",
        ),
    )
    reversal = receiver.wait("/result")[0].body["Result"]["TransactionID"]
    daraja.post("/mpesa/b2c/v3/paymentrequest", daraja.b2c_body(ocid="pull-1"))
    payout = receiver.wait("/b2c/result")[0].body["Result"]["TransactionID"]

    kinds = {t["transactionId"]: (t["transactiontype"], t["amount"], t["sender"]) for t in transactions(query(daraja))}
    assert kinds == {
        stk_receipt: ("c2b-pay-bill-debit", "40.00", "John Doe"),
        c2b_receipt: ("c2b-buy-goods-debit", "15.00", "John Doe"),
        reversal: ("reversal", "40.00", "SIMULATOR SHOP"),
    }
    [b2c] = transactions(query(daraja, B2C_SHORTCODE))
    assert (b2c["transactionId"], b2c["transactiontype"], b2c["msisdn"]) == (payout, "b2c-payment", "2547 ***** 149")


def test_pages_by_offset(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.control("PATCH", "/config", {"pull_page_size": 2})
    register(daraja)
    receipts = [paid_stk(daraja, receiver, amount=10 + n) for n in range(5)]
    pages = [[t["transactionId"] for t in transactions(query(daraja, offset=offset))] for offset in (0, 2, 4)]
    assert pages == [receipts[0:2], receipts[2:4], receipts[4:5]]
    beyond = query(daraja, offset=6).json()
    assert (beyond["ResponseCode"], beyond["Response"]) == ("1001", [[]])
    assert beyond["ResponseMessage"] == "No transactions available for the selected time period"
    assert [t["transactionId"] for t in transactions(query(daraja, offset=3))] == receipts[3:5]  # a number is fine


def test_window_filters_by_completion_time(daraja: Daraja, receiver: CallbackReceiver) -> None:
    register(daraja)
    paid_stk(daraja, receiver)
    now = datetime.now(tz=NAIROBI)
    earlier = query(daraja, start=now - timedelta(hours=3), end=now - timedelta(hours=2)).json()
    assert (earlier["ResponseCode"], earlier["Response"]) == ("1001", [[]])
    short_form = query(daraja, StartDate=(now - timedelta(hours=1)).strftime("%Y-%m-%d %-H:%M"))
    assert len(transactions(short_form)) == 1  # the docs' own samples drop seconds and the hour's zero


def test_transactions_older_than_the_retention_are_gone(daraja: Daraja, receiver: CallbackReceiver) -> None:
    register(daraja)
    daraja.control("PATCH", "/config", {"pull_retention_s": 0.5})
    paid_stk(daraja, receiver)
    assert len(transactions(query(daraja))) == 1
    time.sleep(0.6)
    assert query(daraja).status_code == 500  # nothing left within the retention


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"StartDate": "2020-08-04T08:36:00"}, "StartDate"),
        ({"StartDate": "2020-02-30 08:36:00"}, "StartDate"),
        ({"EndDate": "20200804083600"}, "EndDate"),
        ({"EndDate": "2000-01-01 00:00:00"}, "EndDate"),
        ({"OffSetValue": "-1"}, "OffSetValue"),
        ({"OffSetValue": "ten"}, "OffSetValue"),
        ({"OffSetValue": None}, "OffSetValue"),
        ({"ShortCode": "1"}, "ShortCode"),
    ],
)
def test_query_validates_fields(daraja: Daraja, overrides: dict[str, Any], field: str) -> None:
    register(daraja)
    response = query(daraja, **overrides)
    assert response.status_code == 400
    assert response.json()["errorMessage"] == f"Bad Request - Invalid {field}"


def test_pull_faults_apply_like_any_daraja_path(daraja: Daraja) -> None:
    register(daraja)
    daraja.control("POST", "/faults", {"path": QUERY, "kind": "status", "status": 503})
    assert query(daraja).status_code == 503
