"""Registering the C2B URLs: per-shortcode secret URLs, the configured ResponseType, idempotency."""

import pytest

from mpesa.daraja.errors import DarajaApiError
from mpesa.errors import ConfigurationError, InputError
from mpesa.flows.c2b import Registered, hook_urls, verify_hook
from mpesa.flows.c2b.urls import redact
from mpesa.rules import forbidden_url_word

ALREADY = DarajaApiError("c2b_register_urls", 500, "500.003.1001", "Urls are already registered")


def test_the_urls_carry_a_secret_per_shortcode_and_no_forbidden_word(flow):
    one, two = hook_urls(flow.settings, "174379"), hook_urls(flow.settings, "600997")
    assert one.validation.startswith("https://pay.example.com/v1/hooks/c2b/174379/")
    assert one.validation.endswith("/validation")
    assert one.confirmation == one.validation.removesuffix("validation") + "confirmation"
    secret_one, secret_two = one.validation.split("/")[-2], two.validation.split("/")[-2]
    assert secret_one != secret_two
    assert len(secret_one) == 32
    assert verify_hook(flow.settings, "174379", secret_one)
    assert not verify_hook(flow.settings, "600997", secret_one)
    assert not verify_hook(flow.settings, "174379", "0" * 32)
    assert not verify_hook(flow.settings, "174379", "not-hex")
    assert forbidden_url_word(one.validation) is None
    assert redact(one.validation) == "https://pay.example.com/v1/hooks/c2b/174379/***/validation"


def test_registration_sends_both_urls_and_the_configured_response_type(flow):
    flow = flow.with_config(response_type="Cancelled")
    result = flow.c2b.registration.register(None)
    assert result.outcome is Registered.REGISTERED
    [call] = flow.gateway.calls
    urls = hook_urls(flow.settings, "174379")
    assert call == {
        "confirmation_url": urls.confirmation,
        "validation_url": urls.validation,
        "response_type": "Cancelled",
        "short_code": "174379",
    }
    view = result.view()
    assert view["status"] == "registered"
    assert "***" in view["validation_url"]
    assert urls.validation.split("/")[-2] not in str(view)
    assert flow.store.registration("174379").originator_conversation_id == "ocid-1"


def test_registering_again_is_idempotent(flow):
    flow.c2b.registration.register("600997")
    assert flow.c2b.registration.register("600997").outcome is Registered.REGISTERED  # the sandbox overwrites
    flow.gateway.answers.append(ALREADY)  # production registers once
    assert flow.c2b.registration.register("600997").outcome is Registered.ALREADY_REGISTERED


def test_already_registered_with_other_urls_is_a_conflict(flow):
    flow.c2b.registration.register("600997")
    flow.gateway.answers.append(ALREADY)
    changed = flow.with_config(response_type="Cancelled")
    result = changed.c2b.registration.register("600997")
    assert result.outcome is Registered.CONFLICT
    assert result.daraja_message == "Urls are already registered"
    flow.gateway.answers.append(ALREADY)
    assert flow.c2b.registration.register("174379").outcome is Registered.CONFLICT  # never registered by us


def test_other_refusals_are_raised(flow):
    flow.gateway.answers.append(DarajaApiError("c2b_register_urls", 401, "401.003.01", "no apiproduct match"))
    with pytest.raises(DarajaApiError):
        flow.c2b.registration.register(None)


def test_a_shortcode_not_configured_is_refused(flow):
    with pytest.raises(InputError) as error:
        flow.c2b.registration.register("123456")
    assert error.value.field == "short_code"
    assert flow.gateway.calls == []


@pytest.mark.parametrize(
    "settings",
    [
        {"MPESA_CALLBACK_BASE_URL": None},
        {"MPESA_CALLBACK_BASE_URL": "https://abc.execute-api.eu-west-1.amazonaws.com"},
        {"MPESA_CALLBACK_BASE_URL": "http://pay.example.com", "MPESA_ENVIRONMENT": "production"},
    ],
)
def test_urls_daraja_would_refuse_are_a_configuration_error(make_flow, settings):
    flow = make_flow(**settings)
    with pytest.raises(ConfigurationError) as error:
        flow.c2b.registration.register(None)
    assert "MPESA_CALLBACK_BASE_URL" in error.value.problems
    assert flow.gateway.calls == []
