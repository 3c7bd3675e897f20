"""Every webhook route is in its function's OpenAPI document (so schemathesis fuzzes it), with its path
parameters and a body schema whose references all resolve. (That the resolver still never validates
them, leaving the body to our bounded parser, is checked by tests/integration/stk/test_edge_properties.py.)"""

import importlib
import json
import re
from typing import Any

TEMPLATE_ROUTES = re.compile(r"Path: (/v1/(?:hooks|webhooks)/[^\s]+)")


def template_webhook_routes() -> set[str]:
    with open("template.yaml") as template:
        return set(TEMPLATE_ROUTES.findall(template.read()))


def webhook_documents() -> dict[str, dict[str, Any]]:
    documents = {}
    for name in (
        "stk_callback",
        "b2c_result",
        "b2c_queue_timeout",
        "balance_callback",
        "c2b_confirmation",
        "c2b_validation",
        "pull_callback",
    ):
        module = importlib.import_module(f"functions.{name}.app")
        documents[name] = json.loads(module.app.get_openapi_json_schema())
    return documents


def refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_every_webhook_route_of_the_template_is_documented_with_a_body_and_its_parameters():
    documented = {}
    for document in webhook_documents().values():
        for path, item in document["paths"].items():
            documented[path] = (item["post"], document)
    assert template_webhook_routes() <= set(documented)
    for path, (operation, document) in documented.items():
        assert [p["name"] for p in operation["parameters"]] == re.findall(r"{(\w+)}", path)
        assert operation["requestBody"]["content"]["application/json"]["schema"]
        assert "500" not in operation["responses"]
        for ref in refs(operation):
            name = ref.removeprefix("#/components/schemas/")
            assert name in document["components"]["schemas"], ref
        for ref in refs(document["components"]["schemas"]):
            assert ref.removeprefix("#/components/schemas/") in document["components"]["schemas"], ref


def test_the_operation_ids_are_unique():
    ids = [op["post"]["operationId"] for doc in webhook_documents().values() for op in doc["paths"].values()]
    assert len(ids) == len(set(ids))
