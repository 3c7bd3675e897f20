"""The OpenAPI's settings: optional in MpesaSettings, required (and checked) by the OpenAPI client."""

import pytest

from mpesa.errors import ConfigurationError
from mpesa.settings import Environment
from tests.support.daraja import make_settings
from tests.support.openapi import openapi_settings


def test_the_client_names_every_missing_setting_never_a_value():
    settings = make_settings()  # a Daraja-only deployment: still valid
    with pytest.raises(ConfigurationError) as caught:
        settings.openapi()
    assert set(caught.value.problems) == {
        "MPESA_TZ_API_KEY",
        "MPESA_TZ_PUBLIC_KEY",
        "MPESA_TZ_SERVICE_PROVIDER_CODE",
    }


def test_defaults_are_tanzanias_market_on_vodacoms_host(public_key):
    s = openapi_settings(public_key, MPESA_TZ_BASE_URL=None)
    assert (s.market, s.country, s.currency, s.origin) == ("vodacomTZN", "TZN", "TZS", "*")
    assert s.environment is Environment.SANDBOX
    assert s.api_root == "https://openapi.m-pesa.com/sandbox/ipg/v2/vodacomTZN/"
    assert (s.c2b_read_timeout_s, s.session_lifetime_s, s.session_activation_delay_s) == (5.0, 3600.0, 0.0)


def test_the_environment_follows_mpesa_environment_unless_set(public_key):
    production = openapi_settings(public_key, MPESA_ENVIRONMENT="production", MPESA_TZ_BASE_URL=None)
    assert production.api_root == "https://openapi.m-pesa.com/openapi/ipg/v2/vodacomTZN/"
    pinned = openapi_settings(public_key, MPESA_ENVIRONMENT="production", MPESA_TZ_ENVIRONMENT="sandbox")
    assert pinned.is_sandbox
    assert pinned.api_root == "http://openapi.test/sandbox/ipg/v2/vodacomTZN/"


def test_a_base_url_override_keeps_the_environment_path(public_key):
    s = openapi_settings(public_key, MPESA_TZ_BASE_URL="http://127.0.0.1:8089/")
    assert s.api_root == "http://127.0.0.1:8089/sandbox/ipg/v2/vodacomTZN/"


def test_another_market_needs_its_country_and_currency(public_key):
    with pytest.raises(ConfigurationError) as caught:
        openapi_settings(public_key, MPESA_TZ_MARKET="vodafoneGHA")
    assert set(caught.value.problems) == {"MPESA_TZ_COUNTRY", "MPESA_TZ_CURRENCY"}
    ghana = openapi_settings(public_key, MPESA_TZ_MARKET="vodafoneGHA", MPESA_TZ_COUNTRY="GHA", MPESA_TZ_CURRENCY="GHS")
    assert (ghana.country, ghana.currency) == ("GHA", "GHS")
    assert ghana.api_root.endswith("/ipg/v2/vodafoneGHA/")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MPESA_TZ_ORIGIN", "https://shop.example\r\nX-Injected: 1"),
        ("MPESA_TZ_ORIGIN", ""),
        ("MPESA_TZ_SERVICE_PROVIDER_CODE", "00-00"),
        ("MPESA_TZ_MARKET", "vodacom/TZN"),
        ("MPESA_TZ_COUNTRY", "tz"),
        ("MPESA_TZ_C2B_READ_TIMEOUT_S", 900),
        ("MPESA_TZ_READ_TIMEOUT_S", 31),
        ("MPESA_TZ_SESSION_LIFETIME_S", 0),
        ("MPESA_TZ_SESSION_ACTIVATION_DELAY_S", -1),
        ("MPESA_TZ_ENVIRONMENT", "live"),
        ("MPESA_TZ_BASE_URL", "http://openapi.test/?x=1"),
    ],
)
def test_malformed_values_fail_at_start_naming_the_setting_only(public_key, name, value):
    with pytest.raises(ConfigurationError) as caught:
        make_settings(**{name: value})
    assert list(caught.value.problems) == [name]
    if isinstance(value, str) and value:
        assert value not in str(caught.value)


def test_the_secret_may_hold_the_tanzanian_keys_beside_darajas(public_key):
    settings = make_settings(
        MPESA_TZ_API_KEY="k", MPESA_TZ_PUBLIC_KEY=public_key, MPESA_TZ_SERVICE_PROVIDER_CODE="123456"
    )
    assert settings.openapi().service_provider_code == "123456"
    assert settings.consumer_key.get_secret_value() == "sim-consumer-key"  # Daraja's settings as before
    assert "k" not in repr(settings.openapi().api_key)
