"""moto's Step Functions interpreter, made fit for a local stack that runs all day.

The interpreter (taken over from LocalStack) is faithful but was written for short tests:
* it parses the ASL definition with ANTLR for every execution: the parse tree of a definition is
  now kept (it is only read), and each execution still builds its own program from it;
* each Lambda task creates a new boto3 client: one client per service and region is now shared
  (boto3 clients are thread-safe);
* every execution, with its whole interpreter state, and every thread it started, are kept for
  ever. A finished execution now keeps only what DescribeExecution, ListExecutions and
  GetExecutionHistory answer from, and each state machine keeps its last `FINISHED_KEPT` finished
  executions. An older one is forgotten except for its name, which cannot be used again (AWS keeps
  names for 90 days): StartExecution with it still fails with ExecutionAlreadyExists.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from typing import Any

FINISHED_KEPT = 1000  # per state machine
_TRIM_SLACK = 100  # trim in batches, so a start does not scan the list every time


class _FinishedEnvironment:
    """What stays of an execution's interpreter environment once it has ended."""

    def __init__(self, history: list[Any], map_runs: Any) -> None:
        self.event_manager = self
        self.map_run_record_pool_manager = map_runs
        self._history = history

    def get_event_history(self) -> list[Any]:
        return list(self._history)


class _FinishedWorker:
    def __init__(self, env: _FinishedEnvironment) -> None:
        self.env = env

    def stop(self, stop_date: Any, error: str | None, cause: str | None) -> None:
        return None  # nothing runs any more


def _release_interpreter(execution: Any) -> None:
    env = execution.exec_worker.env if execution.exec_worker is not None else None
    if env is None:
        return
    execution.exec_worker = _FinishedWorker(
        _FinishedEnvironment(env.event_manager.get_event_history(), env.map_run_record_pool_manager)
    )


@functools.lru_cache(maxsize=64)
def _parse_tree(definition: str) -> Any:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    _, tree = AmazonStateLanguageParser.parse(definition)  # raises ASLParserException, as before
    return tree


def _evaluation_entrypoint(worker: Any) -> Any:
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    tree = _parse_tree(worker._evaluation_details.state_machine_details.definition)
    return Preprocessor().visit(tree)  # a fresh program per execution, from the shared parse tree


class _SharedClients:
    """Stands in for the `boto3` module in moto's boto_client helper: one client per service and region."""

    def __init__(self) -> None:
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    def client(self, **kwargs: Any) -> Any:
        import boto3
        from botocore.config import Config

        key = tuple(sorted((name, value) for name, value in kwargs.items() if name != "config"))
        with self._lock:
            if key not in self._clients:
                config = kwargs.get("config") or Config()
                # Many executions share it at once: a pool big enough that urllib3 never warns.
                kwargs["config"] = config.merge(Config(max_pool_connections=64))
                self._clients[key] = boto3.client(**kwargs)
            return self._clients[key]


class _Retention:
    """Keeps each state machine's finished executions to FINISHED_KEPT, and remembers the names it drops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._forgotten: dict[str, set[str]] = {}  # state machine ARN -> execution names

    def start_execution(self, original: Any, backend: Any, arn: str, *args: Any, **kwargs: Any) -> Any:
        from moto.stepfunctions.exceptions import ExecutionAlreadyExists
        from moto.stepfunctions.parser.utils import TMP_THREADS

        name = kwargs.get("name", args[0] if args else None)
        with self._lock:
            machine = backend.describe_state_machine(arn)
            if name is not None and name in self._forgotten.get(machine.arn, ()):
                execution_arn = machine.arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
                raise ExecutionAlreadyExists(f"Execution Already Exists: '{execution_arn}'")
            execution = original(backend, arn, *args, **kwargs)
            self._trim(machine)
            TMP_THREADS[:] = [thread for thread in TMP_THREADS if thread.is_alive()]
        return execution

    def _trim(self, machine: Any) -> None:
        finished = [e for e in machine.executions if getattr(e, "exec_status", None) not in (None, "RUNNING")]
        if len(finished) <= FINISHED_KEPT + _TRIM_SLACK:
            return
        dropped = finished[: len(finished) - FINISHED_KEPT]  # the oldest: executions are kept in start order
        self._forgotten.setdefault(machine.arn, set()).update(str(e.name) for e in dropped)
        gone = {id(e) for e in dropped}
        machine.executions[:] = [e for e in machine.executions if id(e) not in gone]


@contextlib.contextmanager
def long_running_step_functions() -> Iterator[None]:
    from moto.stepfunctions.parser.asl.utils import boto_client
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    retention = _Retention()
    original_terminated = BaseExecutionWorkerCommunication.terminated
    original_start = StepFunctionsParserBackend.start_execution

    def terminated(comm: Any) -> None:
        original_terminated(comm)
        _release_interpreter(comm.execution)

    def start_execution(backend: Any, state_machine_arn: str, *args: Any, **kwargs: Any) -> Any:
        return retention.start_execution(original_start, backend, state_machine_arn, *args, **kwargs)

    patches = [
        (BaseExecutionWorkerCommunication, "terminated", terminated),
        (StepFunctionsParserBackend, "start_execution", start_execution),
        (ExecutionWorker, "_get_evaluation_entrypoint", _evaluation_entrypoint),
        (boto_client, "boto3", _SharedClients()),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in originals:
            setattr(owner, name, value)
