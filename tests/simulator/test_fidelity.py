"""Fidelity gaps a backend could otherwise slip through: C2B validation off by default, queued B2C
payouts, queue timeouts that still pay, reversal checks, wire quirks, control-API hygiene."""

from __future__ import annotations

from typing import Any

import pytest
import requests

import simulator.__main__ as cli
from tests.support.daraja_wire import B2C_SHORTCODE, SUCCESS_NUMBER, Daraja, wait_until
from tests.support.receiver import CallbackReceiver

B2C = "/mpesa/b2c/v3/paymentrequest"
STATUS = "/mpesa/transactionstatus/v1/query"
REVERSAL = "/mpesa/reversal/v1/request"
C2B_SHORTCODE = "600997"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (only parsed, never bound)


def parameters(result: dict[str, Any]) -> dict[str, Any]:
    return {p["Key"]: p["Value"] for p in result["ResultParameters"]["ResultParameter"]}


def receipts_for(daraja: Daraja, ocid: str) -> list[dict[str, Any]]:
    return [r for r in daraja.control("GET", "/receipts").json() if r["originator_conversation_id"] == ocid]


def status_result(daraja: Daraja, receiver: CallbackReceiver, count: int, **identifier: str) -> dict[str, Any]:
    body = daraja.initiator_body(
        CommandID="TransactionStatusQuery", PartyA=B2C_SHORTCODE, IdentifierType="4", **identifier
    )
    assert daraja.post(STATUS, body).status_code == 200
    result: dict[str, Any] = receiver.wait("/result", count=count)[count - 1].body["Result"]
    return result


# --- C2B external validation ------------------------------------------------------------------
def register_and_pay(daraja: Daraja) -> None:
    registered = daraja.post(
        "/mpesa/c2b/v2/registerurl",
        {
            "ShortCode": C2B_SHORTCODE,
            "ResponseType": "Completed",
            "ConfirmationURL": f"{daraja.callbacks}/c2b/confirmation",
            "ValidationURL": f"{daraja.callbacks}/c2b/validation",
        },
    )
    assert registered.status_code == 200, registered.text


def simulate(daraja: Daraja, bill_ref: str) -> None:
    body = {
        "ShortCode": C2B_SHORTCODE,
        "CommandID": "CustomerPayBillOnline",
        "Amount": 150,
        "Msisdn": SUCCESS_NUMBER,
        "BillRefNumber": bill_ref,
    }
    assert daraja.post("/mpesa/c2b/v2/simulate", body).status_code == 200


def test_c2b_external_validation_is_off_by_default(daraja: Daraja, receiver: CallbackReceiver) -> None:
    assert daraja.control("GET", "/config").json()["c2b_external_validation"] is False
    register_and_pay(daraja)
    assert daraja.control("GET", "/c2b/registrations").json()[0]["external_validation"] is False
    simulate(daraja, "ACC-1")
    confirmation = receiver.wait("/c2b/confirmation")[0].body
    assert confirmation["BillRefNumber"] == "ACC-1"
    assert receiver.records("/c2b/validation") == []  # the confirmation came after any validation would


def test_c2b_validation_can_be_enabled_per_registration(daraja: Daraja, receiver: CallbackReceiver) -> None:
    register_and_pay(daraja)
    switched = daraja.control("PUT", f"/c2b/registrations/{C2B_SHORTCODE}", {"external_validation": True})
    assert switched.json()["external_validation"] is True
    simulate(daraja, "ACC-2")
    assert receiver.wait("/c2b/validation")[0].body["BillRefNumber"] == "ACC-2"
    receiver.wait("/c2b/confirmation")


