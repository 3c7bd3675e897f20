"""Control API for the OpenAPI under ``/simulator/openapi/`` (JSON, no token; same guard as the rest
of ``/simulator/``): the public key, a bearer helper, sessions, transactions and the call journal.

The customer's hand (accept with a PIN, cancel) is the shared ``/simulator/prompts`` API: OpenAPI
prompts appear there with ``"provider": "openapi"`` and ``"currency": "TZS"``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from flask import Blueprint, Response, request

from simulator.errors import ControlError
from simulator.openapi import codes
from simulator.openapi.service import transaction_view
from simulator.responses import control_body, json_response

if TYPE_CHECKING:
    from simulator.core import Simulator


def control_blueprint(sim: Simulator) -> Blueprint:
    bp = Blueprint("openapi_control", __name__, url_prefix="/simulator/openapi")
    service = sim.openapi

    @bp.get("/public-key")
    def public_key() -> Response:
        """As the portal shows it: base64 of the DER SubjectPublicKeyInfo (``?format=pem`` for PEM)."""
        if request.args.get("format") == "pem":
            return Response(service.keys.public_key_pem, mimetype="text/plain")
        return Response(service.keys.public_key_b64, mimetype="text/plain")

    @bp.post("/bearer")
    def bearer() -> Response:
        """Convenience for curl users: ``{"value": "..."}`` (default: the API key) encrypted as a client would."""
        value = control_body(request).get("value", sim.config.openapi_api_key)
        if not isinstance(value, str) or not value:
            raise ControlError(400, "value must be a non-empty string")
        return json_response({"bearer": service.keys.encrypt(value)})

    @bp.get("/sessions")
    def sessions() -> Response:
        return json_response(service.sessions.views())

    @bp.post("/sessions/expire")
    def expire_sessions() -> Response:
        return json_response({"expired": service.sessions.expire_all()})

    @bp.get("/transactions")
    def transactions() -> Response:
        caller_id = request.args.get("third_party_conversation_id")
        kind = request.args.get("kind")
        service.store.expire_overdue(codes.TIMEOUT.code)
        return json_response(
            [
                transaction_view(r)
                for r in service.store.transactions()
                if (caller_id is None or r.third_party_conversation_id == caller_id)
                and (kind is None or r.kind.value == kind)
            ]
        )

    @bp.get("/transactions/<reference>")
    def transaction(reference: str) -> Response:
        """By ConversationID, TransactionID or ThirdPartyConversationID, in any environment."""
        service.store.expire_overdue(codes.TIMEOUT.code)
        found = service.store.find(reference)
        if found is None:
            raise ControlError(404, f"no OpenAPI transaction {reference}")
        return json_response(transaction_view(found))

    @bp.get("/calls")
    def calls() -> Response:
        caller_id = request.args.get("third_party_conversation_id")
        operation = request.args.get("operation")
        return json_response(
            [
                call.view()
                for call in service.store.calls()
                if (caller_id is None or call.third_party_conversation_id == caller_id)
                and (operation is None or call.operation == operation)
            ]
        )

    @bp.get("/call-counts")
    def call_counts() -> Response:
        """``{"<ThirdPartyConversationID>": {"c2b": 1, ...}}``: proves "no second call"."""
        counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
        for call in service.store.calls():
            if call.third_party_conversation_id is not None:
                counts[call.third_party_conversation_id][call.operation] += 1
        return json_response({caller_id: dict(counter) for caller_id, counter in counts.items()})

    @bp.get("/balance")
    def balance() -> Response:
        return json_response({"balance": format(service.store.balance(), "f"), "currency": "TZS"})

    @bp.put("/balance")
    def set_balance() -> Response:
        """``{"balance": "1000"}``: set the organisation's balance (a string or integer, not a float)."""
        raw = control_body(request).get("balance")
        try:
            value = Decimal(raw) if isinstance(raw, str | int) and not isinstance(raw, bool) else None
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite() or value < 0:
            raise ControlError(400, "balance must be a non-negative amount given as a string or integer")
        service.store.set_balance(value)
        return balance()

    return bp
