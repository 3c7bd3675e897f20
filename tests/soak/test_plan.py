"""The soak's plan: fixed by its seed, one customer per record, and every fault on every endpoint the flows call."""

from __future__ import annotations

from benchmarks.soak import BALANCE, OAUTH, REGISTER, TRAFFIC_PATHS, Plan, fault_menu, make_plan, parse_args, themes
from benchmarks.soak_checks import B2C, C2B, STK

COUNTS = {STK: 400, B2C: 300, C2B: 300}


def plan_of(seed: int, counts: dict[str, int] = COUNTS, rounds: int = 40) -> Plan:
    return make_plan(counts, rounds, seed, fault_rate=0.12, flip_rate=0.05)


def test_a_seed_fixes_the_plan() -> None:
    first, again, other = plan_of(7), plan_of(7), plan_of(8)
    assert first == again
    assert [r.action for r in first.records] != [r.action for r in other.records]


def test_every_record_has_its_own_customer_and_key() -> None:
    records = plan_of(7).records
    assert len(records) == 1000
    assert len({r.msisdn for r in records}) == len({r.key for r in records}) == 1000
    assert all(len(r.msisdn) == 12 and r.msisdn.startswith("2547") for r in records)


def test_the_full_soak_injects_every_fault_on_every_endpoint_and_visits_every_theme() -> None:
    plan = plan_of(16)
    injected = {(f.path, tuple(sorted(f.spec.items()))) for r in plan.rounds for f in r.faults}
    injected |= {(f.path, tuple(sorted(f.spec.items()))) for r in plan.rounds for fs in r.before.values() for f in fs}
    for path in (*TRAFFIC_PATHS, OAUTH, BALANCE, REGISTER):
        menu = {(f.path, tuple(sorted(f.spec.items()))) for f in fault_menu(path)}
        assert menu <= injected, path
    assert {r.theme.name for r in plan.rounds} == {t.name for t in themes(4)}


def test_the_short_soak_is_about_sixty_records_with_every_theme_once() -> None:
    args = parse_args(["--short"])
    assert args.records == 60
    assert args.rounds == len(themes(4))
