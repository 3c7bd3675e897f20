"""Test-side helpers: a minimal Vodacom M-Pesa OpenAPI client for the simulator.

Written from the protocol notes (peers.md), not from the simulator's code: the public key is the
portal's base64 DER SubjectPublicKeyInfo, bearers are base64(RSA PKCS#1 v1.5(value)).
"""

from __future__ import annotations

import base64
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from tests.support.daraja_wire import wait_until

API_KEY = "sim-openapi-api-key"
MARKET = "vodacomTZN"
SERVICE_PROVIDER_CODE = "000000"
SANDBOX_CUSTOMER = "000000000001"
PAYS = "255740000001"
INSUFFICIENT_FUNDS = "255740000002"
CANCELS = "255740000003"
WRONG_PIN = "255740000004"
NEVER_ANSWERS = "255740000005"
PAYS_AFTER_TIMEOUT = "255740000006"
UNREGISTERED = "255740000009"
PERSON = "255712345678"  # no test behaviour: waits for the phone
ECHO_KEYS = {
    "output_ResponseCode",
    "output_ResponseDesc",
    "output_TransactionID",
    "output_ConversationID",
    "output_ThirdPartyConversationID",
}


def caller_id() -> str:
    return uuid.uuid4().hex


def encrypt(public_key: rsa.RSAPublicKey, value: str) -> str:
    return base64.b64encode(public_key.encrypt(value.encode(), padding.PKCS1v15())).decode()


