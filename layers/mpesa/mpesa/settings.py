"""Configuration: the integration guide's environment variables locally, the Secrets Manager secret on AWS.

One name per setting everywhere: the secret's JSON keys are the same names as the environment
variables (`MMO_MPESA_CONSUMER_KEY`, ...), so the configuration table in the README is the whole story.
A missing or malformed setting raises ConfigurationError naming it (never its value) at start.
"""

import json
import os
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self, cast

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    Field,
    PositiveInt,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from mpesa.errors import ConfigurationError
from mpesa.markets import AmountLimit, Country, TransactionKind

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider


class Environment(StrEnum):
    SANDBOX = "sandbox"
    PRODUCTION = "production"


DARAJA_BASE_URLS = {
    Environment.SANDBOX: "https://sandbox.safaricom.co.ke",
    Environment.PRODUCTION: "https://api.safaricom.co.ke",
}

# Vodacom's M-Pesa OpenAPI: one host; the environment is the first path segment (`/sandbox/...`,
# `/openapi/...`), then `/ipg/v2/<market>/`.
OPENAPI_BASE_URL = "https://openapi.m-pesa.com"
OPENAPI_ENVIRONMENT_PATHS = {Environment.SANDBOX: "sandbox", Environment.PRODUCTION: "openapi"}
OPENAPI_DEFAULT_MARKET = "vodacomTZN"
# Market context -> (input_Country, input_Currency). Other markets need MPESA_TZ_COUNTRY and MPESA_TZ_CURRENCY.
OPENAPI_MARKETS: dict[str, tuple[str, str]] = {"vodacomTZN": ("TZN", "TZS")}

SECRET_ID_ENV = "MPESA_SECRET_ID"  # name or ARN of the Secrets Manager secret; unset = env vars only
SECRET_MAX_AGE_ENV = "MPESA_SECRET_MAX_AGE_S"

ShortCode = Annotated[str, Field(pattern=r"^[0-9]{5,7}$")]
ServiceProviderCode = Annotated[str, Field(pattern=r"^[0-9]{5,10}$")]  # the sandbox's is 000000
# An Origin header value: printable ASCII, no line breaks (it goes into a header as given).
HeaderValue = Annotated[str, Field(pattern=r"^[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?$")]


@dataclass(frozen=True)
class OpenApiSettings:
    """What the Vodacom OpenAPI client needs, checked (`MpesaSettings.openapi()`)."""

    api_key: SecretStr
    public_key: SecretStr  # base64 DER SubjectPublicKeyInfo as the portal shows it, or PEM
    service_provider_code: str
    origin: str
    market: str
    country: str
    currency: str
    environment: Environment
    base_url: str  # scheme and host (and port), no trailing slash
    connect_timeout_s: float = 3.05
    read_timeout_s: float = 20.0
    c2b_read_timeout_s: float = 120.0
    session_lifetime_s: float = 3600.0
    session_activation_delay_s: float = 0.0

    @property
    def is_sandbox(self) -> bool:
        return self.environment is Environment.SANDBOX

    @property
    def api_root(self) -> str:
        """`<base>/<sandbox|openapi>/ipg/v2/<market>/`: every operation's path is appended to it."""
        return f"{self.base_url}/{OPENAPI_ENVIRONMENT_PATHS[self.environment]}/ipg/v2/{self.market}/"


class LimitSetting(BaseModel):
    model_config = {"extra": "forbid"}
    minimum: PositiveInt
    maximum: PositiveInt

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.minimum > self.maximum:
            raise ValueError("minimum must not exceed maximum")
        return self


