"""Simulator configuration: one immutable pydantic model, replaced wholesale when patched.

Every delay is a float number of seconds so that tests can use small values. Readers take one
snapshot (``sim.config``) per operation; ``PATCH /simulator/config`` validates a complete new model
and swaps the reference, so a request never sees half of an update.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PendingStyle = Literal["4999", "500.001.1001"]
CallbackMode = Literal["normal", "drop", "duplicate", "out_of_order"]
ExpiresInType = Literal["string", "number"]
# "standard" is Daraja's documented shape; the others are odd shapes Daraja is seen to send
# (daraja-api.md §1, §3.2, §3.5), applied by ``simulator.shapes``; "random" picks one per callback.
CallbackShape = Literal[
    "standard",
    "numbers_as_strings",
    "strings_as_numbers",
    "balance_string",
    "single_object",
    "missing_metadata",
    "random",
]
DISABLED = frozenset({"", "none", "null", "off"})

ENV_PREFIX = "SIMULATOR_"

# Fields that cannot change while the simulator runs (the key pair is generated once at start).
NOT_PATCHABLE = frozenset({"private_key_pem", "openapi_private_key_pem"})


class SimulatorConfig(BaseModel):
    """All knobs of the simulator. Defaults reproduce Safaricom's public sandbox credentials."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- credentials -------------------------------------------------------------------------
    consumer_key: str = "sim-consumer-key"
    consumer_secret: str = "sim-consumer-secret"
    stk_shortcode: str = "174379"
    passkey: str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
    b2c_shortcode: str = "600996"
    initiator_name: str = "testapi"
    initiator_password: str = "Safaricom999!*!"
    private_key_pem: str | None = None
    business_name: str = "SIMULATOR SHOP"

    # --- OAuth -------------------------------------------------------------------------------
    token_ttl_s: float = Field(default=3599.0, ge=0)
    expires_in_type: ExpiresInType = "string"
    # Daraja's FAQ: a new token invalidates the app's previous one (daraja-api.md §3.1). Strict by
    # default; ``false`` keeps every token alive until it expires (lenient, for demos).
    new_token_revokes_old: bool = True

    # --- timing ------------------------------------------------------------------------------
    callback_delay_s: float = Field(default=0.2, ge=0)
    auto_act_delay_s: float = Field(default=1.0, ge=0)
    prompt_ttl_s: float = Field(default=60.0, ge=0)
    validation_timeout_s: float = Field(default=8.0, gt=0)
    callback_timeout_s: float = Field(default=10.0, gt=0)
    # STK push/query Timestamp must be within this many seconds of now in Nairobi time (EAT): a
    # UTC timestamp (3 h off) or a stale one is refused. ``None`` turns the check off (lenient).
    timestamp_max_skew_s: float | None = Field(default=300.0, ge=0)
    b2c_processing_delay_s: float = Field(default=0.5, ge=0)  # a payout stays queued this long

    # --- behaviour ---------------------------------------------------------------------------
    stk_query_pending_style: PendingStyle = "4999"
    callback_mode: CallbackMode = "normal"
    duplicate_count: int = Field(default=2, ge=1, le=20)
    out_of_order_max_hold_s: float = Field(default=5.0, ge=0)
    customer_pin: str = "1234"
    sandbox_numbers_only: bool = False
    c2b_external_validation: bool = False  # off until Safaricom enables it (daraja-api.md §3.4)
    stk_also_confirms_c2b: bool = False

    # --- wire quirks (both shapes are seen in the wild; daraja-api.md §1, §3.5) ---------------
    result_code_as_string: bool = False  # callbacks carry ResultCode "0" instead of 0
    callback_shape: CallbackShape = "standard"

    # --- Pull Transactions (daraja-api.md §3.14) -----------------------------------------------
    pull_page_size: int = Field(default=100, ge=1, le=10_000)  # transactions per query page
    pull_retention_s: float = Field(default=48 * 3600.0, gt=0)  # Daraja keeps 48 hours

    # --- limits and balances (whole KES for limits; balances with cents) ---------------------
    max_amount: int = Field(default=250_000, ge=1)  # per payment, STK and C2B
    b2c_min_amount: int = Field(default=10, ge=1)
    b2c_max_amount: int = Field(default=250_000, ge=1)
    working_balance: Decimal = Decimal("700000.00")
    utility_balance: Decimal = Decimal("1000000.00")
    charges_paid_balance: Decimal = Decimal("0.00")

    # --- Vodacom M-Pesa OpenAPI, market vodacomTZN (simulator/openapi, README "OpenAPI") -------
    openapi_api_key: str = "sim-openapi-api-key"
    openapi_private_key_pem: str | None = None  # None: a fresh 2048-bit key at start; not patchable
    openapi_allowed_origin: str = "*"  # "*": any non-empty Origin header; else exactly this value
    openapi_service_provider_code: str = "000000"  # the sandbox's
    openapi_session_ttl_s: float = Field(default=3600.0, gt=0)
    openapi_session_activation_delay_s: float = Field(default=0.0, ge=0)
    openapi_prompt_timeout_s: float = Field(default=60.0, gt=0)  # C2B answers INS-9 after this
    openapi_late_payment_window_s: float = Field(default=0.0, ge=0)  # prompt stays payable after INS-9
    openapi_min_amount: int = Field(default=1, ge=1)  # whole TZS, C2B/B2C/reversal
    openapi_max_amount: int = Field(default=5_000_000, ge=1)
    openapi_balance: Decimal = Decimal("10000000")  # starting TZS balance of the organisation

    @field_validator("timestamp_max_skew_s", mode="before")
    @classmethod
    def _off_means_none(cls, value: Any) -> Any:
        """``SIMULATOR_TIMESTAMP_MAX_SKEW_S=off`` (or "", "none", "null") disables the check."""
        if isinstance(value, str) and value.strip().lower() in DISABLED:
            return None
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> SimulatorConfig:
        """Build a config from ``SIMULATOR_<FIELD>`` variables (case-insensitive field names).

        Values are strings; pydantic converts them ("0.5" → 0.5, "true" → True).
        Explicit keyword overrides win over the environment.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            key = ENV_PREFIX + name.upper()
            if key in env:
                values[name] = env[key]
        values.update(overrides)
        return cls.model_validate(values)

    def patched(self, changes: Mapping[str, Any]) -> SimulatorConfig:
        """Return a validated copy with ``changes`` applied.

        Raises KeyError naming the first unknown or read-only key, or pydantic's ValidationError.
        """
        for key in changes:
            if key not in type(self).model_fields or key in NOT_PATCHABLE:
                raise KeyError(key)
        data = self.model_dump()
        data.update(changes)
        return type(self).model_validate(data)

    def public_view(self) -> dict[str, Any]:
        """The config as JSON-ready data, without the private key."""
        data = self.model_dump(mode="json", exclude=set(NOT_PATCHABLE))
        data["private_key_configured"] = self.private_key_pem is not None
        return data
