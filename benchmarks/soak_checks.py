"""The fault soak's invariants (benchmarks/soak.py): what the stack says, checked against the simulator's truth.

Everything here is pure: it reads what the soak observed over HTTP (the API's answers and views, the events
log, the simulator's request journal, callback log and per-customer truth) and returns violations, the
classification of every record, and figures. Invariants are defined on observable behaviour only, never
on which state machine ran or how many writes a record took, so that the same soak checks a refactor of
the internals.

Each record has its own customer (MSISDN), so the simulator's view of that customer is the truth about
that record: the prompts it received and what the customer did, the payouts it was paid, the Pay Bills
it made.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

STK, B2C, C2B = "stk", "b2c", "c2b"
KINDS = (STK, B2C, C2B)

PUSH = "/mpesa/stkpush/v1/processrequest"
QUERY = "/mpesa/stkpushquery/v1/query"
B2C_PATH = "/mpesa/b2c/v3/paymentrequest"
STATUS = "/mpesa/transactionstatus/v1/query"

# What each way a prompt ended must read as in the API: (status, result code).
STK_EXPECTED = {
    "paid": ("SUCCESS", "0"),
    "wrong_pin": ("FAILED", "2001"),
    "cancelled": ("CANCELLED", "1032"),
    "insufficient_funds": ("FAILED", "1"),
    "unreachable": ("TIMEOUT", "1037"),
    "expired": ("TIMEOUT", "1037"),
    "no_answer": ("TIMEOUT", "1037"),
}
FINAL_EVENTS = {
    STK: {
        "payment.succeeded": "SUCCESS",
        "payment.failed": "FAILED",
        "payment.cancelled": "CANCELLED",
        "payment.timed_out": "TIMEOUT",
    },
    B2C: {"payout.succeeded": "SUCCESS", "payout.failed": "FAILED"},
    C2B: {"c2b.received": "SUCCESS"},
}
UNKNOWN_EVENTS = {STK: "payment.outcome_unknown", B2C: "payout.outcome_unknown"}
ID_FIELDS = {STK: "transaction_id", B2C: "payout_id", C2B: "trans_id"}
# 5xx answers the API documents (README): nothing was sent (503), or M-Pesa refused it as upstream trouble (502).
DOCUMENTED_5XX = {503: {"upstream_unavailable"}, 502: {"rejected_by_mpesa"}}
TOKEN_REFUSED = 401  # Daraja's answer to a revoked or expired access token: refused before any processing
# Record states after which nothing is owed.
FINAL = frozenset({"SUCCESS", "FAILED", "CANCELLED", "TIMEOUT"})
# The result code of a request that surely never reached M-Pesa: the caller was answered 503 and may retry
# with the same key, so the record is not announced (it may yet be replaced by the retry).
NOT_SENT = "NOT_SENT"


@dataclass
class Answer:
    """One API call the soak made for a record."""

    what: str  # "push", "replay", "concurrent", "retry", "status", "query"
    status: int
    body: Any
    at: float  # seconds since the soak started


@dataclass
class Planned:
    kind: str
    index: int
    msisdn: str
    amount: int
    action: str
    delay_s: float
    key: str
    reference: str
    round: int
    replay: str = ""  # "", "sequential" or "concurrent"

    @property
    def name(self) -> str:
        return f"{self.kind}#{self.index}"


@dataclass
class Observed:
    """What the soak saw of one planned record: its answers, its id, its final view."""

    plan: Planned
    answers: list[Answer] = field(default_factory=list)
    record_id: str | None = None
    view: dict[str, Any] | None = None  # the API's view at the end (None: 404 or never created)
    c2b_answer: dict[str, Any] | None = None  # the simulator's Pay Bill answer (C2B)
    twin: dict[str, Any] | None = None  # STK: the C2B record of the same receipt, when Daraja confirmed it as C2B too


@dataclass
class Violation:
    invariant: str
    record: str  # the plan's name, or "-" for a stack-wide one
    detail: str


@dataclass
class Verdict:
    violations: list[Violation] = field(default_factory=list)
    classes: Counter[str] = field(default_factory=Counter)  # how each record ended, against its truth
    figures: dict[str, Any] = field(default_factory=dict)

    def violate(self, invariant: str, record: str, detail: str) -> None:
        self.violations.append(Violation(invariant, record, detail))


@dataclass
class Truth:
    """The simulator's own view: per customer, per OCID, the request journal and the callback log."""

    customers: Mapping[str, Mapping[str, Any]]
    payouts: Mapping[str, Mapping[str, Any]]  # by OriginatorConversationID
    journal: Sequence[Mapping[str, Any]]
    callbacks: Sequence[Mapping[str, Any]]


