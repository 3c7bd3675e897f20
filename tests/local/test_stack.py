"""`python -m local` over the fixture template: resources, front, Step Functions, schedules, events, lifecycle."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from local import python_mismatch
from local.cli import install_stop_signals
from local.stack import LocalStack, Settings, StartupError
from tests.local.conftest import FIXTURE
from tests.local.process import REPO_ROOT, StackProcess, free_port, free_ports, http, wait_for


def test_health_lists_the_urls_all_on_loopback(fixture_stack):
    status, body = http("GET", f"{fixture_stack.api}/_local/health")
    assert status == 200
    assert body["api"] == fixture_stack.api
    assert body["aws"] == fixture_stack.aws
    assert body["pid"] == fixture_stack.process.pid  # scripts read the stack's memory from /proc
    urls = {key: url for key, url in body.items() if key not in {"events_log", "status", "pid"}}
    assert all(url.startswith("http://127.0.0.1:") for url in urls.values())


def test_the_banner_prints_the_urls_and_routes(fixture_stack):
    output = fixture_stack.output()
    assert f"API              {fixture_stack.api}" in output
    assert f"{fixture_stack.api}/docs" in output
    assert "GET /items/{item_id}" in output
    assert "Functions        5, each in its own processes (up to 4; GET" in output
    assert "Ctrl-C stops everything." in output


def test_a_route_reaches_its_handler_with_a_v2_event_and_its_own_environment(fixture_stack):
    status, body = http("GET", f"{fixture_stack.api}/items/42?a=1&a=2", headers={"X-Trace": "t1"})
    assert status == 200
    event, env = body["event"], body["env"]
    assert event["routeKey"] == "GET /items/{item_id}"
    assert event["pathParameters"] == {"item_id": "42"}
    assert event["queryStringParameters"] == {"a": "1,2"}
    assert event["headers"]["x-trace"] == "t1"
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert "iam" in event["requestContext"]["authorizer"]
    assert env["ONLY_ECHO"] == "echo-value"
    assert env["ROLE"] == "echo"  # two functions, two values: each sees its own
    assert env["ONLY_WORKER"] is None  # another function's variable: each function has its own processes
    assert env["ITEMS_TABLE"] == "fx-ItemsTable"
    assert env["ALLOWED"] == "10.0.0.1,10.0.0.2"
    assert env["STAGE_LABEL"] == "test-in-us-east-1"
    assert env["SECRET_ID"].startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:fx-AppSecret")
    assert env["MACHINE_ARN"] == "arn:aws:states:us-east-1:123456789012:stateMachine:fx-Machine"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "EchoFunction"
    assert env["AWS_ENDPOINT_URL"] == fixture_stack.aws
    assert env["CUSTOM"] == "from-local-env"  # LOCAL_ENV_<NAME> reaches every function
    assert body["context"]["function_name"] == "EchoFunction"
    assert 0 < body["context"]["remaining_ms"] <= 10_000


def test_a_function_runs_in_its_own_worker_process_as_lambda_runs_it(fixture_stack):
    status, body = http("GET", f"{fixture_stack.api}/items/7")
    assert status == 200
    env, process = body["env"], body["process"]
    code_dir = str(FIXTURE / "functions" / "echo")
    # The Lambda runtime's variables, and the code folder as /var/task: cwd and first on sys.path.
    assert (env["_HANDLER"], env["LAMBDA_TASK_ROOT"], env["TZ"]) == ("app.handler", code_dir, ":UTC")
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert process["cwd"] == process["first_path"] == code_dir
    assert env["AWS_CONFIG_FILE"] == os.devnull  # no profile of the shell applies
    assert env["LOCAL_PARENT_PID"] is None  # the stack's own settings stay with the stack
    _, workers = http("GET", f"{fixture_stack.api}/_local/workers")
    assert workers["pid"] == fixture_stack.process.pid != process["pid"]
    echo_pids = [worker["pid"] for worker in workers["functions"]["EchoFunction"]["workers"]]
    assert process["pid"] in echo_pids
    assert workers["functions"]["BrokenFunction"]["failure"].startswith("ModuleNotFoundError")


def test_powertools_current_event_and_context_never_cross_requests_or_functions(fixture_stack):
    # Powertools keeps the current event and Lambda context in class attributes. A request that reads them
    # after others (of the same function, and of another with a 3 s Timeout) started must still see its own.
    results: dict[str, tuple[int, Any]] = {}

    def call(key: str, path: str) -> None:
        results[key] = http("GET", f"{fixture_stack.api}{path}")

    plan = [("one", "/whoami/one?pause=1.2", 0.0), ("two", "/whoami/two?pause=0.6", 0.2), ("slow", "/slow", 0.4)]
    threads = []
    for key, path, delay in plan:
        time.sleep(delay - (plan[len(threads) - 1][2] if threads else 0.0))
        thread = threading.Thread(target=call, args=(key, path))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(timeout=30)
    assert results["slow"] == (200, {"function_name": "SlowFunction"})
    for tag in ("one", "two"):
        status, seen = results[tag]
        assert status == 200, seen
        assert (seen["tag"], seen["event_tag"], seen["function_name"]) == (tag, tag, "GreeterFunction")
        assert 8_000 < seen["remaining_ms"] <= 10_000  # its own deadline: Timeout 10 s, not SlowFunction's 3 s


def test_post_bodies_status_codes_and_cookies_pass_through(fixture_stack):
    request = urllib.request.Request(  # noqa: S310 (a loopback URL)
        f"{fixture_stack.api}/items", data=b'{"name": "x"}', method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 201
        assert response.headers["x-echo"] == "yes"
        assert response.headers["Set-Cookie"] == "session=abc; Path=/"
        event = json.loads(response.read())["event"]
    assert event["body"] == '{"name": "x"}'
    assert "authorizer" not in event["requestContext"]  # Auth: {Authorizer: NONE}


def test_literal_routes_beat_parameters_and_greedy_paths_match(fixture_stack):
    assert http("GET", f"{fixture_stack.api}/items/special") == (200, {"special": "yes"})
    assert http("GET", f"{fixture_stack.api}/hello/ann") == (200, {"greeting": "hello ann"})
    status, body = http("DELETE", f"{fixture_stack.api}/files/a/b/c.txt")
    assert status == 200
    assert body["event"]["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert http("GET", f"{fixture_stack.api}/plain") == (200, {"plain": True})
    assert http("GET", f"{fixture_stack.api}/nowhere") == (404, {"message": "Not Found"})


def test_a_failing_handler_is_a_502_and_its_traceback_stays_on_the_console(fixture_stack):
    status, body = http("GET", f"{fixture_stack.api}/boom")
    assert (status, body) == (502, {"message": "Internal Server Error"})
    wait_for(lambda: "secret detail that must not reach the client" in fixture_stack.output(), 10)


def test_a_function_that_cannot_be_imported_is_reported_and_answers_502(fixture_stack):
    assert "WARNING: BrokenFunction could not be imported" in fixture_stack.output()
    assert http("GET", f"{fixture_stack.api}/broken") == (502, {"message": "Internal Server Error"})
    assert http("GET", f"{fixture_stack.api}/items/special")[0] == 200  # the others are unaffected


def test_openapi_merges_the_resolvers_and_swagger_ui_is_served(fixture_stack):
    status, document = http("GET", f"{fixture_stack.api}/openapi.json")
    assert status == 200
    assert {"/hello/{name}", "/items/special"} <= set(document["paths"])
    status, page = http("GET", f"{fixture_stack.api}/docs")
    assert status == 200
    assert "/openapi.json" in page
    assert http("GET", f"{fixture_stack.api}/docs/swagger-ui-bundle.js")[0] == 200


def test_tables_have_the_templates_key_schemas_indexes_and_ttl(aws):
    dynamodb = aws("dynamodb")
    assert set(dynamodb.list_tables()["TableNames"]) == {"fx-ItemsTable", "fx-named"}
    table = dynamodb.describe_table(TableName="fx-ItemsTable")["Table"]
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["by-owner"]
    ttl = dynamodb.describe_time_to_live(TableName="fx-ItemsTable")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_the_secret_is_generated_from_its_template(aws):
    value = json.loads(aws("secretsmanager").get_secret_value(SecretId="fx-AppSecret")["SecretString"])
    assert value["API_KEY"] == "SET-ME"
    assert len(value["SIGNING_KEY"]) == 40
    assert value["SIGNING_KEY"].isalnum()


def test_functions_exist_in_lambda_and_invoke_runs_the_real_handler(aws):
    lam = aws("lambda")
    names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    assert names == {"EchoFunction", "GreeterFunction", "SlowFunction", "fx-worker", "BrokenFunction"}
    result = lam.invoke(FunctionName="fx-worker", Payload=json.dumps({"action": "double", "value": 2}))
    assert json.loads(result["Payload"].read())["value"] == 4
    failed = lam.invoke(FunctionName="fx-worker", Payload=json.dumps({"action": "fail"}))
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "Flaky"


def _run_machine(aws, payload):
    sfn = aws("stepfunctions")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:fx-Machine"
    name = f"t-{time.time_ns()}"  # moto names an unnamed execution "None" (a second one would clash)
    execution = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))["executionArn"]
    return wait_for(
        lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
        30,
        message="the execution to finish",
    )


def test_the_state_machine_really_executes_with_the_real_handler(aws):
    done = _run_machine(aws, {"value": 21})
    assert done["status"] == "SUCCEEDED"
    output = json.loads(done["output"])
    assert output["value"] == 42
    assert output["env"] == {"ONLY_WORKER": "worker-value", "ROLE": "worker", "ITEMS_TABLE": "fx-ItemsTable"}


def test_a_handler_error_takes_the_state_machines_catch(aws):
    done = _run_machine(aws, {"value": None})
    assert done["status"] == "FAILED"
    assert done["error"] == "WorkerFailed"


def test_schedules_are_listed_and_run_their_targets(fixture_stack, aws):
    status, schedules = http("GET", f"{fixture_stack.api}/_local/schedules")
    assert status == 200
    by_name = {item["name"]: item for item in schedules}
    assert by_name["WorkerFunction.Tick"]["enabled"] is True
    assert by_name["WorkerFunction.Nightly"]["enabled"] is False
    assert by_name["WorkerFunction.Nightly"]["next_run"] is None

    for name in ("WorkerFunction.Tick", "WorkerFunction.Nightly"):
        status, result = http("POST", f"{fixture_stack.api}/_local/schedules/{name}/run")
        assert status == 200
        assert result["last_error"] is None
    items = aws("dynamodb").query(
        TableName="fx-ItemsTable",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "schedule"}},
    )["Items"]
    kinds = {item["sk"]["S"].split("#")[0] for item in items}
    assert {"tick", "Scheduled Event"} <= kinds

    assert http("POST", f"{fixture_stack.api}/_local/schedules/Machine.Hourly/run")[0] == 200
    sfn = aws("stepfunctions")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:fx-Machine"

    def hourly_succeeded():
        for execution in sfn.list_executions(stateMachineArn=arn)["executions"]:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            if json.loads(described["input"]) == {"value": 21} and described["status"] == "SUCCEEDED":
                return True
        return False

    wait_for(hourly_succeeded, 30, message="the scheduled execution")
    assert http("POST", f"{fixture_stack.api}/_local/schedules/Nope/run")[0] == 404


def test_events_on_the_bus_are_written_to_the_events_log(fixture_stack, aws):
    marker = f"marker-{time.time_ns()}"
    aws("events").put_events(
        Entries=[
            {
                "Source": "fx.tests",
                "DetailType": "thing.happened",
                "Detail": json.dumps({"m": marker}),
                "EventBusName": "fx-bus",
            }
        ]
    )
    path = fixture_stack.env["LOCAL_EVENTS_LOG"]

    def logged():
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if marker in line]

    (event,) = wait_for(logged, 15, message="the event in the log")
    assert event["detail-type"] == "thing.happened"
    assert event["detail"] == {"m": marker}


def test_a_busy_port_is_one_clear_line_and_exit_code_2(fixture_stack, tmp_path):
    env = dict(fixture_stack.env, LOCAL_AWS_PORT=str(free_port()), LOCAL_API_PORT=str(fixture_stack.ports["api"]))
    result = subprocess.run(
        [sys.executable, "-m", "local"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert lines == [
        f"error: port {fixture_stack.ports['api']} on 127.0.0.1 is already in use: set LOCAL_API_PORT to a free port"
    ]


def test_ctrl_c_stops_everything_cleanly(tmp_path):
    stack = StackProcess(
        {
            "LOCAL_TEMPLATE": str(FIXTURE / "template.yaml"),
            "LOCAL_STACK_NAME": "fx2",
            "LOCAL_EVENTS_LOG": str(tmp_path / "events.log"),
            "LOCAL_SIMULATOR": "off",
        },
        tmp_path / "stack.log",
    ).start()
    _, workers = http("GET", f"{stack.api}/_local/workers")
    pids = [worker["pid"] for function in workers["functions"].values() for worker in function["workers"]]
    assert len(pids) >= 4  # one warm worker per importable function
    assert stack.stop() == 0
    assert stack.output().rstrip().endswith("Stopped.")
    assert [pid for pid in pids if not ended(pid)] == []  # no worker outlives the stack
    for port in (stack.ports["api"], stack.ports["aws"]):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))  # free again


def test_workers_end_with_the_stack_even_when_it_is_killed(tmp_path):
    stack = StackProcess(
        {
            "LOCAL_TEMPLATE": str(FIXTURE / "template.yaml"),
            "LOCAL_STACK_NAME": "fx5",
            "LOCAL_EVENTS_LOG": str(tmp_path / "events.log"),
            "LOCAL_SIMULATOR": "off",
        },
        tmp_path / "stack.log",
    ).start()
    assert stack.process is not None
    _, workers = http("GET", f"{stack.api}/_local/workers")
    pids = [worker["pid"] for function in workers["functions"].values() for worker in function["workers"]]

    def call_slow() -> None:
        with contextlib.suppress(OSError):  # the stack dies before it answers
            http("GET", f"{stack.api}/slow", timeout=10)

    busy = threading.Thread(target=call_slow)
    busy.start()  # a busy worker too: it is not reading its socket
    time.sleep(0.3)
    _, workers = http("GET", f"{stack.api}/_local/workers")
    pids += [worker["pid"] for function in workers["functions"].values() for worker in function["workers"]]
    stack.process.kill()  # SIGKILL: the stack cannot stop anything itself
    stack.process.wait()
    wait_for(lambda: all(ended(pid) for pid in pids), 10, message="every worker to end")
    busy.join(timeout=10)


def ended(pid: int) -> bool:
    """No such process, or a zombie whose threads have all exited (waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z" and threads == [str(pid)]


def test_a_template_error_is_one_clear_message_and_exit_code_1(tmp_path):
    (tmp_path / "template.yaml").write_text(
        "Resources:\n"
        "  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      Handler: app.handler\n"
        "      Environment: {Variables: {TABLE: !Ref MissingTable}}\n"
    )
    stack = StackProcess(
        {"LOCAL_TEMPLATE": str(tmp_path / "template.yaml"), "LOCAL_SIMULATOR": "off"}, tmp_path / "stack.log"
    )
    result = subprocess.run(
        [sys.executable, "-m", "local"],
        cwd=REPO_ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "error: " in result.stdout
    assert "Fn.Environment" in result.stdout
    assert "!Ref MissingTable names no parameter or resource" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_proxy_and_aws_settings_in_the_shell_do_not_reach_the_local_stack(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: any call through the proxy fails
    stack = StackProcess(
        {
            "LOCAL_TEMPLATE": str(FIXTURE / "template.yaml"),
            "LOCAL_STACK_NAME": "fx3",
            "LOCAL_EVENTS_LOG": str(tmp_path / "events.log"),
            "LOCAL_SIMULATOR": "off",
            **{name: dead for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")},
            "NO_PROXY": "example.internal",
            "AWS_ENDPOINT_URL_DYNAMODB": dead,
            "AWS_PROFILE": "not-a-profile",
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
        },
        tmp_path / "stack.log",
    ).start()
    try:
        status, result = http("POST", f"{stack.api}/_local/schedules/WorkerFunction.Tick/run")
        assert status == 200
        assert result["last_error"] is None  # the handler wrote to DynamoDB: moto, directly
    finally:
        assert stack.stop() == 0


def test_two_port_variables_with_one_port_are_one_clear_line_and_exit_code_2(tmp_path):
    stack = StackProcess({"LOCAL_TEMPLATE": str(FIXTURE / "template.yaml")}, tmp_path / "stack.log")
    port = stack.ports["api"]
    env = dict(stack.env, LOCAL_AWS_PORT=str(port))
    result = subprocess.run(
        [sys.executable, "-m", "local"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert (result.stdout + result.stderr).strip().splitlines() == [
        f"error: LOCAL_API_PORT and LOCAL_AWS_PORT are both {port}: give each a different port"
    ]


def test_ports_of_a_disabled_simulator_and_port_0_are_not_duplicates():
    ports = {"LOCAL_API_PORT": "0", "LOCAL_AWS_PORT": "0", "LOCAL_SIMULATOR_PORT": "0"}
    LocalStack(Settings.from_env({**ports, "LOCAL_SIMULATOR": "off"})).check_ports()
    (api,) = free_ports(1)
    off = {"LOCAL_API_PORT": str(api), "LOCAL_SIMULATOR_PORT": str(api), "LOCAL_SIMULATOR": "off"}
    LocalStack(Settings.from_env({**off, "LOCAL_AWS_PORT": "0"})).check_ports()
    with pytest.raises(StartupError) as raised:
        LocalStack(Settings.from_env({**off, "LOCAL_SIMULATOR": "on", "LOCAL_AWS_PORT": "0"})).check_ports()
    assert raised.value.exit_code == 2


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LOCAL_MAX_WORKERS_PER_FUNCTION", "0"),
        ("LOCAL_MAX_WORKERS_PER_FUNCTION", "2.5"),
        ("LOCAL_WORKER_IDLE_SECONDS", "-1"),
    ],
)
def test_worker_settings_must_be_positive(variable, value):
    with pytest.raises(StartupError, match=f"{variable}='{value}' must be"):
        Settings.from_env({variable: value})


def test_worker_settings_are_read_from_the_environment():
    settings = Settings.from_env({"LOCAL_MAX_WORKERS_PER_FUNCTION": "2", "LOCAL_WORKER_IDLE_SECONDS": "30"})
    assert (settings.max_workers, settings.worker_idle_s) == (2, 30.0)
    assert (Settings.from_env({}).max_workers, Settings.from_env({}).worker_idle_s) == (4, 300.0)


def test_free_ports_are_distinct():
    assert len(set(free_ports(50))) == 50


def test_the_stack_process_retries_once_on_new_ports_when_a_port_was_taken(tmp_path):
    stack = StackProcess(
        {
            "LOCAL_TEMPLATE": str(FIXTURE / "template.yaml"),
            "LOCAL_STACK_NAME": "fx4",
            "LOCAL_EVENTS_LOG": str(tmp_path / "events.log"),
            "LOCAL_SIMULATOR": "off",
        },
        tmp_path / "stack.log",
    )
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", stack.ports["api"]))
        squatter.listen()
        taken = stack.ports["api"]
        stack.start()
        try:
            assert stack.ports["api"] != taken
            assert http("GET", f"{stack.api}/_local/health")[0] == 200
        finally:
            stack.stop()


def test_python_other_than_the_lambda_runtime_is_refused():
    assert python_mismatch((3, 12, 4)) is None
    line = python_mismatch((3, 11, 2), "/usr/bin/python3.11")
    assert line == (
        "error: the local stack needs Python 3.12 (the Lambda runtime), not 3.11.2 (/usr/bin/python3.11):"
        " run `make run`, which uses .venv"
    )


@pytest.mark.skipif(shutil.which("python3.11") is None, reason="no other Python on this machine")
def test_python_m_local_on_another_python_is_one_line_and_exit_code_2():
    other = shutil.which("python3.11")
    assert other is not None
    result = subprocess.run(
        [other, "-m", "local"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    (line,) = (result.stdout + result.stderr).strip().splitlines()
    assert line.startswith("error: the local stack needs Python 3.12 (the Lambda runtime), not 3.11.")


def test_the_first_ctrl_c_stops_and_restores_the_default_so_a_second_one_exits_at_once():
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    stop = threading.Event()
    try:
        install_stop_signals(stop)
        handler = signal.getsignal(signal.SIGINT)
        assert callable(handler)
        handler(signal.SIGINT, None)
        assert stop.is_set()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_DFL
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # still a clean stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
