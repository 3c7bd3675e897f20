import json

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from mpesa.errors import ConfigurationError
from mpesa.markets import AmountLimit, Country, TransactionKind
from mpesa.settings import Environment, build_settings, load_settings

SEED_ENV = {
    "MMO_MPESA_CONSUMER_KEY": "key-123",
    "MMO_MPESA_CONSUMER_SECRET": "secret-456",
    "MMO_MPESA_BUSINESS_SHORT_CODE": "174379",
    "MMO_MPESA_PASSKEY": "passkey-789",
}


@pytest.fixture
def seed_env(monkeypatch):
    for name in ("MPESA_ENVIRONMENT", "MPESA_SECRET_ID", "MPESA_BASE_URL", "MPESA_LIMITS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in SEED_ENV.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_reads_the_guides_environment_variables(seed_env):
    settings = load_settings()
    assert settings.consumer_key.get_secret_value() == "key-123"
    assert settings.consumer_secret.get_secret_value() == "secret-456"
    assert settings.business_short_code == "174379"
    assert settings.passkey.get_secret_value() == "passkey-789"
    assert settings.environment is Environment.SANDBOX
    assert settings.daraja_base_url == "https://sandbox.safaricom.co.ke"


def test_production_environment_picks_the_production_host(seed_env):
    seed_env.setenv("MPESA_ENVIRONMENT", "production")
    settings = load_settings()
    assert not settings.is_sandbox
    assert settings.daraja_base_url == "https://api.safaricom.co.ke"


def test_base_url_override_for_the_simulator(seed_env):
    seed_env.setenv("MPESA_BASE_URL", "http://127.0.0.1:3001/")
    assert load_settings().daraja_base_url == "http://127.0.0.1:3001"


def test_missing_setting_is_named(seed_env):
    seed_env.delenv("MMO_MPESA_PASSKEY")
    with pytest.raises(ConfigurationError) as err:
        load_settings()
    assert err.value.problems == {"MMO_MPESA_PASSKEY": "is required"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MMO_MPESA_BUSINESS_SHORT_CODE", "17A379"),
        ("MPESA_ENVIRONMENT", "staging"),
        ("MPESA_READ_TIMEOUT_S", "90"),
        ("MPESA_BASE_URL", "not a url"),
        ("MPESA_LIMITS", "{not json"),
    ],
)
def test_malformed_setting_is_named_without_its_value(seed_env, name, value):
    seed_env.setenv(name, value)
    with pytest.raises(ConfigurationError) as err:
        load_settings()
    assert name in str(err.value)
    assert value not in str(err.value)


def test_secrets_never_print(seed_env):
    settings = load_settings()
    assert "secret-456" not in repr(settings)
    assert "passkey-789" not in str(settings)


def test_limits_override_from_configuration(seed_env):
    seed_env.setenv("MPESA_LIMITS", json.dumps({"KE": {"stk_push": {"minimum": 1, "maximum": 250000}}}))
    overrides = load_settings().limit_overrides()
    assert overrides == {Country.KE: {TransactionKind.STK_PUSH: AmountLimit(1, 250_000)}}


def test_limits_with_minimum_above_maximum_are_rejected(seed_env):
    seed_env.setenv("MPESA_LIMITS", json.dumps({"KE": {"b2c": {"minimum": 500, "maximum": 10}}}))
    with pytest.raises(ConfigurationError, match="MPESA_LIMITS"):
        load_settings()


def test_initiator_is_required_only_when_used(seed_env):
    settings = load_settings()
    with pytest.raises(ConfigurationError) as err:
        settings.require_initiator()
    assert set(err.value.problems) == {"MPESA_INITIATOR_NAME", "MPESA_INITIATOR_PASSWORD"}
    with pytest.raises(ConfigurationError, match="MPESA_CERTIFICATE_PEM"):
        settings.certificate()


def test_unknown_key_in_the_secret_is_reported():
    with pytest.raises(ConfigurationError) as err:
        build_settings({**SEED_ENV, "MMO_MPESA_PASSKEYY": "typo"})
    assert err.value.problems["MMO_MPESA_PASSKEYY"] == "is not a known setting"


@mock_aws
def test_secret_overrides_environment_and_is_cached(seed_env):
    parameters.clear_caches()
    client = boto3.client("secretsmanager")
    secret = {**SEED_ENV, "MMO_MPESA_CONSUMER_KEY": "from-secret", "MPESA_INITIATOR_NAME": "apiop"}
    client.create_secret(Name="mpesa/test", SecretString=json.dumps(secret))
    seed_env.setenv("MPESA_SECRET_ID", "mpesa/test")
    first = load_settings()
    assert first.consumer_key.get_secret_value() == "from-secret"
    assert first.initiator_name == "apiop"
    client.delete_secret(SecretId="mpesa/test", ForceDeleteWithoutRecovery=True)
    assert load_settings() is first  # served from the Powertools cache, not re-read
    parameters.clear_caches()


@mock_aws
def test_unreadable_secret_names_the_setting(seed_env):
    parameters.clear_caches()
    seed_env.setenv("MPESA_SECRET_ID", "mpesa/absent")
    with pytest.raises(ConfigurationError, match="MPESA_SECRET_ID"):
        load_settings()


@mock_aws
def test_secret_that_is_not_json_is_reported(seed_env):
    parameters.clear_caches()
    boto3.client("secretsmanager").create_secret(Name="mpesa/bad", SecretString="key=value")
    seed_env.setenv("MPESA_SECRET_ID", "mpesa/bad")
    with pytest.raises(ConfigurationError, match="not a JSON object"):
        load_settings()
    parameters.clear_caches()
