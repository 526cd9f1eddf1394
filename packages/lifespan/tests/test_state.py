"""The transition table, walked completely (aesthetics 2.2), and hypothesis properties over
random sequences of runner and app inputs, including a stateful RuleBasedStateMachine."""

from __future__ import annotations

import collections
import pathlib
import re
from collections.abc import Callable

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from asgiserver.lifespan import (
    ConnectionFailed,
    Event,
    Lifespan,
    LocalProtocolError,
    Mode,
    ShutdownComplete,
    ShutdownFailed,
    StartupComplete,
    StartupFailed,
    State,
    Unsupported,
)
from asgiserver.lifespan._state import APP_END, TABLES, TERMINAL, Effect, Input

README = pathlib.Path(__file__).parent.parent / "README.md"

# One concrete call per table input.
MESSAGES: dict[Input, object] = {
    Input.SENT_STARTUP_COMPLETE: {"type": "lifespan.startup.complete"},
    Input.SENT_STARTUP_FAILED: {"type": "lifespan.startup.failed", "message": "m"},
    Input.SENT_SHUTDOWN_COMPLETE: {"type": "lifespan.shutdown.complete"},
    Input.SENT_SHUTDOWN_FAILED: {"type": "lifespan.shutdown.failed", "message": "m"},
    Input.SENT_INVALID: {"type": "lifespan.nonsense"},
}


def apply(m: Lifespan, received: Input) -> None:
    if received is Input.STARTUP:
        m.startup()
    elif received is Input.SHUTDOWN:
        m.shutdown()
    elif received is Input.TIMED_OUT:
        m.timed_out()
    elif received is Input.RETURNED:
        m.app_returned()
    elif received is Input.RAISED:
        m.app_raised(ValueError("v"))
    else:
        m.app_sent(MESSAGES[received])  # type: ignore[arg-type]


EVENT_OF: dict[Effect, type] = {
    Effect.STARTUP_COMPLETE: StartupComplete,
    Effect.STARTUP_FAILED: StartupFailed,
    Effect.SHUTDOWN_COMPLETE: ShutdownComplete,
    Effect.SHUTDOWN_FAILED: ShutdownFailed,
    Effect.UNSUPPORTED: Unsupported,
    Effect.CONNECTION_FAILED: ConnectionFailed,
}

REACHABLE = {
    Mode.AUTO: set(State) - {State.DISABLED},
    Mode.ON: set(State) - {State.DISABLED, State.UNSUPPORTED},
    Mode.OFF: {State.IDLE, State.DISABLED, State.STOPPED},
}


def paths(mode: Mode) -> dict[State, list[Input]]:
    """Shortest input path to every reachable state, app ends tried last so that as many
    states as possible are reached with the app still running."""
    order = [i for i in Input if i not in APP_END] + list(APP_END)
    found = {State.IDLE: list[Input]()}
    frontier = [State.IDLE]
    while frontier:
        nxt = []
        for state in frontier:
            for received in order:
                t = TABLES[mode].get((state, received))
                if t is not None and t.next not in found:
                    found[t.next] = [*found[state], received]
                    nxt.append(t.next)
        frontier = nxt
    return found


def replay(mode: Mode, path: list[Input]) -> Lifespan:
    m = Lifespan(mode)
    for received in path:
        apply(m, received)
    m.events_received()
    return m


@pytest.mark.parametrize("mode", list(Mode))
def test_every_state_reachable_and_no_dead_entries(mode: Mode) -> None:
    reachable = set(paths(mode))
    assert reachable == REACHABLE[mode]
    assert {state for state, _ in TABLES[mode]} <= reachable


CASES = [(mode, state, received) for mode in Mode for state in paths(mode) for received in Input]


@pytest.mark.parametrize(("mode", "state", "received"), CASES)
def test_walk_every_state_and_input(mode: Mode, state: State, received: Input) -> None:
    """Every (mode, state, input): the table's transition and event, or LocalProtocolError and
    no change. Nothing else is ever raised."""
    path = paths(mode)[state]
    m = replay(mode, path)
    assert m.state is state
    t = TABLES[mode].get((state, received))
    ended_twice = received in APP_END and any(i in APP_END for i in path)
    if t is None or ended_twice:
        with pytest.raises(LocalProtocolError):
            apply(m, received)
        assert m.state is state
        assert m.events_received() == []
        return
    apply(m, received)
    assert m.state is t.next
    events = m.events_received()
    if t.effect is Effect.NONE:
        assert events == []
    else:
        [event] = events
        assert type(event) is EVENT_OF[t.effect]
        if t.violation:
            assert str(getattr(event, "message", getattr(event, "error", ""))).startswith(
                "the app sent 'lifespan."
            )


