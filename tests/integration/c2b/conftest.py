"""The C2B handlers (and the STK ones, for STK + C2B) over moto and the Daraja simulator on loopback."""

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from simulator.config import SimulatorConfig
from simulator.server import SimulatorServer
from tests.support.apigw import CallbackFront
from tests.support.c2b import CONFIRMATION_ROUTE, VALIDATION_ROUTE
from tests.support.stack import MOTO_CONFIG, EventTap, atomic_dynamodb, create_tables, stack_environment


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorServer]:
    server = SimulatorServer(config=SimulatorConfig(auto_act_delay_s=0.2, callback_delay_s=0.02)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def handlers() -> dict[str, Any]:
    from functions.c2b_confirmation import app as c2b_confirmation
    from functions.c2b_expected import app as c2b_expected
    from functions.c2b_register import app as c2b_register
    from functions.c2b_transactions import app as c2b_transactions
    from functions.c2b_validation import app as c2b_validation
    from functions.payment_status import app as payment_status
    from functions.stk_callback import app as stk_callback
    from functions.stk_push import app as stk_push

    return {
        "c2b_register": c2b_register.handler,
        "c2b_validation": c2b_validation.handler,
        "c2b_confirmation": c2b_confirmation.handler,
        "c2b_expected": c2b_expected.handler,
        "c2b_transactions": c2b_transactions.handler,
        "stk_push": stk_push.handler,
        "payment_status": payment_status.handler,
        "stk_callback": stk_callback.handler,
    }


@pytest.fixture(scope="session")
def front(handlers: dict[str, Any]) -> Iterator[CallbackFront]:
    server = CallbackFront(
        {
            VALIDATION_ROUTE: handlers["c2b_validation"],
            CONFIRMATION_ROUTE: handlers["c2b_confirmation"],
            "/v1/hooks/stk/{transaction_id}/{signature}": handlers["stk_callback"],
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
    for name in ("MPESA_SECRET_ID", "STK_TIMEOUT_STATE_MACHINE_ARN", "C2B_SHORT_CODES", "C2B_VALIDATION_MODE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws(config=MOTO_CONFIG), atomic_dynamodb():
        create_tables()
        tap = EventTap.install()
        runtime.reset()
        yield tap
        runtime.reset()
