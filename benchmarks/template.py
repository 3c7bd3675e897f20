"""template.yaml as the benchmarks need it: functions, memory sizes, and the environment a deployed
function has (literal values and parameter defaults; resource references are left to the caller)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def template() -> dict[str, Any]:
    from local.cfn import load_template

    loaded: dict[str, Any] = load_template(ROOT / "template.yaml")
    return loaded


def functions() -> dict[str, dict[str, Any]]:
    """Logical id -> the function's properties (CodeUri, Handler, Environment, MemorySize, ...)."""
    return {
        logical: resource["Properties"]
        for logical, resource in template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def memory_mb(logical_id: str) -> int:
    default = int(template()["Globals"]["Function"].get("MemorySize", 128))
    return int(functions()[logical_id].get("MemorySize", default))


def resolve(value: Any) -> str | None:
    """A variable's value when the template alone fixes it: a literal, a parameter's default, or a join
    of those; None for references to resources (ARNs, table names), which depend on the deployment."""
    parameters = template().get("Parameters", {})
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, dict) and value.get("Ref") in parameters:
        return str(parameters[value["Ref"]].get("Default", ""))
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        resolved = [resolve(part) for part in ([parts] if isinstance(parts, dict) else parts)]
        return None if None in resolved else str(separator).join(str(r) for r in resolved)
    return None


def environment(logical_id: str | None = None) -> dict[str, Any]:
    """The template's variables of a function (Globals, then its own), unresolved."""
    variables = dict(template()["Globals"]["Function"]["Environment"]["Variables"])
    if logical_id is not None:
        variables.update(functions()[logical_id].get("Environment", {}).get("Variables", {}))
    return variables
