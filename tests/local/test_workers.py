"""Worker pools without a stack: real worker processes running a small handler from a temporary folder."""

from __future__ import annotations

import itertools
import os
import signal
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.workers import FunctionError, FunctionPool, HandlerUnavailable, WorkerSpec, stop_all
from tests.local.process import wait_for

HANDLER = textwrap.dedent(
    """
    import decimal
    import os
    import time


    class Flaky(Exception):
        pass


    class _Resolver:
        def get_openapi_json_schema(self):
            return '{"openapi": "3.1.0", "paths": {"/from-the-worker": {}}}'


    app = _Resolver()


    def handler(event, context):
        action = event.get("action")
        if action == "sleep":
            started = time.time()
            time.sleep(event["seconds"])
            return {"pid": os.getpid(), "started": started, "ended": time.time()}
        if action == "env":
            return dict(os.environ)
        if action == "context":
            return {
                "remaining_ms": context.get_remaining_time_in_millis(),
                "function_name": context.function_name,
                "request_id": context.aws_request_id,
                "cwd": os.getcwd(),
            }
        if action == "fail":
            raise Flaky("asked to fail")
        if action == "crash":
            os._exit(3)
        if action == "decimal":
            return {"amount": decimal.Decimal("10"), "rate": decimal.Decimal("0.5")}
        if action == "unmarshallable":
            return {"numbers": {1, 2}}
        return {"pid": os.getpid()}
    """
)


def make_spec(code_dir: Path, *, timeout_s: float = 10.0, source: str = HANDLER) -> WorkerSpec:
    (code_dir / "app.py").write_text(source)
    environment = {"PATH": os.environ["PATH"], "ONLY_MINE": "yes", "PYTHONUNBUFFERED": "1"}
    return WorkerSpec(
        logical_id="Fn",
        function_name="fn-name",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:fn-name",
        handler="app.handler",
        code_dir=code_dir,
        layers=(),
        timeout_s=timeout_s,
        memory_mb=256,
        environment=environment,
    )


class Pools:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.logs: list[str] = []
        self.made: list[FunctionPool] = []

    def __call__(self, max_workers: int = 2, idle_timeout_s: float = 60.0, **spec: Any) -> FunctionPool:
        code_dir = self.tmp_path / f"fn{len(self.made)}"
        code_dir.mkdir()
        pool = FunctionPool(
            make_spec(code_dir, **spec), max_workers=max_workers, idle_timeout_s=idle_timeout_s, log=self.logs.append
        )
        self.made.append(pool)
        return pool


@pytest.fixture
def pools(tmp_path: Path) -> Iterator[Pools]:
    made = Pools(tmp_path)
    yield made
    stop_all(made.made)


