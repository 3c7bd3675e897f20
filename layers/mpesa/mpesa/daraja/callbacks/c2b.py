"""Daraja's C2B validation and confirmation callbacks (one shape)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import Field, StringConstraints, model_validator

from mpesa.clock import TIMESTAMP_FORMAT
from mpesa.daraja.callbacks.common import daraja_time, load_json, validate
from mpesa.daraja.wire import DarajaResponse, OptionalText, Text
from mpesa.money import parse_amount


class C2BPayload(DarajaResponse):
    """Validation and confirmation share this shape. MSISDN may be masked or a SHA-256 hash: not a key."""

    transaction_type: OptionalText = Field("", alias="TransactionType")
    trans_id: Annotated[Text, StringConstraints(min_length=1, max_length=40)] = Field(alias="TransID")
    trans_time: OptionalText = Field("", alias="TransTime")
    trans_amount: Annotated[Text, StringConstraints(min_length=1, max_length=24)] = Field(alias="TransAmount")
    business_short_code: Annotated[Text, StringConstraints(min_length=1)] = Field(alias="BusinessShortCode")
    bill_ref_number: OptionalText = Field("", alias="BillRefNumber")
    invoice_number: OptionalText = Field("", alias="InvoiceNumber")
    org_account_balance: OptionalText = Field("", alias="OrgAccountBalance")
    third_party_trans_id: OptionalText = Field("", alias="ThirdPartyTransID")
    msisdn: OptionalText = Field("", alias="MSISDN")
    first_name: OptionalText = Field("", alias="FirstName")
    middle_name: OptionalText = Field("", alias="MiddleName")
    last_name: OptionalText = Field("", alias="LastName")

    @model_validator(mode="after")
    def _amount_is_whole(self) -> Self:
        self.amount  # noqa: B018  (raises InputError, reported as a validation error)
        self.transaction_time  # noqa: B018
        return self

    @property
    def amount(self) -> int:
        return parse_amount(self.trans_amount, field="TransAmount")

    @property
    def transaction_time(self) -> datetime | None:
        return daraja_time(self.trans_time, TIMESTAMP_FORMAT, "TransTime")


def parse_c2b_payload(body: str | bytes | bytearray | Mapping[str, Any]) -> C2BPayload:
    return validate(C2BPayload, load_json(body))
