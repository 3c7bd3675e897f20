"""events/ holds a sample for every function, in the shapes API Gateway, Daraja and EventBridge send."""

import json
from pathlib import Path

import pytest

from local.cfn import load_template
from mpesa.daraja.callbacks import parse_stk_callback

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
FUNCTIONS = {
    logical_id: resource["Properties"]
    for logical_id, resource in TEMPLATE["Resources"].items()
    if resource["Type"] == "AWS::Serverless::Function"
}


def samples(code_uri: str) -> list[Path]:
    return sorted((ROOT / "events" / Path(code_uri).name).glob("*.json"))


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_has_sample_events(logical_id):
    assert samples(FUNCTIONS[logical_id]["CodeUri"]), f"events/ has no sample for {logical_id}"


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_api_samples_match_a_route_of_their_function(logical_id):
    props = FUNCTIONS[logical_id]
    routes = {
        f"{e['Properties']['Method']} {e['Properties']['Path']}"
        for e in props.get("Events", {}).values()
        if e["Type"] == "HttpApi"
    }
    for sample in samples(props["CodeUri"]):
        event = json.loads(sample.read_text())
        if "routeKey" in event:
            assert event["routeKey"] in routes, sample.name
            assert event["version"] == "2.0"


def test_callback_samples_are_real_daraja_shapes():
    for sample in samples("functions/stk_callback"):
        callback = parse_stk_callback(json.loads(sample.read_text())["body"])
        assert callback.checkout_request_id.startswith("ws_CO_")
        if callback.succeeded:
            assert callback.amount == 10
            assert callback.receipt == "NLJ7RT61SV"


def test_payout_samples_are_real_daraja_shapes():
    from mpesa.daraja.callbacks import parse_async_result, parse_queue_timeout

    for sample in samples("functions/b2c_result"):
        result = parse_async_result(json.loads(sample.read_text())["body"])
        assert result.conversation_id.startswith("AG_")
        if result.succeeded and "status" not in sample.name:
            assert result.transaction_amount == 500
            assert result.transaction_receipt == "NLJ41HAY6Q"
        if "status" in sample.name:
            assert result.transaction_status == "Completed"
    for sample in samples("functions/b2c_queue_timeout"):
        timeout = parse_queue_timeout(json.loads(sample.read_text())["body"])
        assert timeout.is_queue_timeout
        assert timeout.outcome == "unknown"
    for sample in samples("functions/balance_callback"):
        result = parse_async_result(json.loads(sample.read_text())["body"])
        assert result.is_queue_timeout or [a.name for a in result.account_balances][:2] == [
            "Working Account",
            "Utility Account",
        ]
