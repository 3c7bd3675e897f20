"""The C2B flow (and the STK flow beside it, sharing one record store) over in-memory fakes."""

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from mpesa.flows.c2b import C2BConfig, C2BDeps, C2BEvents, C2BPayments
from mpesa.flows.stk import FlowTiming, StkDeps, StkEvents, StkPayments
from mpesa.records import Kind
from mpesa.records.outbox import Outbox
from mpesa.settings import MpesaSettings
from tests.support.c2b import SHORT_CODE
from tests.support.daraja import make_settings
from tests.support.fakes import (
    FakeRegisterGateway,
    FakeStkGateway,
    InMemoryC2BStore,
    InMemoryInbox,
    InMemoryRecordStore,
    RecordingPublisher,
    RecordingStarter,
)

CALLBACK_SECRET = "s" * 40


@dataclass
class Flow:
    c2b: C2BPayments
    stk: StkPayments
    records: InMemoryRecordStore
    store: InMemoryC2BStore
    inbox: InMemoryInbox
    publisher: RecordingPublisher
    outbox: Outbox
    gateway: FakeRegisterGateway
    stk_gateway: FakeStkGateway
    settings: MpesaSettings
    config: C2BConfig

    def with_config(self, **changes: object) -> "Flow":
        """The same stores, under another C2B configuration."""
        config = replace(self.config, **changes)  # type: ignore[arg-type]
        deps = replace(self.c2b.deps, config=config)
        return replace(self, c2b=C2BPayments(deps), config=config)


def build_flow(**settings_overrides: object) -> Flow:
    settings = make_settings(MPESA_CALLBACK_SECRET=CALLBACK_SECRET, **settings_overrides)
    records, inbox, publisher = InMemoryRecordStore(), InMemoryInbox(), RecordingPublisher()
    store = InMemoryC2BStore(records)
    outbox = Outbox(records, publisher, {Kind.STK: StkEvents(), Kind.C2B: C2BEvents()})
    gateway, stk_gateway = FakeRegisterGateway(), FakeStkGateway()
    config = C2BConfig(short_codes=(SHORT_CODE, "600997"))
    c2b = C2BPayments(C2BDeps(settings, config, store, inbox, outbox, lambda: gateway))
    stk = StkPayments(
        StkDeps(
            settings=settings,
            store=records,
            inbox=inbox,
            outbox=outbox,
            gateway=lambda: stk_gateway,
            flow=RecordingStarter(),
            timing=FlowTiming(),
        )
    )
    return Flow(c2b, stk, records, store, inbox, publisher, outbox, gateway, stk_gateway, settings, config)


@pytest.fixture
def flow() -> Flow:
    return build_flow()


@pytest.fixture
def make_flow() -> Callable[..., Flow]:
    return build_flow
