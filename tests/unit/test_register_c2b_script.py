"""scripts/register_c2b.py (`make register-c2b`): it cannot reach AWS here, so what it reads and what it
would send are tested: the samconfig environment, the stack output, and the SigV4-signed request."""

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("register_c2b", ROOT / "scripts" / "register_c2b.py")
assert _spec is not None
assert _spec.loader is not None
script: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(script)

URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/c2b/register"
OUTPUTS = [
    {"OutputKey": "ApiUrl", "OutputValue": "https://abc123"},
    {"OutputKey": "C2bRegisterUrl", "OutputValue": URL},
]
KEYS = Credentials("AKIDEXAMPLE", "secret")


def test_the_stack_and_region_come_from_the_samconfig_environment():
    assert script.stack_from_samconfig("sandbox") == ("mpesa-payments-sandbox", "eu-west-1")
    assert script.stack_from_samconfig("production") == ("mpesa-payments-production", "eu-west-1")
    with pytest.raises(script.RegisterError, match="'staging'"):
        script.stack_from_samconfig("staging")


def test_the_register_url_is_the_stacks_output():
    assert script.register_url(OUTPUTS, "s") == URL
    with pytest.raises(script.RegisterError, match="no C2bRegisterUrl output"):
        script.register_url(OUTPUTS[:1], "s")


def test_the_request_is_json_signed_for_execute_api_in_the_region():
    credentials = Credentials("AKIDEXAMPLE", "secret", "token")
    data, headers = script.signed_request(URL, {"short_code": "600997"}, credentials, "eu-west-1")
    assert json.loads(data) == {"short_code": "600997"}
    authorization = headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in authorization
    assert "content-type" in authorization.split("SignedHeaders=")[1]
    assert headers["X-Amz-Security-Token"] == "token"
    assert headers["Content-Type"] == "application/json"


class FakeSession:
    def __init__(self, outputs, credentials=KEYS):
        self.outputs, self.credentials = outputs, credentials
        self.asked: list[str] = []

    def client(self, name):
        assert name == "cloudformation"
        session = self

        class CloudFormation:
            def describe_stacks(self, StackName):
                session.asked.append(StackName)
                return {"Stacks": [{"Outputs": session.outputs}]}

        return CloudFormation()

    def get_credentials(self):
        return self.credentials


@pytest.mark.parametrize(("status", "exit_code"), [(200, 0), (409, 1), (502, 1)])
def test_main_posts_the_shortcode_and_reports_the_answer(capsys, status, exit_code):
    session, sent = FakeSession(OUTPUTS), []

    def sender(url, data, headers):
        sent.append((url, json.loads(data), headers))
        return status, '{"status": "registered"}'

    code = script.main(
        ["--config-env", "sandbox", "--short-code", "600997"], session_factory=lambda region: session, sender=sender
    )
    assert code == exit_code
    assert session.asked == ["mpesa-payments-sandbox"]
    [(url, body, headers)] = sent
    assert (url, body) == (URL, {"short_code": "600997"})
    assert "Authorization" in headers
    assert f"POST {URL} -> {status}" in capsys.readouterr().out


def test_main_explains_what_is_missing(capsys):
    code = script.main(
        ["--stack-name", "s", "--region", "eu-west-1"],
        session_factory=lambda region: FakeSession([]),
        sender=lambda *args: (200, ""),
    )
    assert code == 1
    assert "no C2bRegisterUrl output" in capsys.readouterr().err
    no_credentials = FakeSession(OUTPUTS, credentials=None)
    assert script.main(["--stack-name", "s", "--region", "r"], session_factory=lambda region: no_credentials) == 1
