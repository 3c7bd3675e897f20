from collections.abc import Callable

import pytest

from mpesa.daraja.breaker import (
    BreakerState,
    BreakerStore,
    CircuitBreaker,
    CircuitBreakerError,
    DynamoBreakerStore,
    MemoryBreakerStore,
)
from tests.support.daraja import STATE_TABLE as TABLE
from tests.support.daraja import FakeClock


@pytest.fixture(params=["memory", "dynamodb"])
def make_breaker(request: pytest.FixtureRequest, clock: FakeClock) -> Callable[[], CircuitBreaker]:
    """Breakers sharing one store, as containers share the state table."""
    store: BreakerStore
    if request.param == "memory":
        store = MemoryBreakerStore()
    else:
        store = DynamoBreakerStore(TABLE, request.getfixturevalue("dynamodb"))

    def make() -> CircuitBreaker:
        return CircuitBreaker("daraja", store=store, clock=clock.now)

    return make


def fail_times(breaker, n):
    for _ in range(n):
        breaker.acquire().failure()


def test_five_consecutive_failures_open_the_circuit_for_sixty_seconds(make_breaker, clock):
    breaker = make_breaker()
    fail_times(breaker, 4)
    assert breaker.state() is BreakerState.CLOSED
    fail_times(breaker, 1)
    assert breaker.state() is BreakerState.OPEN
    with pytest.raises(CircuitBreakerError) as caught:
        breaker.acquire()
    assert caught.value.retry_after_s == pytest.approx(60)
    clock.advance(59)
    with pytest.raises(CircuitBreakerError):
        breaker.acquire()


def test_a_success_resets_the_consecutive_count(make_breaker):
    breaker = make_breaker()
    fail_times(breaker, 4)
    breaker.acquire().success()
    fail_times(breaker, 4)
    assert breaker.state() is BreakerState.CLOSED


def test_half_open_lets_exactly_one_trial_through_and_its_success_closes(make_breaker, clock):
    breaker = make_breaker()
    fail_times(breaker, 5)
    clock.advance(60.5)
    assert breaker.state() is BreakerState.HALF_OPEN
    trial = breaker.acquire()
    assert trial.trial
    with pytest.raises(CircuitBreakerError):
        breaker.acquire()  # a second caller while the trial runs
    trial.success()
    assert breaker.state() is BreakerState.CLOSED
    breaker.acquire().success()


def test_a_failed_trial_reopens_for_another_sixty_seconds(make_breaker, clock):
    breaker = make_breaker()
    fail_times(breaker, 5)
    clock.advance(61)
    breaker.acquire().failure()
    assert breaker.state() is BreakerState.OPEN
    clock.advance(59)
    with pytest.raises(CircuitBreakerError):
        breaker.acquire()
    clock.advance(2)
    assert breaker.acquire().trial


def test_a_trial_without_verdict_frees_the_slot(make_breaker, clock):
    breaker = make_breaker()
    fail_times(breaker, 5)
    clock.advance(61)
    breaker.acquire().release()
    assert breaker.acquire().trial


def test_an_abandoned_trial_slot_expires(make_breaker, clock):
    breaker = make_breaker()
    fail_times(breaker, 5)
    clock.advance(61)
    breaker.acquire()  # the container dies without reporting
    with pytest.raises(CircuitBreakerError):
        breaker.acquire()
    clock.advance(31)
    assert breaker.acquire().trial


def test_state_is_shared_between_containers(make_breaker):
    container_a, container_b = make_breaker(), make_breaker()
    fail_times(container_a, 3)
    fail_times(container_b, 2)
    with pytest.raises(CircuitBreakerError):
        container_a.acquire()


def test_failures_reported_after_opening_do_not_extend_it(make_breaker, clock):
    breaker = make_breaker()
    late = [breaker.acquire() for _ in range(6)]  # six calls in flight
    for permit in late[:5]:
        permit.failure()
    clock.advance(30)
    late[5].failure()  # finished after the circuit opened
    clock.advance(31)
    assert breaker.state() is BreakerState.HALF_OPEN


def test_a_stale_success_does_not_close_an_open_circuit(make_breaker):
    breaker = make_breaker()
    slow = breaker.acquire()
    fail_times(breaker, 5)
    slow.success()
    assert breaker.state() is BreakerState.OPEN


def test_breaker_item_lives_in_the_state_table(dynamodb, clock):
    breaker = CircuitBreaker.shared("daraja", TABLE, client=dynamodb, clock=clock.now)
    fail_times(breaker, 5)
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "breaker#daraja"}})["Item"]
    assert item["state"]["S"] == "open"
    assert item["open_until"]["N"] == str(int((clock.now() + 60) * 1000))
    assert int(item["expires_at"]["N"]) > clock.now()


def test_unreachable_state_store_lets_calls_through(clock):
    breaker = CircuitBreaker("daraja", store=DynamoBreakerStore("no-such-table", _broken_client()), clock=clock.now)
    permit = breaker.acquire()
    permit.failure()  # logged, not raised


def _broken_client():
    class Broken:
        def __getattr__(self, name):
            def fail(**_):
                raise ConnectionError("dynamodb unreachable")

            return fail

    return Broken()


@pytest.mark.parametrize("verdict", ["release", "success", "failure"])
def test_a_trial_that_outlived_its_claim_cannot_free_or_end_the_next_trial(make_breaker, clock, verdict):
    breaker = make_breaker()
    fail_times(breaker, 5)
    clock.advance(61)
    stale = breaker.acquire()
    clock.advance(31)  # its claim ran out: another container holds the next trial
    current = breaker.acquire()
    assert current.trial
    getattr(stale, verdict)()
    with pytest.raises(CircuitBreakerError):
        breaker.acquire()  # the slot is still the current trial's
    current.success()
    assert breaker.state() is BreakerState.CLOSED


def test_a_trial_call_is_cut_to_end_within_its_claim():
    breaker = CircuitBreaker("daraja", store=MemoryBreakerStore())
    assert 0 < breaker.max_trial_call_s < breaker.trial_seconds
