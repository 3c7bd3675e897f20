"""What every Daraja body model shares: the base classes, the lenient field types and the APIs'
vocabularies (command ids, identifier types).

Split from `mpesa.daraja.models` so that a webhook parsing callbacks (`mpesa.daraja.callbacks`), or a
flow validating a command id, builds none of the request and response models of the client's APIs.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, ValidationError

from mpesa.codes import normalise_code


def as_text(value: object) -> object:
    """Numbers become their decimal text ("0" for 0, "3599" for 3599); other values pass through."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal):
        return str(value)
    return value


def as_text_or_empty(value: object) -> object:
    return "" if value is None else as_text(value)


def as_code(value: object) -> object:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal | str):
        return normalise_code(str(value))
    return value


def as_list(value: object) -> object:
    """Daraja documents lists but sometimes sends a single object (ResultParameter, ReferenceItem, Item)."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    return value


Text = Annotated[str, BeforeValidator(as_text)]
OptionalText = Annotated[str, BeforeValidator(as_text_or_empty)]
Code = Annotated[str, BeforeValidator(as_code), StringConstraints(min_length=1)]

ShortCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{5,7}$")]

B2CCommand = Literal["BusinessPayment", "SalaryPayment", "PromotionPayment"]
C2BCommand = Literal["CustomerPayBillOnline", "CustomerBuyGoodsOnline"]
IdentifierType = Literal["1", "2", "4"]


class DarajaRequest(BaseModel):
    # defer_build: a model's validator is built when it is first used, so a function builds only the
    # models of the APIs it calls and the callbacks it receives (each module defines many). The two
    # configs stay literal: the pydantic mypy plugin reads validate_by_name from them.
    model_config = ConfigDict(
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
        frozen=True,
        defer_build=True,
    )

    def wire(self) -> dict[str, Any]:
        """The JSON body Daraja expects: wire names, no absent optional fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class DarajaResponse(BaseModel):
    model_config = ConfigDict(
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
        frozen=True,
        defer_build=True,  # as above
    )


def describe_validation_error(exc: ValidationError) -> str:
    """`ConversationID: Field required; Amount: ...` (locations by wire name, never input values)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
