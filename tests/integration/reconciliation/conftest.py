"""The STK stack (moto + simulator + handlers) plus the reports bucket and the reconciliation handlers."""

from typing import Any

import boto3
import pytest

BUCKET = "reports-bucket"


@pytest.fixture
def reports(stack, monkeypatch: pytest.MonkeyPatch) -> str:
    from mpesa import runtime

    boto3.client("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("REPORTS_BUCKET_NAME", BUCKET)
    runtime.reset()
    runtime.daraja().pull.register(nominated_number="0712345678", callback_url="http://127.0.0.1:9/v1/hooks/pull")
    return BUCKET


@pytest.fixture(scope="session")
def reconciliation_handlers() -> dict[str, Any]:
    from functions.reconciliation import app as reconciliation
    from functions.reports import app as reports

    return {"reconciliation": reconciliation.handler, "reports": reports.handler}
