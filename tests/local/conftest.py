"""The fixture stack: `python -m local` over tests/local/fixture/template.yaml, once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.local.process import StackProcess

FIXTURE = Path(__file__).parent / "fixture"
STACK_NAME = "fx"


@pytest.fixture(scope="session")
def fixture_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    work = tmp_path_factory.mktemp("fixture-stack")
    stack = StackProcess(
        {
            "LOCAL_TEMPLATE": str(FIXTURE / "template.yaml"),
            "LOCAL_STACK_NAME": STACK_NAME,
            "LOCAL_EVENTS_LOG": str(work / "events.log"),
            "LOCAL_SIMULATOR": "off",
            "LOCAL_ENV_CUSTOM": "from-local-env",
        },
        work / "stack.log",
    ).start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def aws(fixture_stack: StackProcess) -> Any:
    """boto3 clients for the fixture stack's moto endpoint: aws("dynamodb")."""

    def make(service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=fixture_stack.aws,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    return make
