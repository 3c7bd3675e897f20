"""The control API under ``/simulator/``: JSON, not token-protected, for tests and people."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request
from pydantic import ValidationError

from simulator import crypto, payloads
from simulator.c2b import registration_view
from simulator.customers import receipt_view
from simulator.errors import ControlError
from simulator.faults import FaultSpec
from simulator.responses import control_body, json_response
from simulator.results import conversation_view
from simulator.stk import prompt_view, record_view

if TYPE_CHECKING:
    from simulator.core import Simulator
    from simulator.state import StkRecord


def _validation_message(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors())


def _act_view(record: StkRecord) -> dict[str, Any]:
    return {"result_code": record.result_code, "result_desc": record.result_desc, "receipt": record.receipt}


def control_blueprint(sim: Simulator) -> Blueprint:
    bp = Blueprint("control", __name__, url_prefix="/simulator")

    @bp.get("/health")
    def health() -> Response:
        return json_response({"status": "ok"})

    @bp.post("/reset")
    def reset() -> Response:
        sim.reset()
        return json_response({"status": "reset"})

    # --- config --------------------------------------------------------------------------------
    @bp.get("/config")
    def get_config() -> Response:
        return json_response(sim.config.public_view())

    @bp.patch("/config")
    def patch_config() -> Response:
        try:
            config = sim.configure(control_body(request))
        except KeyError as error:
            raise ControlError(400, f"unknown or read-only config key: {error.args[0]}") from None
        except ValidationError as error:
            raise ControlError(400, _validation_message(error)) from None
        return json_response(config.public_view())

    # --- credentials ---------------------------------------------------------------------------
    @bp.get("/certificate")
    def certificate() -> Response:
        return Response(sim.keys.certificate_pem, mimetype="text/plain")

    @bp.post("/security-credential")
    def security_credential() -> Response:
        password = control_body(request).get("password", sim.config.initiator_password)
        if not isinstance(password, str):
            raise ControlError(400, "password must be a string")
        credential = crypto.encrypt_credential(sim.keys.certificate_pem, password)
        return json_response({"SecurityCredential": credential})

    @bp.post("/tokens/revoke")
    def revoke_tokens() -> Response:
        return json_response({"revoked": sim.tokens.revoke_all()})

    # --- faults --------------------------------------------------------------------------------
    @bp.post("/faults")
    def add_fault() -> Response:
        try:
            spec = FaultSpec.model_validate(control_body(request))
        except ValidationError as error:
            raise ControlError(400, _validation_message(error)) from None
        return json_response({"id": sim.faults.add(spec), **spec.model_dump()}, 201)

    @bp.get("/faults")
    def list_faults() -> Response:
        return json_response(sim.faults.pending())

    @bp.delete("/faults")
    def clear_faults() -> Response:
        sim.faults.clear()
        return json_response({"status": "cleared"})

    # --- logs ----------------------------------------------------------------------------------
    @bp.get("/requests")
    def list_requests() -> Response:
        return json_response(sim.requests.entries(request.args.get("path")))

    @bp.delete("/requests")
    def clear_requests() -> Response:
        sim.requests.clear()
        return json_response({"status": "cleared"})

    @bp.get("/callbacks")
    def list_callbacks() -> Response:
        return json_response(sim.callback_log.entries(request.args.get("kind")))

    @bp.delete("/callbacks")
    def clear_callbacks() -> Response:
        sim.callback_log.clear()
        return json_response({"status": "cleared"})

    # --- STK: records, prompts, the customer's hand --------------------------------------------
    @bp.get("/stk/<checkout_request_id>")
    def stk_record(checkout_request_id: str) -> Response:
        record = sim.stk.get(checkout_request_id)
        if record is None:
            raise ControlError(404, f"unknown CheckoutRequestID {checkout_request_id}")
        return json_response(record_view(record))

    @bp.post("/stk/<checkout_request_id>/settle")
    def stk_settle(checkout_request_id: str) -> Response:
        body = control_body(request)
        code = body.get("result_code")
        if isinstance(code, bool) or not isinstance(code, int | str) or code == "":
            raise ControlError(400, "result_code (integer or string) is required")
        desc = body.get("result_desc")
        if desc is not None and not isinstance(desc, str):
            raise ControlError(400, "result_desc must be a string")
        return json_response(_act_view(sim.stk.force(checkout_request_id, code, desc)))

    @bp.get("/prompts")
    def prompts() -> Response:
        msisdn = request.args.get("msisdn", "").strip()
        if not msisdn:
            raise ControlError(400, "query parameter msisdn is required")
        name = sim.config.business_name
        daraja = [{**prompt_view(r, name), "provider": "daraja"} for r in sim.stk.pending_prompts(msisdn)]
        return json_response(sorted(daraja + sim.openapi.prompt_views(msisdn), key=lambda p: str(p["created_at"])))

    @bp.post("/prompts/<checkout_request_id>/accept")
    def accept(checkout_request_id: str) -> Response:
        pin = control_body(request).get("pin")
        if isinstance(pin, int) and not isinstance(pin, bool):
            pin = str(pin)
        if not isinstance(pin, str):
            raise ControlError(400, "pin (string) is required")
        if sim.openapi.owns_prompt(checkout_request_id):
            return json_response(sim.openapi.accept(checkout_request_id, pin))
        return json_response(_act_view(sim.stk.accept(checkout_request_id, pin)))

    @bp.post("/prompts/<checkout_request_id>/cancel")
    def cancel(checkout_request_id: str) -> Response:
        if sim.openapi.owns_prompt(checkout_request_id):
            return json_response(sim.openapi.cancel(checkout_request_id))
        return json_response(_act_view(sim.stk.cancel(checkout_request_id)))

    # --- C2B registrations, conversations, money -----------------------------------------------
    @bp.get("/c2b/registrations")
    def registrations() -> Response:
        return json_response([registration_view(r) for r in sim.store.list_registrations()])

    @bp.put("/c2b/registrations/<shortcode>")
    def update_registration(shortcode: str) -> Response:
        enabled = control_body(request).get("external_validation")
        if not isinstance(enabled, bool):
            raise ControlError(400, "external_validation (boolean) is required")
        return json_response(registration_view(sim.c2b.set_external_validation(shortcode, enabled)))

    @bp.get("/conversations")
    def conversations() -> Response:
        return json_response([conversation_view(c) for c in sim.store.list_conversations()])

    @bp.get("/receipts")
    def receipts() -> Response:
        return json_response([receipt_view(r) for r in sim.store.list_receipts()])

    @bp.get("/balances")
    def balances() -> Response:
        current = sim.store.balances()
        return json_response(
            {
                "working": payloads.money_text(current.working),
                "utility": payloads.money_text(current.utility),
                "charges_paid": payloads.money_text(current.charges_paid),
            }
        )

    return bp
