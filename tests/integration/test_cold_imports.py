"""What a cold start imports and builds: a structural check, never a timing.

Each function's app module is imported in a fresh interpreter with the environment a deployed function
has and the tracer on (benchmarks.cold_start's targets, as `make`'s cold-start figures are measured): a
heavy module it does not need at start must not be in sys.modules, and no AWS client may be created.
Then one STK push runs in a fresh process, as deployed (settings from Secrets Manager, the records, the
shared token), and every AWS client it makes must come from one boto3 session.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks import cold_start

ROOT = Path(__file__).resolve().parents[2]

# Never imported at start, by any function: each loads where it is first used, if ever.
NOT_AT_START = {
    "cryptography": "only the initiator APIs (B2C, status, balance, reversal) encrypt a password",
    "pydantic_settings": "the settings load with runtime.settings()",
    "mpesa.settings": "the settings load with runtime.settings()",
    "mpesa.daraja.client": "the Daraja client is built by runtime.daraja()",
    "mpesa.daraja.models": "each API's request and response models load with its first call",
    "aws_lambda_powertools.utilities.parameters": "the secret is read with runtime.settings()",
    "sqlite3": "the tracer patches what the functions use (botocore, requests), not all X-Ray supports",
    "aws_lambda_powertools.utilities.idempotency": "the record is the idempotency record: no function uses it",
}
# Functions that call M-Pesa; the others never import requests (nor the Daraja client).
CALLS_MPESA = {
    "account_balance",
    "b2c_payout",
    "c2b_register",
    "payment_status",
    "payout_timeout",
    "pending_sweep",
    "prompt_task",
    "reconciliation",
    "stk_push",
    "stk_timeout",
}
# Invoked by Step Functions or a schedule: no HTTP resolver.
NOT_HTTP = {"payout_timeout", "pending_sweep", "prompt_task", "reconciliation", "stk_timeout"}
# Parse no body with a model and serve no validated route: no pydantic at all (the sweep reads records;
# the Pull Transactions CallBackURL keeps what arrives as text and answers a plain acknowledgement).
NO_PYDANTIC = {"pending_sweep", "pull_callback"}
WEBHOOK_DOCS = "mpesa.edge.webhook_docs"
# One module of models per kind of callback: a webhook imports the one it parses, never the others.
CALLBACK_KINDS = ("mpesa.daraja.callbacks.stk", "mpesa.daraja.callbacks.results", "mpesa.daraja.callbacks.c2b")
VALIDATION = "aws_lambda_powertools.event_handler.middlewares.openapi_validation"
# The Daraja client alone (the SDK use): none of these until a call needs them.
CLIENT_LOADS_ON_FIRST_USE = {"pydantic", "pydantic_settings", "cryptography", "aws_lambda_powertools", "boto3"}

CHILD = """
import importlib, json, sys
import botocore.session

clients = []
create_client = botocore.session.Session.create_client

def counted(self, *args, **kwargs):
    clients.append(args[0] if args else kwargs.get("service_name"))
    return create_client(self, *args, **kwargs)

botocore.session.Session.create_client = counted
module = importlib.import_module(sys.argv[1])
app = getattr(module, "app", None)
resolver = None
if app is not None and hasattr(app, "_webhooks"):
    # Powertools' registered routes ("POST/v1/hooks/stk/<transaction_id>/<signature>") and our webhooks.
    webhooks = sorted("POST" + w.rule for w in app._webhooks)
    resolver = {"validation": bool(app._enable_validation), "routes": sorted(app._route_keys), "webhooks": webhooks}
