"""benchmarks/prices.py holds the figures of the project's one price table (when it is at hand)."""

import re
from pathlib import Path

import pytest

from benchmarks import prices

TABLE = Path("/work/shared/reference/aws-prices.md")


@pytest.mark.skipif(not TABLE.exists(), reason="the shared price table is not on this machine")
def test_prices_match_the_shared_table():
    rows = {}
    for line in TABLE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[2].startswith("$"):
            rows[(cells[0], cells[1].split(" (")[0])] = [float(x) for x in re.findall(r"\$([0-9.]+)", cells[2])]
    assert rows[("API Gateway HTTP API", "per 1M requests")] == [prices.API_GATEWAY_HTTP_PER_REQUEST * 1e6]
    assert rows[("Lambda arm64", "per GB-second")] == [prices.LAMBDA_ARM_PER_GB_S]
    assert rows[("Lambda", "per 1M requests")] == [pytest.approx(prices.LAMBDA_PER_REQUEST * 1e6)]
    assert rows[("DynamoDB on-demand", "per 1M write request units")] == [pytest.approx(prices.DYNAMODB_PER_WRU * 1e6)]
    assert rows[("DynamoDB on-demand", "per 1M read request units")] == [pytest.approx(prices.DYNAMODB_PER_RRU * 1e6)]
    assert rows[("Step Functions Standard", "per 1,000 state transitions")] == [
        pytest.approx(prices.SFN_STANDARD_PER_TRANSITION * 1000)
    ]
    assert rows[("SQS standard", "per 1M requests")] == [pytest.approx(prices.SQS_PER_REQUEST * 1e6)]
    assert rows[("EventBridge", "per 1M custom events put")] == [pytest.approx(prices.EVENTBRIDGE_PER_EVENT * 1e6)]
    assert rows[("CloudWatch Logs", "ingestion per GB")] == [prices.CLOUDWATCH_LOGS_PER_GB]
    assert rows[("X-Ray", "per 1M traces recorded")] == [pytest.approx(prices.XRAY_PER_TRACE * 1e6)]
    assert rows[("Secrets Manager", "per secret-month / per 10,000 API calls")][1] == pytest.approx(
        prices.SECRETS_MANAGER_PER_CALL * 10_000
    )