def mask(msisdn: str) -> str:
    return msisdn[:4] + "*" * max(len(msisdn) - 6, 0) + msisdn[-2:] if len(msisdn) >= 8 else "*" * len(msisdn)


def check(observed: Sequence[Observed], truth: Truth, events: Sequence[Mapping[str, Any]]) -> Verdict:
    verdict = Verdict()
    by_record = _events_by_record(events)
    for seen in observed:
        customer = truth.customers.get(seen.plan.msisdn, {})
        if seen.plan.kind == STK:
            _check_stk(seen, customer, verdict)
        elif seen.plan.kind == B2C:
            _check_b2c(seen, customer, truth.payouts, verdict)
        else:
            _check_c2b(seen, customer, verdict)
        _check_answers(seen, verdict)
        if seen.record_id is not None:
            _check_events(seen, by_record.get((seen.plan.kind, seen.record_id), []), verdict)
    _check_push_requests(observed, truth.journal, verdict)
    _check_event_ids(events, verdict)
    _check_callback_answers(truth.callbacks, verdict)
    _check_unexpected_events(observed, by_record, verdict)
    verdict.figures.update(_money(observed, truth))
    return verdict


# --- STK ---------------------------------------------------------------------------------------


def _check_stk(seen: Observed, customer: Mapping[str, Any], verdict: Verdict) -> None:
    name = seen.plan.name
    pushes = list(customer.get("stk", []))
    if len(pushes) > 1:
        verdict.violate("one push per Idempotency-Key", name, f"M-Pesa received {len(pushes)} prompts for one key")
    view = seen.view
    if view is None:
        if pushes:
            verdict.violate(
                "final state matches M-Pesa", name, "a prompt reached the customer but the API has no record"
            )
        else:
            verdict.classes["stk: no record, nothing sent"] += 1
        return
    status, receipt = view.get("status"), view.get("receipt")
    if status == "PENDING":
        verdict.violate(
            "none left PENDING", name, "still PENDING after the timeout flows, the sweep and reconciliation"
        )
        return
    if not pushes:
        if status == "UNKNOWN":
            verdict.classes["stk: UNKNOWN, the push never reached M-Pesa (unknowable until the day closes)"] += 1
        elif status == "FAILED":
            sent = "never sent (503)" if view.get("result_code") == NOT_SENT else "refused by M-Pesa"
            verdict.classes[f"stk: FAILED, {sent}"] += 1
        else:
            verdict.violate("final state matches M-Pesa", name, f"{status} but M-Pesa never received the push")
        return
    push = pushes[-1]
    action = str(push.get("action") or "")
    if push.get("status") != "final" or action not in STK_EXPECTED:
        verdict.violate("final state matches M-Pesa", name, f"the prompt did not end as scripted ({action or 'open'})")
        return
    want_status, want_code = STK_EXPECTED[action]
    if status == "UNKNOWN":
        _stk_unknown(seen, push, action, verdict)
        return
    if status != want_status:
        verdict.violate("final state matches M-Pesa", name, f"{status}, but the customer's prompt ended {action}")
        return
    if status == "SUCCESS":
        if receipt != push.get("receipt"):
            got = "no receipt" if receipt is None else "another receipt"
            verdict.violate("receipt matches M-Pesa", name, f"SUCCESS with {got} than M-Pesa's {push.get('receipt')}")
            return
    elif str(view.get("result_code")) != want_code:
        verdict.violate(
            "final state matches M-Pesa", name, f"{status} with code {view.get('result_code')}, M-Pesa's {want_code}"
        )
        return
    if view.get("late_success") or "LATE_SUCCESS" in (view.get("flags") or []):
        verdict.violate("final state matches M-Pesa", name, "flagged LATE_SUCCESS although M-Pesa paid nothing late")
        return
    verdict.classes[f"stk: {status} as M-Pesa ({view.get('settled_by')})"] += 1
    if seen.twin is not None:
        _check_twin(seen, seen.twin, verdict)


