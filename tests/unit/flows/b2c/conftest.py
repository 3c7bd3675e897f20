"""The B2C flow over in-memory fakes: no moto, no sockets."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import pytest

from mpesa.edge.signed_urls import sign
from mpesa.flows.b2c import B2cDeps, B2cEvents, B2cPayouts, GuardRails, PayoutRequest, PayoutTiming, payout_id_for
from mpesa.records import Kind, Record
from mpesa.records.outbox import Outbox
from mpesa.settings import MpesaSettings
from tests.support.daraja import make_settings
from tests.support.fakes import (
    FakeB2cGateway,
    InMemoryBudgets,
    InMemoryInbox,
    InMemoryRecordStore,
    RecordingPublisher,
    RecordingStarter,
)

SECRET = "s" * 40
PHONE = "254708374149"


@dataclass
class Flow:
    payouts: B2cPayouts
    store: InMemoryRecordStore
    inbox: InMemoryInbox
    publisher: RecordingPublisher
    gateway: FakeB2cGateway
    starter: RecordingStarter
    budgets: InMemoryBudgets
    settings: MpesaSettings
    deps: B2cDeps

    def with_guard_rails(self, **limits: Any) -> Flow:
        deps = replace(self.deps, guard_rails=GuardRails(**limits))
        return replace(self, payouts=B2cPayouts(deps), deps=deps)

    def pay(self, key: str = "key-1", **overrides: Any):
        return self.payouts.initiate(request(**overrides), request_key=key)

    def record(self, key: str = "key-1") -> Record:
        return self.store.get(payout_id_for(key))


def request(**overrides: Any) -> PayoutRequest:
    values: dict[str, Any] = {
        "country": "KE",
        "msisdn": PHONE,
        "amount": 500,
        "command_id": "BusinessPayment",
        "remarks": "Refund for order 1234",
        "occasion": None,
    }
    values.update(overrides)
    return PayoutRequest(**values)


@pytest.fixture
def flow() -> Flow:
    settings = make_settings(MPESA_CALLBACK_SECRET=SECRET, MPESA_B2C_SHORT_CODE="600996")
    store, inbox, publisher = InMemoryRecordStore(), InMemoryInbox(), RecordingPublisher()
    gateway, starter, budgets = FakeB2cGateway(), RecordingStarter(), InMemoryBudgets()
    deps = B2cDeps(
        settings=settings,
        store=store,
        inbox=inbox,
        outbox=Outbox(store, publisher, {Kind.B2C: B2cEvents()}),
        budgets=budgets,
        gateway=lambda: gateway,
        flow=starter,
        timing=PayoutTiming(),
        guard_rails=GuardRails(daily_budget=1_000_000, recipient_daily_budget=300_000),
    )
    return Flow(B2cPayouts(deps), store, inbox, publisher, gateway, starter, budgets, settings, deps)


def signature(purpose: str, payout_id: str) -> str:
    return sign(SECRET, purpose, payout_id)


def b2c_result(record: Record, code: int = 0, **changes: Any) -> str:
    """A B2C Result about `record`, as Daraja sends it (changes override Result keys or parameters)."""
    from mpesa.records import Ref

    result: dict[str, Any] = {
        "ResultType": 0,
        "ResultCode": code,
        "ResultDesc": "The service request is processed successfully." if code == 0 else "Failed",
        "OriginatorConversationID": record.ref(Ref.ORIGINATOR_CONVERSATION_ID),
        "ConversationID": record.ref(Ref.CONVERSATION_ID) or "AG_20261126_00000000000000000001",
        "TransactionID": "NLJ41HAY6Q" if code == 0 else "NLJ0000000",
    }
    parameters = {
        "TransactionAmount": record.amount,
        "TransactionReceipt": "NLJ41HAY6Q",
        "B2CRecipientIsRegisteredCustomer": "Y",
        "B2CChargesPaidAccountAvailableFunds": "0.00",
        "ReceiverPartyPublicName": f"{record.msisdn} - John Doe",
        "TransactionCompletedDateTime": "26.11.2026 10:45:50",
        "B2CUtilityAccountAvailableFunds": "999500.00",
        "B2CWorkingAccountAvailableFunds": "700000.00",
    }
    for key, value in changes.items():
        if key in parameters:
            parameters[key] = value
        else:
            result[key] = value
    if code == 0:
        result["ResultParameters"] = {"ResultParameter": [{"Key": k, "Value": v} for k, v in parameters.items()]}
    return json.dumps({"Result": result})


def status_result(record: Record, state: str = "Completed", code: int = 0, **parameters: Any) -> str:
    from mpesa.records import Ref

    values = {
        "DebitPartyName": "600996 - SHOP",
        "CreditPartyName": f"{record.msisdn} - John Doe",
        "OriginatorConversationID": record.ref(Ref.ORIGINATOR_CONVERSATION_ID),
        "TransactionStatus": state,
        "FinalisedTime": "20261126104550",
        "Amount": f"{record.amount}.00",
        "ConversationID": record.ref(Ref.CONVERSATION_ID) or "",
        "ReceiptNo": "NLJ41HAY6Q",
    }
    values.update(parameters)
    result: dict[str, Any] = {
        "ResultType": 0,
        "ResultCode": code,
        "ResultDesc": "ok" if code == 0 else "The transaction receipt number does not exist.",
        "OriginatorConversationID": "status-ocid",
        "ConversationID": "AG_20261126_status0000000001",
        "TransactionID": "NLJ41HAY6Q",
    }
    if code == 0:
        result["ResultParameters"] = {"ResultParameter": [{"Key": k, "Value": v} for k, v in values.items()]}
    return json.dumps({"Result": result})


def queue_timeout(record: Record) -> str:
    from mpesa.records import Ref

    return json.dumps(
        {
            "Result": {
                "ResultType": 1,
                "ResultCode": 1,
                "ResultDesc": "The service request has timed out.",
                "OriginatorConversationID": record.ref(Ref.ORIGINATOR_CONVERSATION_ID),
                "ConversationID": record.ref(Ref.CONVERSATION_ID) or "",
                "TransactionID": "",
            }
        }
    )
