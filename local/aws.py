"""The local AWS: moto in server mode, the template's resources created in it, and the events log.

moto runs in this process (so its Lambda backend can be patched to run the real handlers) on a
werkzeug server bound here, which reports a busy port at once rather than in a background thread.
"""

from __future__ import annotations

import io
import json
import secrets
import string
import threading
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import boto3

from local.serving import HttpServer, QuietRequestHandler
from local.template import (
    BUS_TYPE,
    FUNCTION_TYPES,
    QUEUE_TYPE,
    SECRET_TYPE,
    STATE_MACHINE_TYPES,
    TABLE_TYPES,
    StackModel,
)

BUCKET_TYPE = "AWS::S3::Bucket"
MOTO_CONFIG: dict[str, Any] = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
LOCAL_ROLE_NAME = "local-stack-execution-role"
EVENTS_RULE_NAME = "local-events-log"


def configure_moto() -> None:
    """Step Functions really execute; Lambda uses the in-process backend (patched by local.lambdas)."""
    from moto.core.config import default_user_config

    default_user_config.update(MOTO_CONFIG)  # type: ignore[typeddict-item]


class MotoServer(HttpServer):
    def __init__(self, host: str, port: int) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        class QuietHandler(QuietRequestHandler, MotoRequestHandler):
            """moto's request handler without the per-request log line."""

        class Dispatcher(DomainDispatcherApplication):
            """moto finds a request's service by listing its package folder and trying hundreds of URL
            patterns, under one lock, on every request; the answer for a host never changes."""

            def __init__(self) -> None:
                super().__init__(create_backend_app)
                self._backends: dict[str | None, Any] = {}

            def get_backend_for_host(self, host: str | None) -> Any:
                if host not in self._backends:  # called under moto's own lock
                    self._backends[host] = super().get_backend_for_host(host)
                return self._backends[host]

        super().__init__(host, port, Dispatcher(), "moto", request_handler=QuietHandler)


def client(service: str, endpoint: str, region: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 (moto accepts any credentials)
    )


def _tiny_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# the real handler runs in the local stack's process\n")
    return buffer.getvalue()


def generate_secret_string(spec: Mapping[str, Any]) -> str:
    """Secrets Manager's GenerateSecretString, done locally (moto's CloudFormation ignores secrets)."""
    length = int(spec.get("PasswordLength", 32))
    alphabet = ""
    if not spec.get("ExcludeLowercase"):
        alphabet += string.ascii_lowercase
    if not spec.get("ExcludeUppercase"):
        alphabet += string.ascii_uppercase
    if not spec.get("ExcludeNumbers"):
        alphabet += string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    if spec.get("IncludeSpace"):
        alphabet += " "
    excluded = set(str(spec.get("ExcludeCharacters", "")))
    alphabet = "".join(char for char in alphabet if char not in excluded) or string.ascii_letters
    value = "".join(secrets.choice(alphabet) for _ in range(length))
    template = spec.get("SecretStringTemplate")
    key = spec.get("GenerateStringKey")
    if template is not None and key is not None:
        data = json.loads(str(template))
        data[str(key)] = value
        return json.dumps(data)
    return value


