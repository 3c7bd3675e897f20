"""Who is calling the merchant API: the IAM principal API Gateway authenticated (never a header)."""

from collections.abc import Mapping
from typing import Any


def principal(event: Mapping[str, Any]) -> str:
    """Idempotency keys are the caller's own: two IAM principals may pick the same key."""
    iam = ((event.get("requestContext") or {}).get("authorizer") or {}).get("iam") or {}
    return str(iam.get("userArn") or iam.get("accountId") or "anonymous")
