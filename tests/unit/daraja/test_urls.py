import pytest

from mpesa.daraja.urls import validate_callback_url
from mpesa.errors import InputError


@pytest.mark.parametrize(
    "url",
    [
        "https://pay.example.com/mpesa/callback",
        "https://pay.example.com/M-PESA/cb",
        "https://safaricom-hooks.example.com/cb",
        "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/hooks/stk",
        "https://pay.example.com/cb?cmd=1",
        "https://pay.example.com/sql/cb",
        "https://pay.example.com/query/cb",
    ],
)
def test_urls_with_words_safaricom_rejects_are_refused(url):
    with pytest.raises(InputError, match="Safaricom rejects") as caught:
        validate_callback_url(url)
    assert caught.value.field == "callback_url"


def test_tunnelling_hosts_are_refused():
    with pytest.raises(InputError, match="ngrok"):
        validate_callback_url("https://abcd.ngrok.io/v1/hooks/stk")


@pytest.mark.parametrize("url", ["ftp://pay.example.com/cb", "/v1/hooks/stk", "https://pay .example.com/cb", ""])
def test_malformed_urls_are_refused(url):
    with pytest.raises(InputError, match="result_url"):
        validate_callback_url(url, field="result_url")


def test_production_requires_https():
    with pytest.raises(InputError, match="https"):
        validate_callback_url("http://pay.example.com/v1/hooks/stk", require_https=True)
    assert validate_callback_url("https://pay.example.com/v1/hooks/stk", require_https=True)


def test_sandbox_accepts_plain_http_and_loopback():
    assert validate_callback_url("http://127.0.0.1:8080/v1/hooks/stk") == "http://127.0.0.1:8080/v1/hooks/stk"
