"""`DeadlineWheel`: one worker's coarse timer for every connection deadline.

A loop timer per connection (an asyncio/uvloop `TimerHandle`, plus libuv's timer under uvloop) is
the largest single thing an idle connection holds. Here the deadlines of all connections of a worker
share one loop timer instead: each entry is filed in the bucket of the `GRANULARITY` step that
follows its deadline, and the one timer wakes at the earliest non-empty bucket. An entry costs a set
slot and a few attributes of its own (`Filed`).

The guarantees the drivers rely on (what a timer per connection gave):
  - a deadline never fires early: a bucket is due after every deadline filed in it, and an entry
    whose deadline moved later while it sat in a bucket is filed again, not fired;
  - it fires at most one `GRANULARITY` after its deadline (plus the loop's own latency);
  - what reaches its deadline in the same wake-up fires in deadline order;
  - an entry removed (`discard`) is forgotten at once: no closed connection is kept alive;
  - the loop timer exists only while a bucket holds something: an idle worker has no wake-ups.

Moving a deadline later is free: the entry stays where it is and is filed again when its bucket comes
(a connection's keep-alive deadline moves on every request). Only an earlier deadline moves it.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import math
from collections.abc import Callable
from operator import attrgetter
from typing import Protocol

# 50 ms: the server's deadlines are seconds (10 s head, 75 s keep-alive, 2 s lingering close, 20 s
# WebSocket pings, 5 s close handshake), so a deadline is at most 2.5% late on the shortest; and a
# busy worker wakes at most 20 times a second for all its connections together.
GRANULARITY = 0.05
NOT_FILED = math.inf  # `Filed.filed_at` of an entry in no bucket
# A loop may run a timer a little before its time (libuv counts milliseconds): within this, a
# deadline counts as reached, as the connection's own timer did before the wheel.
EARLY_TOLERANCE = 0.001

_by_deadline = attrgetter("deadline")


class Filed(Protocol):
    """What the wheel holds: something with a deadline, told when it is reached."""

    deadline: float  # loop time
    filed_at: float  # the time of the bucket it is in, NOT_FILED when in none (the wheel sets it)

    def deadline_reached(self, now: float) -> None:
        """The bucket came (`now` >= deadline - EARLY_TOLERANCE, unless the deadline moved later;
        then it is up to the entry to `file` itself again)."""
        ...


class DeadlineWheel:
    """The buckets of one event loop's deadlines (one per worker: `WorkerState.deadlines`)."""

    __slots__ = (
        "_buckets",
        "_context",
        "_dues",
        "_granularity",
        "_loop",
        "_queued",
        "_stopped",
        "_ticking",
        "_timer",
        "_timer_at",
        "_to_steps",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, granularity: float = GRANULARITY) -> None:
        self._loop = loop
        # The wheel runs in the worker's context, whoever's arm() happened to set its timer: a loop
        # timer would carry along the context of the (application) task that set it.
        self._context = contextvars.copy_context()
        self._granularity = granularity
        self._to_steps = 1.0 / granularity
        self._buckets: dict[float, set[Filed]] = {}  # bucket time -> what is filed there
        self._dues: list[float] = []  # a heap of bucket times; may hold some already emptied
        # What `_dues` holds: a bucket emptied and filled again (connections coming and going) is
        # queued once, so the heap stays as small as the number of bucket times ahead.
        self._queued: set[float] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = NOT_FILED
        self._ticking = False
        self._stopped = False

    @property
    def ticking(self) -> bool:
        """The loop timer is set (there is something in a bucket)."""
        return self._timer is not None

    def __len__(self) -> int:
        """How many entries are filed."""
        return sum(len(bucket) for bucket in self._buckets.values())

    def file(self, entry: Filed) -> None:
        """File `entry` for its `deadline`, moving it if it sits in a later bucket. Callers check
        `entry.deadline < entry.filed_at` first: a deadline that moved later needs nothing now."""
        if self._stopped:
            return
        deadline = entry.deadline
        step = math.floor(deadline * self._to_steps) + 1
        due = step * self._granularity
        if due <= deadline:  # rounded down by a last bit: the bucket must come after the deadline
            due = (step + 1) * self._granularity
        filed_at = entry.filed_at
        if filed_at == due:
            return
        if filed_at != NOT_FILED:
            self.discard(entry)
        bucket = self._buckets.get(due)
        if bucket is None:
            self._buckets[due] = {entry}
            queued = self._queued
            if due not in queued:
                queued.add(due)
                heapq.heappush(self._dues, due)
            if due < self._timer_at and not self._ticking:
                timer = self._timer
                if timer is not None:
                    timer.cancel()
                self._timer = self._loop.call_at(due, self._tick, context=self._context)
                self._timer_at = due
        else:
            bucket.add(entry)
        entry.filed_at = due

    def discard(self, entry: Filed) -> None:
        """Take `entry` out of its bucket (a closed connection, a cancelled timer)."""
        buckets = self._buckets
        due = entry.filed_at
        entry.filed_at = NOT_FILED
        bucket = buckets.get(due)
        if bucket is None:
            return
        bucket.discard(entry)
        if not bucket:
            del buckets[due]
            if not buckets and not self._ticking:
                self._cancel_timer()
                self._dues.clear()
                self._queued.clear()

    def call_later(self, seconds: float, callback: Callable[[], None]) -> WheelTimer:
        """`loop.call_later` at this wheel's granularity, for timers of seconds (a WebSocket's
        pings and close handshake). The callback runs in the worker's context."""
        timer = WheelTimer(self, self._loop.time() + seconds, callback)
        self.file(timer)
        return timer

    def stop(self) -> None:
        """The worker stops: no deadline fires any more (its connections are closed or aborted)."""
        self._stopped = True
        self._cancel_timer()
        for bucket in self._buckets.values():
            for entry in bucket:
                entry.filed_at = NOT_FILED
        self._buckets.clear()
        self._dues.clear()
        self._queued.clear()

    def _cancel_timer(self) -> None:
        timer = self._timer
        if timer is not None:
            timer.cancel()
            self._timer = None
        self._timer_at = NOT_FILED

    def _tick(self) -> None:
        self._timer = None
        self._timer_at = NOT_FILED
        self._ticking = True  # entries filed meanwhile wait for the timer set at the end
        try:
            now = self._loop.time()
            cutoff = now + EARLY_TOLERANCE
            buckets = self._buckets
            dues = self._dues
            queued = self._queued
            reached: list[Filed] = []
            while dues and dues[0] <= cutoff:
                due = heapq.heappop(dues)
                queued.discard(due)
                bucket = buckets.pop(due, None)
                if bucket:
                    for entry in bucket:
                        entry.filed_at = NOT_FILED
                    reached.extend(bucket)
            if len(reached) > 1:
                reached.sort(key=_by_deadline)
            for entry in reached:
                try:
                    entry.deadline_reached(now)
                except Exception as exc:  # one failing entry must not lose the others
                    self._loop.call_exception_handler(
                        {"message": "Exception in a deadline callback", "exception": exc}
                    )
        finally:
            self._ticking = False
            self._set_timer()

    def _set_timer(self) -> None:
        """The timer for the earliest bucket that still holds something, if any."""
        buckets = self._buckets
        dues = self._dues
        while dues and dues[0] not in buckets:
            self._queued.discard(heapq.heappop(dues))
        if dues and not self._stopped:
            due = dues[0]
            self._timer = self._loop.call_at(due, self._tick, context=self._context)
            self._timer_at = due


class WheelTimer:
    """A one-shot callback filed in a `DeadlineWheel` (`Connection.call_later`): the drivers'
    `Cancellable`, smaller than a loop `TimerHandle`."""

    __slots__ = ("_callback", "_wheel", "deadline", "filed_at")

    def __init__(self, wheel: DeadlineWheel, deadline: float, callback: Callable[[], None]) -> None:
        self._wheel = wheel
        self._callback: Callable[[], None] | None = callback
        self.deadline = deadline
        self.filed_at = NOT_FILED

    @property
    def cancelled(self) -> bool:
        """Cancelled, or already run."""
        return self._callback is None

    def cancel(self) -> None:
        self._callback = None  # drops what the callback holds, even before its bucket comes
        if self.filed_at != NOT_FILED:
            self._wheel.discard(self)

    def deadline_reached(self, now: float) -> None:
        callback = self._callback
        if callback is None:
            return
        if self.deadline - now > EARLY_TOLERANCE:
            self._wheel.file(self)
            return
        self._callback = None
        callback()