def _check_twin(seen: Observed, twin: Mapping[str, Any], verdict: Verdict) -> None:
    """An STK payment Daraja also confirmed as C2B: two records of one payment, and exactly one of them
    counts the money (docs/decisions.md "STK and C2B: one receipt, two records"); a double count found
    only after both were announced is flagged DOUBLE_COUNT on both, as designed."""
    flags = set((seen.view or {}).get("flags") or [])
    stk_counts = "COUNTED_BY_LINKED_RECORD" not in flags
    c2b_counts = bool(twin.get("counted"))
    if "DOUBLE_COUNT" in flags and "DOUBLE_COUNT" in (twin.get("flags") or []):
        verdict.classes["stk+c2b: counted twice, found and flagged DOUBLE_COUNT on both"] += 1
    elif stk_counts and c2b_counts:
        origin = " (the C2B record from the statement)" if "FROM_STATEMENT" in (twin.get("flags") or []) else ""
        verdict.violate(
            "money counted once", seen.plan.name, f"the STK and C2B records of one receipt both count it{origin}"
        )
    elif not stk_counts and not c2b_counts:
        verdict.violate(
            "money counted once", seen.plan.name, "neither the STK nor the C2B record of one receipt counts it"
        )
    else:
        verdict.classes[f"stk+c2b: one receipt, counted by the {'STK' if stk_counts else 'C2B'} record"] += 1


def _stk_unknown(seen: Observed, push: Mapping[str, Any], action: str, verdict: Verdict) -> None:
    """UNKNOWN is right only where nothing we may ask can tell: no CheckoutRequestID to query and no
    callback that reached the stack; and a paid prompt is on M-Pesa's statement, so never then."""
    name = seen.plan.name
    view = seen.view or {}
    if action == "paid":
        verdict.violate(
            "reconciliation resolves what it can", name, "UNKNOWN, but M-Pesa's statement lists the payment"
        )
    elif view.get("checkout_request_id"):
        verdict.violate("UNKNOWN only where unknowable", name, f"UNKNOWN, but an STK query would tell ({action})")
    else:
        verdict.classes["stk: UNKNOWN, no CheckoutRequestID and no callback (unknowable until the day closes)"] += 1


# --- B2C ---------------------------------------------------------------------------------------


def _check_b2c(
    seen: Observed, customer: Mapping[str, Any], payouts: Mapping[str, Mapping[str, Any]], verdict: Verdict
) -> None:
    name = seen.plan.name
    entries = list(customer.get("b2c", []))
    paid = [entry for entry in entries if entry.get("paid")]
    ocids = {e.get("originator_conversation_id") for e in entries}
    if len(paid) > 1 or len(ocids) > 1:
        verdict.violate(
            "one payout per OriginatorConversationID", name, f"{len(paid)} payouts under {len(ocids)} OCIDs for one key"
        )
    for entry in entries:
        line = payouts.get(str(entry.get("originator_conversation_id")), {})
        if int(line.get("payouts", 0)) > 1:
            verdict.violate(
                "one payout per OriginatorConversationID", name, f"{line.get('payouts')} payouts for one OCID"
            )
    view = seen.view
    if view is None:
        if entries:
            verdict.violate("final state matches M-Pesa", name, "M-Pesa accepted a payout but the API has no record")
        else:
            verdict.classes["b2c: no record, nothing sent"] += 1
        return
    status, receipt = view.get("status"), view.get("receipt")
    ocid = view.get("originator_conversation_id")
    if entries and ocid not in ocids:
        verdict.violate("final state matches M-Pesa", name, "M-Pesa's payout carries another OCID than the record's")
    if status == "PENDING":
        verdict.violate(
            "none left PENDING", name, "still PENDING after the timeout flows, the sweep and reconciliation"
        )
        return
    if paid:
        if status == "SUCCESS" and receipt == paid[0].get("receipt"):
            verdict.classes[f"b2c: SUCCESS as M-Pesa ({view.get('settled_by')})"] += 1
        elif status == "SUCCESS":
            verdict.violate(
                "receipt matches M-Pesa", name, f"SUCCESS with receipt {receipt}, M-Pesa's {paid[0]['receipt']}"
            )
        elif status == "UNKNOWN":
            verdict.violate(
                "reconciliation resolves what it can",
                name,
                "UNKNOWN, but Transaction Status finds the payout Completed",
            )
        else:
            verdict.violate("final state matches M-Pesa", name, f"{status}, but M-Pesa paid the recipient")
        return
    if status == "SUCCESS":
        verdict.violate("final state matches M-Pesa", name, "SUCCESS, but M-Pesa paid nothing")
    elif status == "UNKNOWN":
        why = "M-Pesa never accepted it" if not entries else f"M-Pesa's payout ended {entries[-1].get('state')}"
        verdict.classes[f"b2c: UNKNOWN, Transaction Status cannot tell ({why})"] += 1
    elif status == "FAILED" and any(e.get("state") == "queued" for e in entries):
        verdict.violate("final state matches M-Pesa", name, "FAILED while M-Pesa still has the payout queued")
    else:
        verdict.classes[f"b2c: {status}, nothing paid"] += 1


