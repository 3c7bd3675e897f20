"""A payout request: validated per market, B2C rules and the deployment's guard-rails; its id."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from mpesa import rules
from mpesa.daraja.wire import B2CCommand
from mpesa.errors import InputError
from mpesa.markets import Country, TransactionKind, check_amount, market_for, normalise_msisdn
from mpesa.money import parse_amount
from mpesa.providers.registry import check_served

if TYPE_CHECKING:
    from mpesa.settings import MpesaSettings

COMMANDS: tuple[str, ...] = get_args(B2CCommand)


class PayoutBody(BaseModel):
    """The body of POST /v1/payouts (the OpenAPI document is generated from it)."""

    model_config = ConfigDict(extra="forbid")

    phone_number: StrictStr = Field(min_length=1, max_length=32, examples=["254708374149"])
    amount: StrictStr | int = Field(description='whole units, e.g. 500 or "500.00"', examples=["500"])
    command_id: StrictStr = Field(
        description="BusinessPayment, SalaryPayment or PromotionPayment", examples=["BusinessPayment"]
    )
    remarks: StrictStr = Field(
        min_length=rules.REMARKS_MIN, max_length=rules.REMARKS_MAX, examples=["Refund for order 1234"]
    )
    occasion: StrictStr | None = Field(None, max_length=rules.OCCASION_MAX, examples=["Refund"])
    country: Country = Country.KE

    @field_validator("amount", mode="before")
    @classmethod
    def _whole_amount(cls, value: Any) -> Any:
        parse_amount(value)  # raises InputError (a ValueError) naming the problem; never rounds
        return value


@dataclass(frozen=True)
class PayoutRequest:
    country: str
    msisdn: str
    amount: int
    command_id: B2CCommand
    remarks: str
    occasion: str | None

    @property
    def details(self) -> dict[str, str]:
        """What the record keeps of the request beyond the common fields (DynamoDB keeps no empty text)."""
        kept = {"command_id": self.command_id, "remarks": self.remarks}
        if self.occasion:
            kept["occasion"] = self.occasion
        return kept


def validate_request(
    *,
    country: str,
    phone_number: str,
    amount: object,
    command_id: str,
    remarks: str,
    occasion: str | None,
    settings: MpesaSettings,
) -> PayoutRequest:
    """Per-market and B2C validation; InputError names the field at fault. Guard-rails come after."""
    market = market_for(country)
    msisdn = normalise_msisdn(phone_number, market, sandbox=settings.is_sandbox)
    whole = check_amount(parse_amount(amount), market, TransactionKind.B2C, settings.limit_overrides())
    command = next((c for c in get_args(B2CCommand) if c == command_id), None)
    if command is None:
        raise InputError("command_id", f"must be one of {', '.join(COMMANDS)}")
    text = rules.remarks(remarks)
    note = rules.occasion(occasion)
    check_served(market, settings)
    return PayoutRequest(market.country.value, msisdn, whole, command, text, note)


def payout_id_for(request_key: str) -> str:
    """Stable per request key (the caller's identity and Idempotency-Key); hex, so safe in callback URLs."""
    return hashlib.sha256(f"b2c-payout\n{request_key}".encode()).hexdigest()[:32]
