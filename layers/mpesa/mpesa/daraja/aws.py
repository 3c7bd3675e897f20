"""The DynamoDB client for the shared state table: created once per container, on first use.

boto3 ships with the Lambda runtime (it is not in the layer); locally it is a dev dependency.
`AWS_ENDPOINT_URL` (e.g. a moto server) is honoured by boto3 itself.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

STATE_TABLE_ENV = "STATE_TABLE_NAME"

_client: DynamoDBClient | None = None
_lock = threading.Lock()


def state_table_name() -> str | None:
    return os.environ.get(STATE_TABLE_ENV) or None


def dynamodb_client() -> DynamoDBClient:
    global _client
    with _lock:
        if _client is None:
            import boto3
            from botocore.config import Config

            config = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 2, "mode": "standard"})
            _client = boto3.client("dynamodb", config=config)
        return _client
