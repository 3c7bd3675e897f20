"""Expected payments: the body's rules, registration once per reference, reading them back."""

from datetime import timedelta

import pytest

from mpesa.clock import now_utc
from mpesa.errors import InputError
from mpesa.flows.c2b import ExpectedPaymentBody, ExpectedPaymentExistsError, expected_payment_view
from mpesa.records import RecordNotFoundError


def body(**overrides):
    values = {
        "account_reference": "inv-001",
        "amount": "1500",
        "expires_at": (now_utc() + timedelta(days=30)).isoformat(),
        "description": "November",
    }
    values.update(overrides)
    return ExpectedPaymentBody(**{k: v for k, v in values.items() if v is not None})


def test_an_expected_payment_is_registered_normalised_and_read_back(flow):
    created, expected = flow.c2b.expected.create(body(), created_by="arn:aws:iam::1:user/shop")
    assert created
    assert (expected.reference, expected.amount_min, expected.amount_max) == ("INV-001", 1500, 1500)
    view = expected_payment_view(flow.c2b.expected.get("Inv-001"))
    assert view["status"] == "open"
    assert (view["paid_total"], view["outstanding"], view["payments"]) == (0, 1500, [])


def test_the_same_body_again_answers_the_stored_one_and_other_terms_conflict(flow):
    first = body()
    flow.c2b.expected.create(first, created_by="a")
    assert flow.c2b.expected.create(first, created_by="a") == (False, flow.store.expected("INV-001"))
    with pytest.raises(ExpectedPaymentExistsError) as exists:
        flow.c2b.expected.create(body(amount="1600", expires_at=first.expires_at), created_by="a")
    assert exists.value.existing.amount_min == 1500


def test_a_range_is_accepted(flow):
    _, expected = flow.c2b.expected.create(body(amount=None, min_amount=100, max_amount="200"), created_by="a")
    assert (expected.amount_min, expected.amount_max) == (100, 200)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"account_reference": "INV 001 AND A VERY LONG ONE"}, "account_reference"),
        ({"account_reference": "INV$1"}, "account_reference"),
        ({"account_reference": "   "}, "account_reference"),
        ({"amount": "10.50"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "150001"}, "amount"),
        ({"amount": None}, "amount"),
        ({"amount": "100", "min_amount": 1, "max_amount": 2}, "amount"),
        ({"amount": None, "min_amount": 300, "max_amount": 200}, "min_amount"),
        ({"amount": None, "min_amount": 0, "max_amount": 200}, "min_amount"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "2030-01-01T00:00:00"}, "expires_at"),
        ({"expires_at": "next week"}, "expires_at"),
        ({"expires_at": (now_utc() + timedelta(days=400)).isoformat()}, "expires_at"),
        ({"description": "caf\u00e9"}, "description"),
    ],
)
def test_an_invalid_body_names_the_field(flow, overrides, field):
    with pytest.raises(InputError) as error:
        flow.c2b.expected.create(body(**overrides), created_by="a")
    assert error.value.field == field
    assert flow.store._expected == {}


def test_an_unknown_reference_is_not_found(flow):
    with pytest.raises(RecordNotFoundError):
        flow.c2b.expected.get("NOBODY")
    with pytest.raises(InputError):
        flow.c2b.expected.get("bad$ref")
