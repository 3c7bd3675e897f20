"""C2B validation: accept, each rejection code, the expected-payment mode, our own failures."""

import re
from dataclasses import replace
from datetime import timedelta

import pytest

from mpesa.clock import now_utc
from mpesa.daraja.callbacks import parse_c2b_payload
from mpesa.flows.c2b import ExpectedPaymentBody, OnError, ValidationMode
from tests.support.c2b import MASKED_MSISDN, SHORT_CODE, c2b_payload


def validate(flow, short_code=SHORT_CODE, **overrides):
    payload = parse_c2b_payload(c2b_payload(**overrides))
    return flow.c2b.validation.validate(payload, short_code=short_code)


def expect(flow, reference="INV001", amount="150", expires_in=timedelta(days=1)):
    body = ExpectedPaymentBody(
        account_reference=reference, amount=amount, expires_at=(now_utc() + expires_in).isoformat()
    )
    return flow.c2b.expected.create(body, created_by="tester")[1]


def expire(flow, expected):
    """As if its expiry had passed (the API refuses an expiry in the past)."""
    flow.store._expected[expected.reference] = replace(expected, expires_at="2000-01-01T00:00:00.000Z")


def test_a_payment_every_rule_accepts_is_accepted_and_recorded(flow):
    decision = validate(flow)
    assert decision.answer() == {"ResultCode": "0", "ResultDesc": "Accepted"}
    [record] = flow.store.validations
    assert (record.trans_id, record.accepted, record.result_code, record.rule) == ("TKQ4AB7XYZ", True, "0", "accepted")
    assert record.amount == 150


@pytest.mark.parametrize(
    ("overrides", "config", "code", "rule"),
    [
        ({"msisdn": "12345"}, {}, "C2B00011", "msisdn"),
        ({"msisdn": "254812345678"}, {}, "C2B00011", "msisdn"),
        ({"reference": ""}, {}, "C2B00012", "account_reference"),
        ({"reference": "ABC"}, {"account_pattern": re.compile(r"INV[0-9]{3}")}, "C2B00012", "account_reference"),
        ({"amount": "0"}, {}, "C2B00013", "amount"),
        ({"amount": "150001.00"}, {}, "C2B00013", "amount"),
        ({"first_name": "", "last_name": ""}, {"require_payer_name": True}, "C2B00014", "kyc"),
        ({"short_code": "600997"}, {}, "C2B00015", "short_code"),
        ({"kind": "Send Money"}, {}, "C2B00016", "transaction_type"),
    ],
)
def test_each_rule_refuses_with_its_code_and_the_reason_is_recorded(flow, overrides, config, code, rule):
    flow = flow.with_config(**config)
    decision = validate(flow, **overrides)
    assert decision.answer() == {"ResultCode": code, "ResultDesc": "Rejected"}
    [record] = flow.store.validations
    assert (record.accepted, record.result_code, record.rule) == (False, code, rule)
    assert record.reason


def test_a_shortcode_not_configured_is_refused_even_on_its_own_url(flow):
    flow = flow.with_config(short_codes=("600997",))
    assert validate(flow).result_code == "C2B00015"


def test_a_masked_or_hashed_msisdn_cannot_be_checked_and_is_not(flow):
    assert validate(flow, msisdn=MASKED_MSISDN).accepted
    assert validate(flow, trans_id="TKQ4AB7XY1").accepted  # the default payload carries a SHA-256 hash


def test_buy_goods_needs_no_account_number_and_the_pattern_applies_to_the_normalised_reference(flow):
    flow = flow.with_config(account_pattern=re.compile(r"INV[0-9]{3}"))
    assert validate(flow, kind="Buy Goods", reference="").accepted
    assert validate(flow, reference=" inv 001 ").accepted


def test_configured_limits_apply(make_flow):
    flow = make_flow(MPESA_LIMITS={"KE": {"c2b": {"minimum": 100, "maximum": 1000}}})
    assert validate(flow, amount="99.00").result_code == "C2B00013"
    assert validate(flow, amount="1000.00").accepted


def test_expected_mode_accepts_only_open_unexpired_references(flow):
    flow = flow.with_config(validation_mode=ValidationMode.EXPECTED)
    assert validate(flow, reference="UNKNOWN1").result_code == "C2B00012"
    expect(flow, "INV001")
    assert validate(flow, reference="inv001").accepted
    expire(flow, expect(flow, "OLD1"))
    decision = validate(flow, reference="OLD1")
    assert (decision.result_code, decision.reason) == ("C2B00012", "the expected payment is expired")
    assert validate(flow, kind="Buy Goods", reference="").result_code == "C2B00012"


def test_a_paid_expected_payment_takes_no_more(flow):
    flow = flow.with_config(validation_mode=ValidationMode.EXPECTED)
    expect(flow, "INV001", amount="150")
    flow.c2b.confirmations.confirm(parse_c2b_payload(c2b_payload()), short_code=SHORT_CODE)
    decision = validate(flow, trans_id="TKQ4AB7XY2")
    assert (decision.result_code, decision.reason) == ("C2B00012", "the expected payment is paid")


def test_rules_mode_never_reads_expected_payments(flow, monkeypatch):
    def no_reads(reference):
        raise AssertionError("rules mode must not read expected payments")

    monkeypatch.setattr(flow.store, "expected", no_reads)
    assert validate(flow).accepted


@pytest.mark.parametrize(("on_error", "answer"), [(OnError.ACCEPT, "0"), (OnError.REJECT, "C2B00016")])
def test_an_internal_error_answers_the_configured_default_and_is_logged(flow, monkeypatch, caplog, on_error, answer):
    flow = flow.with_config(validation_mode=ValidationMode.EXPECTED, on_error=on_error)

    def broken(reference):
        raise RuntimeError("DynamoDB unreachable")

    monkeypatch.setattr(flow.store, "expected", broken)
    decision = validate(flow)
    assert decision.answer()["ResultCode"] == answer
    [record] = flow.store.validations
    assert (record.rule, record.result_code) == ("internal_error", answer)
    assert "validation failed" in caplog.text


def test_a_decision_that_cannot_be_recorded_is_still_answered(flow, monkeypatch, caplog):
    def broken(record):
        raise RuntimeError("DynamoDB unreachable")

    monkeypatch.setattr(flow.store, "record_validation", broken)
    assert validate(flow).accepted
    assert "validation decision not recorded" in caplog.text
