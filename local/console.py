"""The local operations console: `GET /console` (one static page, local/static/console.html: no build
step, no CDN) that reads the stack's own API (payments, payouts, C2B receipts, the day's report), and
the `/_local/` routes it needs besides:

* `GET /_local/events?limit=`: the latest events of the events log, newest first;
* `POST /_local/reconcile` `{"date": "YYYY-MM-DD"}`: run the reconciliation for a day now (the
  schedule reconciles yesterday; a demonstration wants today), answering what the function returns;
* `POST /_local/plant-discrepancy`: a Pay Bill whose confirmation the simulator drops, so that the
  ledger misses a payment M-Pesa's statement lists (the next reconciliation reports it).

Project-specific, like local/project.py: it names the reconciliation function and drives the simulator's
control API. The POST routes refuse another origin and a body that is not JSON, as the simulator's
control API does, so that a web page open in the developer's browser cannot drive them.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.wrappers import Request, Response

RECONCILIATION_FUNCTION = "ReconciliationFunction"
PAGE = Path(__file__).resolve().parent / "static" / "console.html"
EVENTS_DEFAULT, EVENTS_MAX = 200, 1000
NAIROBI = ZoneInfo("Africa/Nairobi")
PLANTED = {"account": "PLANTED", "amount": "150", "msisdn": "254708374149"}  # the sandbox number pays
DROP_WAIT_S = 10.0

Invoke = Callable[[str, Any], Any]


def routes(events_log: Path, invoke: Invoke, simulator_url: str | None) -> dict[str, Callable[[Request], Response]]:
    """The console's routes for the front's `local_routes` (matched before `/_local`)."""
    console = Console(events_log, invoke, simulator_url)
    return {
        "/console": console.page,
        "/_local/events": console.events,
        "/_local/reconcile": console.reconcile,
        "/_local/plant-discrepancy": console.plant_discrepancy,
    }


class Console:
    def __init__(self, events_log: Path, invoke: Invoke, simulator_url: str | None) -> None:
        self._events_log = events_log
        self._invoke = invoke
        self._simulator = simulator_url

    def page(self, request: Request) -> Response:
        if request.path not in {"/console", "/console/"} or request.method != "GET":
            return _json({"message": "Not Found"}, 404)
        return Response(PAGE.read_bytes(), content_type="text/html; charset=utf-8")

    def events(self, request: Request) -> Response:
        if request.method != "GET":
            return _json({"message": "Method Not Allowed"}, 405)
        text = request.args.get("limit", str(EVENTS_DEFAULT))
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= EVENTS_MAX:
            return _invalid("limit", f"must be a whole number from 1 to {EVENTS_MAX}")
        return _json({"events": recent_events(self._events_log, int(text))})

    def reconcile(self, request: Request) -> Response:
        refused = _refuse_foreign(request)
        if refused is not None:
            return refused
        body = _json_body(request)
        if not isinstance(body, dict):
            return _invalid("body", "must be a JSON object")
        today = datetime.now(UTC).astimezone(NAIROBI).date()
        day = _day(body.get("date", today.isoformat()))
        if day is None or day > today:
            return _invalid("date", "must be a Nairobi day, YYYY-MM-DD, not after today")
        try:
            result = self._invoke(RECONCILIATION_FUNCTION, {"date": day.isoformat()})
        except Exception as exc:  # noqa: BLE001 (the stack's console has the traceback; the page gets the gist)
            return _json({"message": f"the reconciliation failed: {type(exc).__name__}: {exc}"}, 502)
        return _json(result)

    def plant_discrepancy(self, request: Request) -> Response:
        """Pay the first shortcode with registered C2B URLs from the sandbox number while the simulator
        drops callbacks: the payment happens (M-Pesa's statement lists it), its confirmation never comes.
        Every other callback due in that moment (well under a second) is dropped too."""
        refused = _refuse_foreign(request)
        if refused is not None:
            return refused
        if self._simulator is None:
            return _json({"message": "no simulator runs (LOCAL_SIMULATOR=off)"}, 409)
        try:
            return self._plant()
        except (OSError, ValueError, KeyError) as exc:  # the simulator refused, or did not answer in time
            return _json({"message": f"could not plant the discrepancy: {type(exc).__name__}: {exc}"}, 502)

    def _plant(self) -> Response:
        config = self._control("GET", "/simulator/config")
        registered = [r["shortcode"] for r in self._control("GET", "/simulator/c2b/registrations")]
        if not registered:
            return _json({"message": "no C2B URLs are registered: POST /v1/c2b/register first"}, 409)
        self._control("PATCH", "/simulator/config", {"callback_mode": "drop"})
        try:
            paid = self._control(
                "POST",
                "/simulator/phone/paybill",
                {"type": "paybill", "shortcode": registered[0], "pin": config["customer_pin"], **PLANTED},
            )
            if paid.get("status") != "completed":
                return _json({"message": "the simulator did not complete the payment", "answer": paid}, 502)
            self._await_dropped(paid["receipt"])
        finally:
            self._control("PATCH", "/simulator/config", {"callback_mode": config["callback_mode"]})
        return _json(
            {
                "receipt": paid["receipt"],
                "amount": paid["amount"],
                "shortcode": registered[0],
                "then": "reconcile the day (POST /_local/reconcile): the report shows it missing_in_ledger",
            }
        )

    def _await_dropped(self, receipt: str) -> None:
        """The confirmation is dropped when it falls due (at once for the phone's Pay Bill): wait for it,
        so that the drop mode is not turned off before."""
        deadline = time.monotonic() + DROP_WAIT_S
        while time.monotonic() < deadline:
            logged = self._control("GET", "/simulator/callbacks?kind=c2b_confirmation")
            if any(c["payload"].get("TransID") == receipt for c in logged):
                return
            time.sleep(0.05)
        raise TimeoutError(f"the simulator logged no confirmation of {receipt} within {DROP_WAIT_S} s")

    def _control(self, method: str, path: str, body: Any = None) -> Any:
        assert self._simulator is not None
        data = None if body is None else json.dumps(body).encode()
        headers = {} if body is None else {"Content-Type": "application/json"}
        request = urllib.request.Request(f"{self._simulator}{path}", data=data, method=method, headers=headers)  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (the local simulator only)
            return json.loads(answer.read())


def recent_events(path: Path, limit: int) -> list[dict[str, Any]]:
    """The last `limit` events of the events log (one JSON event per line), newest first."""
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        lines = deque((line for line in handle if line.strip()), maxlen=limit)
    events = []
    for line in reversed(lines):
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line being written
    return events


def _day(text: Any) -> date | None:
    """A YYYY-MM-DD date (fromisoformat alone also takes 20261126 and week dates)."""
    if not isinstance(text, str) or len(text) != 10 or text[4] != "-" or text[7] != "-":
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _refuse_foreign(request: Request) -> Response | None:
    if request.method != "POST":
        return _json({"message": "Method Not Allowed"}, 405)
    origin = request.headers.get("Origin")
    if origin is not None and origin.rstrip("/") != request.host_url.rstrip("/"):
        return _json({"message": "another origin may not drive the local stack"}, 403)
    content_type = request.mimetype
    if (request.content_length or content_type) and content_type != "application/json":
        return _json({"message": "send JSON (Content-Type: application/json)"}, 415)
    return None


def _json_body(request: Request) -> Any:
    raw = request.get_data(cache=False)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _invalid(field: str, message: str) -> Response:
    body = {
        "error": "invalid_request",
        "message": f"{field}: {message}",
        "fields": [{"field": field, "message": message}],
    }
    return _json(body, 422)


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, default=str), status=status, content_type="application/json")
