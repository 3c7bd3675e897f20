"""Powertools' idempotency utility, for the functions that use it (STK push, B2C payout).

Only those functions import this module, and with it the utility (whose package brings its DynamoDB
persistence layer). The persistence layer, and so its DynamoDB client, is built on the first call,
not at import, from the container's one boto3 session (`mpesa.aws`).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from mpesa import aws

__all__ = ["IdempotencyConfig", "idempotent"]

TABLE_ENV = "IDEMPOTENCY_TABLE_NAME"

Function = Callable[..., Any]


def idempotent(*, data_keyword_argument: str, config: IdempotencyConfig) -> Callable[[Function], Function]:
    """`idempotent_function` over the DynamoDB table named by IDEMPOTENCY_TABLE_NAME, set up on first call."""

    def decorate(function: Function) -> Function:
        lock = threading.Lock()
        idempotent_call: Function | None = None

        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            nonlocal idempotent_call
            with lock:
                if idempotent_call is None:
                    persistence = DynamoDBPersistenceLayer(
                        table_name=os.environ.get(TABLE_ENV, "idempotency"), boto3_session=aws.session()
                    )
                    idempotent_call = idempotent_function(
                        function,
                        data_keyword_argument=data_keyword_argument,
                        persistence_store=persistence,
                        config=config,
                    )
                target = idempotent_call
            return target(*args, **kwargs)

        return call

    return decorate