class OpenApi:
    """Speaks to the simulator the way an integration would (one session, reused)."""

    def __init__(self, base_url: str, environment: str = "sandbox", market: str = MARKET) -> None:
        self.base = base_url
        self.environment = environment
        self.market = market
        self._public_key: rsa.RSAPublicKey | None = None
        self._session_id: str | None = None
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="openapi-test")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # --- plumbing ------------------------------------------------------------------------------
    @property
    def public_key(self) -> rsa.RSAPublicKey:
        if self._public_key is None:
            text = requests.get(f"{self.base}/simulator/openapi/public-key", timeout=5).text
            key = load_der_public_key(base64.b64decode(text))
            assert isinstance(key, rsa.RSAPublicKey)
            self._public_key = key
        return self._public_key

    def encrypt(self, value: str) -> str:
        return encrypt(self.public_key, value)

    def url(self, suffix: str, environment: str | None = None, market: str | None = None) -> str:
        return f"{self.base}/{environment or self.environment}/ipg/v2/{market or self.market}/{suffix}"

    def get_session(
        self, api_key: str = API_KEY, origin: str | None = "*", environment: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.encrypt(api_key)}"}
        if origin is not None:
            headers["Origin"] = origin
        headers.update(kwargs.pop("headers", {}))
        url = self.url("getSession/", environment, kwargs.pop("market", None))
        return requests.get(url, headers=headers, timeout=5)

    def new_session(self, environment: str | None = None) -> str:
        response = self.get_session(environment=environment)
        assert response.status_code == 200, response.text
        session_id: str = response.json()["output_SessionID"]
        return session_id

    def session_id(self) -> str:
        if self._session_id is None:
            self._session_id = self.new_session()
        return self._session_id

    def forget_session(self) -> None:
        self._session_id = None

    def headers(self, session_id: str | None = None) -> dict[str, str]:
        """A fresh bearer for every call (PKCS#1 v1.5 is randomised), from the cached session ID."""
        return {"Authorization": f"Bearer {self.encrypt(session_id or self.session_id())}", "Origin": "*"}

    def control(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(method, f"{self.base}/simulator{path}", json=body, timeout=5)

    def transactions(self, **filters: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.control("GET", "/openapi/transactions", None).json()
        return [t for t in found if all(t.get(k) == v for k, v in filters.items())]

    def transaction(self, reference: str) -> dict[str, Any]:
        response = self.control("GET", f"/openapi/transactions/{reference}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def balance(self) -> str:
        value: str = self.control("GET", "/openapi/balance").json()["balance"]
        return value

    def prompts(self, msisdn: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.control("GET", f"/prompts?msisdn={msisdn}").json()
        return found

    def wait_prompt(self, msisdn: str) -> dict[str, Any]:
        prompt: dict[str, Any] = wait_until(lambda: next(iter(self.prompts(msisdn)), None))
        return prompt

    # --- operations ----------------------------------------------------------------------------
    def c2b_body(self, msisdn: str = SANDBOX_CUSTOMER, amount: Any = "1000", **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "input_Amount": amount,
            "input_Country": "TZN",
            "input_Currency": "TZS",
            "input_CustomerMSISDN": msisdn,
            "input_ServiceProviderCode": SERVICE_PROVIDER_CODE,
            "input_ThirdPartyConversationID": caller_id(),
            "input_TransactionReference": "T1234C",
            "input_PurchasedItemsDesc": "Shoes",
        }
        body.update(overrides)
        return body

    def c2b(self, body: dict[str, Any] | None = None, timeout: float = 15, **overrides: Any) -> requests.Response:
        return requests.post(
            self.url("c2bPayment/singleStage/"),
            json=body if body is not None else self.c2b_body(**overrides),
            headers=self.headers(),
            timeout=timeout,
        )

    def start_c2b(self, body: dict[str, Any]) -> Future[requests.Response]:
        """The call blocks until the customer acts: run it in the background."""
        headers = self.headers()  # from this thread: the session is created once, here
        return self._pool.submit(
            requests.post, self.url("c2bPayment/singleStage/"), json=body, headers=headers, timeout=30
        )

    def b2c_body(self, msisdn: str = PAYS, amount: Any = "1000", **overrides: Any) -> dict[str, Any]:
        body = self.c2b_body(msisdn, amount)
        del body["input_PurchasedItemsDesc"]
        body["input_PaymentItemsDesc"] = "Salary payment"
        body.update(overrides)
        return body

    def b2c(self, body: dict[str, Any] | None = None, timeout: float = 5, **overrides: Any) -> requests.Response:
        return requests.post(
            self.url("b2cPayment/"),
            json=body if body is not None else self.b2c_body(**overrides),
            headers=self.headers(),
            timeout=timeout,
        )

    def query(self, reference: str, environment: str | None = None, **overrides: str) -> requests.Response:
        params = {
            "input_QueryReference": reference,
            "input_ServiceProviderCode": SERVICE_PROVIDER_CODE,
            "input_ThirdPartyConversationID": caller_id(),
            "input_Country": "TZN",
        }
        params.update(overrides)
        session = self.new_session(environment) if environment else None
        return requests.get(
            self.url("queryTransactionStatus/", environment), params=params, headers=self.headers(session), timeout=5
        )

    def status_of(self, reference: str) -> str:
        response = self.query(reference)
        assert response.status_code == 200, response.text
        status: str = response.json()["output_ResponseTransactionStatus"]
        return status

    def reversal_body(self, transaction_id: str, amount: Any = "1000", **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "input_ReversalAmount": amount,
            "input_Country": "TZN",
            "input_ServiceProviderCode": SERVICE_PROVIDER_CODE,
            "input_ThirdPartyConversationID": caller_id(),
            "input_TransactionID": transaction_id,
        }
        body.update(overrides)
        return body

    def reversal(self, transaction_id: str, amount: Any = "1000", **overrides: Any) -> requests.Response:
        return requests.put(
            self.url("reversal/"),
            json=self.reversal_body(transaction_id, amount, **overrides),
            headers=self.headers(),
            timeout=5,
        )


def assert_ins(response: requests.Response, code: str, status: int) -> dict[str, Any]:
    """The answer carries ``code`` with ``status`` and the transaction echo fields."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["output_ResponseCode"] == code, body
    assert set(body) >= ECHO_KEYS, body
    return body
