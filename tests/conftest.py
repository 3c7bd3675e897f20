"""Shared test setup. moto is imported before anything creates a boto3 client (see aws-local.md §5)."""

import os

import moto  # noqa: F401  (import order matters: clients made after this are interceptable)

# Tests never reach AWS: fake credentials, a fixed region, Powertools quiet and deterministic.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SECURITY_TOKEN", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "MpesaTests")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "mpesa-tests")
os.environ.pop("AWS_ENDPOINT_URL", None)

# Fixtures of the in-process STK stack, for every suite that drives the handlers over moto and the simulator.
pytest_plugins = ["tests.support.stk_stack"]
