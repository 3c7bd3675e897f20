"""POST /v1/hooks/pull: the CallBackURL Pull Transactions is registered with.

Daraja documents no call to it (the statement is read by query), so whatever arrives is only kept for a
person to read, never applied: from an allowed source, within the inbox's per-source budget, bounded.
"""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from mpesa import runtime
from mpesa.daraja.acks import callback_ack
from mpesa.edge.body import callback_text
from mpesa.edge.callbacks import configured_allowlist, source_ip
from mpesa.edge.http import json_response, new_resolver
from mpesa.edge.observability import API_GATEWAY_HTTP, lambda_entry
from mpesa.errors import CallbackRefusedError, TooManyCallbacksError
from mpesa.records import InboxReason, Kind

app = new_resolver(webhooks_only=True)
PULL_REF = "pull-transactions"


@app.webhook(
    "/v1/hooks/pull", body=None, summary="Pull Transactions' registered CallBackURL: kept for a person, never applied"
)
def pull_notification() -> Response[str]:
    peer = source_ip(app.current_event.raw_event)
    if not configured_allowlist().allows(peer):
        raise CallbackRefusedError("source IP not allowed")
    body = callback_text(app.current_event.raw_event)
    inbox = runtime.inbox()
    if not inbox.admit(peer):
        raise TooManyCallbacksError("too many unconfirmed callbacks from this source")
    inbox.keep(Kind.C2B, PULL_REF, body, peer, InboxReason.UNCONFIRMED, "Pull Transactions notification")
    return json_response(200, callback_ack())


@lambda_entry(API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
