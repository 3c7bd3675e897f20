"""The STK flow over in-memory fakes: no moto, no sockets."""

from dataclasses import dataclass

import pytest

from mpesa.flows.stk import FlowTiming, StkDeps, StkEvents, StkPayments
from mpesa.records import Kind
from mpesa.records.outbox import Outbox
from mpesa.settings import MpesaSettings
from tests.support.daraja import make_settings
from tests.support.fakes import (
    FakeStkGateway,
    InMemoryInbox,
    InMemoryRecordStore,
    RecordingPublisher,
    RecordingStarter,
)


@dataclass
class Flow:
    payments: StkPayments
    store: InMemoryRecordStore
    inbox: InMemoryInbox
    publisher: RecordingPublisher
    gateway: FakeStkGateway
    starter: RecordingStarter
    settings: MpesaSettings


@pytest.fixture
def flow() -> Flow:
    settings = make_settings(MPESA_CALLBACK_SECRET="s" * 40)
    store, inbox, publisher = InMemoryRecordStore(), InMemoryInbox(), RecordingPublisher()
    gateway, starter = FakeStkGateway(), RecordingStarter()
    deps = StkDeps(
        settings=settings,
        store=store,
        inbox=inbox,
        outbox=Outbox(store, publisher, {Kind.STK: StkEvents()}),
        gateway=lambda: gateway,
        flow=starter,
        timing=FlowTiming(),
    )
    return Flow(StkPayments(deps), store, inbox, publisher, gateway, starter, settings)
