"""The timeout flow's steps and the sweep's look at payouts: Transaction Status by our OCID, never a re-send."""

import json
from datetime import timedelta

import pytest

from mpesa.clock import now_utc
from mpesa.daraja.errors import DarajaApiError, DarajaTransportError
from mpesa.errors import DarajaUnavailableError
from mpesa.records import Ref, Status
from tests.unit.flows.b2c.conftest import b2c_result


def test_a_step_asks_transaction_status_by_our_ocid_on_signed_urls(flow):
    flow.pay()
    record = flow.record()
    step = flow.payouts.resolve(record.transaction_id, 0, 3)
    assert (step.settled, step.attempt, step.exhausted) == (False, 1, False)
    (query,) = flow.gateway.status_queries
    assert query["originator_conversation_id"] == record.ref(Ref.ORIGINATOR_CONVERSATION_ID)
    assert query["party_a"] == "600996"
    assert query["result_url"].startswith(f"https://pay.example.com/v1/hooks/b2c/status/{record.transaction_id}/")
    assert query["queue_timeout_url"].startswith(
        f"https://pay.example.com/v1/hooks/b2c/status-timeout/{record.transaction_id}/"
    )
    assert len(flow.gateway.payouts) == 1  # never a re-send


def test_a_settled_payout_needs_no_query_and_the_last_step_asks_nothing(flow):
    flow.pay()
    payout_id = flow.record().transaction_id
    exhausted = flow.payouts.resolve(payout_id, 3, 3)
    assert (exhausted.settled, exhausted.exhausted) == (False, True)
    flow.payouts.receive_result(b2c_result(flow.record()), source_ip="", source_allowed=True, payout_id=payout_id)
    done = flow.payouts.resolve(payout_id, 1, 3)
    assert (done.settled, done.status) == (True, Status.SUCCESS)
    assert flow.gateway.status_queries == []


def test_transient_trouble_is_raised_for_the_state_machine_to_retry(flow):
    flow.pay()
    flow.gateway.status_answers.append(DarajaTransportError("transaction_status", "reset", request_sent=True))
    with pytest.raises(DarajaUnavailableError):
        flow.payouts.resolve(flow.record().transaction_id, 0, 3)
    flow.gateway.status_answers.append(DarajaApiError("transaction_status", 400, "400.002.02", "Invalid Initiator"))
    assert flow.payouts.resolve(flow.record().transaction_id, 0, 3).attempt == 1  # refused: counted, not raised


def test_mark_unknown_is_announced_once_and_keeps_the_budget(flow):
    flow.pay()
    payout_id = flow.record().transaction_id
    assert flow.payouts.mark_unknown(payout_id).changed
    assert not flow.payouts.mark_unknown(payout_id).changed
    assert flow.record().status is Status.UNKNOWN
    assert flow.publisher.types() == ["payout.outcome_unknown"]
    assert flow.budgets.total("shortcode") == 500


def test_the_sweep_asks_about_an_open_payout_and_marks_it_unknown_past_the_horizon(flow):
    flow.pay()
    record = flow.record()
    later = now_utc() + timedelta(seconds=flow.deps.timing.horizon_s + 1)
    counts = flow.payouts.resolution.resolve_due(record, later, None)
    assert counts == ["status_asked", "marked_unknown"]
    assert len(flow.gateway.status_queries) == 1
    assert flow.record().status is Status.UNKNOWN
    again = flow.payouts.resolution.resolve_due(flow.record(), later, None)
    assert again == ["status_asked", "still_unknown"]
    assert len(flow.gateway.payouts) == 1


def test_the_sweep_asks_a_young_payout_without_marking_it(flow):
    flow.pay()
    assert flow.payouts.resolution.resolve_due(flow.record(), now_utc(), None) == ["status_asked"]
    assert flow.record().status is Status.PENDING


def test_the_sweep_defers_when_daraja_is_down(flow):
    flow.pay()
    flow.gateway.status_answers.append(DarajaTransportError("transaction_status", "refused", request_sent=False))
    assert flow.payouts.resolution.resolve_due(flow.record(), now_utc(), None) == ["deferred"]


def test_events_carry_no_full_phone_number(flow):
    flow.pay()
    flow.payouts.mark_unknown(flow.record().transaction_id)
    assert "254708374149" not in json.dumps(flow.publisher.published[0].detail)


def test_a_payout_settled_before_it_could_be_marked_unknown_is_not_counted_unknown(flow, monkeypatch):
    """`marked_unknown` feeds the PaymentUnknown alarm: counted only when this write made the payout UNKNOWN."""
    from mpesa.records import SettleResult

    flow.pay()
    record = flow.record()
    resolution = flow.payouts.resolution
    # Its Result settles it between the sweep's read and the UNKNOWN write.
    monkeypatch.setattr(resolution, "mark_unknown", lambda payout_id: SettleResult(record, changed=False))
    later = now_utc() + timedelta(seconds=flow.deps.timing.horizon_s + 1)
    assert resolution.resolve_due(record, later, None) == ["status_asked", "resolved"]