# --- B2C: queued, then completed ---------------------------------------------------------------
def test_a_queued_payout_is_not_found_by_transaction_status(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.control("PATCH", "/config", {"b2c_processing_delay_s": 300})  # stays queued for the test
    assert daraja.post(B2C, daraja.b2c_body(ocid="queued-1")).json()["ResponseCode"] == "0"
    assert [r["state"] for r in receipts_for(daraja, "queued-1")] == ["queued"]
    result = status_result(daraja, receiver, 1, OriginalConversationID="queued-1")
    assert (result["ResultCode"], result["ResultDesc"]) == (2032, "The transaction receipt number does not exist.")
    assert receiver.records("/b2c/result") == []
    balances = daraja.control("GET", "/balances").json()
    assert balances["utility"] == "1000000.00"  # nothing debited while queued


def test_the_result_follows_completion_and_status_then_finds_it(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.post(B2C, daraja.b2c_body(ocid="queued-2"))
    result = receiver.wait("/b2c/result")[0].body["Result"]
    assert result["ResultCode"] == 0
    assert [r["state"] for r in receipts_for(daraja, "queued-2")] == ["completed"]
    status = status_result(daraja, receiver, 1, OriginalConversationID="queued-2")
    assert parameters(status)["TransactionStatus"] == "Completed"


def test_queue_timeout_then_the_payout_still_completes(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.control("POST", "/faults", {"path": B2C, "kind": "queue_timeout", "after_processing": True})
    daraja.post(B2C, daraja.b2c_body(ocid="late-1"))
    timeout = receiver.wait("/b2c/timeout")[0].body["Result"]
    assert timeout["ResultDesc"] == "The service request has timed out."
    wait_until(lambda: [r["state"] for r in receipts_for(daraja, "late-1")] == ["completed"])
    status = status_result(daraja, receiver, 1, OriginalConversationID="late-1")
    assert parameters(status)["TransactionStatus"] == "Completed"  # a timeout is not "not paid"
    assert receiver.records("/b2c/result") == []


def test_queue_timeout_with_a_late_result(daraja: Daraja, receiver: CallbackReceiver) -> None:
    spec = {"path": B2C, "kind": "queue_timeout", "after_processing": True, "late_result": True}
    daraja.control("POST", "/faults", spec)
    daraja.post(B2C, daraja.b2c_body(ocid="late-2"))
    receiver.wait("/b2c/timeout")
    result = receiver.wait("/b2c/result")[0].body["Result"]
    assert (result["ResultCode"], result["OriginatorConversationID"]) == (0, "late-2")
    wait_until(lambda: len(daraja.control("GET", "/callbacks").json()) == 2)
    kinds = [e["kind"] for e in daraja.control("GET", "/callbacks").json()]
    assert kinds == ["queue_timeout", "b2c_result"]  # the notice first, the result after completion


# --- Reversal ----------------------------------------------------------------------------------
def paid_receipt(daraja: Daraja, receiver: CallbackReceiver) -> str:
    daraja.stk_push(SUCCESS_NUMBER, amount=40)
    items = receiver.wait("/stk")[0].body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    receipt: str = next(i["Value"] for i in items if i["Name"] == "MpesaReceiptNumber")
    return receipt


def reverse(daraja: Daraja, receiver: CallbackReceiver, n: int, receipt: str, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"Amount": 40, "ReceiverParty": "174379", **fields}
    body = daraja.initiator_body(
        CommandID="TransactionReversal", TransactionID=receipt, RecieverIdentifierType="11", **values
    )
    assert daraja.post(REVERSAL, body).status_code == 200
    result: dict[str, Any] = receiver.wait("/result", count=n)[n - 1].body["Result"]
    return result


@pytest.mark.parametrize("mismatch", [{"Amount": 39}, {"Amount": 41}, {"ReceiverParty": "600996"}])
def test_reversal_must_match_amount_and_receiver(
    daraja: Daraja, receiver: CallbackReceiver, mismatch: dict[str, Any]
) -> None:
    receipt = paid_receipt(daraja, receiver)
    refused = reverse(daraja, receiver, 1, receipt, **mismatch)
    assert (refused["ResultCode"], refused["ResultDesc"]) == ("R000002", "The OriginalTransactionID is invalid.")
    assert "ResultParameters" not in refused
    assert daraja.control("GET", "/balances").json()["utility"] == "1000040.00"  # nothing moved
    assert reverse(daraja, receiver, 2, receipt)["ResultCode"] == 0  # the right request still works


def test_reversed_transaction_reports_reversed_and_cannot_be_reversed_again(
    daraja: Daraja, receiver: CallbackReceiver
) -> None:
    receipt = paid_receipt(daraja, receiver)
    assert reverse(daraja, receiver, 1, receipt)["ResultCode"] == 0
    status = status_result(daraja, receiver, 2, TransactionID=receipt)
    assert parameters(status)["TransactionStatus"] == "Reversed"
    again = reverse(daraja, receiver, 3, receipt)
    assert again["ResultCode"] == "R000001"


def test_a_queued_payout_cannot_be_reversed_yet(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.control("PATCH", "/config", {"b2c_processing_delay_s": 300})
    daraja.post(B2C, daraja.b2c_body(ocid="queued-3"))
    queued = receipts_for(daraja, "queued-3")[0]["receipt"]
    refused = reverse(daraja, receiver, 1, queued, Amount=100, ReceiverParty=B2C_SHORTCODE)
    assert refused["ResultCode"] == "R000002"


# --- wire quirk: ResultCode as a string ---------------------------------------------------------
def test_result_code_as_string(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.control("PATCH", "/config", {"result_code_as_string": True})
    daraja.post(B2C, daraja.b2c_body(ocid="str-1"))
    assert receiver.wait("/b2c/result")[0].body["Result"]["ResultCode"] == "0"
    daraja.stk_push(SUCCESS_NUMBER)
    assert receiver.wait("/stk")[0].body["Body"]["stkCallback"]["ResultCode"] == "0"


def test_result_code_is_a_number_by_default(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.stk_push(SUCCESS_NUMBER)
    assert receiver.wait("/stk")[0].body["Body"]["stkCallback"]["ResultCode"] == 0


# --- control API hygiene ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("callback_mode=drop", "application/x-www-form-urlencoded"),
        ('{"callback_mode": "drop"}', "text/plain"),
        ("", "multipart/form-data; boundary=x"),
    ],
)
def test_control_api_refuses_non_json_bodies(daraja: Daraja, data: str, content_type: str) -> None:
    for method, path in (("PATCH", "/config"), ("POST", "/reset"), ("POST", "/faults"), ("DELETE", "/faults")):
        response = requests.request(
            method, f"{daraja.base}/simulator{path}", data=data, headers={"Content-Type": content_type}, timeout=5
        )
        assert response.status_code == 415, (method, path, response.text)
        assert "application/json" in response.json()["error"]
    assert daraja.control("GET", "/config").json()["callback_mode"] == "normal"


def test_control_api_refuses_a_body_without_content_type(daraja: Daraja) -> None:
    response = requests.post(f"{daraja.base}/simulator/faults", data=b'{"kind": "status"}', timeout=5)
    assert response.status_code == 415
    assert daraja.control("GET", "/faults").json() == []


def test_control_api_refuses_cross_origin_browser_requests(daraja: Daraja) -> None:
    evil = {"Origin": "https://evil.example"}
    assert requests.post(f"{daraja.base}/simulator/tokens/revoke", headers=evil, timeout=5).status_code == 403
    patched = requests.patch(f"{daraja.base}/simulator/config", json={"callback_mode": "drop"}, headers=evil, timeout=5)
    assert patched.status_code == 403
    same = {"Origin": daraja.base}
    assert requests.post(f"{daraja.base}/simulator/reset", headers=same, timeout=5).status_code == 200


def test_control_api_accepts_json_and_bodyless_requests(daraja: Daraja) -> None:
    assert requests.post(f"{daraja.base}/simulator/reset", timeout=5).status_code == 200
    assert requests.delete(f"{daraja.base}/simulator/requests", timeout=5).status_code == 200
    patched = requests.patch(f"{daraja.base}/simulator/config", json={"callback_mode": "drop"}, timeout=5)
    assert patched.json()["callback_mode"] == "drop"
    charset = {"Content-Type": "application/json; charset=utf-8"}
    response = requests.post(f"{daraja.base}/simulator/security-credential", data="{}", headers=charset, timeout=5)
    assert response.status_code == 200


def test_phone_page_sends_json_from_its_fetch_calls(daraja: Daraja) -> None:
    page = requests.get(f"{daraja.base}/phone", timeout=5).text
    posts = page.count('method: "POST"')
    assert posts >= 1
    assert page.count('"Content-Type": "application/json"') >= posts


# --- command line -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        (ALL_INTERFACES, False),
        ("192.168.1.5", False),
        ("::", False),
        ("sim.example", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert cli.is_loopback(host) is loopback


class _FakeServer:
    url = "http://0.0.0.0:1"
    certificate_pem = ""

    def __init__(self, **_: Any) -> None:
        pass

    def serve_forever(self) -> None:
        raise KeyboardInterrupt


@pytest.mark.parametrize(("host", "warned"), [(ALL_INTERFACES, True), ("127.0.0.1", False)])
def test_command_line_warns_when_exposed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], host: str, warned: bool
) -> None:
    monkeypatch.setattr(cli, "SimulatorServer", _FakeServer)
    assert cli.main(["--host", host, "--port", "0"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "Daraja simulator listening on http://0.0.0.0:1\n"
    assert ("unauthenticated" in captured.err or "no authentication" in captured.err) is warned
