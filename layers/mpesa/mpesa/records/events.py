"""EventBridge: the bus every flow announces its records on (source `mpesa.payments`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import boto3

from mpesa.clock import iso, now_utc
from mpesa.records.dynamo import to_jsonable
from mpesa.records.store import Announcement

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

SOURCE = "mpesa.payments"


class PublishError(RuntimeError):
    pass


class EventBridgePublisher:
    def __init__(self, bus_name: str, *, client: EventBridgeClient | None = None) -> None:
        self._bus = bus_name
        self._client = client or boto3.client("events")

    def publish(self, announcement: Announcement) -> None:
        # event_id lets consumers drop the rare redelivery (EventBridge and our outbox are at-least-once).
        detail = {"event_id": announcement.event_id, "occurred_at": iso(now_utc()), **announcement.detail}
        response = self._client.put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": announcement.detail_type,
                    "Detail": json.dumps(to_jsonable(detail), separators=(",", ":")),
                    "EventBusName": self._bus,
                    "Resources": [],
                }
            ]
        )
        if response.get("FailedEntryCount", 0):
            entry = response["Entries"][0]
            raise PublishError(f"{announcement.detail_type} not accepted: {entry.get('ErrorCode')}")
