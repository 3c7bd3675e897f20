"""Which provider serves which market, and why a market is refused.

Kenya is Safaricom's Daraja; Tanzania is Vodacom's M-Pesa OpenAPI, served when its credentials are
set (MPESA_TZ_API_KEY, MPESA_TZ_PUBLIC_KEY, MPESA_TZ_SERVICE_PROVIDER_CODE); Uganda is refused: no
M-Pesa operator publishes an API there. A request is validated by its market's rules first, so the
caller learns everything wrong with it, then refused here on `country` (HTTP 422).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from threading import Lock
from typing import TYPE_CHECKING

from mpesa.errors import InputError
from mpesa.markets import Country, Market, market_for

if TYPE_CHECKING:
    from mpesa.providers.base import Provider
    from mpesa.settings import MpesaSettings

DARAJA, OPENAPI = "daraja", "openapi"  # mpesa.providers.<name>
# The provider of each market that has one.
PROVIDER_OF: Mapping[Country, str] = {Country.KE: DARAJA, Country.TZ: OPENAPI}

# Markets no provider can serve, and why (shown to the caller).
UNSERVED: Mapping[Country, str] = {
    Country.UG: (
        "M-Pesa Uganda cannot be served: no M-Pesa operator publishes an API in Uganda (Daraja is "
        "Safaricom's, for Kenya; Vodacom's OpenAPI serves Tanzania)"
    ),
}


def markets_of(provider: str) -> frozenset[str]:
    """The countries (ISO codes) a provider serves."""
    return frozenset(country.value for country, name in PROVIDER_OF.items() if name == provider)


def configured(country: Country, settings: MpesaSettings) -> bool:
    """Whether this deployment has what the market's provider needs (Daraja's keys are always required)."""
    if country is Country.TZ:
        return settings.openapi_configured
    return country in PROVIDER_OF


def check_served(market: Market, settings: MpesaSettings) -> None:
    """InputError on `country` unless a provider serves the market on this deployment."""
    reason = UNSERVED.get(market.country)
    if reason is not None:
        raise InputError("country", reason)
    if market.country not in PROVIDER_OF:
        raise InputError("country", f"M-Pesa {market.name} has no provider")
    if not configured(market.country, settings):
        # The operator's setup, not the caller's fault: no setting is named to the caller.
        raise InputError(
            "country",
            f"M-Pesa {market.name} is run by {market.operator} through its own API, which this deployment "
            "is not set up for",
        )


class Providers:
    """The provider of each market, built on first use (a webhook never builds an HTTP client)."""

    def __init__(self, settings: MpesaSettings, factories: Mapping[Country, Callable[[], Provider]]) -> None:
        self._settings = settings
        self._factories = dict(factories)
        self._built: dict[Country, Provider] = {}
        self._lock = Lock()

    def for_country(self, country: str | Country) -> Provider:
        market = market_for(country)
        check_served(market, self._settings)
        factory = self._factories.get(market.country)
        if factory is None:
            raise InputError("country", f"M-Pesa {market.name} has no provider on this deployment")
        with self._lock:
            if market.country not in self._built:
                self._built[market.country] = factory()
            return self._built[market.country]