@pytest.mark.parametrize("mode", list(Mode))
def test_missing_keys_are_exactly_the_documented_misuse(mode: Mode) -> None:
    """Fail closed only where the runner is at fault: server calls out of order, app input
    before startup() or in Mode.OFF, an app end reported twice (the only way to reach
    UNSUPPORTED and APP_RETURNED is an app end)."""
    server = {Input.STARTUP, Input.SHUTDOWN, Input.TIMED_OUT}
    for state in REACHABLE[mode]:
        for received in Input:
            if (state, received) in TABLES[mode] or received in server:
                continue
            if mode is Mode.OFF or state is State.IDLE:
                continue
            assert state in (State.UNSUPPORTED, State.APP_RETURNED)
            assert received in APP_END


@pytest.mark.parametrize("mode", list(Mode))
def test_terminal_states_have_no_exit(mode: Mode) -> None:
    for (state, _), t in TABLES[mode].items():
        if state in TERMINAL:
            assert t.next is state
            assert t.effect is Effect.NONE


def test_only_startup_and_shutdown_queue_a_message() -> None:
    for mode in Mode:
        for (state, received), t in TABLES[mode].items():
            if t.deliver is not None:
                assert (state, received, t.deliver) in (
                    (State.IDLE, Input.STARTUP, "lifespan.startup"),
                    (State.STARTED, Input.SHUTDOWN, "lifespan.shutdown"),
                )


# The README's state diagram is generated from the tables; regenerate it from the failure.

SHORT = {
    Input.STARTUP: "startup()",
    Input.SHUTDOWN: "shutdown()",
    Input.TIMED_OUT: "timed_out()",
    Input.SENT_STARTUP_COMPLETE: "startup.complete",
    Input.SENT_STARTUP_FAILED: "startup.failed",
    Input.SENT_SHUTDOWN_COMPLETE: "shutdown.complete",
    Input.SENT_SHUTDOWN_FAILED: "shutdown.failed",
    Input.SENT_INVALID: "invalid",
    Input.RETURNED: "returned",
    Input.RAISED: "raised",
}


def edges(mode: Mode) -> list[str]:
    grouped: dict[tuple[State, State, Effect], list[Input]] = {}
    for (state, received), t in TABLES[mode].items():
        if t.next is not state:
            grouped.setdefault((state, t.next, t.effect), []).append(received)
    lines = []
    for (state, nxt, effect), inputs in grouped.items():
        label = ", ".join(SHORT[i] for i in sorted(inputs, key=list(Input).index))
        if effect is not Effect.NONE:
            label += f" / {EVENT_OF[effect].__name__}"
        lines.append(f"{state.name} --> {nxt.name}: {label}")
    return lines


def diagram() -> str:
    def mermaid(mode: Mode) -> list[str]:
        ends = [s.name for s in sorted(REACHABLE[mode] & TERMINAL, key=list(State).index)]
        return [
            "```mermaid",
            "stateDiagram-v2",
            "    [*] --> IDLE",
            *(f"    {e}" for e in edges(mode)),
            *(f"    {name} --> [*]" for name in ends),
            "```",
        ]

    auto, on = TABLES[Mode.AUTO], TABLES[Mode.ON]
    changed = [
        f"- {state.name}, {SHORT[received]} --> {t.next.name}"
        + ("" if t.effect is Effect.NONE else f" / {EVENT_OF[t.effect].__name__}")
        for (state, received), t in on.items()
        if auto.get((state, received)) != t
    ]
    gone = sorted(REACHABLE[Mode.AUTO] - REACHABLE[Mode.ON], key=list(State).index)
    return "\n".join(
        [
            "Mode.AUTO (self-loops, i.e. discarded input and stray timers, are not drawn):",
            "",
            *mermaid(Mode.AUTO),
            "",
            "Mode.ON is the same, except:",
            "",
            *changed,
            *(f"- {state.name} is unreachable" for state in gone),
            "",
            "Mode.OFF:",
            "",
            *mermaid(Mode.OFF),
        ]
    )


