"""Every Ref, GetAtt and ${...} in template.yaml names something that exists.

cfn-lint 1.58 (the one SAM CLI pins) misses broken references inside Globals and SAM policy
templates (aws-local.md §1), so this cheap check runs beside it.
"""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.cfn import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
PSEUDO = {"AWS::AccountId", "AWS::Region", "AWS::StackName", "AWS::URLSuffix", "AWS::Partition", "AWS::NoValue"}
SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


def references(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                yield where, str(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                yield where, str(target)
            elif key == "Fn::Sub":
                text, local = (value[0], value[1]) if isinstance(value, list) else (value, {})
                for name in SUB_VARIABLE.findall(text):
                    if name.split(".")[0] not in local:
                        yield where, name.split(".")[0]
                yield from references(local, where)
            else:
                yield from references(value, f"{where}/{key}")
    elif isinstance(node, list):
        for item in node:
            yield from references(item, where)


def known_names() -> set[str]:
    names = set(TEMPLATE.get("Parameters", {})) | set(TEMPLATE["Resources"]) | PSEUDO
    # Resources SAM generates from a function or state machine (e.g. <Function>Role) can be referenced too.
    for logical_id, resource in TEMPLATE["Resources"].items():
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            names.add(f"{logical_id}Role")
    return names


ALL = list(references({k: v for k, v in TEMPLATE.items() if k != "Parameters"}))


def test_the_template_has_references_to_check():
    assert len(ALL) > 20


@pytest.mark.parametrize(("where", "name"), ALL, ids=[f"{w}->{n}" for w, n in ALL])
def test_reference_target_exists(where, name):
    assert name in known_names(), f"{where} refers to {name!r}, which the template does not define"


def test_the_check_catches_a_broken_reference():
    broken = {"Globals": {"Function": {"Environment": {"Variables": {"X": {"Ref": "Tablex"}}}}}}
    assert ("/Globals/Function/Environment/Variables/X", "Tablex") in list(references(broken))
    assert "Tablex" not in known_names()
