"""Reading a SAM template generically: Globals, names, environments, routes, schedules, state machines."""

import json
from pathlib import Path

import pytest

from local.cfn import TemplateError
from local.template import StackModel

FIXTURE = Path(__file__).parent / "fixture" / "template.yaml"
REPO_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture
def model():
    return StackModel.load(FIXTURE, "fx", {})


def test_globals_merge_into_each_function(model):
    echo = model.functions()["EchoFunction"].properties
    assert echo["Runtime"] == "python3.12"
    assert echo["Timeout"] == 10
    assert echo["Layers"] == [{"Ref": "HelperLayer"}]
    assert set(echo["Environment"]["Variables"]) >= {"ITEMS_TABLE", "ONLY_ECHO", "MACHINE_ARN"}


def test_local_names_follow_explicit_names_else_stack_and_logical_id(model):
    assert model.physical_name("WorkerFunction") == "fx-worker"
    assert model.physical_name("EchoFunction") == "EchoFunction"
    assert model.physical_name("ItemsTable") == "fx-ItemsTable"
    assert model.physical_name("NamedTable") == "fx-named"
    assert model.physical_name("Bus") == "fx-bus"
    assert model.arn("Machine") == "arn:aws:states:us-east-1:123456789012:stateMachine:fx-Machine"


def test_conditions_decide_which_resources_exist():
    assert "ProdOnlyTable" not in StackModel.load(FIXTURE, "fx", {}).of_type("AWS::DynamoDB::Table")
    prod = StackModel.load(FIXTURE, "fx", {"Stage": "prod"})
    assert "ProdOnlyTable" in prod.of_type("AWS::DynamoDB::Table")
    assert prod.function_environment("EchoFunction")["STAGE_LABEL"] == "production"


def test_function_environment_resolves_refs_getatts_subs_and_joins(model):
    model.refs["AppSecret"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:fx-AppSecret-AbCdEf"
    env = model.function_environment("EchoFunction")
    assert env == {
        "ITEMS_TABLE": "fx-ItemsTable",
        "SECRET_ID": "arn:aws:secretsmanager:us-east-1:123456789012:secret:fx-AppSecret-AbCdEf",
        "BUS_NAME": "fx-bus",
        "ALLOWED": "10.0.0.1,10.0.0.2",
        "STAGE_LABEL": "test-in-us-east-1",
        "ONLY_ECHO": "echo-value",
        "ROLE": "echo",
        "MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:fx-Machine",
    }
    assert "ONLY_ECHO" not in model.function_environment("WorkerFunction")


def test_layers_resolve_to_their_local_code(model):
    assert model.function_layer_paths("EchoFunction") == [(FIXTURE.parent / "layers" / "helper").resolve()]


def test_routes_come_from_httpapi_events_with_their_authorizer(model):
    routes = {(r.route_key, r.function, r.authorizer) for r in model.routes()}
    assert routes == {
        ("GET /items/{item_id}", "EchoFunction", "AWS_IAM"),
        ("POST /items", "EchoFunction", "NONE"),
        ("ANY /files/{proxy+}", "EchoFunction", "AWS_IAM"),
        ("GET /plain", "EchoFunction", "AWS_IAM"),
        ("GET /items/special", "GreeterFunction", "AWS_IAM"),
        ("GET /hello/{name}", "GreeterFunction", "AWS_IAM"),
        ("GET /whoami/{tag}", "GreeterFunction", "AWS_IAM"),
        ("GET /slow", "SlowFunction", "AWS_IAM"),
        ("GET /boom", "WorkerFunction", "AWS_IAM"),
        ("GET /broken", "BrokenFunction", "AWS_IAM"),
    }


def test_schedules_of_functions_and_state_machines(model):
    schedules = {s.name: s for s in model.schedules()}
    assert set(schedules) == {"WorkerFunction.Tick", "WorkerFunction.Nightly", "Machine.Hourly"}
    assert schedules["WorkerFunction.Tick"].expression == "rate(1 day)"
    assert json.loads(schedules["WorkerFunction.Tick"].input or "") == {"action": "tick"}
    assert schedules["WorkerFunction.Nightly"].enabled is False
    assert schedules["Machine.Hourly"].target == "Machine"


def test_state_machine_definition_gets_its_substitutions(model):
    definition = json.loads(model.state_machine_definition("Machine"))
    task = definition["States"]["Double"]
    assert task["Parameters"]["FunctionName"] == "arn:aws:lambda:us-east-1:123456789012:function:fx-worker"
    assert definition["States"]["Pause"]["Seconds"] == 0


def test_a_missing_substitution_is_reported(tmp_path):
    (tmp_path / "sm.json").write_text(
        '{"StartAt": "A", "States": {"A": {"Type": "Pass", "Comment": "${Nope}", "End": true}}}'
    )
    (tmp_path / "template.yaml").write_text(
        "Resources:\n  M:\n    Type: AWS::Serverless::StateMachine\n    Properties:\n      DefinitionUri: sm.json\n"
    )
    with pytest.raises(TemplateError, match="Nope"):
        StackModel.load(tmp_path / "template.yaml", "x", {}).state_machine_definition("M")


def test_the_project_template_resolves_locally():
    """Every function environment and state machine of template.yaml resolves (nothing dangling)."""
    model = StackModel.load(REPO_TEMPLATE, "mpesa-local", {})
    for logical_id in model.functions():
        env = model.function_environment(logical_id)
        assert all(isinstance(value, str) for value in env.values())
    for logical_id in model.of_type("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
        json.loads(model.state_machine_definition(logical_id))
    for route in model.routes():
        assert route.function in model.functions()
    for schedule in model.schedules():
        assert schedule.target in model.resources