print(json.dumps({"modules": sorted(sys.modules), "clients": clients, "resolver": resolver}))
"""


def imported(target: cold_start.Target) -> dict[str, Any]:
    env = {**target.env, "PYTHONPATH": os.pathsep.join(str(p) for p in target.path)}
    done = subprocess.run(
        [sys.executable, "-P", "-c", CHILD, target.module], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def loaded(modules: list[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


FUNCTIONS = [t for t in cold_start.targets() if t.kind == "handler"]


def test_every_function_of_the_template_is_checked():
    names = {t.name for t in FUNCTIONS}
    assert names >= CALLS_MPESA | NOT_HTTP
    assert len(names) == len(cold_start.template_functions())


@pytest.mark.parametrize("target", FUNCTIONS, ids=lambda t: t.name)
def test_a_cold_start_imports_only_what_the_function_uses(target: cold_start.Target) -> None:
    result = imported(target)
    modules = result["modules"]
    assert "aws_xray_sdk.core" in modules  # the tracer is on, as on Lambda
    present = {name: why for name, why in NOT_AT_START.items() if loaded(modules, name)}
    assert not present, f"{target.name} imports at start what it does not need then: {present}"
    if target.name not in CALLS_MPESA:
        assert not loaded(modules, "requests"), f"{target.name} never calls M-Pesa but imports requests"
    if target.name in NOT_HTTP:
        assert not loaded(modules, "aws_lambda_powertools.event_handler")
    kinds = [kind for kind in CALLBACK_KINDS if loaded(modules, kind)]
    assert len(kinds) <= 1, f"{target.name} imports the models of more than one kind of callback: {kinds}"
    if target.name in NO_PYDANTIC:
        assert not loaded(modules, "pydantic"), f"{target.name} uses no model but imports pydantic"
    resolver = result["resolver"]
    if resolver is None or not resolver["webhooks"]:
        assert not loaded(modules, WEBHOOK_DOCS), f"{target.name} documents no webhook but imports {WEBHOOK_DOCS}"
    if resolver is not None and not resolver["validation"]:
        # A resolver without request validation must serve webhooks only (our parser reads their bodies).
        assert resolver["routes"] == resolver["webhooks"]
        assert not loaded(modules, VALIDATION)


@pytest.mark.parametrize("target", FUNCTIONS, ids=lambda t: t.name)
def test_a_cold_start_creates_no_aws_client(target: cold_start.Target) -> None:
    assert imported(target)["clients"] == []


def test_the_daraja_client_alone_loads_its_dependencies_on_first_use():
    (target,) = [t for t in cold_start.targets() if t.name == cold_start.DARAJA]
    modules = imported(target)["modules"]
    assert not {name for name in CLIENT_LOADS_ON_FIRST_USE if loaded(modules, name)}


SESSION_CHILD = """
import json, os, sys
import boto3, botocore.session
from moto import mock_aws

sys.path[:0] = [os.environ["FUNCTION_DIR"], os.environ["LAYER_DIR"], os.environ["ROOT"]]
from simulator.config import SimulatorConfig
from simulator.server import SimulatorServer
from tests.support.apigw import call, http_event
from tests.support.stack import SANDBOX_SECRET_ENV, create_tables

simulator = SimulatorServer(config=SimulatorConfig(auto_act_delay_s=60, callback_delay_s=60)).start()
os.environ.update(
    MPESA_SECRET_ID="mpesa/cold", TRANSACTIONS_TABLE_NAME="TransactionsTable", STATE_TABLE_NAME="StateTable",
    EVENT_BUS_NAME="payments-bus",
)
with mock_aws():
    create_tables()
    secret = {**SANDBOX_SECRET_ENV, "MPESA_BASE_URL": simulator.url,
              "MPESA_CALLBACK_BASE_URL": "https://pay.example.com", "MPESA_CALLBACK_SECRET": "s" * 32}
    boto3.client("secretsmanager").create_secret(Name="mpesa/cold", SecretString=json.dumps(secret))
    boto3.DEFAULT_SESSION = None  # as in a new container: nothing built yet

    sessions, clients = [], []
    init, create_client = botocore.session.Session.__init__, botocore.session.Session.create_client

    def counted_init(self, *args, **kwargs):
        sessions.append(id(self))
        init(self, *args, **kwargs)

    def counted_client(self, *args, **kwargs):
        clients.append([id(self), args[0] if args else kwargs.get("service_name")])
        return create_client(self, *args, **kwargs)

    botocore.session.Session.__init__ = counted_init
    botocore.session.Session.create_client = counted_client
    import app

    body = {"phone_number": "254708374149", "amount": "10", "account_reference": "ORDER1", "transaction_desc": "Test"}
    event = http_event("POST", "/v1/payments/stk-push", body=body, headers={"Idempotency-Key": "cold-start-1"})
    status, answer = call(app.handler, event)
    print(json.dumps({"status": status, "sessions": sessions, "clients": clients}))
simulator.stop()
"""


def test_a_container_builds_one_boto3_session_for_every_client():
    (target,) = [t for t in cold_start.targets(["stk_push"]) if t.name == "stk_push"]
    function_dir, layer_dir = target.path
    env = {
        **os.environ,
        "FUNCTION_DIR": str(function_dir),
        "LAYER_DIR": str(layer_dir),
        "ROOT": str(ROOT),
        "LAMBDA_TASK_ROOT": str(function_dir),  # X-Ray's SDK knows it is on Lambda: no sampling client of its own
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env.pop("AWS_ENDPOINT_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", SESSION_CHILD], env=env, capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == 202
    services = {service for _, service in result["clients"]}
    # the settings (Secrets Manager, through Powertools' parameters), the records and the token (DynamoDB)
    assert {"secretsmanager", "dynamodb"} <= services
    assert len(result["sessions"]) == 1
    assert {session for session, _ in result["clients"]} == set(result["sessions"])