# --- C2B ---------------------------------------------------------------------------------------


def _check_c2b(seen: Observed, customer: Mapping[str, Any], verdict: Verdict) -> None:
    name = seen.plan.name
    receipts = [r for r in customer.get("receipts", []) if r.get("kind") == "c2b"]
    answer = seen.c2b_answer or {}
    if len(receipts) > 1:
        verdict.violate("one payment per Pay Bill", name, f"M-Pesa took {len(receipts)} payments for one Pay Bill")
    if not receipts:
        if seen.view is not None:
            verdict.violate("final state matches M-Pesa", name, "a C2B record for a payment M-Pesa never completed")
        else:
            verdict.classes[f"c2b: {answer.get('status', 'not made')}, no record"] += 1
        return
    receipt = receipts[0]
    view = seen.view
    if view is None:
        verdict.violate(
            "final state matches M-Pesa", name, f"M-Pesa completed {receipt['receipt']} but the API has no record"
        )
        return
    if view.get("trans_id") != receipt["receipt"] or int(view.get("amount", -1)) != _whole(receipt["amount"]):
        verdict.violate("receipt matches M-Pesa", name, "the C2B record's TransID or amount differs from M-Pesa's")
        return
    origin = "from the statement" if "FROM_STATEMENT" in (view.get("flags") or []) else "by confirmation"
    verdict.classes[f"c2b: recorded {origin}"] += 1


# --- answers, events, callbacks -----------------------------------------------------------------


def _check_answers(seen: Observed, verdict: Verdict) -> None:
    ids = set()
    for answer in seen.answers:
        if answer.what == "paybill":  # the customer's phone talking to the simulator, not our API
            continue
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status == 0:  # API Gateway would have answered 504 after 30 s
            verdict.violate("no undocumented 5xx", seen.plan.name, f"{answer.what}: no answer ({_short(answer.body)})")
        elif answer.status >= 500 and body.get("error") not in DOCUMENTED_5XX.get(answer.status, set()):
            verdict.violate(
                "no undocumented 5xx", seen.plan.name, f"{answer.what} answered {answer.status}: {_short(answer.body)}"
            )
        if answer.what in {"push", "replay", "concurrent", "retry"} and 200 <= answer.status < 300:
            ids.add(body.get(ID_FIELDS[seen.plan.kind]))
    if len(ids) > 1:
        verdict.violate("one record per Idempotency-Key", seen.plan.name, f"{len(ids)} different ids for one key")


def _check_push_requests(observed: Sequence[Observed], journal: Sequence[Mapping[str, Any]], verdict: Verdict) -> None:
    """From the simulator's request journal: a push may reach M-Pesa once per Idempotency-Key (each soak key
    has its own customer). A second request, even one M-Pesa refused or never answered, is a re-send; only a
    request refused for its access token (401, before anything is processed) is sent again with a new one."""
    requests = Counter(
        str(entry["body"].get("PhoneNumber"))
        for entry in journal
        if entry.get("path") == PUSH and isinstance(entry.get("body"), dict) and entry.get("status") != TOKEN_REFUSED
    )
    for seen in observed:
        if seen.plan.kind == STK and requests[seen.plan.msisdn] > 1:
            verdict.violate(
                "one push per Idempotency-Key",
                seen.plan.name,
                f"M-Pesa received {requests[seen.plan.msisdn]} push requests",
            )
    verdict.figures["push requests per key (max, from the journal; 401 refusals aside)"] = max(
        (requests[s.plan.msisdn] for s in observed if s.plan.kind == STK), default=0
    )


def _events_by_record(events: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], list[Mapping[str, Any]]]:
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for event in events:
        detail = event.get("detail") or {}
        kind = str(event.get("detail-type", "")).split(".")[0]
        flow = {"payment": STK, "payout": B2C, "c2b": C2B}.get(kind)
        if flow is not None and detail.get(ID_FIELDS[flow]):
            grouped[(flow, str(detail[ID_FIELDS[flow]]))].append(event)
    return grouped


