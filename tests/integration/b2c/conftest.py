from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from simulator.config import SimulatorConfig
from simulator.server import SimulatorServer
from tests.support.apigw import CallbackFront
from tests.support.stack import MOTO_CONFIG, EventTap, atomic_dynamodb, create_tables, stack_environment

SIMULATOR = {"auto_act_delay_s": 0.2, "callback_delay_s": 0.02, "b2c_processing_delay_s": 0.05}


_FRONT_URL = [""]


def stack_env(simulator: SimulatorServer) -> dict[str, str]:
    config = simulator.simulator.config
    return {
        **stack_environment(simulator, _FRONT_URL[0]),
        "MPESA_INITIATOR_NAME": config.initiator_name,
        "MPESA_INITIATOR_PASSWORD": config.initiator_password,
        "MPESA_B2C_SHORT_CODE": config.b2c_shortcode,
        "MPESA_CERTIFICATE_PEM": simulator.certificate_pem,
        "MPESA_B2C_DAILY_BUDGET": "100000",
        "MPESA_B2C_RECIPIENT_DAILY_BUDGET": "20000",
    }


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorServer]:
    server = SimulatorServer(config=SimulatorConfig(**SIMULATOR)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def handlers() -> dict[str, Any]:
    from functions.account_balance import app as account_balance
    from functions.b2c_payout import app as b2c_payout
    from functions.b2c_queue_timeout import app as b2c_queue_timeout
    from functions.b2c_result import app as b2c_result
    from functions.balance_callback import app as balance_callback
    from functions.payout_status import app as payout_status
    from functions.payout_timeout import app as payout_timeout
    from functions.pending_sweep import app as pending_sweep

    return {
        "b2c_payout": b2c_payout.handler,
        "payout_status": payout_status.handler,
        "b2c_result": b2c_result.handler,
        "b2c_queue_timeout": b2c_queue_timeout.handler,
        "payout_timeout": payout_timeout.handler,
        "account_balance": account_balance.handler,
        "balance_callback": balance_callback.handler,
        "pending_sweep": pending_sweep.handler,
    }


@pytest.fixture(scope="session")
def front(handlers: dict[str, Any]) -> Iterator[CallbackFront]:
    server = CallbackFront(
        {
            "/v1/hooks/b2c/result/{payout_id}/{signature}": handlers["b2c_result"],
            "/v1/hooks/b2c/status/{payout_id}/{signature}": handlers["b2c_result"],
            "/v1/hooks/b2c/recon-status/{payout_id}/{signature}": handlers["b2c_result"],
            "/v1/hooks/b2c/result": handlers["b2c_result"],
            "/v1/hooks/b2c/timeout/{payout_id}/{signature}": handlers["b2c_queue_timeout"],
            "/v1/hooks/b2c/status-timeout/{payout_id}/{signature}": handlers["b2c_queue_timeout"],
            "/v1/hooks/b2c/timeout": handlers["b2c_queue_timeout"],
            "/v1/hooks/balance/result/{request_id}/{signature}": handlers["balance_callback"],
            "/v1/hooks/balance/timeout/{request_id}/{signature}": handlers["balance_callback"],
            "/v1/hooks/balance/result": handlers["balance_callback"],
            "/v1/hooks/balance/timeout": handlers["balance_callback"],
        }
    ).start()
    yield server
    server.stop()


@pytest.fixture
def stack(simulator: SimulatorServer, front: CallbackFront, monkeypatch: pytest.MonkeyPatch) -> Iterator[EventTap]:
    from mpesa import runtime
    from mpesa.daraja.tokens import CONTAINER_TOKENS

    simulator.reset()
    CONTAINER_TOKENS.clear()
    simulator.configure(**SIMULATOR)
    _FRONT_URL[0] = front.url
    for name, value in stack_env(simulator).items():
        monkeypatch.setenv(name, value)
    for name in ("MPESA_SECRET_ID", "B2C_TIMEOUT_STATE_MACHINE_ARN", "MPESA_B2C_MAX_PER_PAYOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("MPESA_B2C_ALLOWED_RECIPIENTS", raising=False)
    with mock_aws(config=MOTO_CONFIG), atomic_dynamodb():
        create_tables()
        tap = EventTap.install()
        runtime.reset()
        yield tap
        runtime.reset()
