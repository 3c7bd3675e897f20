"""What the local stack needs from a SAM template, read generically (no resource is named here).

`StackModel` lists the template's functions (with Globals merged), HTTP routes, schedules, tables,
secrets, state machines and event buses, and gives each resource its local physical name and the
`Ref`/`GetAtt` values CloudFormation would give it.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.cfn import ACCOUNT_ID, REGION, Resolver, TemplateError, load_template, parameter_values

FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function"}
TABLE_TYPES = {"AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable"}
SECRET_TYPE = "AWS::SecretsManager::Secret"  # noqa: S105 (a resource type)
STATE_MACHINE_TYPES = {"AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"}
BUS_TYPE = "AWS::Events::EventBus"
LAYER_TYPES = {"AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"}
RULE_TYPE = "AWS::Events::Rule"
SCHEDULER_TYPE = "AWS::Scheduler::Schedule"
HTTP_API_TYPE = "AWS::Serverless::HttpApi"
QUEUE_TYPE = "AWS::SQS::Queue"

# Function properties whose Globals value is merged rather than replaced.
_MERGED_LISTS = {"Layers"}


@dataclass
class Route:
    method: str  # upper case, or ANY
    path: str  # API Gateway syntax: /v1/payments/{transaction_id}, /files/{proxy+}, or $default
    function: str  # logical id
    authorizer: str  # "AWS_IAM", "NONE", or an authorizer name
    payload_format: str

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass
class Schedule:
    name: str  # "<Owner>.<EventName>" or the resource's logical id
    expression: str  # rate(...), cron(...), at(...)
    target: str  # logical id of a function or state machine
    input: str | None
    enabled: bool
    timezone: str = "UTC"


@dataclass
class Function:
    logical_id: str
    properties: dict[str, Any]
    name: str = ""
    arn: str = ""


@dataclass
class StackModel:
    path: Path
    template: dict[str, Any]
    stack_name: str
    parameters: dict[str, Any]
    region: str = REGION
    account_id: str = ACCOUNT_ID
    # Values the running stack learns (secret ARNs have a random suffix in moto).
    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    resolver: Resolver = field(init=False)

    @classmethod
    def load(cls, path: Path, stack_name: str, parameter_overrides: dict[str, str]) -> StackModel:
        template = load_template(path)
        model = cls(path, template, stack_name, parameter_values(template, parameter_overrides))
        model.resolver = Resolver(
            template,
            parameters=model.parameters,
            stack_name=stack_name,
            ref=model._ref,
            get_att=model._get_att,
            region=model.region,
            account_id=model.account_id,
        )
        return model

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template["Resources"]
        return resources

    def of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        wanted = set(types)
        return {
            logical_id: spec
            for logical_id, spec in self.resources.items()
            if spec.get("Type") in wanted and self._included(logical_id, spec)
        }

    def _included(self, logical_id: str, spec: dict[str, Any]) -> bool:
        condition = spec.get("Condition")
        return condition is None or self.resolver.condition(str(condition), logical_id)

    def properties(self, logical_id: str) -> dict[str, Any]:
        spec = self.resources[logical_id]
        props: dict[str, Any] = copy.deepcopy(spec.get("Properties") or {})
        if spec.get("Type") == "AWS::Serverless::Function":
            props = _merge_globals(self.template.get("Globals", {}).get("Function", {}), props)
        elif spec.get("Type") == "AWS::Serverless::StateMachine":
            props = _merge_globals(self.template.get("Globals", {}).get("StateMachine", {}), props)
        elif spec.get("Type") == HTTP_API_TYPE:
            props = _merge_globals(self.template.get("Globals", {}).get("HttpApi", {}), props)
        return props

    def resolve(self, value: Any, where: str) -> Any:
        return self.resolver.resolve(value, where)

    # -- local physical names -----------------------------------------------------------------
    def physical_name(self, logical_id: str) -> str:
        """The resource's explicit name if the template sets one, else `<stack>-<LogicalId>`."""
        spec = self.resources[logical_id]
        name_property = {
            "AWS::Serverless::Function": "FunctionName",
            "AWS::Lambda::Function": "FunctionName",
            "AWS::DynamoDB::Table": "TableName",
            "AWS::Serverless::SimpleTable": "TableName",
            SECRET_TYPE: "Name",
            "AWS::Serverless::StateMachine": "Name",
            "AWS::StepFunctions::StateMachine": "StateMachineName",
            BUS_TYPE: "Name",
            QUEUE_TYPE: "QueueName",
        }.get(str(spec.get("Type")))
        explicit = (spec.get("Properties") or {}).get(name_property) if name_property else None
        if explicit is not None:
            return str(self.resolve(explicit, f"{logical_id}.{name_property}"))
        if spec.get("Type") in FUNCTION_TYPES:
            return logical_id  # what Step Functions tasks and `aws lambda invoke` see locally
        return f"{self.stack_name}-{logical_id}"

    def arn(self, logical_id: str) -> str:
        kind = str(self.resources[logical_id].get("Type"))
        name = self.physical_name(logical_id)
        prefix = f"arn:aws:{{}}:{self.region}:{self.account_id}"
        if kind in FUNCTION_TYPES:
            return f"{prefix.format('lambda')}:function:{name}"
        if kind in TABLE_TYPES:
            return f"{prefix.format('dynamodb')}:table/{name}"
        if kind in STATE_MACHINE_TYPES:
            return f"{prefix.format('states')}:stateMachine:{name}"
        if kind == BUS_TYPE:
            return f"{prefix.format('events')}:event-bus/{name}"
        if kind == QUEUE_TYPE:
            return f"{prefix.format('sqs')}:{name}"
        if kind == SECRET_TYPE and logical_id in self.refs:
            return str(self.refs[logical_id])
        return f"{prefix.format('local')}:{logical_id}"

    def _ref(self, logical_id: str) -> Any:
        if logical_id in self.refs:
            return self.refs[logical_id]
        kind = str(self.resources[logical_id].get("Type"))
        if kind in STATE_MACHINE_TYPES or kind == SECRET_TYPE or kind in LAYER_TYPES:
            return self.arn(logical_id)
        if kind == QUEUE_TYPE:
            return f"http://127.0.0.1/{self.account_id}/{self.physical_name(logical_id)}"
        if kind in {HTTP_API_TYPE, "AWS::Serverless::Api"}:
            return "local"
        if kind in FUNCTION_TYPES or kind in TABLE_TYPES or kind == BUS_TYPE:
            return self.physical_name(logical_id)
        return f"{self.stack_name}-{logical_id}"

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        if attribute in self.attributes.get(logical_id, {}):
            return self.attributes[logical_id][attribute]
        kind = str(self.resources[logical_id].get("Type"))
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute in {"Name", "TableName", "FunctionName", "QueueName"}:
            return self.physical_name(logical_id)
        if kind in TABLE_TYPES and attribute == "StreamArn":
            return f"{self.arn(logical_id)}/stream/local"
        if kind == QUEUE_TYPE and attribute == "QueueUrl":
            return self._ref(logical_id)
        return f"local-{logical_id}-{attribute}"

    # -- functions ----------------------------------------------------------------------------
    def functions(self) -> dict[str, Function]:
        result: dict[str, Function] = {}
        for logical_id in self.of_type(*FUNCTION_TYPES):
            result[logical_id] = Function(
                logical_id,
                self.properties(logical_id),
                name=self.physical_name(logical_id),
                arn=self.arn(logical_id),
            )
        return result

    def function_environment(self, logical_id: str) -> dict[str, str]:
        props = self.properties(logical_id)
        variables = (props.get("Environment") or {}).get("Variables") or {}
        resolved = self.resolve(variables, f"{logical_id}.Environment") or {}
        return {str(key): _env_text(value) for key, value in resolved.items()}

    def function_layer_paths(self, logical_id: str) -> list[Path]:
        """Where each local layer's importable code is (ContentUri, or its python/ folder)."""
        paths: list[Path] = []
        for layer in self.properties(logical_id).get("Layers") or []:
            target = _ref_target(layer)
            if target is None or target not in self.resources:
                continue  # an external layer ARN: nothing local to add
            content = (self.resources[target].get("Properties") or {}).get("ContentUri")
            if not isinstance(content, str):
                continue
            base = (self.root / content).resolve()
            paths.append(base / "python" if (base / "python").is_dir() else base)
        return paths

    # -- HTTP routes --------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        routes: list[Route] = []
        for logical_id, function in self.functions().items():
            for event_name, event in (function.properties.get("Events") or {}).items():
                if event.get("Type") != "HttpApi":
                    continue
                props = self.resolve(event.get("Properties") or {}, f"{logical_id}.Events.{event_name}")
                path = str(props.get("Path", "$default"))
                method = str(props.get("Method", "ANY")).upper()
                if path == "$default":
                    method = "ANY"
                authorizer = (props.get("Auth") or {}).get("Authorizer")
                if authorizer is None:
                    authorizer = self._default_authorizer(props.get("ApiId"))
                routes.append(
                    Route(
                        method,
                        path,
                        logical_id,
                        str(authorizer),
                        str(props.get("PayloadFormatVersion", "2.0")),
                    )
                )
        return routes

    def _default_authorizer(self, api_id: Any) -> str:
        api_props: dict[str, Any]
        target = _ref_target(api_id) if api_id is not None else None
        if target is not None and target in self.resources:
            api_props = self.properties(target)
        else:
            api_props = self.template.get("Globals", {}).get("HttpApi", {})
        auth = api_props.get("Auth") or {}
        return str(auth.get("DefaultAuthorizer", "NONE"))

    # -- schedules ----------------------------------------------------------------------------
    def schedules(self) -> list[Schedule]:
        schedules: list[Schedule] = []
        owners = {**self.of_type(*FUNCTION_TYPES), **self.of_type(*STATE_MACHINE_TYPES)}
        for owner in owners:
            events = self.properties(owner).get("Events") or {}
            for event_name, event in events.items():
                kind = event.get("Type")
                if kind not in {"Schedule", "ScheduleV2"}:
                    continue
                props = self.resolve(event.get("Properties") or {}, f"{owner}.Events.{event_name}")
                expression = props.get("Schedule") if kind == "Schedule" else props.get("ScheduleExpression")
                enabled = _enabled(props)
                schedules.append(
                    Schedule(
                        f"{owner}.{event_name}",
                        str(expression),
                        owner,
                        _input_text(props.get("Input")),
                        enabled,
                        str(props.get("ScheduleExpressionTimezone") or "UTC"),
                    )
                )
        for logical_id in self.of_type(RULE_TYPE):
            props = self.resolve(self.properties(logical_id), logical_id)
            if not props.get("ScheduleExpression"):
                continue
            for target in props.get("Targets") or []:
                target_id = self._owner_of_arn(str(target.get("Arn", "")))
                if target_id is None:
                    continue
                schedules.append(
                    Schedule(
                        f"{logical_id}.{target.get('Id', target_id)}",
                        str(props["ScheduleExpression"]),
                        target_id,
                        _input_text(target.get("Input")),
                        str(props.get("State", "ENABLED")).upper() == "ENABLED",
                    )
                )
        for logical_id in self.of_type(SCHEDULER_TYPE):
            props = self.resolve(self.properties(logical_id), logical_id)
            target = props.get("Target") or {}
            target_id = self._owner_of_arn(str(target.get("Arn", "")))
            if target_id is None:
                continue
            schedules.append(
                Schedule(
                    logical_id,
                    str(props.get("ScheduleExpression")),
                    target_id,
                    _input_text(target.get("Input")),
                    str(props.get("State", "ENABLED")).upper() == "ENABLED",
                    str(props.get("ScheduleExpressionTimezone") or "UTC"),
                )
            )
        return schedules

    def _owner_of_arn(self, arn: str) -> str | None:
        for logical_id in {**self.of_type(*FUNCTION_TYPES), **self.of_type(*STATE_MACHINE_TYPES)}:
            if self.arn(logical_id) == arn or arn.startswith(self.arn(logical_id) + ":"):
                return logical_id
        return None

    # -- state machines -----------------------------------------------------------------------
    def state_machine_definition(self, logical_id: str) -> str:
        """The ASL text with DefinitionSubstitutions applied (as CloudFormation does)."""
        props = self.properties(logical_id)
        if "DefinitionUri" in props:
            uri = props["DefinitionUri"]
            if not isinstance(uri, str):
                raise TemplateError(f"{logical_id}: only a local DefinitionUri path is supported")
            text = (self.root / uri).read_text(encoding="utf-8")
        elif "Definition" in props:
            text = json.dumps(self.resolve(props["Definition"], f"{logical_id}.Definition"))
        elif "DefinitionString" in props:
            text = str(self.resolve(props["DefinitionString"], f"{logical_id}.DefinitionString"))
        else:
            raise TemplateError(f"{logical_id}: no Definition, DefinitionUri or DefinitionString")
        substitutions = self.resolve(
            props.get("DefinitionSubstitutions") or {}, f"{logical_id}.DefinitionSubstitutions"
        )
        for key, value in (substitutions or {}).items():
            text = text.replace("${" + str(key) + "}", str(value))
        leftover = re.findall(r"\$\{([A-Za-z0-9_]+)\}", text)
        if leftover:
            raise TemplateError(f"{logical_id}: DefinitionSubstitutions missing for {sorted(set(leftover))}")
        return text


def _merge_globals(globals_: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = copy.deepcopy(globals_)
    for key, value in props.items():
        if key in _MERGED_LISTS and isinstance(merged.get(key), list) and isinstance(value, list):
            merged[key] = merged[key] + value
        elif isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = _merge_dicts(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _merge_dicts(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(result.get(key), dict) and isinstance(value, dict) and not _is_intrinsic(value):
            result[key] = _merge_dicts(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _is_intrinsic(value: dict[str, Any]) -> bool:
    if len(value) != 1:
        return False
    key = next(iter(value))
    return key == "Ref" or key.startswith("Fn::")


def _ref_target(value: Any) -> str | None:
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return "" if value is None else str(value)


def _input_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _enabled(props: dict[str, Any]) -> bool:
    if "Enabled" in props:
        return str(props["Enabled"]).lower() not in {"false", "0"}
    if "State" in props:
        return str(props["State"]).upper() == "ENABLED"
    return True
