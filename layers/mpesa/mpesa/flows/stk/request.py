"""An STK push request: validated per market and Daraja's rules, and the id it is recorded under."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from mpesa import rules
from mpesa.markets import Country, TransactionKind, check_amount, market_for, normalise_msisdn
from mpesa.money import parse_amount
from mpesa.providers.registry import check_served

if TYPE_CHECKING:
    from mpesa.settings import MpesaSettings

DESCRIPTION_INPUT_MAX = 100  # a sanity bound: only the first rules.TRANSACTION_DESC_MAX characters are sent


class StkPushBody(BaseModel):
    """The body of POST /v1/payments/stk-push (the OpenAPI document is generated from it)."""

    model_config = ConfigDict(extra="forbid")

    phone_number: StrictStr = Field(min_length=1, max_length=32, examples=["0712345678"])
    amount: StrictStr | int = Field(description='whole units, e.g. 1000 or "1000.00"', examples=["10"])
    account_reference: StrictStr = Field(
        min_length=1,
        max_length=rules.ACCOUNT_REFERENCE_MAX,
        description="shown in the customer's prompt; letters, digits, spaces and - _ . # /",
        examples=["ORDER1"],
    )
    transaction_desc: StrictStr = Field(
        min_length=1,
        max_length=DESCRIPTION_INPUT_MAX,
        description=f"its first {rules.TRANSACTION_DESC_MAX} characters are sent (Daraja's limit)",
        examples=["Payment"],
    )
    country: Country = Country.KE

    @field_validator("amount", mode="before")
    @classmethod
    def _whole_amount(cls, value: Any) -> Any:
        parse_amount(value)  # raises InputError (a ValueError) naming the problem; never rounds
        return value


@dataclass(frozen=True)
class StkPaymentRequest:
    country: str
    msisdn: str
    amount: int
    account_reference: str
    transaction_desc: str

    @property
    def details(self) -> dict[str, str]:
        """What the record keeps of the request beyond the common fields."""
        return {"account_reference": self.account_reference, "transaction_desc": self.transaction_desc}


def validate_request(
    *,
    country: str,
    phone_number: str,
    amount: object,
    account_reference: str,
    transaction_desc: str,
    settings: MpesaSettings,
) -> StkPaymentRequest:
    """Per-market validation; InputError names the field at fault."""
    market = market_for(country)
    msisdn = normalise_msisdn(phone_number, market, sandbox=settings.is_sandbox)
    whole = parse_amount(amount)
    check_amount(whole, market, TransactionKind.STK_PUSH, settings.limit_overrides())
    reference = rules.account_reference(account_reference)
    description = rules.transaction_desc(transaction_desc)
    # Validated first, so the caller learns everything wrong with the request in the market's terms.
    check_served(market, settings)
    return StkPaymentRequest(market.country.value, msisdn, whole, reference, description)


def transaction_id_for(request_key: str) -> str:
    """Stable per request key (the caller's identity and Idempotency-Key); hex, so safe in callback URLs."""
    return hashlib.sha256(f"stk-push\n{request_key}".encode()).hexdigest()[:32]
