"""Cold import of each Lambda function: time to import its handler module in a fresh Python process, and
the process's peak RSS, as ratios to a floor process that only does `import boto3, requests`.

    .venv/bin/python -m benchmarks.cold_start [--repeat 5] [--top 10] [--function stk_push ...] [--no-bytecode]
        [--layer BUILT_LAYER/python] [--baselines]

Each function of template.yaml (CodeUri, Handler) is imported as Lambda's runtime does: a new
interpreter (this one), the function's directory first on sys.path (/var/task), then the layer
(layers/mpesa as /opt/python), then site-packages; the environment a deployed function has (the
template's variables with placeholder values, LAMBDA_TASK_ROOT, AWS_LAMBDA_FUNCTION_NAME, fake
credentials and region; no network is used) and POWERTOOLS_TRACE_DISABLED unset, so the tracer imports
and patches aws_xray_sdk as on Lambda (the `xray` column checks it did). Also measured: the floor and the
Daraja client alone (`import mpesa.daraja.client`); with --baselines, three modules of
cold_start_baselines/ built like an API function, a webhook and a Step Functions task from Powertools
and pydantic alone (what the design costs before any code of ours).

Runs go round-robin over the targets (so drift on a shared machine hits all alike) after one unmeasured
round that writes bytecode caches; each figure is the median of --repeat runs. Import time is
`time.perf_counter()` (wall) and `time.process_time()` (CPU) around the import, the ratio taken on
CPU time, which other processes on a shared machine disturb far less than wall time (Lambda's init is
CPU-bound too: at 512 MB a function has about 0.3 of a vCPU); memory is `ru_maxrss`. --top N also
runs each function once under `-X importtime` and prints its heaviest imports by package.
--no-bytecode gives every process an empty bytecode cache (everything compiled from source: the upper
bound for a layer shipped without .pyc). --layer imports a built layer instead of layers/mpesa (its
packages before the venv's; boto3 and the other runtime-provided packages from the venv, precompiled as
the runtime's are) and writes no bytecode, as on Lambda's read-only /opt: a layer built with its
bytecode against the same layer without it shows what shipping the .pyc files saves.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import template

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "mpesa"
FLOOR = "floor: import boto3, requests"
DARAJA = "Daraja client (mpesa.daraja.client)"
TARGETS = {FLOOR: None, DARAJA: 1.15}
# --baselines: functions made of the third-party parts the design requires and none of our code.
BASELINE_DIR = Path(__file__).resolve().parent / "cold_start_baselines"
BASELINES = {
    "baseline: API (no code of ours)": "baseline_api",
    "baseline: webhook (no code of ours)": "baseline_webhook",
    "baseline: task (no code of ours)": "baseline_task",
}
STK_PUSH_TARGET = 1.5
FUNCTION_TARGET = 1.4

CHILD = """
import importlib, json, resource, sys, time
kind, name = sys.argv[1], sys.argv[2]
started, cpu_started = time.perf_counter(), time.process_time()
if kind == "floor":
    import boto3, requests
