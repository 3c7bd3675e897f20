"""Which provider serves which market: Kenya is Daraja, Tanzania Vodacom's OpenAPI (once its credentials
are set), Uganda is refused with the reason; every refusal is an InputError on `country` (HTTP 422)."""

import pytest

from mpesa.errors import InputError
from mpesa.flows.b2c import validate_request as validate_payout
from mpesa.flows.stk import validate_request as validate_prompt
from mpesa.markets import Country, market_for
from mpesa.providers.daraja import DarajaProvider
from mpesa.providers.registry import PROVIDER_OF, UNSERVED, Providers, check_served, markets_of
from tests.support.daraja import make_settings
from tests.support.fakes import FakeOpenApiGateway, FakeStkGateway, providers_for, tanzania_settings


def test_each_market_has_a_provider_or_a_reason():
    assert set(PROVIDER_OF) | set(UNSERVED) == set(Country)
    assert not set(PROVIDER_OF) & set(UNSERVED)
    assert markets_of("daraja") == {"KE"}
    assert markets_of("openapi") == {"TZ"}


def test_kenya_is_daraja_and_tanzania_the_openapi():
    settings = tanzania_settings()
    providers = providers_for(settings, FakeOpenApiGateway(), stk=FakeStkGateway())
    assert providers.for_country("KE").name == "daraja"
    assert providers.for_country("tz").name == "openapi"
    assert providers.for_country(Country.TZ) is providers.for_country("TZ")  # built once


def test_uganda_is_refused_on_country_saying_why():
    with pytest.raises(InputError) as refused:
        check_served(market_for("UG"), tanzania_settings())
    assert refused.value.field == "country"
    assert "no M-Pesa operator publishes an API in Uganda" in refused.value.message


def test_tanzania_without_openapi_credentials_is_refused_on_country_naming_no_setting():
    with pytest.raises(InputError) as refused:
        check_served(market_for("TZ"), make_settings())
    assert refused.value.field == "country"
    assert "Vodacom" in refused.value.message
    assert "MPESA_TZ" not in refused.value.message  # the operator's setup is not the caller's business
    check_served(market_for("TZ"), tanzania_settings())  # served once they are set


def test_a_provider_the_deployment_did_not_wire_is_refused():
    settings = tanzania_settings()
    kenya_only = Providers(settings, {Country.KE: lambda: DarajaProvider(settings, stk=FakeStkGateway)})
    with pytest.raises(InputError, match="no provider"):
        kenya_only.for_country("TZ")


@pytest.mark.parametrize("validate", ["prompt", "payout"])
def test_a_ugandan_request_is_validated_by_its_markets_rules_first_then_refused(validate):
    common = {"country": "UG", "phone_number": "0772123456", "settings": tanzania_settings()}
    prompt = {"account_reference": "ORDER1", "transaction_desc": "Test"}
    payout = {"command_id": "BusinessPayment", "remarks": "Refund", "occasion": None}

    def check(amount):
        if validate == "prompt":
            return validate_prompt(amount=amount, **common, **prompt)
        return validate_payout(amount=amount, **common, **payout)

    with pytest.raises(InputError) as too_small:
        check("499")  # Uganda's own minimum, 500 UGX
    assert too_small.value.field == "amount"
    with pytest.raises(InputError) as refused:
        check("1000")
    assert (refused.value.field, "Uganda" in refused.value.message) == ("country", True)


def test_a_tanzanian_request_is_normalised_in_its_market():
    request = validate_prompt(
        country="TZ",
        phone_number="0741 234 567",
        amount="1500",
        account_reference="ORDER1",
        transaction_desc="Two tickets",
        settings=tanzania_settings(),
    )
    assert (request.country, request.msisdn, request.amount) == ("TZ", "255741234567", 1500)
