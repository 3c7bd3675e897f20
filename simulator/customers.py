"""The simulator's own truth, per customer and per payout, for invariant checks.

What each customer was asked (STK pushes), what they did (``action``), what they paid and were
paid (receipts), and how many B2C requests and payouts each OriginatorConversationID produced.
A test compares this with what the system under test believes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from simulator import clock, payloads
from simulator.stk import record_view

if TYPE_CHECKING:
    from simulator.core import Simulator
    from simulator.state import Conversation, CustomerScript, Receipt


def script_view(msisdn: str, script: CustomerScript | None) -> dict[str, Any]:
    return {"msisdn": msisdn, "script": script.model_dump() if script is not None else None}


def receipt_view(receipt: Receipt) -> dict[str, Any]:
    return {
        "receipt": receipt.receipt,
        "kind": receipt.kind,
        "amount": receipt.amount,
        "party": receipt.party,
        "shortcode": receipt.shortcode,
        "originator_conversation_id": receipt.originator_conversation_id,
        "conversation_id": receipt.conversation_id,
        "bill_reference": receipt.bill_reference,
        "reversed_by": receipt.reversed_by,
        "state": receipt.state,
        "completed_at": clock.iso(receipt.completed_at),
    }


def _total(receipts: list[Receipt], kinds: tuple[str, ...], *, reversed_only: bool = False) -> str:
    amount = sum(
        (
            Decimal(r.amount)
            for r in receipts
            if r.kind in kinds and r.state == "completed" and (r.reversed_by is not None or not reversed_only)
        ),
        Decimal(0),
    )
    return payloads.money_text(amount)


def _payout_view(conversation: Conversation, receipt: Receipt | None) -> dict[str, Any]:
    return {
        "originator_conversation_id": conversation.originator_conversation_id,
        "conversation_id": conversation.conversation_id,
        "amount": conversation.amount,
        "state": conversation.state,
        "result_code": conversation.result_code,
        "result_desc": conversation.result_desc,
        "receipt": receipt.receipt if receipt is not None else None,
        "paid": receipt is not None and receipt.state == "completed",
        "created_at": clock.iso(conversation.created_at),
    }


class CustomerTruth:
    def __init__(self, sim: Simulator) -> None:
        self._sim = sim

    def customer(self, msisdn: str) -> dict[str, Any]:
        """Everything the simulator knows about one MSISDN (nothing yet is not an error)."""
        store = self._sim.store
        pushes = sorted((r for r in store.list_stk() if r.phone_number == msisdn), key=lambda r: r.created_at)
        receipts = store.list_receipts()
        by_conversation = {r.conversation_id: r for r in receipts if r.kind == "b2c"}
        payouts = [c for c in store.list_conversations() if c.kind == "b2c" and c.party == msisdn]
        mine = [r for r in receipts if r.party == msisdn]
        return {
            **script_view(msisdn, store.script(msisdn)),
            "stk_pushes": len(pushes),
            "stk": [record_view(r) for r in pushes],
            "b2c": [_payout_view(c, by_conversation.get(c.conversation_id)) for c in payouts],
            "receipts": [receipt_view(r) for r in sorted(mine, key=lambda r: r.completed_at)],
            "paid_in": _total(mine, ("stk", "c2b")),
            "paid_out": _total(mine, ("b2c",)),
            "reversed_in": _total(mine, ("stk", "c2b"), reversed_only=True),
            "reversed_out": _total(mine, ("b2c",), reversed_only=True),
        }

    def customers(self) -> list[dict[str, Any]]:
        """A summary line per MSISDN the simulator has seen (prompted, paid, paying) or scripted."""
        store = self._sim.store
        pushes: dict[str, int] = {}
        for record in store.list_stk():
            pushes[record.phone_number] = pushes.get(record.phone_number, 0) + 1
        by_party: dict[str, list[Receipt]] = {}
        for receipt in store.list_receipts():
            by_party.setdefault(receipt.party, []).append(receipt)
        seen = set(pushes) | set(store.scripts())
        seen |= {c.party for c in store.list_conversations() if c.kind == "b2c" and c.party is not None}
        seen |= {party for party, mine in by_party.items() if any(r.kind != "reversal" for r in mine)}
        lines = []
        for msisdn in sorted(seen):
            mine = by_party.get(msisdn, [])
            lines.append(
                {
                    **script_view(msisdn, store.script(msisdn)),
                    "stk_pushes": pushes.get(msisdn, 0),
                    "paid_in": _total(mine, ("stk", "c2b")),
                    "paid_out": _total(mine, ("b2c",)),
                }
            )
        return lines

    def payouts(self, originator_conversation_id: str | None = None) -> list[dict[str, Any]]:
        """Per B2C OriginatorConversationID: requests received with it (refused duplicates
        included), requests accepted, payouts made and still queued."""
        store = self._sim.store
        requests = store.ocid_requests()
        accepted: dict[str, int] = {}
        for conversation in store.list_conversations():
            if conversation.kind == "b2c":
                ocid = conversation.originator_conversation_id
                accepted[ocid] = accepted.get(ocid, 0) + 1
        receipts: dict[str, list[Receipt]] = {}
        for receipt in store.list_receipts():
            if receipt.kind == "b2c" and receipt.originator_conversation_id is not None:
                receipts.setdefault(receipt.originator_conversation_id, []).append(receipt)
        ocids = list(dict.fromkeys([*requests, *accepted]))
        if originator_conversation_id is not None:
            ocids = [o for o in ocids if o == originator_conversation_id]
        lines = []
        for ocid in ocids:
            mine = receipts.get(ocid, [])
            paid = [r for r in mine if r.state == "completed"]
            lines.append(
                {
                    "originator_conversation_id": ocid,
                    "requests": requests.get(ocid, accepted.get(ocid, 0)),
                    "accepted": accepted.get(ocid, 0),
                    "payouts": len(paid),
                    "queued": len(mine) - len(paid),
                    "amount_paid": _total(paid, ("b2c",)),
                    "receipts": [r.receipt for r in mine],
                }
            )
        return lines
