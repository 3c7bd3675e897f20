"""CloudFormation/SAM template reading: a YAML loader for the short-form tags and an intrinsic resolver.

cfn-lint is not a dependency of the local stack, so `!Ref`, `!GetAtt`, `!Sub`, ... are parsed by a small
`yaml.SafeLoader` subclass into their long forms (`{"Ref": x}`, `{"Fn::GetAtt": [res, attr]}`, ...).
`Resolver` then evaluates the long forms against a local view of the stack: parameter values, pseudo
parameters, and per-resource `Ref`/`GetAtt` values supplied by whoever created the local resources.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # (types-PyYAML is not pinned)

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"

# Tags whose scalar/sequence/mapping value becomes `{"Fn::<Name>": value}`.
_FN_TAGS = {
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAZs",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "And",
    "Equals",
    "If",
    "Not",
    "Or",
    "ToJsonString",
    "Length",
}


class TemplateError(Exception):
    """The template uses something the local stack cannot resolve; the message says what and where."""


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]
    """SafeLoader that understands CloudFormation's short-form tags."""


def _construct_node(loader: _CfnLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise TemplateError(f"unsupported YAML node {node!r}")  # pragma: no cover


def _tag_constructor(loader: _CfnLoader, suffix: str, node: yaml.Node) -> Any:
    value = _construct_node(loader, node)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt":
        if isinstance(value, str):
            resource, _, attribute = value.partition(".")
            return {"Fn::GetAtt": [resource, attribute]}
        return {"Fn::GetAtt": list(value)}
    if suffix in _FN_TAGS:
        return {f"Fn::{suffix}": value}
    raise TemplateError(f"unknown CloudFormation tag !{suffix} at line {node.start_mark.line + 1}")


_CfnLoader.add_multi_constructor("!", _tag_constructor)
# Timestamps and dates stay strings (AWSTemplateFormatVersion: 2010-09-09 unquoted is common).
_CfnLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in _CfnLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str) -> Any:
    """Parse CloudFormation YAML (or JSON, which is YAML) into plain Python data."""
    return yaml.load(text, Loader=_CfnLoader)  # noqa: S506 (SafeLoader subclass)


def load_template(path: Path) -> dict[str, Any]:
    data = load_yaml(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources mapping)")
    return data


RefFn = Callable[[str], Any]
GetAttFn = Callable[[str, str], Any]

_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


class Resolver:
    """Evaluates intrinsic functions against local values.

    `ref(logical_id)` and `get_att(logical_id, attribute)` are supplied by the stack (they know the
    local names and ARNs); parameters and pseudo parameters are handled here.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        parameters: Mapping[str, Any],
        stack_name: str,
        ref: RefFn,
        get_att: GetAttFn,
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
    ) -> None:
        self.template = template
        self.parameters = dict(parameters)
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }
        self._ref = ref
        self._get_att = get_att
        self._conditions: dict[str, bool] = {}

    # -- public -------------------------------------------------------------------------------
    def resolve(self, value: Any, where: str = "") -> Any:
        """Resolve every intrinsic inside `value`; `AWS::NoValue` removes the key/item."""
        result = self._resolve(value, where)
        return None if result is _NO_VALUE else result

    def ref(self, name: str, where: str = "") -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in self.template.get("Resources", {}):
            return self._ref(name)
        raise TemplateError(f"{where}: !Ref {name} names no parameter or resource")

    def get_att(self, resource: str, attribute: str, where: str = "") -> Any:
        if resource not in self.template.get("Resources", {}):
            raise TemplateError(f"{where}: !GetAtt {resource}.{attribute} names no resource")
        return self._get_att(resource, attribute)

    def condition(self, name: str, where: str = "") -> bool:
        if name not in self._conditions:
            conditions = self.template.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"{where}: condition {name} is not defined")
            self._conditions[name] = bool(self._resolve(conditions[name], f"Conditions.{name}"))
        return self._conditions[name]

    # -- internals ----------------------------------------------------------------------------
    def _resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            items = [self._resolve(item, where) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(str(arg), where)
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg, where)
            if key.startswith("Fn::"):
                return self._function(key[4:], arg, where)
        resolved = {key: self._resolve(item, f"{where}.{key}") for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _function(self, name: str, arg: Any, where: str) -> Any:
        if name == "GetAtt":
            if isinstance(arg, str):
                resource, _, attribute = arg.partition(".")
            else:
                resource, attribute = self._resolve(arg[0], where), self._resolve(arg[1], where)
            return self.get_att(str(resource), str(attribute), where)
        if name == "Sub":
            return self._sub(arg, where)
        if name == "Join":
            delimiter, items = arg
            values = self._resolve(items, where)
            return str(delimiter).join(str(item) for item in _as_list(values))
        if name == "Select":
            index, items = self._resolve(arg, where)
            return _as_list(items)[int(index)]
        if name == "Split":
            delimiter, text = self._resolve(arg, where)
            return str(text).split(str(delimiter))
        if name == "If":
            condition, when_true, when_false = arg
            chosen = when_true if self.condition(str(condition), where) else when_false
            return self._resolve(chosen, where)
        if name == "Equals":
            left, right = self._resolve(arg, where)
            return str(left) == str(right)
        if name == "Not":
            return not self._resolve(arg[0], where)
        if name == "And":
            return all(self._resolve(item, where) for item in arg)
        if name == "Or":
            return any(self._resolve(item, where) for item in arg)
        if name == "FindInMap":
            map_name, top, second = (str(item) for item in self._resolve(arg, where))
            try:
                return self.template["Mappings"][map_name][top][second]
            except KeyError:
                raise TemplateError(f"{where}: !FindInMap {map_name}.{top}.{second} is not defined") from None
        if name == "Base64":
            return base64.b64encode(str(self._resolve(arg, where)).encode()).decode()
        if name == "GetAZs":
            region = self.pseudo["AWS::Region"]
            return [f"{region}a", f"{region}b", f"{region}c"]
        if name == "ToJsonString":
            return json.dumps(self._resolve(arg, where), separators=(",", ":"))
        if name == "Length":
            return len(_as_list(self._resolve(arg, where)))
        raise TemplateError(f"{where}: Fn::{name} is not supported by the local stack")

    def _sub(self, arg: Any, where: str) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], self._resolve(arg[1], where)
        else:
            text, variables = arg, {}
        if not isinstance(text, str):
            raise TemplateError(f"{where}: !Sub needs a string")

        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"
            if expression in variables:
                return str(variables[expression])
            if "." in expression and not expression.startswith("AWS::"):
                resource, _, attribute = expression.partition(".")
                return str(self.get_att(resource, attribute, where))
            value = self.ref(expression, where)
            if isinstance(value, list):
                return ",".join(str(item) for item in value)
            return str(value)

        return _SUB_VAR.sub(replace, text)


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


_NO_VALUE: Any = _NoValue()


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return value.split(",")
    return [value]


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, Any]:
    """Each parameter's value: an override if given, else its Default; lists for list types."""
    values: dict[str, Any] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        raw = overrides.get(name, spec.get("Default", ""))
        kind = str(spec.get("Type", "String"))
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            values[name] = [item.strip() for item in str(raw).split(",")] if raw != "" else []
        else:
            values[name] = str(raw) if not isinstance(raw, str) else raw
    return values
