"""Untrusted JSON (request bodies, callbacks, M-Pesa's answers) read within bounds, before any conversion.

`json.loads` alone lets a small body cost a lot: an integer with a hundred thousand digits, a number
such as `1e1000000` that later reaches `int()`, nesting deep enough to raise RecursionError, bytes that
are not UTF-8, or an escaped lone surrogate (`"\\ud800"`) that no database can store. `parse` refuses
each of them with a JsonBodyError (an InputError on `body`: a 400), or PayloadTooLargeError (a 413)
when the bytes exceed the route's cap, all before any number is converted. Its cost grows with the
size of the input only: one decode, one scan for the nesting depth, one parse, one walk.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, NoReturn

from mpesa.errors import InputError, PayloadTooLargeError

MAX_DEPTH = 32  # Daraja's deepest payload (an async Result) nests 5 levels
MAX_INT_DIGITS = 300  # amounts are at most 15 digits, timestamps 14; int() of 300 digits takes a microsecond
MAX_NUMBER_CHARS = 40  # a number with a fraction or an exponent, sign and all
MAX_EXPONENT = 30  # |e| of a number written with an exponent
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_STRUCTURE = re.compile(r'["\\\[\]{}]')


class JsonBodyError(InputError):
    """A body that is not JSON we accept; the message says why, never with Python internals."""

    def __init__(self, message: str) -> None:
        super().__init__("body", message)


def decode(data: bytes | bytearray | str, *, max_bytes: int) -> str:
    """The text of `data`: at most `max_bytes` bytes of strict UTF-8."""
    if isinstance(data, str):
        if len(data) > max_bytes or len(data.encode("utf-8", "surrogatepass")) > max_bytes:
            raise PayloadTooLargeError(max_bytes)
        if _LONE_SURROGATE.search(data):
            raise JsonBodyError("is not UTF-8 text")
        return data
    if len(data) > max_bytes:
        raise PayloadTooLargeError(max_bytes)
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise JsonBodyError("is not UTF-8 text") from None


def parse(data: bytes | bytearray | str, *, max_bytes: int) -> Any:
    """JSON within the bounds above; numbers with a fraction or exponent become Decimal, never float."""
    text = decode(data, max_bytes=max_bytes)
    if _depth(text) > MAX_DEPTH:
        raise JsonBodyError(f"nests deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(
            text,
            parse_int=_integer,
            parse_float=_decimal,
            parse_constant=_constant,
            object_pairs_hook=_object,
        )
    except json.JSONDecodeError as exc:
        raise JsonBodyError(f"is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:  # unreachable after the depth scan; kept so no input can escape as a 5xx
        raise JsonBodyError(f"nests deeper than {MAX_DEPTH} levels") from None
    _refuse_lone_surrogates(value)
    return value


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects, strings skipped; stops counting past MAX_DEPTH."""
    depth = deepest = 0
    in_string = escaped = False
    for match in _STRUCTURE.finditer(text):
        char = match.group()
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = match.end() < len(text) and text[match.end()] in '"\\'
                if escaped:
                    continue
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise JsonBodyError(f"has a number with more than {MAX_INT_DIGITS} digits")
    return int(text)


def _decimal(text: str) -> Decimal:
    if len(text) > MAX_NUMBER_CHARS:
        raise JsonBodyError(f"has a number longer than {MAX_NUMBER_CHARS} characters")
    exponent = text.lower().partition("e")[2]
    if exponent and abs(int(exponent)) > MAX_EXPONENT:
        raise JsonBodyError(f"has a number with an exponent beyond ±{MAX_EXPONENT}")
    return Decimal(text)


def _constant(name: str) -> NoReturn:
    raise JsonBodyError(f"has {name}, which is not a number JSON allows")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise JsonBodyError("repeats a key in one object")
    return value


def _refuse_lone_surrogates(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _LONE_SURROGATE.search(item):
                raise JsonBodyError("has text that is not valid Unicode (a lone surrogate)")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
