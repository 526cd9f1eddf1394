"""The worker's `DeadlineWheel` on a real asyncio loop (short granularity), alone and under real
`Connection`s (test_drivers' fake transport): never early, at most one bucket late, in deadline
order, re-filed when moved later, forgotten when removed, a loop timer only while something waits."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from test_drivers import Harness, request

from asgiserver.server._drivers.base import KEEPALIVE_TIMER, NO_TIMER
from asgiserver.server._net.deadlines import EARLY_TOLERANCE, NOT_FILED, DeadlineWheel
from asgiserver.server._process.worker import new_loop_factory

GRANULARITY = 0.01
BOUND = 10.0  # seconds any wait may take on a loaded machine before the test fails


class Probe:
    """A wheel entry that records when it is reached, and files itself again if its deadline has
    moved later (what `Connection` does)."""

    def __init__(self, wheel: DeadlineWheel, deadline: float, log: list[Probe]) -> None:
        self.wheel = wheel
        self.deadline = deadline
        self.filed_at = NOT_FILED
        self.log = log
        self.reached: list[float] = []  # the `now` of every visit
        self.fired_at: float | None = None  # the loop time when it fired

    def deadline_reached(self, now: float) -> None:
        self.reached.append(now)
        if self.deadline - now > EARLY_TOLERANCE:
            self.wheel.file(self)
            return
        self.fired_at = self.wheel._loop.time()
        self.log.append(self)


Runner = Callable[[Callable[[asyncio.AbstractEventLoop], Awaitable[None]]], None]


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Runner:
    """Runs a test body on a new loop of each kind the server uses (`--loop`)."""
    loop_factory = new_loop_factory(request.param)

    def run(test: Callable[[asyncio.AbstractEventLoop], Awaitable[None]]) -> None:
        async def main() -> None:
            await test(asyncio.get_running_loop())

        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(main())

    return run


async def until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(GRANULARITY / 2)

    await asyncio.wait_for(poll(), BOUND)


def test_bucket_comes_after_the_deadline_and_within_one_granularity(run: Runner) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        wheel = DeadlineWheel(loop, GRANULARITY)
        rng = random.Random(7)
        probes = [Probe(wheel, loop.time() + rng.uniform(0, 1000), []) for _ in range(5000)]
        probes += [Probe(wheel, step * GRANULARITY, []) for step in range(10**6, 10**6 + 100)]
        for probe in probes:
            wheel.file(probe)
            assert probe.deadline < probe.filed_at <= probe.deadline + GRANULARITY * 1.000001
        wheel.stop()

    run(body)


def test_fires_never_early_at_its_bucket_in_deadline_order(run: Runner) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        wheel = DeadlineWheel(loop, GRANULARITY)
        log: list[Probe] = []
        start = loop.time()
        # Several per bucket, filed out of order.
        offsets = [0.045, 0.002, 0.031, 0.0035, 0.03, 0.001, 0.06, 0.0305]
        probes = [Probe(wheel, start + offset, log) for offset in offsets]
        for probe in probes:
            wheel.file(probe)
        buckets = {probe: probe.filed_at for probe in probes}
        await until(lambda: len(log) == len(probes))
        assert log == sorted(probes, key=lambda probe: probe.deadline)
        for probe in probes:
            assert probe.reached == [probe.reached[0]]  # reached once: never before its time
            assert probe.fired_at is not None
            assert probe.fired_at >= probe.deadline - EARLY_TOLERANCE
            assert probe.reached[0] >= buckets[probe] - EARLY_TOLERANCE  # not before its bucket
        assert not wheel.ticking and len(wheel) == 0

    run(body)


def test_the_loop_timer_is_set_for_the_earliest_bucket_only_while_one_is_filled(
    run: Runner,
) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        wheel = DeadlineWheel(loop, GRANULARITY)
        assert not wheel.ticking  # an idle worker wakes for nothing
        log: list[Probe] = []
        late = Probe(wheel, loop.time() + 0.3, log)
        wheel.file(late)
        # The time the wheel set its timer for (uvloop's handles round to milliseconds and, for
        # under half a millisecond, are not timer handles at all: they have no when()).
        assert wheel.ticking and wheel._timer is not None
        assert wheel._timer_at == late.filed_at
        early = Probe(wheel, loop.time() + 0.02, log)
        wheel.file(early)
        assert wheel._timer_at == early.filed_at  # at most one bucket late, not the next one
        await until(lambda: len(log) >= 1)
        assert log[0] is early
        if len(log) == 1:  # (unless the loop stalled past both)
            assert wheel.ticking and wheel._timer_at == late.filed_at
        await until(lambda: len(log) == 2)
        assert not wheel.ticking

    run(body)


def test_a_deadline_moved_later_is_filed_again_not_fired(run: Runner) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        wheel = DeadlineWheel(loop, GRANULARITY)
        log: list[Probe] = []
        probe = Probe(wheel, loop.time() + 0.02, log)
        wheel.file(probe)
        first_bucket = probe.filed_at
        probe.deadline += 0.1  # lazily: it stays in its bucket (Connection.arm files nothing)
        await until(lambda: bool(probe.reached))
        if probe.reached[0] < probe.deadline - EARLY_TOLERANCE:  # (unless the loop stalled)
            assert log == [] and probe.filed_at > first_bucket and wheel.ticking
        await until(lambda: bool(log))
        assert probe.fired_at is not None and probe.fired_at >= probe.deadline - EARLY_TOLERANCE
        assert len(probe.reached) == (
            2 if probe.reached[0] < probe.deadline - EARLY_TOLERANCE else 1
        )

    run(body)


def test_a_deadline_moved_earlier_moves_to_its_bucket(run: Runner) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        wheel = DeadlineWheel(loop, GRANULARITY)
        log: list[Probe] = []
        probe = Probe(wheel, loop.time() + 5.0, log)
        wheel.file(probe)
        probe.deadline = loop.time() + 0.02
        wheel.file(probe)
        assert probe.filed_at <= probe.deadline + GRANULARITY * 1.000001
        assert len(wheel) == 1 and len(wheel._buckets) == 1
        await until(lambda: bool(log))
        assert probe.reached == [probe.reached[0]] and not wheel.ticking

    run(body)


def test_discarded_entries_are_forgotten_and_the_timer_stops_with_the_last(run: Runner) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        wheel = DeadlineWheel(loop, GRANULARITY)
        log: list[Probe] = []
        probes = [Probe(wheel, loop.time() + 0.01 * n, log) for n in range(1, 4)]
        for probe in probes:
            wheel.file(probe)
        keep = Probe(wheel, loop.time() + 0.05, log)
        wheel.file(keep)
        for probe in probes:
            wheel.discard(probe)
            assert probe.filed_at == NOT_FILED
        assert len(wheel) == 1 and wheel.ticking
        wheel.discard(keep)
        assert len(wheel) == 0 and not wheel.ticking and wheel._dues == []
        await asyncio.sleep(0.1)
        assert log == [] and all(not probe.reached for probe in [*probes, keep])

    run(body)


def test_buckets_emptied_and_filled_again_are_queued_once(run: Runner) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        wheel = DeadlineWheel(loop, GRANULARITY)
        log: list[Probe] = []
        wheel.file(Probe(wheel, loop.time() + 5.0, log))  # a long-lived connection keeps it ticking
        deadline = loop.time() + 1.0
        for _ in range(1000):  # short connections: filed, then closed
            probe = Probe(wheel, deadline, log)
            wheel.file(probe)
            wheel.discard(probe)
        assert len(wheel) == 1 and len(wheel._dues) == 2
        wheel.stop()

    run(body)


def test_many_entries_each_fire_once_in_order(run: Runner) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        wheel = DeadlineWheel(loop, GRANULARITY)
        log: list[Probe] = []
        rng = random.Random(11)
        start = loop.time()
        probes = [Probe(wheel, start + rng.uniform(0.0, 0.3), log) for _ in range(3000)]
        for probe in probes:
            wheel.file(probe)
        dropped = probes[::3]
        for probe in dropped:
            wheel.discard(probe)
        moved = probes[1::3]
        for probe in moved:
            probe.deadline += 0.05
        await until(lambda: len(log) == len(probes) - len(dropped))
        # In deadline order, within EARLY_TOLERANCE: when a loaded loop runs a bucket tens of ms
        # late, a moved entry visited there may be due within the tolerance and fire at once,
        # ahead of an entry whose deadline is a little earlier but whose bucket has not come.
        for earlier, later in itertools.pairwise(log):
            assert later.deadline >= earlier.deadline - EARLY_TOLERANCE
        assert {id(probe) for probe in log} == {id(probe) for probe in probes[1::3] + probes[2::3]}
        for probe in log:
            assert probe.fired_at is not None
            assert probe.fired_at >= probe.deadline - EARLY_TOLERANCE
        assert not wheel.ticking and len(wheel) == 0

    run(body)


def test_a_failing_entry_is_reported_and_the_others_still_fire(run: Runner) -> None:
    class Failing(Probe):
        def deadline_reached(self, now: float) -> None:
            raise RuntimeError("boom")

    async def body(loop: asyncio.AbstractEventLoop) -> None:
        reported: list[dict[str, Any]] = []
        loop.set_exception_handler(lambda _loop, context: reported.append(context))
        wheel = DeadlineWheel(loop, GRANULARITY)
        log: list[Probe] = []
        deadline = loop.time() + 0.02
        failing = Failing(wheel, deadline, log)
        after = Probe(wheel, deadline + 0.001, log)
        wheel.file(failing)
        wheel.file(after)
        await until(lambda: bool(log))
        assert log == [after] and not wheel.ticking
        assert [str(context["exception"]) for context in reported] == ["boom"]

    run(body)


def test_stop_cancels_the_timer_and_nothing_fires_after(run: Runner) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        wheel = DeadlineWheel(loop, GRANULARITY)
        log: list[Probe] = []
        probe = Probe(wheel, loop.time() + 0.01, log)
        wheel.file(probe)
        timer = wheel._timer
        wheel.stop()
        assert timer is not None and timer.cancelled()
        assert not wheel.ticking and len(wheel) == 0 and probe.filed_at == NOT_FILED
        wheel.file(Probe(wheel, loop.time() + 0.01, log))
        assert not wheel.ticking
        await asyncio.sleep(0.05)
        assert log == []

    run(body)


def test_call_later_runs_once_never_early_and_a_cancelled_one_never(run: Runner) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        wheel = DeadlineWheel(loop, GRANULARITY)
        ran: list[tuple[str, float]] = []
        start = loop.time()
        timers = {
            name: wheel.call_later(delay, lambda name=name: ran.append((name, loop.time())))
            for name, delay in [("b", 0.03), ("a", 0.011), ("cancelled", 0.02), ("c", 0.031)]
        }
        timers["cancelled"].cancel()
        assert timers["cancelled"].cancelled and len(wheel) == 3
        timers["cancelled"].cancel()  # twice is harmless
        await until(lambda: len(ran) == 3)
        assert [name for name, _ in ran] == ["a", "b", "c"]
        for name, when in ran:
            assert when >= timers[name].deadline - EARLY_TOLERANCE
            assert timers[name].cancelled  # run: cancelling it now does nothing
            timers[name].cancel()
        assert timers["a"].deadline == pytest.approx(start + 0.011, abs=0.005)
        await asyncio.sleep(0.05)
        assert len(ran) == 3 and not wheel.ticking

    run(body)


def test_callbacks_run_in_the_wheels_context_not_the_arming_tasks() -> None:
    variable: contextvars.ContextVar[str] = contextvars.ContextVar("variable", default="worker")

    async def body() -> None:
        loop = asyncio.get_running_loop()
        wheel = DeadlineWheel(loop, GRANULARITY)
        seen: list[str] = []

        async def application() -> None:
            variable.set("application")
            wheel.call_later(0.01, lambda: seen.append(variable.get()))

        await asyncio.create_task(application())
        await until(lambda: bool(seen))
        assert seen == ["worker"]

    asyncio.run(body())


# ---- real connections --------------------------------------------------------------------------


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hi"})


def test_a_lost_connection_leaves_the_wheel(run: Runner) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        harnesses = [Harness("http", hello) for _ in range(50)]
        # Every connection of a worker shares one wheel: each is filed (its head deadline).
        wheels = {id(harness.state.deadlines) for harness in harnesses}
        assert len(wheels) == 50  # (one worker state per harness here)
        for harness in harnesses:
            wheel = harness.state.deadlines
            assert len(wheel) == 1 and wheel.ticking
            assert harness.connection.filed_at != NOT_FILED
            harness.transport.close()
            harness.connection.connection_lost(None)
            assert len(wheel) == 0 and not wheel.ticking
            assert harness.connection.filed_at == NOT_FILED
            await harness.finish()

    run(body)


def test_worker_stop_cancels_the_wheels_timer(run: Runner) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        harness = Harness("http", hello)
        timer = harness.state.deadlines._timer
        assert timer is not None
        harness.state.stop_timers()
        assert timer.cancelled() and not harness.state.deadlines.ticking
        await harness.finish()

    run(body)


@pytest.mark.parametrize("moved", [False, True])
def test_keep_alive_deadline_closes_an_idle_connection_never_early(
    run: Runner, moved: bool
) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        harness = Harness("http", hello, timeout_keep_alive=0.03)
        connection = harness.connection
        harness.feed(request("http"))
        await until(lambda: connection.timer_kind == KEEPALIVE_TIMER)
        assert b"hi" in harness.transport.out and not harness.transport.closed
        if moved:
            bucket = connection.filed_at
            connection.arm(KEEPALIVE_TIMER, 0.12)  # later: it stays filed where it was
            assert connection.filed_at == bucket
        deadline = connection.deadline
        await until(lambda: harness.transport.closed)
        assert loop.time() >= deadline - EARLY_TOLERANCE
        assert connection.timer_kind == NO_TIMER and len(harness.state.deadlines) == 0
        await harness.finish()

    run(body)


def test_an_earlier_deadline_moves_the_connection_a_later_one_leaves_it(run: Runner) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        harness = Harness("http", hello, timeout_keep_alive=60.0, timeout_request_head=60.0)
        connection = harness.connection
        harness.feed(request("http"))
        await until(lambda: connection.timer_kind == KEEPALIVE_TIMER)
        head_bucket = connection.filed_at  # filed for the head deadline (60 s), kept for keep-alive
        connection.arm(KEEPALIVE_TIMER, 0.5)
        assert connection.deadline < connection.filed_at < head_bucket
        assert connection.filed_at <= connection.deadline + 0.05 * 1.000001
        assert len(harness.state.deadlines) == 1
        await harness.finish()

    run(body)
