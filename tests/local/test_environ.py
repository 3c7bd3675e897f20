"""Each function's process environment: its own variables, the local AWS, a few shell basics, nothing else."""

import os

from local.environ import function_process_environment, local_aws, no_proxy

SHELL = {
    "PATH": "/usr/bin",
    "HOME": "/home/dev",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HTTPS_PROXY": "http://proxy.internal:3128",
    "NO_PROXY": "corp.internal",
    "AWS_PROFILE": "prod-admin",
    "AWS_SESSION_TOKEN": "a-real-token",
    "AWS_ENDPOINT_URL_DYNAMODB": "https://dynamodb.eu-west-1.amazonaws.com",
    "MPESA_CONSUMER_SECRET": "from-my-shell",
    "LOCAL_ENV_X": "stack setting",
    "PYTHONPATH": "/somewhere/else",
    "SECRET_TOKEN": "shell only",
}
AWS = local_aws("http://127.0.0.1:3002", "us-east-1")


def test_a_function_gets_its_variables_and_the_local_aws_only():
    env = function_process_environment(SHELL, AWS, {"TABLE": "t", "ROLE": "echo"})
    assert env["TABLE"] == "t"
    assert env["ROLE"] == "echo"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:3002"
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("local", "local")
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    # No profile, config file or credentials file of the shell can redirect boto3.
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    for leaked in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_DYNAMODB", "MPESA_CONSUMER_SECRET"):
        assert leaked not in env
    for leaked in ("LOCAL_ENV_X", "PYTHONPATH", "SECRET_TOKEN"):
        assert leaked not in env


def test_the_shell_basics_pass_and_loopback_bypasses_the_proxy():
    env = function_process_environment(SHELL, AWS, {})
    assert {key: env[key] for key in ("PATH", "HOME", "LANG", "LC_ALL", "HTTPS_PROXY")} == {
        key: SHELL[key] for key in ("PATH", "HOME", "LANG", "LC_ALL", "HTTPS_PROXY")
    }
    assert env["NO_PROXY"] == env["no_proxy"] == "corp.internal,127.0.0.1,localhost"


def test_the_local_aws_wins_over_a_functions_own_value_and_tracing_is_off_unless_asked():
    env = function_process_environment(SHELL, AWS, {"AWS_ENDPOINT_URL": "https://real.example"})
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:3002"  # reserved on Lambda: a function cannot set it
    assert env["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert function_process_environment({}, AWS, {"POWERTOOLS_TRACE_DISABLED": "false"})[
        "POWERTOOLS_TRACE_DISABLED"
    ] == ("false")


def test_two_functions_never_share_variables():
    first = function_process_environment(SHELL, AWS, {"ONLY_FIRST": "1", "MODE": "x"})
    second = function_process_environment(SHELL, AWS, {"MODE": "y"})
    assert "ONLY_FIRST" not in second
    assert (first["MODE"], second["MODE"]) == ("x", "y")


def test_no_proxy_keeps_its_values_and_adds_loopback():
    assert no_proxy({}) == "127.0.0.1,localhost"
    assert no_proxy({"NO_PROXY": "a.internal, localhost", "no_proxy": "b.internal"}) == (
        "a.internal,localhost,b.internal,127.0.0.1"
    )
