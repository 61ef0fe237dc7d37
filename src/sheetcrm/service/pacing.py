"""When the background work flushes the outbox: pure decisions, which the run loop
(:mod:`sheetcrm.service.tasks`) times and feeds with what the outbox says (issue 21).

A flush reads and plans the whole sheet: seconds of CPU, thousands of outbox rows claimed
and marked, and in production a read and a write that Google serves. One flush inside a
burst of webhooks took their p99 over 50 ms in 11 bursts of 12 (44-427 ms; 20-48 ms with
none: docs/benchmarks.md, issue 21, session 4), whatever its CPU priority: niced, or at
SCHED_IDLE with the Sheets stand-in at nice 19, alike. So while submissions come in fast,
flushes are held back, up to a limit on how long a submission may wait; the burst over, the
backlog goes out in flushes back to back. A steady trickle is no burst: it is flushed within
seconds, as ever. A burst longer than the hold is flushed during it, paced as before
(:func:`flush_after`).
"""

from __future__ import annotations

from dataclasses import dataclass

# The window over which arrivals are counted: no submission stored for this long, the
# burst is over, and a process below the webhooks' priority flushes back to back.
# 1 s: the backlog of a burst starts going out within a second or so of its end.
QUIET_SECONDS = 1.0


@dataclass(frozen=True)
class Pacing:
    every: float  # SHEETCRM_FLUSH_SECONDS: the least time from one flush's start to the next
    hold: float  # SHEETCRM_FLUSH_HOLD_SECONDS: the longest a due submission is held back
    burst_rate: float  # SHEETCRM_BURST_RATE: submissions a second that make a burst
    below: bool = False  # the work runs below the webhooks' CPU priority (a reniced process)

    def most(self) -> int:
        """How many arrivals in QUIET_SECONDS make a burst: the outbox need count no more."""
        return max(1, round(self.burst_rate * QUIET_SECONDS))

    def burst(self, arrived: int) -> bool:
        """Whether ``arrived`` submissions in the last QUIET_SECONDS are a burst (never,
        with a burst rate of 0: holding is then off)."""
        return self.burst_rate > 0 and arrived >= self.most()

    def holds(self, arrived: int, waited: float) -> bool:
        """Whether a flush that is due waits: a burst is on and the submission that has
        waited longest has waited less than ``hold`` (so that a long burst, or a steady
        stream over the burst rate, still reaches the sheet every ``hold`` seconds or so)."""
        return self.burst(arrived) and waited < self.hold

    def after(self, started: float, took: float, arrived: int) -> float:
        """When the next flush may start after one that started at ``started`` and took
        ``took`` seconds, with ``arrived`` submissions in the last QUIET_SECONDS: see
        :func:`flush_after`."""
        return flush_after(started, took, self.every, arrived > 0, self.below)


def until_due(pause: float, due_in: float) -> float:
    """How long the loop sleeps: ``pause``, or less when the next flush may start sooner
    (``due_in`` seconds from now), so that a backlog's flushes follow each other every
    SHEETCRM_FLUSH_SECONDS, not up to a poll later each (up to 1 s a flush, issue 21)."""
    return due_in if 0 < due_in < pause else pause


def flush_after(started: float, took: float, every: float, arriving: bool, below: bool) -> float:
    """When the next flush may start, after one that started at ``started`` and took
    ``took`` seconds: at least ``every`` from start to start (each flush costs a few write
    requests of the sheet's quota); while webhooks come in (``arriving``), or always in a
    thread beside them (not ``below`` their priority), also three times as long as the last
    one took, so that they get three quarters of the time (a flush reads and plans the whole
    sheet; the backlog waits safely in the outbox). Once they stop, a process below their
    priority flushes back to back."""
    share = 3 * took if arriving or not below else 0
    return started + max(every, share)
