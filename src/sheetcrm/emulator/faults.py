"""The real API's limits, simulated: per-minute read and write quotas (429), latency, server
faults (500/503) and dropped connections, random with a seed or scripted one by one.

Everything can be changed while the emulator runs (``emulator.limits.fault_rate = 0.2``).
Tests need not sleep a minute: give a :class:`ManualClock` and ``advance`` it, or a short
``window``.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable

from sheetcrm.emulator.errors import ApiError, quota_exceeded, server_fault

DROP = "drop"  # close the connection without an answer, before the request is served
DROP_AFTER = "drop-after"  # serve the request (a write happens), then close without an answer
Outcome = int | str  # 429, 500, 503, DROP or DROP_AFTER


class ManualClock:
    """A clock for tests: time moves only when told to."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Limits:
    def __init__(
        self,
        read_quota: int | None = 60,
        write_quota: int | None = 60,
        window: float = 60.0,
        latency_ms: float = 0.0,
        fault_rate: float = 0.0,
        drop_rate: float = 0.0,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.read_quota, self.write_quota, self.window = read_quota, write_quota, window
        self.latency_ms = latency_ms
        self.fault_rate, self.drop_rate = fault_rate, drop_rate
        self.clock = clock
        self.rng = random.Random(seed)
        self._used: dict[str, deque[float]] = {"read": deque(), "write": deque()}
        self._scripted: deque[Outcome] = deque()
        self._lock = threading.Lock()

    def inject(self, *outcomes: Outcome) -> None:
        """What the next requests get, in order, whatever the rates: e.g.
        ``inject(503, DROP, 429)`` fails the next three; the fourth is served."""
        for outcome in outcomes:
            if outcome not in (429, 500, 503, DROP, DROP_AFTER):
                raise ValueError(f"cannot inject {outcome!r}")
        with self._lock:
            self._scripted.extend(outcomes)

    def clear_injected(self) -> None:
        """Forget the outcomes injected but not yet served."""
        with self._lock:
            self._scripted.clear()

    def reseed(self, seed: int) -> None:
        with self._lock:
            self.rng.seed(seed)

    def reset_quota(self) -> None:
        with self._lock:
            for used in self._used.values():
                used.clear()

    def delay(self) -> None:
        if self.latency_ms > 0:
            time.sleep(self.latency_ms / 1000)

    def admit(self, kind: str) -> ApiError | str | None:
        """The fate of a request of this kind ("read" or "write"): None to serve it, an
        error to answer, or DROP / DROP_AFTER. Admitted requests count against the quota."""
        with self._lock:
            if self._scripted:
                outcome = self._scripted.popleft()
                if outcome == 429:
                    return quota_exceeded(kind, self._quota(kind) or 60)
                return server_fault(outcome) if isinstance(outcome, int) else outcome
            if self.drop_rate and self.rng.random() < self.drop_rate:
                return DROP
            if self.fault_rate and self.rng.random() < self.fault_rate:
                return server_fault(self.rng.choice((500, 503)))
            return self._take_quota(kind)

    def _quota(self, kind: str) -> int | None:
        return self.read_quota if kind == "read" else self.write_quota

    def _take_quota(self, kind: str) -> ApiError | None:
        now, used, limit = self.clock(), self._used[kind], self._quota(kind)
        while used and used[0] <= now - self.window:
            used.popleft()
        if limit is not None and len(used) >= limit:
            return quota_exceeded(kind, limit)
        used.append(now)
        return None
