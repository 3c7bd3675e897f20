import pytest

from mpesa.codes import (
    KNOWN_CODES,
    Disposition,
    Outcome,
    classify,
    handle_mpesa_result,
    is_pending,
    normalise_code,
)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (0, "success"),
        (1, "failed"),
        (2001, "failed"),
        (17, "retry"),
        (1037, "retry"),
        (1032, "cancelled"),
        (26, "unknown"),
        (1001, "unknown"),
        (1019, "unknown"),
        (4999, "unknown"),
        (99, "unknown"),
    ],
)
def test_handle_mpesa_result_is_the_guides_mapping(code, expected):
    assert handle_mpesa_result(code) == expected
    assert handle_mpesa_result(str(code)) == expected


@pytest.mark.parametrize("code", ["C2B00011", "R000002", "", "abc"])
def test_handle_mpesa_result_non_numeric_codes_are_unknown(code):
    assert handle_mpesa_result(code) == "unknown"


def test_codes_compare_as_numbers_when_numeric():
    assert normalise_code(" 0032 ") == "32"
    assert normalise_code(1032) == normalise_code("1032")
    assert normalise_code(None) == ""
    assert normalise_code(True) == ""


EXPECTED_DISPOSITIONS = {
    "0": Disposition.FINAL,
    "1": Disposition.FINAL,
    "2": Disposition.FINAL,
    "3": Disposition.FINAL,
    "4": Disposition.FINAL,
    "8": Disposition.FINAL,
    "11": Disposition.FINAL,
    "2006": Disposition.FINAL,
    "17": Disposition.RETRYABLE,
    "18": Disposition.FINAL,
    "20": Disposition.FINAL,
    "21": Disposition.FINAL,
    "22": Disposition.FINAL,
    "15": Disposition.FINAL,
    "24": Disposition.FINAL,
    "25": Disposition.FINAL,
    "29": Disposition.FINAL,
    "26": Disposition.RETRYABLE,
    "100000001": Disposition.RETRYABLE,
    "100000002": Disposition.RETRYABLE,
    "100000011": Disposition.RETRYABLE,
    "1001": Disposition.RETRYABLE,
    "1019": Disposition.FINAL,
    "1025": Disposition.RETRYABLE,
    "9999": Disposition.RETRYABLE,
    "1032": Disposition.FINAL,
    "1037": Disposition.RETRYABLE,
    "2001": Disposition.FINAL,
    "2028": Disposition.FINAL,
    "SFC_IC0003": Disposition.FINAL,
    "2040": Disposition.FINAL,
    "8006": Disposition.FINAL,
    "4999": Disposition.PENDING,
    "NOT_SENT": Disposition.FINAL,  # our own: the request never reached M-Pesa
    "NOT_IN_STATEMENT": Disposition.FINAL,  # our own: absent from the closed window's statement
    "E3008": Disposition.FINAL,
    "R000001": Disposition.FINAL,
    "R000002": Disposition.FINAL,
    "4001": Disposition.FINAL,
    "500.001.1001": Disposition.PENDING,
    "C2B00011": Disposition.FINAL,
    "C2B00012": Disposition.FINAL,
    "C2B00013": Disposition.FINAL,
    "C2B00014": Disposition.FINAL,
    "C2B00015": Disposition.FINAL,
    "C2B00016": Disposition.FINAL,
}


def test_every_reference_code_is_classified():
    assert set(EXPECTED_DISPOSITIONS) == KNOWN_CODES


@pytest.mark.parametrize(("code", "disposition"), sorted(EXPECTED_DISPOSITIONS.items()))
def test_disposition_of_each_reference_code(code, disposition):
    assert classify(code).disposition is disposition
    if code.isdigit():
        assert classify(int(code)).disposition is disposition


def test_outcome_follows_the_guide_where_it_speaks():
    assert classify(0).outcome is Outcome.SUCCESS
    assert classify("1032").outcome is Outcome.CANCELLED
    assert classify(1037).outcome is Outcome.RETRY
    assert classify(2001).outcome is Outcome.FAILED


def test_outcome_elsewhere_follows_the_disposition():
    assert classify(1019).outcome is Outcome.FAILED
    assert classify(26).outcome is Outcome.RETRY
    assert classify("4001").outcome is Outcome.CANCELLED
    assert classify(4999).outcome is Outcome.UNKNOWN


@pytest.mark.parametrize("code", [4999, "4999", "500.001.1001"])
def test_being_processed_is_pending(code):
    assert is_pending(code)


@pytest.mark.parametrize("code", [0, 1032, 1037, "12345", None])
def test_other_codes_are_not_pending(code):
    assert not is_pending(code)


def test_unknown_code_is_never_assumed_final():
    info = classify("12345")
    assert info.disposition is Disposition.UNKNOWN
    assert info.outcome is Outcome.UNKNOWN
