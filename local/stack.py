"""The local stack: moto server + the template's resources + handlers + HTTP front + schedules + simulator.

moto, the front, the schedule loop and the simulator run in this process (threads); each function's
handler runs in worker processes of its own (local.workers), started with that function's environment.
moto's Lambda backend is patched here to send invocations to those workers.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from local import console, project
from local.aws import EventsLog, LocalResources, MotoServer, client, configure_moto
from local.cfn import TemplateError
from local.dynamodb import local_dynamodb
from local.environ import function_process_environment, local_aws, no_proxy
from local.front import Front
from local.jsonpath import parsed_once
from local.lambdas import FunctionRuntime, HandlerUnavailable, patch_moto_lambda
from local.moto_models import weakly_tracked_models
from local.schedules import ScheduleLoop
from local.serving import HttpServer
from local.stepfunctions import long_running_step_functions
from local.template import FUNCTION_TYPES, STATE_MACHINE_TYPES, Schedule, StackModel

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parent.parent

PORT_VARIABLES = {"api": "LOCAL_API_PORT", "simulator": "LOCAL_SIMULATOR_PORT", "aws": "LOCAL_AWS_PORT"}
DEFAULT_PORTS = {"api": 3000, "simulator": 3001, "aws": 3002}
DEFAULT_MAX_WORKERS = 4  # per function; on a laptop's few cores more processes add memory, not speed
DEFAULT_WORKER_IDLE_S = 300.0


class StartupError(Exception):
    """A problem the user can fix; `exit_code` 2 for a busy or invalid port."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() not in {"0", "false", "off", "no"}


DEFAULT_SWEEP_EVERY_S = 2


@dataclass
class Settings:
    ports: dict[str, int]
    template: Path
    stack_name: str = "mpesa-local"
    events_log: Path = REPO_ROOT / ".local" / "events.log"
    parameters: dict[str, str] = field(default_factory=dict)
    env_overrides: dict[str, str] = field(default_factory=dict)
    simulator: bool = True
    schedules: bool = True
    max_workers: int = DEFAULT_MAX_WORKERS
    worker_idle_s: float = DEFAULT_WORKER_IDLE_S
    sweep_every_s: int = DEFAULT_SWEEP_EVERY_S  # LOCAL_SWEEP_EVERY_SECONDS: the sweep's cadence (project.py)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        ports: dict[str, int] = {}
        for key, variable in PORT_VARIABLES.items():
            raw = environ.get(variable, "") or str(DEFAULT_PORTS[key])
            try:
                port = int(raw)
            except ValueError:
                raise StartupError(f"{variable}={raw!r} is not a port number", exit_code=2) from None
            if not 0 <= port <= 65535:
                raise StartupError(f"{variable}={raw!r} is not a port number", exit_code=2)
            ports[key] = port
        template = Path(environ.get("LOCAL_TEMPLATE") or REPO_ROOT / "template.yaml")
        events_log = Path(environ.get("LOCAL_EVENTS_LOG") or REPO_ROOT / ".local" / "events.log")
        return cls(
            ports=ports,
            template=template.resolve(),
            stack_name=environ.get("LOCAL_STACK_NAME") or "mpesa-local",
            events_log=events_log.resolve(),
            parameters={
                k[len("LOCAL_PARAMETER_") :]: v for k, v in environ.items() if k.startswith("LOCAL_PARAMETER_")
            },
            env_overrides={k[len("LOCAL_ENV_") :]: v for k, v in environ.items() if k.startswith("LOCAL_ENV_")},
            simulator=_flag(environ.get("LOCAL_SIMULATOR"), True),
            schedules=_flag(environ.get("LOCAL_SCHEDULES"), True),
            max_workers=int(_positive(environ, "LOCAL_MAX_WORKERS_PER_FUNCTION", DEFAULT_MAX_WORKERS, integer=True)),
            worker_idle_s=_positive(environ, "LOCAL_WORKER_IDLE_SECONDS", DEFAULT_WORKER_IDLE_S),
            sweep_every_s=int(_positive(environ, "LOCAL_SWEEP_EVERY_SECONDS", DEFAULT_SWEEP_EVERY_S, integer=True)),
        )


def _positive(environ: Mapping[str, str], variable: str, default: float, *, integer: bool = False) -> float:
    raw = environ.get(variable, "")
    if raw == "":
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        value = 0
    if value <= 0:
        kind = "a whole number" if integer else "a number"
        raise StartupError(f"{variable}={raw!r} must be {kind} above 0")
    return value


