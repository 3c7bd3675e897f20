"""The STK flow over in-memory fakes: no moto, no sockets."""

import pytest

from tests.support.daraja import make_settings
from tests.support.fakes import StkFlowFakes, stk_flow


@pytest.fixture
def flow() -> StkFlowFakes:
    return stk_flow(make_settings(MPESA_CALLBACK_SECRET="s" * 40))
