"""Webhook routes in the OpenAPI document, without the resolver's validation.

A webhook's body is read by our own bounded parser (mpesa.edge.body), which must see it first: the
resolver's validation would parse it without our caps. So webhook routes are registered hidden, and
this module adds them to the generated document afterwards: path parameters, the body's JSON schema (the
pydantic model the flow parses it with), and the answers a caller can get. The document is what
schemathesis fuzzes the local stack with (tests/e2e), so every webhook route is fuzzed too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

COMPONENTS_REF = "#/components/schemas/{model}"
_PATH_PARAMETER = re.compile(r"<(\w+)>")

ANSWERS = {
    "200": "acknowledged (Daraja's ResultCode 0 envelope)",
    "400": "not a readable callback (the body is kept when the URL is ours)",
    "403": "the source address or the URL's signature is refused",
    "413": "the body is over the callback limit",
    "429": "unauthenticated callbacks from this source are over their hourly budget",
}


@dataclass(frozen=True)
class WebhookDoc:
    rule: str  # as the resolver writes it: /v1/hooks/stk/<transaction_id>/<signature>
    body: type[BaseModel] | None  # None: any JSON object
    summary: str
    method: str = "post"

    @property
    def path(self) -> str:
        return _PATH_PARAMETER.sub(r"{\1}", self.rule)

    def add_to(self, document: dict[str, Any]) -> None:
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        if self.body is None:
            body_schema: dict[str, Any] = {"type": "object"}
        else:
            generated = self.body.model_json_schema(ref_template=COMPONENTS_REF)
            schemas.update(generated.pop("$defs", {}))
            schemas[self.body.__name__] = generated
            body_schema = {"$ref": COMPONENTS_REF.format(model=self.body.__name__)}
        operation = {
            "summary": self.summary,
            "operationId": f"webhook_{re.sub(r'[^a-z0-9]+', '_', self.path.lower()).strip('_')}",
            "tags": ["webhooks"],
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in _PATH_PARAMETER.findall(self.rule)
            ],
            "requestBody": {"required": True, "content": {"application/json": {"schema": body_schema}}},
            "responses": {status: {"description": text} for status, text in ANSWERS.items()},
        }
        document.setdefault("paths", {}).setdefault(self.path, {})[self.method] = operation
