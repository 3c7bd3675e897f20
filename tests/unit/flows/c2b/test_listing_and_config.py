"""The listing's parameters and cursor; the C2B configuration from the environment."""

import re
from datetime import UTC, datetime

import pytest

from mpesa.errors import ConfigurationError, InputError
from mpesa.flows.c2b import C2BConfig, OnError, ValidationMode, encode_cursor, parse_query

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_defaults_are_the_last_seven_days_fifty_at_a_time():
    query = parse_query({}, NOW)
    assert (query.start, query.end, query.limit, query.position) == (
        datetime(2026, 11, 19, 12, 0, tzinfo=UTC),
        NOW,
        50,
        None,
    )


def test_dates_are_whole_utc_days_and_instants_keep_their_zone():
    query = parse_query({"from": "2026-11-01", "to": "2026-11-02", "limit": "100"}, NOW)
    assert (query.start, query.end, query.limit) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 11, 3, tzinfo=UTC),
        100,
    )
    query = parse_query({"from": "2026-11-01T00:00:00+03:00", "to": "2026-11-01T12:00:00Z"}, NOW)
    assert query.start == datetime(2026, 10, 31, 21, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-13-01"}, "from"),
        ({"to": "2026-11-01T10:00:00"}, "to"),
        ({"from": "2026-11-20", "to": "2026-11-10"}, "from"),
        ({"from": "2026-09-01", "to": "2026-11-01"}, "from"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"page": "2"}, "page"),
        ({"next": "garbage!"}, "next"),
    ],
)
def test_a_bad_parameter_is_named(params, field):
    with pytest.raises(InputError) as error:
        parse_query(params, NOW)
    assert error.value.field == field


def test_a_cursor_round_trips_only_for_its_own_window():
    query = parse_query({"from": "2026-11-01", "to": "2026-11-02"}, NOW)
    cursor = encode_cursor({"day": "2026-11-02", "pk": "txn#TKQ4AB7XYZ"}, query)
    again = parse_query({"from": "2026-11-01", "to": "2026-11-02", "next": cursor}, NOW)
    assert again.position == {"day": "2026-11-02", "pk": "txn#TKQ4AB7XYZ"}
    with pytest.raises(InputError):
        parse_query({"from": "2026-11-01", "to": "2026-11-03", "next": cursor}, NOW)


def test_the_configuration_defaults_to_the_business_shortcode():
    config = C2BConfig.from_env({}, "174379")
    assert config == C2BConfig(short_codes=("174379",))


def test_the_configuration_reads_every_setting():
    config = C2BConfig.from_env(
        {
            "C2B_SHORT_CODES": "600997, 600998",
            "C2B_RESPONSE_TYPE": "Cancelled",
            "C2B_VALIDATION_MODE": "expected",
            "C2B_ACCOUNT_REFERENCE_PATTERN": "INV[0-9]+",
            "C2B_VALIDATION_ON_ERROR": "reject",
            "C2B_REQUIRE_PAYER_NAME": "true",
        },
        "174379",
    )
    assert config == C2BConfig(
        short_codes=("600997", "600998"),
        response_type="Cancelled",
        validation_mode=ValidationMode.EXPECTED,
        account_pattern=re.compile("INV[0-9]+"),
        on_error=OnError.REJECT,
        require_payer_name=True,
    )


def test_a_bad_configuration_names_every_setting_at_fault():
    with pytest.raises(ConfigurationError) as error:
        C2BConfig.from_env(
            {
                "C2B_SHORT_CODES": "12",
                "C2B_RESPONSE_TYPE": "completed",
                "C2B_VALIDATION_MODE": "strict",
                "C2B_ACCOUNT_REFERENCE_PATTERN": "([",
                "C2B_VALIDATION_ON_ERROR": "maybe",
                "C2B_REQUIRE_PAYER_NAME": "yes",
            },
            "174379",
        )
    assert set(error.value.problems) == {
        "C2B_SHORT_CODES",
        "C2B_RESPONSE_TYPE",
        "C2B_VALIDATION_MODE",
        "C2B_ACCOUNT_REFERENCE_PATTERN",
        "C2B_VALIDATION_ON_ERROR",
        "C2B_REQUIRE_PAYER_NAME",
    }