class _LateApp:
    """The front's port is bound before the handlers exist; until then it answers 503."""

    def __init__(self) -> None:
        self.app: Callable[..., Any] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.app is None:
            return Response('{"message":"Service Unavailable"}', 503, content_type="application/json")(
                environ, start_response
            )
        return self.app(environ, start_response)


_print_lock = threading.Lock()


def log(message: str) -> None:
    with _print_lock:
        sys.stdout.write(message.rstrip("\n") + "\n")
        sys.stdout.flush()


class LocalStack:
    def __init__(self, settings: Settings, *, log: Callable[[str], None] = log) -> None:
        self.settings = settings
        self.log = log
        self.front_server: HttpServer | None = None
        self.simulator_server: Any = None
        self.moto: MotoServer | None = None
        self.model: StackModel | None = None
        self.runtime: FunctionRuntime | None = None
        self._shell = dict(os.environ)  # before the stack changes its own environment
        self.schedules: ScheduleLoop | None = None
        self.events_log: EventsLog | None = None
        self._late_app = _LateApp()
        self._patches = contextlib.ExitStack()  # moto patches, undone at stop
        self.load_failures: dict[str, str] = {}
        self.resources: LocalResources | None = None
        self.front: Front | None = None

    # -- URLs ---------------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        assert self.front_server is not None
        return self.front_server.url

    @property
    def simulator_url(self) -> str | None:
        return str(self.simulator_server.url) if self.simulator_server is not None else None

    @property
    def aws_url(self) -> str:
        assert self.moto is not None
        return self.moto.url

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        settings = self.settings
        if not settings.template.is_file():
            raise StartupError(f"template not found: {settings.template} (set LOCAL_TEMPLATE)")
        self._bind_ports()
        assert self.moto is not None
        # This process's own AWS clients (resources, events log, the Step Functions interpreter) use the
        # local endpoint and dummy credentials. No AWS_* variable of your shell (a profile, a token,
        # AWS_ENDPOINT_URL_<SERVICE>, ...) applies; the functions' processes get their own environments.
        environ = os.environ
        for variable in [name for name in environ if name.startswith("AWS_")]:
            environ.pop(variable, None)
        # A proxy in your shell must not carry calls to moto, the simulator or the front (all on loopback).
        environ["NO_PROXY"] = environ["no_proxy"] = no_proxy(environ)
        environ.update(local_aws(self.moto.url, "us-east-1"))
        environ["MOTO_PORT"] = str(self.moto.port)  # the Step Functions interpreter calls localhost:$MOTO_PORT
        configure_moto()
        # moto made atomic (DynamoDB) and fit to run all day (see each module)
        for patch in (local_dynamodb(), long_running_step_functions(), parsed_once(), weakly_tracked_models()):
            self._patches.enter_context(patch)
        self.moto.start()
        assert self.front_server is not None
        self.front_server.start()  # answers 503 until the handlers are ready
        if self.simulator_server is not None:
            self.simulator_server.start()
        try:
            self.model = StackModel.load(settings.template, settings.stack_name, settings.parameters)
            self._create_resources()
            self._start_handlers()
        except (TemplateError, KeyError, ValueError) as exc:  # ScheduleError is a ValueError
            raise StartupError(f"{settings.template}: {type(exc).__name__}: {exc}") from exc
        self._start_front()
        project.after_start(self.api_url, [r.route_key for r in self.model.routes()], self.simulator_url, self.log)
        if self.events_log is not None:
            self.events_log.start()
        if self.schedules is not None:
            self.schedules.start()

    def check_ports(self) -> None:
        """Fail with one clear line, before anything starts, if a port is given twice or cannot be bound."""
        used = [which for which in PORT_VARIABLES if which != "simulator" or self.settings.simulator]
        claimed: dict[int, str] = {}
        for which in used:
            port = self.settings.ports[which]
            if port == 0:
                continue
            if port in claimed:
                first, second = PORT_VARIABLES[claimed[port]], PORT_VARIABLES[which]
                raise StartupError(f"{first} and {second} are both {port}: give each a different port", exit_code=2)
            claimed[port] = which
        for which in used:
            port = self.settings.ports[which]
            if port == 0:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug's servers do
                try:
                    probe.bind((HOST, port))
                except OSError as exc:
                    raise self._busy(which, exc) from None

    def _bind_ports(self) -> None:
        self.check_ports()
        settings = self.settings
        # werkzeug's make_server prints and exits on a bind error: SystemExit means the port was taken
        # between the check and now.
        try:
            self.front_server = HttpServer(HOST, settings.ports["api"], self._late_app, "api")
        except (OSError, SystemExit) as exc:
            raise self._busy("api", exc) from None
        if settings.simulator:
            from simulator.config import SimulatorConfig
            from simulator.server import SimulatorServer

            try:
                self.simulator_server = SimulatorServer(HOST, settings.ports["simulator"], SimulatorConfig.from_env())
            except (OSError, SystemExit) as exc:
                raise self._busy("simulator", exc) from None
        try:
            self.moto = MotoServer(HOST, settings.ports["aws"])
        except (OSError, SystemExit) as exc:
            raise self._busy("aws", exc) from None

    def _busy(self, which: str, exc: BaseException) -> StartupError:
        self.stop()
        port = self.settings.ports[which]
        variable = PORT_VARIABLES[which]
        in_use = not isinstance(exc, OSError) or exc.errno == errno.EADDRINUSE
        reason = "is already in use" if in_use else f"cannot be bound ({getattr(exc, 'strerror', exc)})"
        return StartupError(f"port {port} on {HOST} {reason}: set {variable} to a free port", exit_code=2)

    def _create_resources(self) -> None:
        assert self.model is not None
        assert self.moto is not None
        values: dict[str, str] = {}
        if self.simulator_server is not None:
            values = project.secret_values(
                self.simulator_server.config,
                self.simulator_server.certificate_pem,
                project.callback_secret(),
                openapi_public_key=self.simulator_server.openapi_public_key,
            )
        resources = LocalResources(self.model, self.moto.url, self.log)
        resources.create_all(values)
        self.resources = resources
        if resources.events_queue_url:
            self.events_log = EventsLog(
                self.moto.url, self.model.region, resources.events_queue_url, self.settings.events_log, self.log
            )

    def _start_handlers(self) -> None:
        assert self.model is not None
        assert self.moto is not None
        model = self.model
        aws = local_aws(self.moto.url, model.region)
        environments = {
            logical_id: function_process_environment(
                self._shell,
                aws,
                project.function_environment(
                    model.function_environment(logical_id),
                    api_url=self.api_url,
                    simulator_url=self.simulator_url,
                    overrides=self.settings.env_overrides,
                ),
            )
            for logical_id in model.of_type(*FUNCTION_TYPES)
        }
        self.runtime = FunctionRuntime(
            model,
            environments,
            max_workers=self.settings.max_workers,
            idle_timeout_s=self.settings.worker_idle_s,
            log=self.log,
        )
        self._patches.enter_context(patch_moto_lambda(self.runtime, self.log))
        self.load_failures = self.runtime.warm_all()  # one worker per function, all at once
        if self.settings.schedules:
            self.schedules = ScheduleLoop(
                project.local_schedules(model.schedules(), self.settings.sweep_every_s),
                self._fire,
                region=model.region,
                account_id=model.account_id,
                log=self.log,
            )

    def _fire(self, schedule: Schedule, payload: dict[str, Any] | str) -> None:
        assert self.model is not None
        assert self.runtime is not None
        assert self.moto is not None
        if not schedule.expression.endswith("seconds)"):  # the local sweep fires every few seconds: not logged
            self.log(f"sched  {schedule.name} -> {schedule.target}")
        if schedule.target in self.model.of_type(*STATE_MACHINE_TYPES):
            sfn = client("stepfunctions", self.moto.url, self.model.region)
            # Always named: moto's interpreter names an unnamed execution "None", so a second one would clash.
            name = f"{schedule.name.replace('.', '-')[:40]}-{uuid.uuid4().hex}"
            sfn.start_execution(stateMachineArn=self.model.refs[schedule.target], name=name, input=json.dumps(payload))
        else:
            self.runtime.invoke(schedule.target, payload)

    def _openapi_documents(self) -> list[dict[str, Any]]:
        documents = []
        assert self.runtime is not None
        for logical_id in self.runtime.pools:
            try:
                text = self.runtime.openapi(logical_id)  # asked of a worker, which has the module
            except HandlerUnavailable:
                continue
            if text is None:
                continue
            try:
                documents.append(json.loads(text))
            except json.JSONDecodeError as exc:  # one bad document must not hide the others
                self.log(f"[{logical_id}] no OpenAPI document: {exc}")
        return documents

    def _start_front(self) -> None:
        assert self.model is not None
        assert self.runtime is not None
        front = Front(
            self.model.routes(),
            self.runtime.invoke,
            openapi=self._openapi_documents,
            local_routes={
                **console.routes(self.settings.events_log, self.runtime.invoke, self.simulator_url),
                "/_local": self._local_api,
            },
            title=_title(self.model.template),
            log=self.log,
        )
        self.front = front
        self._late_app.app = front

    def _local_api(self, request: Request) -> Response:
        path = request.path
        if path == "/_local/health":
            return _json({"status": "ok", **self.urls(), "pid": os.getpid()})
        if path == "/_local/workers":
            assert self.runtime is not None
            return _json({"pid": os.getpid(), "functions": self.runtime.describe()})
        if path == "/_local/routes":
            assert self.model is not None
            return _json([{"route": r.route_key, "function": r.function} for r in self.model.routes()])
        if path == "/_local/schedules" and request.method == "GET":
            return _json(self.schedules.describe() if self.schedules else [])
        if path.startswith("/_local/schedules/") and path.endswith("/run") and request.method == "POST":
            name = path[len("/_local/schedules/") : -len("/run")]
            if self.schedules is None or name not in self.schedules.entries:
                return _json({"message": f"no schedule {name!r}"}, 404)
            return _json(self.schedules.run_now(name))
        return _json({"message": "Not Found"}, 404)

    def urls(self) -> dict[str, str]:
        urls = {
            "api": self.api_url,
            "console": f"{self.api_url}/console",
            "swagger_ui": f"{self.api_url}/docs",
            "openapi": f"{self.api_url}/openapi.json",
            "aws": self.aws_url,
            "events_log": str(self.settings.events_log),
        }
        if self.simulator_url is not None:
            urls["simulator"] = self.simulator_url
            urls["phone"] = f"{self.simulator_url}/phone"
        return urls

    def banner(self) -> str:
        assert self.model is not None
        assert self.runtime is not None
        urls = self.urls()
        lines = [
            f"Local stack is up: {self.settings.template.name}, stack {self.settings.stack_name!r}, on {HOST} only",
            f"  API              {urls['api']}",
            f"  Console          {urls['console']}   (payments, payouts, C2B receipts, events, the day's report)",
            f"  Swagger UI       {urls['swagger_ui']}   (OpenAPI: {urls['openapi']})",
        ]
        if "phone" in urls:
            lines.append(f"  Virtual phone    {urls['phone']}")
            lines.append(f"  Daraja simulator {urls['simulator']}")
        lines.append(f"  Local AWS (moto) {urls['aws']}")
        lines.append(f"  Events log       {urls['events_log']}")
        lines.append(
            f"  Functions        {len(self.runtime.pools)}, each in its own processes"
            f" (up to {self.settings.max_workers}; GET {urls['api']}/_local/workers)"
        )
        routes = self.model.routes()
        lines.append(f"Routes ({len(routes)}):")
        lines.extend(f"  {route.route_key:<45} -> {route.function}" for route in routes)
        if self.schedules is not None and self.schedules.entries:
            lines.append("Schedules (run one now: POST /_local/schedules/<name>/run):")
            for item in self.schedules.describe():
                state = f"next {item['next_run']}" if item["enabled"] else "disabled in the template"
                lines.append(f"  {item['name']:<45} {item['expression']} ({state})")
        for logical_id, error in self.load_failures.items():
            lines.append(f"WARNING: {logical_id} could not be imported ({error}); its routes answer 502")
        if any(route.route_key == "POST /v1/payments/stk-push" for route in routes):
            lines.append("Try a payment (then open the virtual phone, or use 254708374149 which succeeds by itself):")
            lines.append("  " + project.sample_curl(urls["api"]))
            lines.append("Or in Tanzania (Vodacom's OpenAPI; 255740000001 pays by itself, other numbers wait):")
            lines.append("  " + project.sample_curl(urls["api"], tanzania=True))
        lines.append("Ctrl-C stops everything.")
        return "\n".join(lines)

    def stop(self) -> None:
        """Stop everything: first what takes or makes work (in parallel), then the local AWS."""
        first = [
            component.stop
            for component in (self.schedules, self.events_log, self.front_server, self.simulator_server)
            if component is not None
        ]
        threads = [threading.Thread(target=self._stop_one, args=(stopper,), daemon=True) for stopper in first]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        if self.runtime is not None:
            self._stop_one(self.runtime.stop)  # no worker outlives the stack
        if self.moto is not None:
            self._stop_one(self.moto.stop)
        self.schedules = self.events_log = self.front_server = self.simulator_server = self.moto = None
        self._patches.close()

    def _stop_one(self, stopper: Callable[[], None]) -> None:
        try:
            stopper()
        except Exception as exc:  # noqa: BLE001 (stop the rest anyway)
            self.log(f"while stopping: {type(exc).__name__}: {exc}")


def _title(template: Mapping[str, Any]) -> str:
    """The API's title for Swagger UI: the template Description's first clause."""
    description = str(template.get("Description") or "Local API").strip()
    return description.split("\n")[0].split(":")[0].strip()[:80] or "Local API"


__all__ = ["LocalStack", "Settings", "StartupError", "log", "no_proxy"]


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")