class LocalResources:
    """Creates the template's tables, secrets, queues, buses, Lambda functions and state machines in moto."""

    def __init__(self, model: StackModel, endpoint: str, log: Callable[[str], None] = print) -> None:
        self.model = model
        self.endpoint = endpoint
        self.log = log
        self.region = model.region
        self.role_arn = ""
        self.ignored: dict[str, str] = {}
        self.events_queue_url = ""

    def _client(self, service: str) -> Any:
        return client(service, self.endpoint, self.region)

    def create_all(self, secret_values: Mapping[str, str]) -> None:
        self.role_arn = self._client("iam").create_role(
            RoleName=LOCAL_ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        for logical_id in self.model.of_type(*TABLE_TYPES):
            self.create_table(logical_id)
        for logical_id in self.model.of_type(SECRET_TYPE):
            self.create_secret(logical_id, secret_values)
        for logical_id in self.model.of_type(QUEUE_TYPE):
            self.create_queue(logical_id)
        self.create_event_buses()
        for logical_id in self.model.of_type(BUCKET_TYPE):
            self.create_bucket(logical_id)
        for logical_id in self.model.of_type(*FUNCTION_TYPES):
            self.create_function(logical_id)
        for logical_id in self.model.of_type(*STATE_MACHINE_TYPES):
            self.create_state_machine(logical_id)
        known = TABLE_TYPES | {SECRET_TYPE, QUEUE_TYPE, BUS_TYPE, BUCKET_TYPE} | FUNCTION_TYPES | STATE_MACHINE_TYPES
        for logical_id, spec in self.model.resources.items():
            if spec.get("Type") not in known:
                self.ignored[logical_id] = str(spec.get("Type"))

    # -- DynamoDB -----------------------------------------------------------------------------
    def create_table(self, logical_id: str) -> None:
        spec = self.model.resources[logical_id]
        props = self.model.resolve(spec.get("Properties") or {}, logical_id) or {}
        name = self.model.physical_name(logical_id)
        request: dict[str, Any] = {"TableName": name}
        if spec["Type"] == "AWS::Serverless::SimpleTable":
            key = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
            kind = {"String": "S", "Number": "N", "Binary": "B"}[str(key.get("Type", "String"))]
            request["AttributeDefinitions"] = [{"AttributeName": key["Name"], "AttributeType": kind}]
            request["KeySchema"] = [{"AttributeName": key["Name"], "KeyType": "HASH"}]
            request["BillingMode"] = "PAY_PER_REQUEST"
        else:
            request["AttributeDefinitions"] = props["AttributeDefinitions"]
            request["KeySchema"] = props["KeySchema"]
            billing = props.get("BillingMode", "PROVISIONED")
            request["BillingMode"] = billing
            throughput = props.get("ProvisionedThroughput") or {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
            if billing == "PROVISIONED":
                request["ProvisionedThroughput"] = throughput
            for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
                if props.get(index_kind):
                    indexes = []
                    for index in props[index_kind]:
                        entry = {k: index[k] for k in ("IndexName", "KeySchema", "Projection") if k in index}
                        if billing == "PROVISIONED" and index_kind == "GlobalSecondaryIndexes":
                            entry["ProvisionedThroughput"] = index.get("ProvisionedThroughput", throughput)
                        indexes.append(entry)
                    request[index_kind] = indexes
            stream = props.get("StreamSpecification")
            if stream and stream.get("StreamViewType"):
                request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        dynamodb = self._client("dynamodb")
        dynamodb.create_table(**request)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled")).lower() == "true":
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )

    # -- Secrets Manager ----------------------------------------------------------------------
    def create_secret(self, logical_id: str, secret_values: Mapping[str, str]) -> None:
        props = self.model.resolve(self.model.resources[logical_id].get("Properties") or {}, logical_id) or {}
        if "SecretString" in props:
            text = str(props["SecretString"])
        else:
            text = generate_secret_string(props.get("GenerateSecretString") or {})
        text = merge_secret_values(text, secret_values)
        created = self._client("secretsmanager").create_secret(
            Name=self.model.physical_name(logical_id),
            SecretString=text,
            Description=str(props.get("Description", "")),
        )
        self.model.refs[logical_id] = created["ARN"]
        self.model.attributes.setdefault(logical_id, {})["Id"] = created["ARN"]

    # -- SQS ----------------------------------------------------------------------------------
    def create_queue(self, logical_id: str) -> None:
        props = self.model.resolve(self.model.resources[logical_id].get("Properties") or {}, logical_id) or {}
        name = self.model.physical_name(logical_id)
        attributes = {
            key: str(value).lower() if isinstance(value, bool) else str(value)
            for key, value in props.items()
            if key in {"DelaySeconds", "MessageRetentionPeriod", "VisibilityTimeout", "FifoQueue"}
        }
        url = self._client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        self.model.refs[logical_id] = url
        self.model.attributes.setdefault(logical_id, {})["QueueUrl"] = url

    # -- EventBridge --------------------------------------------------------------------------
    def create_event_buses(self) -> None:
        """Each bus gets a catch-all rule whose target is one SQS queue that the events log drains."""
        buses = [self.model.physical_name(logical_id) for logical_id in self.model.of_type(BUS_TYPE)]
        if not buses:
            return
        events, sqs = self._client("events"), self._client("sqs")
        queue_name = f"{self.model.stack_name}-local-events-log"
        self.events_queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.events_queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        for bus in buses:
            events.create_event_bus(Name=bus)
            events.put_rule(
                Name=EVENTS_RULE_NAME,
                EventBusName=bus,
                EventPattern=json.dumps({"account": [self.model.account_id]}),
                State="ENABLED",
            )
            events.put_targets(Rule=EVENTS_RULE_NAME, EventBusName=bus, Targets=[{"Id": "log", "Arn": queue_arn}])

    # -- S3 -----------------------------------------------------------------------------------
    def create_bucket(self, logical_id: str) -> None:
        """The template's `BucketName`, or `<stack>-<logicalid>` in lower case (S3 allows no capitals),
        which `Ref` then gives. Encryption, versioning, lifecycle and policies are not applied."""
        props = self.model.resolve(self.model.resources[logical_id].get("Properties") or {}, logical_id) or {}
        name = str(props.get("BucketName") or f"{self.model.stack_name}-{logical_id}".lower())
        where = {} if self.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
        self._client("s3").create_bucket(Bucket=name, **where)
        self.model.refs[logical_id] = name

    # -- Lambda and Step Functions ------------------------------------------------------------
    def create_function(self, logical_id: str) -> None:
        props = self.model.properties(logical_id)
        self._client("lambda").create_function(
            FunctionName=self.model.physical_name(logical_id),
            Runtime=str(props.get("Runtime", "python3.12")),
            Role=self.role_arn,
            Handler=str(props.get("Handler", "app.handler")),
            Code={"ZipFile": _tiny_zip()},
            Timeout=int(props.get("Timeout", 3)),
            MemorySize=int(props.get("MemorySize", 128)),
        )

    def create_state_machine(self, logical_id: str) -> None:
        props = self.model.properties(logical_id)
        kind = "EXPRESS" if str(props.get("Type", props.get("StateMachineType", ""))).upper() == "EXPRESS" else None
        request: dict[str, Any] = {
            "name": self.model.physical_name(logical_id),
            "definition": self.model.state_machine_definition(logical_id),
            "roleArn": self.role_arn,
        }
        if kind:
            request["type"] = kind
        arn = self._client("stepfunctions").create_state_machine(**request)["stateMachineArn"]
        self.model.refs[logical_id] = arn


def merge_secret_values(text: str, values: Mapping[str, str]) -> str:
    """Put the local values into a JSON secret that already has at least one of their keys."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return text
    if not isinstance(data, dict) or not values or not set(data) & set(values):
        return text
    data.update(values)
    return json.dumps(data)


class EventsLog:
    """Drains the events queue into a JSON-lines file (one EventBridge event per line)."""

    def __init__(
        self, endpoint: str, region: str, queue_url: str, path: Path, log: Callable[[str], None] = print
    ) -> None:
        self._sqs = client("sqs", endpoint, region)
        self.queue_url = queue_url
        self.path = path
        self._log = log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="events-log", daemon=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("", encoding="utf-8")

    def start(self) -> None:
        if self.queue_url:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self._sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                ).get("Messages", [])
            except Exception as exc:  # noqa: BLE001 (the server is going away, or a transient error)
                if self._stop.wait(0.5):
                    return
                self._log(f"events log: {type(exc).__name__}: {exc}")
                continue
            if not batch:
                continue
            self._write([message["Body"] for message in batch])
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(batch)],
            )

    def _write(self, bodies: list[str]) -> None:
        events = []
        for body in bodies:
            try:
                events.append(json.loads(body))
            except json.JSONDecodeError:
                events.append({"raw": body})
        # Flushed, so readers see each line at once; not fsync'd: a development log need not survive a crash.
        with self.path.open("a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(event, separators=(",", ":")) + "\n" for event in events)
        for event in events:
            self._log(f"event  {event.get('source', '?')} / {event.get('detail-type', '?')} -> {self.path}")
