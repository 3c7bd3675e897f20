"""The cold-start runner: one row per function of template.yaml, ratios to the floor, the Lambda-like
environment (tracer on) — checked with a fake runner, plus one real fresh-process import."""

import pytest

from benchmarks import cold_start


def test_there_is_a_target_per_function_of_the_template_plus_the_floor_and_the_daraja_client():
    names = [t.name for t in cold_start.targets()]
    functions = {str(p["CodeUri"]).rsplit("/", 1)[-1] for p in cold_start.template_functions().values()}
    assert names[:2] == [cold_start.FLOOR, cold_start.DARAJA]
    assert set(names[2:]) == functions
    assert len(names) == len(functions) + 2


def test_baselines_are_importable_handlers_of_third_party_parts_only():
    chosen = cold_start.targets(["stk_push"], baselines=True)
    baselines = [t for t in chosen if t.name in cold_start.BASELINES]
    assert [t.name for t in chosen[2:5]] == list(cold_start.BASELINES)
    for target in baselines:
        assert target.target is None
        assert target.path == (cold_start.BASELINE_DIR,)  # not the layer: no code of ours
        assert cold_start.run_once(target)["xray"] is True
    assert not [t for t in cold_start.targets() if t.name in cold_start.BASELINES]


def test_targets_per_row_and_lambda_environment():
    by_name = {t.name: t for t in cold_start.targets()}
    assert by_name[cold_start.DARAJA].target == 1.15
    assert by_name["stk_push"].target == 1.5
    assert by_name["stk_callback"].target == 1.4
    env = by_name["stk_push"].env
    assert "POWERTOOLS_TRACE_DISABLED" not in env
    assert env["LAMBDA_TASK_ROOT"].endswith("functions/stk_push")
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"  # the LogLevel parameter's default
    assert env["PROMPT_FLOW_STATE_MACHINE_ARN"].startswith("arn:aws:states:")  # the template's own values
    assert by_name["pending_sweep"].env["STK_TIMEOUT_STATE_MACHINE_ARN"].startswith("arn:aws:states:")


def test_measure_gives_a_row_per_target_with_medians_and_ratios():
    chosen = cold_start.targets(["stk_push", "payment_status"])
    import_s = {cold_start.FLOOR: 0.2, cold_start.DARAJA: 0.3, "stk_push": 0.5, "payment_status": 0.25}
    calls = []

    def fake(target, *, no_bytecode=False):
        calls.append(target.name)
        seconds = import_s[target.name]
        return {"import_s": 2 * seconds, "cpu_s": seconds, "maxrss_kib": 40 * 1024, "xray": True, "modules": 10}

    rows = cold_start.measure(chosen, repeat=3, runner=fake)
    assert [r.name for r in rows] == [t.name for t in chosen]
    assert len(calls) == 4 * len(chosen)  # one unmeasured round, then three
    by_name = {r.name: r for r in rows}
    assert by_name["stk_push"].import_ratio == pytest.approx(2.5)
    assert by_name["stk_push"].verdict == "no"
    assert by_name["payment_status"].import_ratio == pytest.approx(1.25)
    assert by_name["payment_status"].verdict == "yes"
    assert by_name[cold_start.FLOOR].rss_ratio == 1


def test_a_real_fresh_process_imports_a_handler_with_the_tracer():
    (target,) = [t for t in cold_start.targets(["payout_status"]) if t.name == "payout_status"]
    result = cold_start.run_once(target)
    assert result["import_s"] > 0
    assert result["cpu_s"] > 0
    assert result["maxrss_kib"] > 0
    assert result["xray"] is True


def test_heaviest_imports_groups_by_package():
    text = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:      1000 |       1000 |     pydantic.fields",
            "import time:      2000 |       3000 |   pydantic",
            "import time:       500 |        500 |   mpesa.daraja.client",
            "import time:       700 |       1200 | mpesa.daraja",
        ]
    )
    assert cold_start.heaviest_imports(text, 5) == [("pydantic", 3.0, 3.0), ("mpesa.daraja", 1.2, 1.2)]