class MpesaSettings(BaseSettings):
    model_config = SettingsConfigDict(
        extra="forbid", frozen=True, case_sensitive=True, populate_by_name=False, hide_input_in_errors=True
    )

    consumer_key: SecretStr = Field(alias="MMO_MPESA_CONSUMER_KEY", min_length=1)
    consumer_secret: SecretStr = Field(alias="MMO_MPESA_CONSUMER_SECRET", min_length=1)
    business_short_code: ShortCode = Field(alias="MMO_MPESA_BUSINESS_SHORT_CODE")
    passkey: SecretStr = Field(alias="MMO_MPESA_PASSKEY", min_length=1)
    environment: Environment = Field(Environment.SANDBOX, alias="MPESA_ENVIRONMENT")

    # Where Daraja is: defaults to Safaricom's host for the environment; the simulator locally.
    base_url: AnyHttpUrl | None = Field(None, alias="MPESA_BASE_URL")
    transaction_type: Literal["CustomerPayBillOnline", "CustomerBuyGoodsOnline"] = Field(
        "CustomerPayBillOnline", alias="MPESA_TRANSACTION_TYPE"
    )
    till_number: ShortCode | None = Field(None, alias="MPESA_TILL_NUMBER")

    # B2C, Transaction Status, Account Balance and Reversal need an initiator and Safaricom's certificate.
    initiator_name: str | None = Field(None, alias="MPESA_INITIATOR_NAME", min_length=1)
    initiator_password: SecretStr | None = Field(None, alias="MPESA_INITIATOR_PASSWORD")
    b2c_short_code: ShortCode | None = Field(None, alias="MPESA_B2C_SHORT_CODE")
    # Pull Transactions (reconciliation): registered once per shortcode with this MSISDN (07.../2547...).
    pull_nominated_number: Annotated[str, Field(pattern=r"^(0|254)[17][0-9]{8}$")] | None = Field(
        None, alias="MPESA_PULL_NOMINATED_NUMBER"
    )
    certificate_pem: SecretStr | None = Field(None, alias="MPESA_CERTIFICATE_PEM")
    certificate_path: str | None = Field(None, alias="MPESA_CERTIFICATE_PATH")

    # B2C payout guard-rails (docs/decisions.md "Payout guard-rails"): unset means no such limit.
    b2c_max_per_payout: PositiveInt | None = Field(None, alias="MPESA_B2C_MAX_PER_PAYOUT")
    b2c_daily_budget: PositiveInt | None = Field(None, alias="MPESA_B2C_DAILY_BUDGET")
    b2c_recipient_daily_budget: PositiveInt | None = Field(None, alias="MPESA_B2C_RECIPIENT_DAILY_BUDGET")
    b2c_allowed_recipients: str | None = Field(None, alias="MPESA_B2C_ALLOWED_RECIPIENTS")

    # Callbacks: the public base URL Daraja calls, and the key that makes per-transaction URL tokens.
    callback_base_url: AnyHttpUrl | None = Field(None, alias="MPESA_CALLBACK_BASE_URL")
    callback_secret: SecretStr | None = Field(None, alias="MPESA_CALLBACK_SECRET", min_length=32)
    c2b_api_version: Literal["v1", "v2"] = Field("v2", alias="MPESA_C2B_API_VERSION")

    connect_timeout_s: float = Field(3.05, alias="MPESA_CONNECT_TIMEOUT_S", gt=0, le=30)
    read_timeout_s: float = Field(20.0, alias="MPESA_READ_TIMEOUT_S", gt=0, le=30)
    limits: dict[Country, dict[TransactionKind, LimitSetting]] = Field(default_factory=dict, alias="MPESA_LIMITS")

    # Vodacom M-Pesa OpenAPI (Tanzania). Optional here: only the OpenAPI client requires them (`openapi()`).
    tz_api_key: SecretStr | None = Field(None, alias="MPESA_TZ_API_KEY", min_length=1)
    tz_public_key: SecretStr | None = Field(None, alias="MPESA_TZ_PUBLIC_KEY", min_length=1)
    tz_service_provider_code: ServiceProviderCode | None = Field(None, alias="MPESA_TZ_SERVICE_PROVIDER_CODE")
    tz_origin: HeaderValue = Field("*", alias="MPESA_TZ_ORIGIN")
    tz_market: str = Field(OPENAPI_DEFAULT_MARKET, alias="MPESA_TZ_MARKET", pattern=r"^[A-Za-z]{3,32}$")
    tz_country: str | None = Field(None, alias="MPESA_TZ_COUNTRY", pattern=r"^[A-Z]{3}$")
    tz_currency: str | None = Field(None, alias="MPESA_TZ_CURRENCY", pattern=r"^[A-Z]{3}$")
    tz_environment: Environment | None = Field(None, alias="MPESA_TZ_ENVIRONMENT")  # default: MPESA_ENVIRONMENT
    tz_base_url: AnyHttpUrl | None = Field(None, alias="MPESA_TZ_BASE_URL")
    tz_connect_timeout_s: float = Field(3.05, alias="MPESA_TZ_CONNECT_TIMEOUT_S", gt=0, le=30)
    tz_read_timeout_s: float = Field(20.0, alias="MPESA_TZ_READ_TIMEOUT_S", gt=0, le=30)
    # C2B single stage answers only after the customer acts or Vodacom's prompt times out: wait longer.
    tz_c2b_read_timeout_s: float = Field(120.0, alias="MPESA_TZ_C2B_READ_TIMEOUT_S", gt=0, le=840)
    tz_session_lifetime_s: float = Field(3600.0, alias="MPESA_TZ_SESSION_LIFETIME_S", gt=0, le=86_400)
    tz_session_activation_delay_s: float = Field(0.0, alias="MPESA_TZ_SESSION_ACTIVATION_DELAY_S", ge=0, le=60)

    @field_validator("base_url", "callback_base_url", "tz_base_url")
    @classmethod
    def _no_trailing_path_slash(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        if value is not None and value.query:
            raise ValueError("must not carry a query string")
        return value

    @property
    def daraja_base_url(self) -> str:
        if self.base_url is not None:
            return str(self.base_url).rstrip("/")
        return DARAJA_BASE_URLS[self.environment]

    @property
    def is_sandbox(self) -> bool:
        return self.environment is Environment.SANDBOX

    def limit_overrides(self) -> dict[Country, dict[TransactionKind, AmountLimit]]:
        return {
            country: {kind: AmountLimit(s.minimum, s.maximum) for kind, s in kinds.items()}
            for country, kinds in self.limits.items()
        }

    def certificate(self) -> bytes:
        """Safaricom's (or the simulator's) certificate that encrypts the initiator password."""
        if self.certificate_pem is not None:
            return self.certificate_pem.get_secret_value().encode()
        if self.certificate_path:
            try:
                with open(self.certificate_path, "rb") as handle:
                    return handle.read()
            except OSError as exc:
                raise ConfigurationError({"MPESA_CERTIFICATE_PATH": f"cannot be read ({exc.strerror})"}) from None
        raise ConfigurationError({"MPESA_CERTIFICATE_PEM": "is required (or MPESA_CERTIFICATE_PATH)"})

    def require_initiator(self) -> tuple[str, SecretStr]:
        problems = {}
        if not self.initiator_name:
            problems["MPESA_INITIATOR_NAME"] = "is required for this API"
        if self.initiator_password is None:
            problems["MPESA_INITIATOR_PASSWORD"] = "is required for this API"
        if problems or self.initiator_name is None or self.initiator_password is None:
            raise ConfigurationError(problems)
        return self.initiator_name, self.initiator_password

    @property
    def openapi_configured(self) -> bool:
        """Whether the OpenAPI's credentials are set: then Tanzanian requests are served (`openapi()` checks all)."""
        return None not in (self.tz_api_key, self.tz_public_key, self.tz_service_provider_code)

    def openapi(self) -> OpenApiSettings:
        """The Vodacom OpenAPI's settings, or ConfigurationError naming every missing one."""
        problems: dict[str, str] = {}
        for name, value in (
            ("MPESA_TZ_API_KEY", self.tz_api_key),
            ("MPESA_TZ_PUBLIC_KEY", self.tz_public_key),
            ("MPESA_TZ_SERVICE_PROVIDER_CODE", self.tz_service_provider_code),
        ):
            if value is None:
                problems[name] = "is required for the M-Pesa OpenAPI"
        country, currency = OPENAPI_MARKETS.get(self.tz_market, (None, None))
        country, currency = self.tz_country or country, self.tz_currency or currency
        if country is None:
            problems["MPESA_TZ_COUNTRY"] = f"is required for market {self.tz_market}"
        if currency is None:
            problems["MPESA_TZ_CURRENCY"] = f"is required for market {self.tz_market}"
        if (
            problems
            or self.tz_api_key is None
            or self.tz_public_key is None
            or self.tz_service_provider_code is None
            or country is None
            or currency is None
        ):
            raise ConfigurationError(problems)
        base = str(self.tz_base_url).rstrip("/") if self.tz_base_url is not None else OPENAPI_BASE_URL
        return OpenApiSettings(
            api_key=self.tz_api_key,
            public_key=self.tz_public_key,
            service_provider_code=self.tz_service_provider_code,
            origin=self.tz_origin,
            market=self.tz_market,
            country=country,
            currency=currency,
            environment=self.tz_environment or self.environment,
            base_url=base,
            connect_timeout_s=self.tz_connect_timeout_s,
            read_timeout_s=self.tz_read_timeout_s,
            c2b_read_timeout_s=self.tz_c2b_read_timeout_s,
            session_lifetime_s=self.tz_session_lifetime_s,
            session_activation_delay_s=self.tz_session_activation_delay_s,
        )


def build_settings(values: dict[str, Any] | None = None) -> MpesaSettings:
    """Settings from `values` (the secret's keys) over the environment, or ConfigurationError."""
    try:
        return MpesaSettings(**(values or {}))
    except ValidationError as exc:
        raise ConfigurationError(_problems(exc)) from None
    except SettingsError:  # an env var that should hold JSON does not
        names = [f.alias or n for n, f in MpesaSettings.model_fields.items() if _is_complex(f.annotation)]
        raise ConfigurationError(dict.fromkeys(names, "must be valid JSON")) from None


def _is_complex(annotation: object) -> bool:
    return getattr(annotation, "__origin__", None) is dict


def _problems(exc: ValidationError) -> dict[str, str]:
    problems: dict[str, str] = {}
    for error in exc.errors(include_input=False, include_url=False):
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        message = "is required" if error["type"] == "missing" else error["msg"]
        if error["type"] == "extra_forbidden":
            message = "is not a known setting"
        problems[name] = message
    return problems


_cached: tuple[str, MpesaSettings] | None = None


def load_settings() -> MpesaSettings:
    """Settings for this container: the secret named by MPESA_SECRET_ID (cached, 300 s) over env vars."""
    global _cached
    secret_id = os.environ.get(SECRET_ID_ENV)
    if not secret_id:
        return build_settings()
    from aws_lambda_powertools.utilities import parameters  # imported lazily: local runs need no AWS

    max_age = int(os.environ.get(SECRET_MAX_AGE_ENV, "300"))
    try:
        raw = cast(str, _secrets().get(secret_id, max_age=max_age))  # no transform: the SecretString
    except parameters.exceptions.GetParameterError as exc:
        raise ConfigurationError({SECRET_ID_ENV: f"secret could not be read ({type(exc).__name__})"}) from None
    text = raw
    if _cached is not None and _cached[0] == text:
        return _cached[1]
    try:
        values = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigurationError({SECRET_ID_ENV: "secret is not a JSON object"}) from None
    if not isinstance(values, dict):
        raise ConfigurationError({SECRET_ID_ENV: "secret is not a JSON object"})
    settings = build_settings(values)
    _cached = (text, settings)
    return settings


_provider: "SecretsProvider | None" = None


def _secrets() -> "SecretsProvider":
    """Powertools' Secrets Manager provider (its cache is the container's), on the container's one boto3
    session rather than a session of its own."""
    global _provider
    if _provider is None:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        from mpesa import aws

        _provider = SecretsProvider(boto3_session=aws.session())
    return _provider