else:
    module = importlib.import_module(name)
    if kind == "handler":
        assert callable(getattr(module, "handler"))
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
print(json.dumps({
    "import_s": elapsed,
    "cpu_s": cpu,
    "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "xray": "aws_xray_sdk.core" in sys.modules,
    "modules": len(sys.modules),
}))
"""


@dataclass(frozen=True)
class Target:
    name: str
    kind: str  # floor | module | handler
    module: str
    path: tuple[Path, ...]
    env: dict[str, str]
    target: float | None


@dataclass
class Row:
    name: str
    import_ms: float  # wall
    cpu_ms: float
    rss_mib: float
    import_ratio: float
    rss_ratio: float
    target: float | None
    xray: bool
    modules: int

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        return "yes" if self.import_ratio <= self.target else "no"


def template_functions() -> dict[str, dict[str, Any]]:
    return template.functions()


def lambda_environment(logical_id: str, properties: dict[str, Any], task_root: Path) -> dict[str, str]:
    """What a deployed function's process sees: the template's variables (parameter defaults, and
    placeholders for resource references), Lambda's own, fake credentials. POWERTOOLS_TRACE_DISABLED is
    not set."""
    variables = template.environment(logical_id if logical_id in template.functions() else None)
    env = {name: _placeholder(name, value) for name, value in variables.items()}
    memory = template.memory_mb(logical_id) if logical_id in template.functions() else 512
    env.update(
        {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "cold-start",
            "AWS_SECRET_ACCESS_KEY": "cold-start",
            "AWS_SESSION_TOKEN": "cold-start",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_LAMBDA_FUNCTION_NAME": logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{logical_id}",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "_HANDLER": str(properties.get("Handler", "app.handler")),
        }
    )
    return env


def _placeholder(name: str, value: Any) -> str:
    """A variable's value: what the template fixes, else a stand-in for a resource reference."""
    resolved = template.resolve(value)
    if resolved is not None:
        return resolved
    if name.endswith("_ARN"):
        return f"arn:aws:states:us-east-1:123456789012:stateMachine:{name.lower()}"
    return f"{name.lower().replace('_', '-')}-cold-start"


def targets(only: Sequence[str] = (), layer: Path | None = None, baselines: bool = False) -> list[Target]:
    """`layer`: a built layer's python/ folder instead of the source tree (and the venv's packages): the
    layer as deployed, imported as on Lambda, where /opt is read-only and no bytecode is ever written.
    `baselines`: also the modules of cold_start_baselines/, which are built like an API function, a
    webhook and a Step Functions task from Powertools and pydantic alone: what a function of that shape
    costs before any code of ours."""
    functions = template_functions()
    base = lambda_environment("ColdStartFloor", {}, LAYER)
    if layer is not None:
        base["PYTHONDONTWRITEBYTECODE"] = "1"
    layer = layer or LAYER
    out = [
        Target(FLOOR, "floor", "", (), base, None),
        Target(DARAJA, "module", "mpesa.daraja.client", (layer,), base, TARGETS[DARAJA]),
    ]
    if baselines:
        out += [Target(name, "handler", module, (BASELINE_DIR,), base, None) for name, module in BASELINES.items()]
    for logical_id, props in sorted(functions.items(), key=lambda kv: str(kv[1]["CodeUri"])):
        code = ROOT / str(props["CodeUri"])
        if only and code.name not in only:
            continue
        module = str(props.get("Handler", "app.handler")).rsplit(".", 1)[0]
        target = STK_PUSH_TARGET if code.name == "stk_push" else FUNCTION_TARGET
        env = lambda_environment(logical_id, props, code)
        if "PYTHONDONTWRITEBYTECODE" in base:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        out.append(Target(code.name, "handler", module, (code, layer), env, target))
    return out


