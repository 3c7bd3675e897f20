"""Per-function environments in one process."""

import threading

from local.environ import ScopedEnviron, split_common


def test_a_scope_is_seen_only_by_its_thread():
    env = ScopedEnviron({"SHARED": "1"})
    seen = {}
    inside = threading.Event()
    release = threading.Event()

    def function_thread():
        with env.scope({"ONLY_HERE": "x", "SHARED": "overridden"}):
            seen["inside"] = (env.get("ONLY_HERE"), env["SHARED"], "ONLY_HERE" in dict(env))
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=function_thread)
    thread.start()
    inside.wait(5)
    seen["other"] = (env.get("ONLY_HERE"), env["SHARED"])
    release.set()
    thread.join()
    assert seen["inside"] == ("x", "overridden", True)
    assert seen["other"] == (None, "1")
    assert env.get("ONLY_HERE") is None


def test_writes_inside_a_scope_stay_in_the_scope_unless_new():
    base = {"A": "1"}
    env = ScopedEnviron(base)
    with env.scope({"B": "2"}):
        env["B"] = "changed"
        env["C"] = "3"
        assert env["B"] == "changed"
    assert "B" not in base
    assert base["C"] == "3"


def test_only_conflicting_variables_are_per_function():
    common, rest = split_common(
        {"F1": {"TABLE": "t", "ONLY": "a", "MODE": "x"}, "F2": {"TABLE": "t", "MODE": "y"}, "F3": {}}
    )
    assert common == {"TABLE": "t", "ONLY": "a"}
    assert rest == {"F1": {"MODE": "x"}, "F2": {"MODE": "y"}, "F3": {}}
