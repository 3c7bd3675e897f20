"""The HTTP front without a stack: routing, payload-v2 events, response mapping, errors, OpenAPI."""

import base64
import json

import pytest
from werkzeug.test import Client

from local.front import Front, Router, build_event, merge_openapi, to_response
from local.template import Route


def route(key, function="Fn", authorizer="NONE"):
    method, _, path = key.partition(" ")
    return Route(method, path, function, authorizer, "2.0")


ROUTES = [
    route("GET /items/{item_id}", "ById", "AWS_IAM"),
    route("GET /items/special", "Special"),
    route("ANY /files/{proxy+}", "Files"),
    route("POST /items", "Create"),
    route("GET /", "Root"),
]


def test_the_most_specific_route_wins():
    router = Router(ROUTES)
    assert router.match("GET", "/items/special")[0].function == "Special"
    assert router.match("GET", "/items/42") == (ROUTES[0], {"item_id": "42"})
    assert router.match("DELETE", "/files/a/b/c.txt")[1] == {"proxy": "a/b/c.txt"}
    assert router.match("GET", "/")[0].function == "Root"
    assert router.match("PUT", "/items") is None
    assert router.match("GET", "/nope") is None


def test_a_default_route_catches_what_nothing_else_matches():
    router = Router([*ROUTES, Route("ANY", "$default", "Fallback", "NONE", "2.0")])
    assert router.match("PUT", "/anything/at/all")[0].function == "Fallback"
    assert router.match("GET", "/items/special")[0].function == "Special"


def capture_front(result=None, error=None):
    calls, logs = [], []

    def invoke(function, event):
        calls.append((function, event))
        if error is not None:
            raise error
        return result

    return Front(ROUTES, invoke, log=logs.append), calls, logs


def test_the_event_is_api_gateway_payload_v2():
    front, calls, _ = capture_front({"statusCode": 200, "body": "ok"})
    client = Client(front, use_cookies=False)
    response = client.get(
        "/items/42?a=1&a=2&b=",
        headers={"X-Thing": "v", "Cookie": "c1=1; c2=2"},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert response.status_code == 200
    function, event = calls[0]
    assert function == "ById"
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /items/{item_id}"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["pathParameters"] == {"item_id": "42"}
    assert event["headers"]["x-thing"] == "v"
    assert event["cookies"] == ["c1=1", "c2=2"]
    assert event["requestContext"]["http"] == {
        "method": "GET",
        "path": "/items/42",
        "protocol": "HTTP/1.1",
        "sourceIp": "10.1.2.3",
        "userAgent": event["headers"].get("user-agent", ""),
    }
    assert event["requestContext"]["authorizer"]["iam"]["accountId"] == "123456789012"
    assert "body" not in event


def test_bodies_are_text_or_base64_by_content_type():
    front, calls, _ = capture_front({"statusCode": 204})
    client = Client(front)
    client.post("/items", data=json.dumps({"a": 1}), content_type="application/json")
    client.post("/items", data=b"\x00\xff\x10", content_type="application/octet-stream")
    text_event, binary_event = calls[0][1], calls[1][1]
    assert (text_event["body"], text_event["isBase64Encoded"]) == ('{"a": 1}', False)
    assert base64.b64decode(binary_event["body"]) == b"\x00\xff\x10"
    assert binary_event["isBase64Encoded"] is True
    assert "authorizer" not in text_event["requestContext"]


def test_responses_map_status_headers_cookies_and_base64():
    response = to_response(
        {
            "statusCode": 201,
            "headers": {"X-A": "1"},
            "cookies": ["s=1", "t=2"],
            "body": base64.b64encode(b"\x01\x02").decode(),
            "isBase64Encoded": True,
        }
    )
    assert response.status_code == 201
    assert response.headers["X-A"] == "1"
    assert response.headers.getlist("Set-Cookie") == ["s=1", "t=2"]
    assert response.get_data() == b"\x01\x02"


def test_a_result_without_status_code_is_200_json():
    response = to_response({"hello": "world"})
    assert response.status_code == 200
    assert json.loads(response.get_data()) == {"hello": "world"}


@pytest.mark.parametrize(
    ("result", "error"),
    [(None, RuntimeError("db password is hunter2")), ({"statusCode": 200, "body": {"not": "a string"}}, None)],
)
def test_handler_errors_are_502_with_the_traceback_on_the_console_only(result, error):
    front, _, logs = capture_front(result, error)
    response = Client(front).get("/items/1")
    assert response.status_code == 502
    assert response.get_json() == {"message": "Internal Server Error"}
    assert "hunter2" not in response.get_data(as_text=True)
    assert "Traceback" in "\n".join(logs)


def test_unmatched_requests_are_404_like_api_gateway():
    front, calls, _ = capture_front()
    response = Client(front).get("/nowhere")
    assert response.status_code == 404
    assert response.get_json() == {"message": "Not Found"}
    assert calls == []


def test_openapi_documents_are_merged():
    merged = merge_openapi(
        [
            {"openapi": "3.1.0", "paths": {"/a": {"get": {}}}, "components": {"schemas": {"A": {}}}},
            {
                "openapi": "3.1.0",
                "paths": {"/a": {"post": {}}, "/b": {"get": {}}},
                "components": {"schemas": {"B": {}}},
            },
        ],
        "http://127.0.0.1:3000",
        "T",
    )
    assert merged["paths"] == {"/a": {"get": {}, "post": {}}, "/b": {"get": {}}}
    assert set(merged["components"]["schemas"]) == {"A", "B"}
    assert merged["servers"] == [{"url": "http://127.0.0.1:3000"}]


def test_swagger_ui_uses_only_local_assets():
    front, _, _ = capture_front()
    client = Client(front)
    page = client.get("/docs").get_data(as_text=True)
    assert "SwaggerUIBundle" in page
    assert "https://" not in page
    assert "http://" not in page
    assert client.get("/docs/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs/swagger-ui.css").status_code == 200


def test_build_event_handles_a_request_without_query_or_path_parameters():
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    request = Request(EnvironBuilder(path="/items", method="POST").get_environ())
    event = build_event(request, ROUTES[3], {}, "127.0.0.1:3000")
    assert "queryStringParameters" not in event
    assert "pathParameters" not in event
    assert event["requestContext"]["domainName"] == "127.0.0.1:3000"


def test_the_console_log_redacts_a_callback_routes_signature():
    front, _, logs = capture_front({"statusCode": 200, "body": "ok"})
    client = Client(front)
    client.post("/v1/hooks/stk/txn-1/s3cr3t-signature?x=1")
    client.get("/items/7?q=a")
    assert logs[0].startswith("api    POST /v1/hooks/stk/txn-1/***?x=1 -> 404")
    assert "s3cr3t" not in "\n".join(logs)
    assert logs[1].startswith("api    GET /items/7?q=a -> 200")
