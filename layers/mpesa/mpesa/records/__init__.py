"""Records of money movements for every flow: the model, the store and inbox Protocols, the outbox.

The DynamoDB implementations are in `mpesa.records.dynamodb` and `mpesa.records.inbox`; import them
where they are wired (mpesa.runtime), so flow logic depends on the Protocols only.
"""

from mpesa.records.model import (
    NOT_SENT,
    Flag,
    Kind,
    NewRecord,
    Record,
    RecordExistsError,
    RecordNotFoundError,
    Ref,
    RefMismatchError,
    SettledBy,
    Settlement,
    SettleResult,
    Status,
)
from mpesa.records.store import OUTBOX_BUCKET, Announcement, Inbox, InboxItem, InboxReason, Publisher, RecordStore

__all__ = [
    "NOT_SENT",
    "OUTBOX_BUCKET",
    "Announcement",
    "Flag",
    "Inbox",
    "InboxItem",
    "InboxReason",
    "Kind",
    "NewRecord",
    "Publisher",
    "Record",
    "RecordExistsError",
    "RecordNotFoundError",
    "RecordStore",
    "Ref",
    "RefMismatchError",
    "SettleResult",
    "SettledBy",
    "Settlement",
    "Status",
]