def in_parallel(pool: FunctionPool, events: list[dict[str, Any]]) -> list[Any]:
    results: list[Any] = [None] * len(events)

    def run(index: int) -> None:
        results[index] = pool.invoke(events[index])

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(events))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def gone(pid: int) -> bool:
    """The process has ended: no such process, or a zombie whose every thread has exited (one that
    waits for its parent to reap it counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z" and threads == [str(pid)]


def test_the_pool_grows_to_its_cap_and_each_worker_runs_one_event_at_a_time(pools):
    pool = pools(max_workers=3)
    results = in_parallel(pool, [{"action": "sleep", "seconds": 0.4}] * 7)
    by_worker: dict[int, list[tuple[float, float]]] = {}
    for result in results:
        by_worker.setdefault(result["pid"], []).append((result["started"], result["ended"]))
    assert len(by_worker) == 3  # grew on demand, never beyond the cap
    assert pool.started == 3
    for spans in by_worker.values():
        spans.sort()
        assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans))


def test_a_warm_worker_is_reused(pools):
    pool = pools()
    first, second = pool.invoke({}), pool.invoke({})
    assert first["pid"] == second["pid"]
    assert pool.started == 1
    assert pool.invocations == 2


def test_a_worker_has_its_functions_environment_and_nothing_of_the_stacks(pools, monkeypatch):
    monkeypatch.setenv("STACK_ONLY_VARIABLE", "must not reach a function")
    pool = pools()
    env = pool.invoke({"action": "env"})
    assert env["ONLY_MINE"] == "yes"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"].endswith(tuple("0123456789abcdef"))
    # Python may add LC_CTYPE (PEP 538 locale coercion); nothing else beyond the function's own.
    assert set(env) - set(pool.spec.environment) - {"AWS_LAMBDA_LOG_STREAM_NAME", "LC_CTYPE"} == set()


def test_the_context_counts_down_from_the_functions_timeout_in_the_worker(pools):
    pool = pools(timeout_s=7)
    context = pool.invoke({"action": "context"})
    assert 6000 < context["remaining_ms"] <= 7000
    assert context["function_name"] == "fn-name"
    assert context["cwd"] == str(pool.spec.code_dir)  # the code folder, as /var/task on Lambda
    assert context["request_id"] != pool.invoke({"action": "context"})["request_id"]


def test_a_handler_exception_is_a_function_error_named_by_its_class(pools):
    pool = pools()
    pid = pool.invoke({})["pid"]
    with pytest.raises(FunctionError) as raised:
        pool.invoke({"action": "fail"})
    payload = raised.value.payload
    assert (payload["errorType"], payload["errorMessage"]) == ("Flaky", "asked to fail")  # what Retry/Catch match
    assert "app.py" in payload["stackTrace"][0]  # from the handler down, not the worker's own frames
    assert pool.invoke({})["pid"] == pid  # the worker survives a handler error


def test_a_worker_that_dies_during_an_event_is_an_exit_error_and_is_replaced(pools):
    pool = pools()
    pid = pool.invoke({})["pid"]
    with pytest.raises(FunctionError) as raised:
        pool.invoke({"action": "crash"})
    assert raised.value.payload["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in raised.value.payload["errorMessage"]
    assert pool.invoke({})["pid"] != pid
    assert pool.lost == 1


def test_a_worker_killed_while_idle_is_replaced(pools):
    pool = pools()
    pid = pool.invoke({})["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: gone(pid), 10, message="the killed worker to end")
    assert pool.invoke({})["pid"] != pid


def test_the_functions_timeout_is_enforced(pools):
    pool = pools(timeout_s=1)
    started = time.monotonic()
    with pytest.raises(FunctionError) as raised:
        pool.invoke({"action": "sleep", "seconds": 30})
    assert time.monotonic() - started < 10
    assert raised.value.payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in raised.value.payload["errorMessage"]
    assert pool.invoke({})["pid"]  # a fresh worker takes the next event


def test_results_are_marshalled_as_the_python_runtime_does(pools):
    pool = pools()
    assert pool.invoke({"action": "decimal"}) == {"amount": 10, "rate": 0.5}
    with pytest.raises(FunctionError) as raised:
        pool.invoke({"action": "unmarshallable"})
    assert raised.value.payload["errorType"] == "Runtime.MarshalError"


def test_an_import_failure_is_printed_once_and_the_function_stays_unavailable(pools):
    pool = pools(source="import module_that_does_not_exist\n")
    for _ in range(2):
        with pytest.raises(HandlerUnavailable, match="No module named 'module_that_does_not_exist'"):
            pool.invoke({})
    assert pool.started == 0
    (printed,) = pools.logs
    assert printed.startswith("[Fn] cannot import its handler: ModuleNotFoundError")
    assert "Traceback" in printed


def test_the_openapi_document_is_asked_of_a_worker_once(pools):
    pool = pools()
    assert pool.openapi() == '{"openapi": "3.1.0", "paths": {"/from-the-worker": {}}}'
    pool.invoke({})
    invocations = pool.invocations
    assert pool.openapi() is not None
    assert pool.invocations == invocations


def test_extra_workers_idle_past_the_idle_timeout_stop_down_to_one(pools):
    pool = pools(max_workers=3, idle_timeout_s=30)
    pids = {result["pid"] for result in in_parallel(pool, [{"action": "sleep", "seconds": 0.3}] * 3)}
    assert len(pids) == 3
    assert pool.stop_idle(now=time.monotonic() + 5) == 0
    assert pool.stop_idle(now=time.monotonic() + 31) == 2
    assert [worker["pid"] for worker in pool.describe()["workers"]] == [pool.invoke({})["pid"]]
    assert sum(gone(pid) for pid in pids) == 2


def test_stopping_ends_every_worker_even_a_busy_one(pools):
    pool = pools(max_workers=2)
    outcome: list[BaseException] = []

    def busy() -> None:
        try:
            pool.invoke({"action": "sleep", "seconds": 30})
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=busy)
    thread.start()
    wait_for(lambda: [w["state"] for w in pool.describe()["workers"]] == ["busy"], 10, message="a busy worker")
    idle_pid = pool.invoke({})["pid"]  # a second worker: the first is busy
    pids = [worker["pid"] for worker in pool.describe()["workers"]]
    assert len(pids) == 2
    assert idle_pid in pids
    stop_all([pool])
    assert all(gone(pid) for pid in pids)
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert isinstance(outcome[0], FunctionError)  # the busy event ends as a function error, at once
    with pytest.raises(HandlerUnavailable):
        pool.invoke({})