def _check_events(seen: Observed, events: Sequence[Mapping[str, Any]], verdict: Verdict) -> None:
    kind, name = seen.plan.kind, seen.plan.name
    finals = FINAL_EVENTS[kind]
    final_ids = {
        str(e["detail"].get("event_id")): str(e.get("detail-type")) for e in events if e.get("detail-type") in finals
    }
    status = record_status(seen)
    if status == "FAILED" and (seen.view or {}).get("result_code") == NOT_SENT:
        if final_ids:
            verdict.violate("exactly one final event per record", name, "a final event for a request never sent")
        return
    if status in FINAL:
        if len(final_ids) != 1:
            kinds = ", ".join(sorted(final_ids.values())) or "none"
            verdict.violate("exactly one final event per record", name, f"{len(final_ids)} final events ({kinds})")
        elif finals[next(iter(final_ids.values()))] != status:
            verdict.violate(
                "exactly one final event per record", name, f"the final event says another state than {status}"
            )
    elif final_ids:
        verdict.violate("exactly one final event per record", name, f"a final event for a record that is {status}")
    if status == "UNKNOWN" and not any(e.get("detail-type") == UNKNOWN_EVENTS[kind] for e in events):
        verdict.violate("exactly one final event per record", name, "UNKNOWN but never announced as outcome_unknown")


def _check_event_ids(events: Sequence[Mapping[str, Any]], verdict: Verdict) -> None:
    counts = Counter(
        str((e.get("detail") or {}).get("event_id")) for e in events if (e.get("detail") or {}).get("event_id")
    )
    duplicated = {event_id: n for event_id, n in counts.items() if n > 1}
    for event_id, n in sorted(duplicated.items()):
        verdict.violate("exactly one final event per record", "-", f"event_id {event_id} delivered {n} times")
    verdict.figures["events"] = len(events)
    verdict.figures["events duplicated by event_id"] = len(duplicated)


def _check_callback_answers(callbacks: Sequence[Mapping[str, Any]], verdict: Verdict) -> None:
    answered = Counter(int(c["response_status"]) // 100 for c in callbacks if c.get("response_status") is not None)
    for callback in callbacks:
        status = callback.get("response_status")
        if status is not None and int(status) >= 500:
            verdict.violate(
                "no undocumented 5xx",
                "-",
                f"the stack answered a {callback.get('kind')} callback {status} (Daraja never sends it again)",
            )
    verdict.figures["callbacks answered 2xx/4xx/5xx"] = f"{answered[2]}/{answered[4]}/{answered[5]}"
    verdict.figures["callbacks dropped by the simulator"] = sum(1 for c in callbacks if not c.get("delivered"))


def _check_unexpected_events(
    observed: Sequence[Observed], by_record: Mapping[tuple[str, str], Sequence[Mapping[str, Any]]], verdict: Verdict
) -> None:
    """A C2B payment announced that no soak customer made is money out of nowhere (or a TransID mix-up)."""
    ours = {(s.plan.kind, s.record_id) for s in observed if s.record_id}
    made = {str(s.c2b_answer.get("receipt")) for s in observed if s.c2b_answer and s.c2b_answer.get("receipt")}
    made |= {str(s.twin["trans_id"]) for s in observed if s.twin}  # checked with their STK record
    for (kind, record_id), _ in by_record.items():
        if kind == C2B and (kind, record_id) not in ours and record_id not in made:
            verdict.violate(
                "final state matches M-Pesa", "-", f"c2b.received for {record_id}, which no soak customer paid"
            )


def record_status(seen: Observed) -> str | None:
    """The record's state as the API shows it; a C2B payment is final on arrival (its view has no status)."""
    if seen.view is None:
        return None
    return "SUCCESS" if seen.plan.kind == C2B else str(seen.view.get("status"))


# --- figures -----------------------------------------------------------------------------------


def _money(observed: Sequence[Observed], truth: Truth) -> dict[str, Any]:
    """Totals in whole KES: what the API counts as paid against what M-Pesa moved, per flow."""
    figures: dict[str, Any] = {}
    for kind, receipt_kind in ((STK, "stk"), (B2C, "b2c"), (C2B, "c2b")):
        ledger = sum(
            int(s.view.get("amount", 0))
            for s in observed
            if s.plan.kind == kind and s.view and record_status(s) == "SUCCESS"
        )
        mpesa = 0
        for seen in observed:
            if seen.plan.kind != kind:
                continue
            receipts = truth.customers.get(seen.plan.msisdn, {}).get("receipts", [])
            mpesa += sum(
                _whole(r["amount"]) for r in receipts if r.get("kind") == receipt_kind and r.get("state") == "completed"
            )
        figures[f"{kind} KES: ledger SUCCESS / M-Pesa moved"] = f"{ledger} / {mpesa}"
    return figures


def _whole(amount: Any) -> int:
    text = str(amount)
    whole, _, cents = text.partition(".")
    if cents.strip("0"):
        raise ValueError(f"not a whole amount: {text}")
    return int(whole)


def _short(body: Any, limit: int = 160) -> str:
    text = body if isinstance(body, str) else repr(body)
    return text if len(text) <= limit else text[:limit] + "..."
