"""The environment variables of the background work's flushes: how often, how many at a
time, and how they give way to a burst of webhooks (:mod:`sheetcrm.service.pacing`).
Declared as :mod:`sheetcrm.service.environment` declares the rest (and read by it): the
standard library only, here."""

from __future__ import annotations

from sheetcrm.service.variables import Variable, seconds, whole

# Submissions per flush. A flush costs 3 write requests (take the lease; History rows and the
# lease's release in one values:batchUpdate; the new leads in one values:append) whatever its
# size, and reads and re-plans the whole sheet. At 1,000 it was 3 writes per 1,000 leads, over
# issue 4's target once grid growth was counted. At 4,000, a flush every SHEETCRM_FLUSH_SECONDS
# (5) capped a drain at 800 leads a second: ~46 s for issue 21's 37,000-lead burst, whatever
# the CPU; at 8,000, eight flushes 5 s apart drained 58,000 in 40 s. 16,000 (or FLUSH_BYTES of
# answers, ~15,000 of bench/intake.py's leads) makes that four: the append is then ~6 MB and
# History's rows ~3 MB, over Google's advised 2 MB, under the 10 MB it refuses (and a write
# over that goes in parts: backends/sheets_parts.py). Only a deep outbox fills a batch: a
# flush takes what is due.
FLUSH_BATCH = 16000
# What a flush holds grows with the sheet it reads and the batch it plans: into 100,000 of the
# bench's leads (bench/flush.py, issue 21, session 7), 323 MB for 3,000 submissions, 350 MB for
# 7,300 and 361 MB for 9,322: ~6.1 KB a submission, and ~1.85 KB a lead of the sheet, over
# what the process held before. Into a large sheet the batch is cut so that a flush takes no
# more than a sync (350 MB at 100,000 leads), with a few MB to spare: ~6,500 there, the whole
# batch up to ~69,000 leads. (Session 6 fitted 240 MB of room from a probe that measured
# 338 MB where bench/flush.py measures 361 for the same tree.) A lead of the sheet costs a
# flush less than before session 6 (it plans only the new rows): a burst's drain, into a
# sheet below that, is unchanged.
FLUSH_ROOM = 225_000_000
SHEET_LEAD_BYTES = 1850
SUBMISSION_BYTES = 6100
LEAST_BATCH = 1000


def fitted_batch(batch: int, rows: int) -> int:
    """The most submissions a flush takes into a sheet of ``rows`` leads, ``batch`` at most."""
    room = (FLUSH_ROOM - rows * SHEET_LEAD_BYTES) // SUBMISSION_BYTES
    return min(batch, max(LEAST_BATCH, room))


# While webhooks come in this fast, flushes wait (service/pacing.py): with one flush inside
# issue 21's 20 s burst the intake's p99 was over 50 ms in 11 bursts of 12 (44-427 ms), with
# none 20-48 ms. A form's steady trickle is far below the rate. 30 s of hold: the bench's
# burst (3 s of warm-up, then 20 s) ends before it, while a submission of a longer burst
# still waits no more than that and one flush; at 15 s, a flush fell inside the burst every
# time (docs/benchmarks.md, issue 21, session 4).
BURST_RATE = 20
FLUSH_HOLD_SECONDS = 30.0

FLUSHING: tuple[Variable, ...] = (
    Variable(
        "SHEETCRM_FLUSH_SECONDS",
        "5",
        whole(),
        "The least time between two flushes: each costs 3 write requests of the sheet's quota.",
    ),
    Variable(
        "SHEETCRM_BURST_RATE",
        str(BURST_RATE),
        whole(),
        "Submissions a second (over the last second) that make a burst: while one is on, the "
        "background work holds its flushes back, so that they do not slow the webhooks' answers.",
    ),
    Variable(
        "SHEETCRM_FLUSH_HOLD_SECONDS",
        f"{FLUSH_HOLD_SECONDS:g}",
        seconds(600),
        "During a burst, the longest a submission waits before a flush takes it anyway; "
        "once the burst is over, the backlog is flushed back to back.",
    ),
    Variable(
        "SHEETCRM_FLUSH_BATCH",
        str(FLUSH_BATCH),
        whole(),
        "The most submissions one flush appends (fewer into a sheet of ~80,000 leads or more, "
        "so that a flush takes no more memory than a sync).",
    ),
)
