"""Test-side helpers: a minimal Daraja client for the simulator (written from daraja-api.md)."""

from __future__ import annotations

import base64
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa

STK_SHORTCODE = "174379"
PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
B2C_SHORTCODE = "600996"
INITIATOR = "testapi"
INITIATOR_PASSWORD = "Safaricom999!*!"
SUCCESS_NUMBER = "254708374149"
INSUFFICIENT_NUMBER = "254111111111"
TIMEOUT_NUMBER = "254222222222"
CANCEL_NUMBER = "254333333333"


def eat_timestamp() -> str:
    return datetime.now(tz=ZoneInfo("Africa/Nairobi")).strftime("%Y%m%d%H%M%S")


def stk_password(timestamp: str, shortcode: str = STK_SHORTCODE, passkey: str = PASSKEY) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode()


def security_credential(certificate_pem: str, password: str = INITIATOR_PASSWORD) -> str:
    public_key = x509.load_pem_x509_certificate(certificate_pem.encode()).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    return base64.b64encode(public_key.encrypt(password.encode(), padding.PKCS1v15())).decode()


def wait_until(predicate: Any, timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


class Daraja:
    """Speaks to the simulator the way an integration would."""

    def __init__(self, base_url: str, callbacks_url: str) -> None:
        self.base = base_url
        self.callbacks = callbacks_url
        self._token: str | None = None
        self._cert: str | None = None

    # --- plumbing ------------------------------------------------------------------------------
    def token(self) -> str:
        response = requests.get(
            f"{self.base}/oauth/v1/generate",
            params={"grant_type": "client_credentials"},
            auth=("sim-consumer-key", "sim-consumer-secret"),
            timeout=5,
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def post(self, path: str, body: Any, token: str | None = None, **kwargs: Any) -> requests.Response:
        if token is None:
            if self._token is None:
                self._token = self.token()
            token = self._token
        timeout = kwargs.pop("timeout", 5)
        return requests.post(
            f"{self.base}{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            **kwargs,
        )

    def control(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(method, f"{self.base}/simulator{path}", json=body, timeout=5)

    def forget_token(self) -> None:
        self._token = None

    def credential(self, password: str = INITIATOR_PASSWORD) -> str:
        if self._cert is None:
            self._cert = requests.get(f"{self.base}/simulator/certificate", timeout=5).text
        return security_credential(self._cert, password)

    # --- request bodies ------------------------------------------------------------------------
    def stk_body(self, phone: str = SUCCESS_NUMBER, amount: Any = 10, **overrides: Any) -> dict[str, Any]:
        timestamp = eat_timestamp()
        body: dict[str, Any] = {
            "BusinessShortCode": STK_SHORTCODE,
            "Password": stk_password(timestamp),
            "Timestamp": timestamp,
            "TransactionType": "CustomerPayBillOnline",
            "Amount": amount,
            "PartyA": phone,
            "PartyB": STK_SHORTCODE,
            "PhoneNumber": phone,
            "CallBackURL": f"{self.callbacks}/stk",
            "AccountReference": "INV-001",
            "TransactionDesc": "Order 1",
        }
        body.update(overrides)
        return body

    def stk_push(self, phone: str = SUCCESS_NUMBER, amount: Any = 10, **overrides: Any) -> dict[str, Any]:
        response = self.post("/mpesa/stkpush/v1/processrequest", self.stk_body(phone, amount, **overrides))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def stk_query(self, checkout_request_id: str) -> requests.Response:
        timestamp = eat_timestamp()
        return self.post(
            "/mpesa/stkpushquery/v1/query",
            {
                "BusinessShortCode": STK_SHORTCODE,
                "Password": stk_password(timestamp),
                "Timestamp": timestamp,
                "CheckoutRequestID": checkout_request_id,
            },
        )

    def b2c_body(self, party_b: str = SUCCESS_NUMBER, ocid: str | None = "ocid-1", **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "InitiatorName": INITIATOR,
            "SecurityCredential": self.credential(),
            "CommandID": "BusinessPayment",
            "Amount": 100,
            "PartyA": B2C_SHORTCODE,
            "PartyB": party_b,
            "Remarks": "Refund order 1",
            "QueueTimeOutURL": f"{self.callbacks}/b2c/timeout",
            "ResultURL": f"{self.callbacks}/b2c/result",
            "Occassion": "Refund",
        }
        if ocid is not None:
            body["OriginatorConversationID"] = ocid
        body.update(overrides)
        return body

    def initiator_body(self, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Initiator": INITIATOR,
            "SecurityCredential": self.credential(),
            "ResultURL": f"{self.callbacks}/result",
            "QueueTimeOutURL": f"{self.callbacks}/timeout",
            "Remarks": "Reconcile",
        }
        body.update(fields)
        return body