def run_once(target: Target, *, no_bytecode: bool = False, importtime: bool = False) -> dict[str, Any]:
    env = dict(target.env)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in target.path)
    command = [sys.executable, "-P"]  # -P: no script directory or cwd before /var/task
    with tempfile.TemporaryDirectory() as cache:
        if no_bytecode:
            env.update({"PYTHONPYCACHEPREFIX": cache, "PYTHONDONTWRITEBYTECODE": "1"})
        if importtime:
            command += ["-X", "importtime"]
        command += ["-c", CHILD, target.kind, target.module]
        done = subprocess.run(  # noqa: S603  (this interpreter, our own child script)
            command, env=env, capture_output=True, text=True, timeout=120, check=False
        )
    if done.returncode != 0:
        raise RuntimeError(f"{target.name}: the import failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if importtime:
        result["importtime"] = done.stderr
    return result


def measure(
    chosen: Sequence[Target],
    repeat: int,
    *,
    no_bytecode: bool = False,
    runner: Callable[..., dict[str, Any]] = run_once,
) -> list[Row]:
    """Median per target over `repeat` round-robin rounds (after one unmeasured round); ratios to the floor."""
    samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for round_number in range(repeat + 1):
        for target in chosen:
            result = runner(target, no_bytecode=no_bytecode)
            if round_number:
                samples[target.name].append(result)
    medians = {
        name: (
            statistics.median(r["import_s"] for r in runs) * 1000,
            statistics.median(r["cpu_s"] for r in runs) * 1000,
            statistics.median(r["maxrss_kib"] for r in runs) / 1024,
        )
        for name, runs in samples.items()
    }
    _, floor_cpu, floor_mib = medians[FLOOR]
    return [
        Row(
            name=t.name,
            import_ms=medians[t.name][0],
            cpu_ms=medians[t.name][1],
            rss_mib=medians[t.name][2],
            import_ratio=medians[t.name][1] / floor_cpu,
            rss_ratio=medians[t.name][2] / floor_mib,
            target=t.target,
            xray=all(r["xray"] for r in samples[t.name]),
            modules=int(statistics.median(r["modules"] for r in samples[t.name])),
        )
        for t in chosen
    ]


def heaviest_imports(importtime: str, top: int) -> list[tuple[str, float, float]]:
    """(package, self ms, largest cumulative ms) from `-X importtime` output, grouped: mpesa.<part>,
    aws_lambda_powertools.<part>, otherwise the top-level package; the top `top` by self time."""
    self_ms: dict[str, float] = defaultdict(float)
    cumulative: dict[str, float] = defaultdict(float)
    for line in importtime.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, total, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        parts = name.split(".")
        group = ".".join(parts[:2]) if parts[0] in ("mpesa", "aws_lambda_powertools") else parts[0]
        self_ms[group] += int(own) / 1000
        cumulative[group] = max(cumulative[group], int(total) / 1000)
    ranked = sorted(self_ms, key=lambda g: -self_ms[g])[:top]
    return [(g, self_ms[g], cumulative[g]) for g in ranked]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--top", type=int, default=0, help="print each function's N heaviest import groups")
    parser.add_argument("--function", action="append", default=[], help="functions/<name> only (repeatable)")
    parser.add_argument("--no-bytecode", action="store_true", help="every process compiles from source")
    parser.add_argument(
        "--baselines",
        action="store_true",
        help="also import an API function, a webhook and a task made of Powertools and pydantic alone",
    )
    parser.add_argument(
        "--layer",
        type=Path,
        help="a built layer's python/ folder (make -C layers/mpesa build-MpesaLayer ARTIFACTS_DIR=...): the "
        "layer as shipped, its bytecode or not, nothing written (as on Lambda's read-only /opt)",
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    chosen = targets(args.function, layer=args.layer.resolve() if args.layer else None, baselines=args.baselines)
    rows = measure(chosen, args.repeat, no_bytecode=args.no_bytecode)
    cache = "no bytecode cache (all compiled from source)" if args.no_bytecode else "bytecode cached"
    if args.layer:
        cache = f"layer {args.layer} as built (its own bytecode or none; nothing written)"
    print(
        f"cold import, median of {args.repeat} fresh processes each, {cache}; ratios to the floor of this run"
        " (import time ratio on CPU time: steadier than wall time on a shared machine)"
    )
    print(
        f"{'import':<38}{'wall ms':>8}{'CPU ms':>8}{'x floor':>9}{'peak MiB':>9}{'x floor':>9}{'modules':>9}"
        f"{'xray':>6}  target (import time)"
    )
    for row in rows:
        goal = f"≤ {row.target:.2f}x: {row.verdict}" if row.target is not None else ""
        print(
            f"{row.name:<38}{row.import_ms:>8.0f}{row.cpu_ms:>8.0f}{row.import_ratio:>9.2f}{row.rss_mib:>9.1f}"
            f"{row.rss_ratio:>9.2f}"
            f"{row.modules:>9}{'yes' if row.xray else 'no':>6}  {goal}"
        )
    if args.top:
        for target in chosen:
            if target.kind == "floor":
                continue
            result = run_once(target, no_bytecode=args.no_bytecode, importtime=True)
            print(f"\nheaviest imports of {target.name} (-X importtime, one run; self ms, largest cumulative ms):")
            for group, own, total in heaviest_imports(result["importtime"], args.top):
                print(f"  {group:<44}{own:>8.1f}{total:>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
