"""The layer that `sam build` packages is enough to run every handler.

Builds the layer with its own Makefile (as `sam build` does), for this machine's platform so it can be
imported here, then imports each function's app.py in a clean interpreter whose path holds only the
function's code, the layer's python/ folder and the packages the Lambda runtime provides (boto3 and
its helpers, linked from the test venv). A dependency missing from layers/mpesa/requirements.txt, or
one pruned by mistake, fails here rather than on the first invocation in AWS.
"""

import importlib.util
import json
import os
import platform
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from benchmarks import cold_start

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")
FUNCTIONS = sorted(p.parent for p in (ROOT / "functions").glob("*/app.py"))


@pytest.fixture(scope="module")
def built_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    artifacts = tmp_path_factory.mktemp("layer")
    machine = {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}[platform.machine()]
    subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(ROOT / "layers" / "mpesa"),
            "build-MpesaLayer",
            f"ARTIFACTS_DIR={artifacts}",
            f"PLATFORM=manylinux2014_{machine}",
        ],
        check=True,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
        capture_output=True,
    )
    return artifacts / "python"


@pytest.fixture(scope="module")
def runtime_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = Path(sysconfig.get_paths()["purelib"])
    target = tmp_path_factory.mktemp("runtime")
    for name in RUNTIME_PROVIDED:
        (target / name).symlink_to(site / name)
    return target


def test_runtime_provided_packages_are_pruned_from_the_layer(built_layer: Path) -> None:
    present = {p.name for p in built_layer.iterdir()}
    assert not present & {"boto3", "botocore", "s3transfer", "dateutil", "six.py"}
    assert {"mpesa", "aws_lambda_powertools", "pydantic", "pydantic_settings", "cryptography", "tzdata"} <= present


def test_the_layer_ships_bytecode_used_without_checking_its_source(built_layer: Path) -> None:
    """/opt is read-only on Lambda: a module without its .pyc is compiled from source at every cold start.
    The .pyc must not depend on the source's mtime either, which the zip does not keep exactly."""
    sources = list(built_layer.rglob("*.py"))
    assert len(sources) > 100
    for source in sources:
        cached = Path(importlib.util.cache_from_source(str(source)))
        assert cached.is_file(), f"{source.relative_to(built_layer)} has no bytecode"
        flags = int.from_bytes(cached.read_bytes()[4:8], "little")
        assert flags == 0b01, f"{cached.relative_to(built_layer)}: not an unchecked hash-based .pyc"


@pytest.mark.parametrize("function_dir", FUNCTIONS, ids=lambda p: p.name)
def test_each_handler_imports_with_only_the_layer_and_the_runtime(
    function_dir: Path, built_layer: Path, runtime_packages: Path
) -> None:
    probe = (
        "import sys; sys.path[:] = [p for p in sys.argv[1:]] + [p for p in sys.path if 'site-packages' not in p];"
        "import app; assert callable(app.handler); import mpesa; print(mpesa.__file__)"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(function_dir), str(built_layer), str(runtime_packages)],
        capture_output=True,
        text=True,
        env={"AWS_DEFAULT_REGION": "eu-west-1", "PATH": os.environ["PATH"], "POWERTOOLS_TRACE_DISABLED": "1"},
        cwd=function_dir,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().startswith(str(built_layer))


# Step Functions tasks and the scheduled sweep: nothing of theirs is async.
TASKS = ("payout_timeout", "pending_sweep", "prompt_task", "reconciliation", "stk_timeout")


@pytest.mark.parametrize("name", TASKS)
def test_a_task_imports_nothing_async_at_start(name: str, built_layer: Path) -> None:
    """With the tracer on, as on Lambda: the layer's wrapt (aws-xray-sdk's) must not bring asyncio in, as
    wrapt 2 does (layers/mpesa/requirements.txt); the HTTP functions import it anyway, through
    Powertools' Event Handler package."""
    (target,) = [t for t in cold_start.targets([name], layer=built_layer) if t.name == name]
    probe = "import importlib, json, sys; importlib.import_module(sys.argv[1]); print(json.dumps(sorted(sys.modules)))"
    env = {**target.env, "PYTHONPATH": os.pathsep.join(str(p) for p in target.path)}
    result = subprocess.run(
        [sys.executable, "-P", "-c", probe, target.module], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    modules = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert "aws_xray_sdk.core" in modules  # the tracer is on
    assert "wrapt" in modules
    assert "asyncio" not in modules