def test_readme_diagram_is_generated_from_the_table() -> None:
    text = README.read_text()
    match = re.search(
        r"<!-- state-diagram:begin -->\n(.*)\n<!-- state-diagram:end -->", text, re.DOTALL
    )
    assert match, "README lacks the state-diagram markers"
    assert match.group(1) == diagram(), "regenerate:\n" + diagram()


# Hypothesis: random runs of runner and app inputs.

KNOWN = [
    "lifespan.startup.complete",
    "lifespan.startup.failed",
    "lifespan.shutdown.complete",
    "lifespan.shutdown.failed",
]


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no")


messages = st.one_of(
    st.fixed_dictionaries(
        {"type": st.sampled_from(KNOWN)},
        optional={"message": st.one_of(st.text(max_size=8), st.none()), "x": st.integers()},
    ),
    st.fixed_dictionaries(
        {"type": st.one_of(st.text(max_size=30), st.binary(max_size=4), st.integers())}
    ),
    st.dictionaries(st.text(max_size=6), st.integers(), max_size=2),
    st.one_of(st.none(), st.integers(), st.text(max_size=8), st.lists(st.integers(), max_size=2)),
)
exceptions = st.sampled_from(
    [ValueError("v"), RuntimeError(), KeyboardInterrupt(), SystemExit(1), Unprintable()]
)
Action = tuple[str, object]
actions = st.one_of(
    st.sampled_from(["startup", "shutdown", "timed_out", "receive", "returned"]).map(
        lambda name: (name, None)
    ),
    messages.map(lambda msg: ("send", msg)),
    exceptions.map(lambda exc: ("raised", exc)),
)

# Each whole run's event types, in order, match this; ConnectionFailed forces ShutdownFailed.
GRAMMAR = re.compile(
    r"(StartupComplete (ConnectionFailed (ShutdownFailed )?|(ShutdownComplete |ShutdownFailed )?)"
    r"|Unsupported (ShutdownComplete )?|StartupFailed )?"
)
STATE_AFTER: dict[type, tuple[State, ...]] = {
    StartupComplete: (State.STARTED, State.DISABLED),
    StartupFailed: (State.STARTUP_FAILED,),
    Unsupported: (State.UNSUPPORTED,),
    ConnectionFailed: (State.APP_FAILED,),
    ShutdownComplete: (State.STOPPED,),
    ShutdownFailed: (State.SHUTDOWN_FAILED,),
}


