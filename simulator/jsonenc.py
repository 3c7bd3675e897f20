"""JSON that keeps money exact: ``Decimal`` values are written as JSON numbers digit for digit.

Daraja's callbacks carry amounts such as ``"Value": 10.00``; the standard encoder would need a float
(losing the scale). Parsing uses ``Decimal`` for non-integers so that ``10.5`` is seen as a decimal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any


def dumps(value: Any) -> str:
    """Serialise dicts, lists, str, int, float, bool, None and Decimal (as a number, scale preserved)."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot encode {value!r} as JSON")
        out.append(format(value, "f"))
    elif value is None or isinstance(value, bool | int | float | str):  # floats: delays, never money
        out.append(json.dumps(value))
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(", ")
            out.append(json.dumps(str(key)))
            out.append(": ")
            _write(item, out)
        out.append("}")
    elif isinstance(value, Sequence):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(", ")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def loads(text: str | bytes) -> Any:
    """Parse JSON; numbers with a fraction or exponent become ``Decimal``, never float."""
    return json.loads(text, parse_float=Decimal)
