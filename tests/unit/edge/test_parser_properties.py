"""Property tests of every parser at the edge: whatever the input, a value or a 4xx-class error, never
another exception; and no conversion whose cost grows faster than the input (huge numbers, deep
nesting). Work is bounded by the parsers' own caps; the per-test timeout only guards a regression."""

import contextlib
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpesa import safe_json
from mpesa.daraja.callbacks import parse_async_result, parse_c2b_payload, parse_stk_callback
from mpesa.errors import CallbackPayloadError, InputError, PayloadTooLargeError
from mpesa.markets import MARKETS, Country, normalise_msisdn
from mpesa.money import parse_amount

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.decimals(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5),
    max_leaves=30,
)
hostile_numbers = st.sampled_from(["1e1000000", "-1e-1000000", "9" * 5000, "1E+999999999", "0.0000e99999"])


@PROPERTY
@given(st.binary(max_size=2048))
def test_any_bytes_are_json_or_a_body_error(data):
    with contextlib.suppress(safe_json.JsonBodyError, PayloadTooLargeError):
        safe_json.parse(data, max_bytes=16 * 1024)


@PROPERTY
@given(json_values)
def test_json_it_accepts_survives_a_round_trip_without_floats(value):
    text = json.dumps(value, default=str)
    try:
        parsed = safe_json.parse(text, max_bytes=1 << 20)
    except safe_json.JsonBodyError:
        return  # a number over the caps, a lone surrogate...
    assert not any(isinstance(v, float) for v in _leaves(parsed))


@pytest.mark.timeout(20)
@PROPERTY
@given(hostile_numbers, st.sampled_from(['{"amount": %s}', "[%s]", "%s"]))
def test_hostile_numbers_are_refused_before_any_conversion(number, template):
    with pytest.raises(safe_json.JsonBodyError, match="number"):
        safe_json.parse(template % number, max_bytes=1 << 20)


@pytest.mark.timeout(20)
@given(st.integers(min_value=safe_json.MAX_DEPTH + 1, max_value=200_000), st.sampled_from(["[", '{"a":']))
def test_deep_nesting_is_refused_not_a_recursion_error(depth, opener):
    closer = "]" if opener == "[" else "}"
    with pytest.raises(safe_json.JsonBodyError, match="nests deeper"):
        safe_json.parse(opener * depth + "1" + closer * depth, max_bytes=1 << 22)


def test_nesting_within_the_cap_is_fine():
    assert safe_json.parse("[" * safe_json.MAX_DEPTH + "]" * safe_json.MAX_DEPTH, max_bytes=1024) == _nest(
        safe_json.MAX_DEPTH - 1
    )


def _nest(depth):
    return [] if depth == 0 else [_nest(depth - 1)]


@pytest.mark.parametrize("text", ['"\\ud800"', '{"\\udfff": 1}', '["ok", "\\ud83d"]'])
def test_lone_surrogates_are_refused(text):
    with pytest.raises(safe_json.JsonBodyError, match="lone surrogate"):
        safe_json.parse(text, max_bytes=1024)


def test_a_valid_pair_of_surrogates_is_fine():
    assert safe_json.parse('"\\ud83d\\ude00"', max_bytes=1024) == "\U0001f600"


@pytest.mark.parametrize("data", [b"\xff\xfe{}", b'{"a": "\xc3"}', "caf\udce9"])
def test_text_that_is_not_utf8_is_refused(data):
    with pytest.raises(safe_json.JsonBodyError, match="UTF-8"):
        safe_json.parse(data, max_bytes=1024)


def test_a_repeated_key_is_refused():
    with pytest.raises(safe_json.JsonBodyError, match="repeats a key"):
        safe_json.parse('{"ResultCode": 0, "ResultCode": 1}', max_bytes=1024)


@pytest.mark.timeout(20)
@PROPERTY
@given(
    st.one_of(
        st.integers(),
        st.decimals(allow_nan=True, allow_infinity=True),
        st.builds(Decimal, st.from_regex(r"\A[1-9]E[+-]?[0-9]{1,7}\Z")),
        st.text(max_size=40),
        st.floats(),
        st.booleans(),
        st.none(),
    )
)
def test_amounts_are_whole_units_or_an_input_error(value):
    outcome = _outcome(parse_amount, value)
    if isinstance(outcome, InputError):
        assert outcome.field == "amount"
        assert "int_max_str_digits" not in outcome.message
    else:
        assert isinstance(outcome, int)
        assert 0 <= outcome < 10**15


@PROPERTY
@given(st.text(max_size=40), st.sampled_from(list(Country)), st.booleans())
def test_phone_numbers_normalise_or_name_the_field(text, country, sandbox):
    outcome = _outcome(normalise_msisdn, text, MARKETS[country], sandbox=sandbox)
    if isinstance(outcome, InputError):
        assert outcome.field == "phone_number"
    else:
        assert outcome.isdigit()
        assert len(outcome) == 12


@PROPERTY
@given(st.one_of(st.binary(max_size=512), json_values.map(lambda v: json.dumps(v, default=str))))
def test_callback_parsers_give_a_model_or_a_payload_error(body):
    for parse in (parse_stk_callback, parse_async_result, parse_c2b_payload):
        with contextlib.suppress(CallbackPayloadError):
            parse(body)


@PROPERTY
@given(
    st.fixed_dictionaries(
        {
            "MerchantRequestID": json_values,
            "CheckoutRequestID": json_values,
            "ResultCode": json_values,
            "ResultDesc": json_values,
        },
        optional={"CallbackMetadata": json_values},
    )
)
def test_stk_callbacks_with_any_field_values_parse_or_name_a_field(callback):
    body = json.dumps({"Body": {"stkCallback": callback}}, default=str)
    outcome = _outcome(parse_stk_callback, body)
    if isinstance(outcome, CallbackPayloadError):
        assert outcome.field
    else:
        assert outcome.checkout_request_id


def _outcome(parse, *args, **kwargs):
    """The parser's value, or the InputError it raised (any other exception fails the test)."""
    try:
        return parse(*args, **kwargs)
    except InputError as exc:
        return exc


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value
