"""A provider's request model built from a caller's arguments: one rule for the Daraja and OpenAPI clients."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mpesa.errors import InputError

if TYPE_CHECKING:
    from pydantic import BaseModel


def build_request[R: BaseModel](model: type[R], values: dict[str, Any], renamed: dict[str, str] | None = None) -> R:
    """The request model, or InputError naming the first offending field by the caller's name
    (our snake_case name, or `renamed[name]` for fields derived from another argument)."""
    from pydantic import ValidationError  # with the first request: importing a client loads no pydantic

    try:
        return model.model_validate(values)
    except ValidationError as exc:
        error = exc.errors(include_input=False, include_url=False)[0]
        field = "request"
        if error["loc"]:
            wire = str(error["loc"][0])
            field = next((name for name, f in model.model_fields.items() if f.alias == wire), wire)
            field = (renamed or {}).get(field, field)
        raise InputError(field, error["msg"]) from None