class Harness:
    """Drives one machine and checks the invariants after every call."""

    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.m = Lifespan(mode)
        self.events: list[Event] = []
        self.delivered: list[str] = []
        self.app_ended = False
        self.misuse = 0

    def do(self, action: Action) -> None:
        name, arg = action
        m = self.m
        before = m.state
        calls: dict[str, Callable[[], object]] = {
            "startup": m.startup,
            "shutdown": m.shutdown,
            "timed_out": m.timed_out,
            "receive": self.receive,
            "send": lambda: m.app_sent(arg),  # type: ignore[arg-type]
            "returned": m.app_returned,
            "raised": lambda: m.app_raised(arg),  # type: ignore[arg-type]
        }
        try:
            calls[name]()
        except LocalProtocolError:
            self.misuse += 1
            assert m.state is before
            assert m.events_received() == []
            return
        if name in ("returned", "raised"):
            self.app_ended = True
        new = m.events_received()
        assert len(new) <= 1, "one call, at most one event"
        for event in new:
            assert m.state in STATE_AFTER[type(event)], "state already reflects the event"
        if before in TERMINAL:
            assert new == [] and m.state is before
        self.events += new
        self.check()

    def receive(self) -> None:
        message = self.m.next_message()
        if message is None:
            return
        [kind] = message.values()
        assert isinstance(kind, str)
        assert message == {"type": kind}
        assert self.m.state is {"lifespan.startup": State.STARTING}.get(kind, State.STOPPING)
        assert kind not in self.delivered, "next_message() never returns a message twice"
        self.delivered.append(kind)

    def check(self) -> None:
        text = "".join(f"{type(e).__name__} " for e in self.events)
        assert GRAMMAR.fullmatch(text), text
        if self.mode is not Mode.AUTO:
            assert "Unsupported" not in text
        if self.mode is Mode.OFF:
            assert "Failed" not in text
        assert self.delivered in ([], ["lifespan.startup"], ["lifespan.shutdown"]) or (
            self.delivered == ["lifespan.startup", "lifespan.shutdown"]
        )

    def finish(self, data: st.DataObject) -> None:
        """Whatever happened, startup() + an outcome + shutdown() + an outcome ends the run."""
        m = self.m
        if m.state is State.IDLE:
            self.do(("startup", None))
        outcomes: list[Action] = [("timed_out", None), ("send", {"type": KNOWN[0]})]
        if not self.app_ended:
            outcomes += [("returned", None), ("raised", ValueError("x"))]
        if m.state is State.STARTING:
            self.do(data.draw(st.sampled_from(outcomes)))
        if m.state not in TERMINAL:
            self.do(("shutdown", None))
        outcomes[1] = ("send", {"type": KNOWN[2]})
        if m.state is State.STOPPING:
            self.do(data.draw(st.sampled_from(outcomes)))
        assert m.state in TERMINAL
        assert re.search(r"(StartupFailed|ShutdownComplete|ShutdownFailed) $", self.text())

    def text(self) -> str:
        return "".join(f"{type(e).__name__} " for e in self.events)


@given(mode=st.sampled_from(Mode), run=st.lists(actions, max_size=25), data=st.data())
@example(mode=Mode.AUTO, run=[("startup", None), ("send", Unprintable())], data=None)
def test_random_runs_stay_valid_and_always_end(
    mode: Mode, run: list[Action], data: st.DataObject | None
) -> None:
    """Random inputs only ever raise LocalProtocolError, events follow the grammar, messages
    are delivered at most once, and startup/shutdown with any outcome reach a terminal state."""
    h = Harness(mode)
    for action in run:
        h.do(action)
    if data is not None:
        h.finish(data)


@given(
    mode=st.sampled_from(Mode),
    run=st.lists(actions.filter(lambda a: a[0] != "receive"), max_size=20),
    cuts=st.lists(st.integers(0, 20), max_size=6),
)
def test_receive_timing_does_not_change_outcomes(
    mode: Mode, run: list[Action], cuts: list[int]
) -> None:
    """The analogue of split invariance: when the app calls receive() never changes which
    events come or which states are visited (only the wording of a few reasons)."""

    def trace(receives: collections.Counter[int]) -> list[tuple[State, list[type]]]:
        h = Harness(mode)
        out = []
        for n, action in enumerate(run):
            for _ in range(receives[n]):
                h.do(("receive", None))
            h.do(action)
            out.append((h.m.state, [type(e) for e in h.events]))
        return out

    assert trace(collections.Counter(cuts)) == trace(collections.Counter())


class LifespanMachine(RuleBasedStateMachine):
    """Stateful: any interleaving of runner calls and app behaviour keeps every invariant."""

    def __init__(self) -> None:
        super().__init__()
        self.h = Harness(Mode.AUTO)

    @rule(mode=st.sampled_from(Mode))
    def restart(self, mode: Mode) -> None:
        self.h = Harness(mode)

    @rule()
    def startup(self) -> None:
        self.h.do(("startup", None))

    @rule()
    def shutdown(self) -> None:
        self.h.do(("shutdown", None))

    @rule()
    def timed_out(self) -> None:
        self.h.do(("timed_out", None))

    @rule()
    def receive(self) -> None:
        self.h.do(("receive", None))

    @rule(message=messages)
    def send(self, message: object) -> None:
        self.h.do(("send", message))

    @rule()
    def returned(self) -> None:
        self.h.do(("returned", None))

    @rule(exc=exceptions)
    def raised(self, exc: BaseException) -> None:
        self.h.do(("raised", exc))

    @invariant()
    def state_is_reachable(self) -> None:
        assert self.h.m.state in REACHABLE[self.h.mode]


TestLifespanMachine = LifespanMachine.TestCase
