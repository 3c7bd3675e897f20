"""Fixtures of the in-process STK stack (moto + the simulator + the handlers), shared as a pytest plugin
(tests/conftest.py): `simulator`, `handlers`, `front`, `stack`."""

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from simulator.config import SimulatorConfig
from simulator.server import SimulatorServer
from tests.support.apigw import CallbackFront
from tests.support.stack import MOTO_CONFIG, EventTap, atomic_dynamodb, create_tables, stack_environment


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorServer]:
    server = SimulatorServer(config=SimulatorConfig(auto_act_delay_s=0.2, callback_delay_s=0.02)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def handlers() -> dict[str, Any]:
    from functions.payment_status import app as payment_status
    from functions.stk_callback import app as stk_callback
    from functions.stk_push import app as stk_push
    from functions.stk_timeout import app as stk_timeout

    return {
        "stk_push": stk_push.handler,
        "payment_status": payment_status.handler,
        "stk_callback": stk_callback.handler,
        "stk_timeout": stk_timeout.handler,
    }


@pytest.fixture(scope="session")
def front(handlers: dict[str, Any]) -> Iterator[CallbackFront]:
    server = CallbackFront(
        {
            "/v1/hooks/stk/{transaction_id}/{signature}": handlers["stk_callback"],
            "/v1/webhooks/mpesa/stkpush": handlers["stk_callback"],
        }
    ).start()
    yield server
    server.stop()


@pytest.fixture
def stack(simulator: SimulatorServer, front: CallbackFront, monkeypatch: pytest.MonkeyPatch) -> Iterator[EventTap]:
    from mpesa import runtime
    from mpesa.daraja.tokens import CONTAINER_TOKENS

    simulator.reset()
    CONTAINER_TOKENS.clear()  # the simulator's reset revoked every token; start like a new container
    simulator.configure(auto_act_delay_s=0.2, callback_delay_s=0.02)
    for name, value in stack_environment(simulator, front.url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MPESA_SECRET_ID", raising=False)
    monkeypatch.delenv("STK_TIMEOUT_STATE_MACHINE_ARN", raising=False)
    with mock_aws(config=MOTO_CONFIG), atomic_dynamodb():
        create_tables()
        tap = EventTap.install()
        runtime.reset()
        yield tap
        runtime.reset()
