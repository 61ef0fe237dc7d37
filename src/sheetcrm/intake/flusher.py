"""Move web-form submissions from the outbox into the sheet: claim, check, plan, append, mark.

1. claim a batch of due submissions;
2. read the sheet, and mark done every submission whose key its Submission ID column
   already holds, on Leads for a web-form lead, on Activities for a posted touch (a crash
   after the append but before the mark cannot make a duplicate);
3. turn the rest into leads with the sheet's current form mapping, scoring and routing,
   planned from the rows they depend on only (append_plan.py);
4. append them in one write (the sheet's own rows are left to the periodic sync);
5. mark them done.
While the sheet is unreachable or over quota, the batch goes back to wait (bounded,
jittered backoff); a submission that can never become a row goes to the dead letters.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

from sheetcrm.backends.apply import verify
from sheetcrm.backends.base import LeaseHeldError, SheetBackend, StaleSnapshotError
from sheetcrm.backends.notices import Notices
from sheetcrm.engine.activity_tab import KEY_COLUMN, activity_keys, append_activities
from sheetcrm.engine.changes import Changes
from sheetcrm.engine.config import parse_config
from sheetcrm.engine.plan import resolve
from sheetcrm.engine.schema import ACTIVITIES, HISTORY, LEADS
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.engine.validation import Memo
from sheetcrm.errors import BackendError
from sheetcrm.intake.activity import ACTIVITY
from sheetcrm.intake.append_plan import plan_appends
from sheetcrm.intake.batch import Arrival, plan_intake
from sheetcrm.intake.fields import lead_record
from sheetcrm.intake.outbox import PENDING, Entry, Outbox, backoff
from sheetcrm.intake.submission import Submission
from sheetcrm.intake.waiting import waiting

SHEET_BACKOFF = (2.0, 30.0)  # seconds: the first wait after the sheet failed, and the most
GIVE_UP_AFTER = 5
"""Failures of our own code (not the sheet's) after which a batch goes to the dead letters:
visible in ``sheetcrm outbox list`` and replayable once fixed. The sheet being unreachable
never counts: those submissions wait for as long as it takes."""


@dataclass
class FlushReport:
    claimed: int = 0
    appended: int = 0
    already: int = 0  # found in the sheet already: a crash came between append and mark
    waiting: int = 0  # put back for a later try
    dead: int = 0
    moved: int = 0  # cells a person's sort put on another lead mid-write; put back
    error: str = ""
    busy: bool = False  # the error is the sheet held by another sync: they wait their turn
    lead_ids: dict[str, str] = field(default_factory=dict)
    activities: int = 0  # posted touches appended to the Activities tab
    rows: int = 0  # the Leads rows the sheet had when read: how large the next batch can be

    def as_log(self) -> dict[str, object]:
        fields = asdict(self)
        fields["lead_ids"] = sorted(self.lead_ids.values())  # IDs only: no personal data
        return fields


def flush(
    outbox: Outbox,
    backend: SheetBackend,
    clock: Callable[[], datetime],
    worker: str,
    batch: int = 1000,
    memo: Memo | None = None,
    attempts: int = 3,
    sheet_failures: int = 0,
    notices: Notices | None = None,
) -> FlushReport:
    """One round: at most ``batch`` submissions from the outbox into the sheet.
    ``sheet_failures``: how many flushes in a row the sheet failed before this one; when it
    fails again, the batch waits a backoff that grows with that count (the sheet's, not each
    submission's own tries), so that every waiting submission is tried soon after it is back.
    With ``notices``, the notifications the write plans (a web lead routed to its owner: lead
    assigned) are stored exactly once (backends/notices.py)."""
    report = FlushReport()
    now = clock()
    entries = outbox.claim(worker, now.timestamp(), batch)
    report.claimed = len(entries)
    if not entries:
        return report
    submissions: list[tuple[Entry, Submission]] = []
    touches = [e for e in entries if e.source == ACTIVITY]  # rows for the Activities tab
    for entry in entries:
        if entry.source == ACTIVITY:
            continue
        try:
            submissions.append((entry, Submission.from_json(entry.body)))
        except (ValueError, TypeError, KeyError) as exc:
            outbox.dead(entry.key, f"the stored submission cannot be read: {exc}")
            report.dead += 1
    keys = [e.key for e, _ in submissions] + [e.key for e in touches]
    try:
        with notices.writing() if notices is not None else nullcontext():
            done = _append(
                outbox,
                backend,
                submissions,
                touches,
                now,
                clock,
                worker,
                memo,
                attempts,
                report,
                notices,
            )
    except BackendError as exc:
        busy = isinstance(exc, LeaseHeldError)
        wait = None if busy else backoff(sheet_failures + 1, *SHEET_BACKOFF)
        outbox.later(keys, str(exc), clock().timestamp(), not busy, wait)
        report.waiting += len(keys)
        report.error = str(exc)
        report.busy = isinstance(exc, LeaseHeldError)
        return report
    except Exception as exc:  # a bug, not the sheet: the batch waits, and is set aside at last
        report.error = f"unexpected {type(exc).__name__} while adding web-form leads"
        outbox.later(keys, report.error, clock().timestamp())
        for entry, _ in submissions:
            if entry.attempts + 1 >= GIVE_UP_AFTER:
                outbox.dead(entry.key, f"{report.error}, {GIVE_UP_AFTER} times")
                report.dead += 1
            else:
                report.waiting += 1
        return report
    outbox.done(done, clock().timestamp())
    return report


def _append(
    outbox: Outbox,
    backend: SheetBackend,
    submissions: list[tuple[Entry, Submission]],
    touches: list[Entry],
    now: datetime,
    clock: Callable[[], datetime],
    worker: str,
    memo: Memo | None,
    attempts: int,
    report: FlushReport,
    notices: Notices | None,
) -> dict[str, str]:
    """Append what the sheet lacks; key -> Lead ID of every submission now in the sheet
    (and "" for each posted touch, appended to Activities in the same write)."""
    # the memo's texts, as a sync's read shares them: a cell still as it was is read as the
    # string the memo keeps (backends/apply.py sync_once)
    snapshot = backend.read(memo.texts() if memo is not None else None)
    with backend.lease(worker, clock()):
        if notices is not None:
            notices.settle(snapshot)
        for _attempt in range(attempts):
            config = parse_config(snapshot)
            leads = snapshot.table(LEADS.name)
            report.rows = len(leads.rows)
            arrivals = []
            for entry, submission in submissions:
                try:
                    record = lead_record(submission, config.forms, config.settings, leads.header)
                except Exception as exc:  # one bad submission must not hold up the rest
                    outbox.dead(entry.key, f"cannot turn it into a lead: {exc!r}")
                    report.dead += 1
                    continue
                received = datetime.fromtimestamp(entry.received_at, UTC)
                arrivals.append(Arrival(entry.key, record, received))
            mapped = {a.key for a in arrivals}
            submissions = [(e, s) for e, s in submissions if e.key in mapped]
            # the new rows alone, from the rows they depend on: the sheet's own rows are the
            # periodic sync's (issue 21: a whole plan cost a sync's memory at every flush)
            # (the whole plan rewrites Problems: what waits stays said, as a sync says it)
            intake = plan_appends(snapshot, arrivals, now, memo) or plan_intake(
                snapshot, arrivals, now, memo, waiting=waiting(outbox.db, now.timestamp())
            )
            if intake.blocked:
                raise BackendError(f"cannot add web-form leads: {intake.blocked}")
            if not intake.plan.writes:  # new rows only: no row of Leads or History is read
                # again, nor by the landing check (~50 MB at 100,000 leads, held through the
                # write and its check)
                snapshot, leads = _without_rows(snapshot, (LEADS.name, HISTORY.name)), Table([])
            changes = resolve(intake.plan, snapshot).changes
            landed = activity_keys(snapshot.get(ACTIVITIES.name))
            fresh = [e for e in touches if e.key not in landed]
            _add_touches(changes, snapshot, fresh)
            noting = notices if intake.plan.notifications else None
            if noting is not None:
                noting.hold(intake.plan, set(intake.lead_ids.values()))
            try:
                backend.write(changes)
            except StaleSnapshotError:  # a person edited since the read: plan again
                if noting is not None:
                    noting.drop(intake.plan)  # refused whole: nothing of it landed
                snapshot = backend.read(memo.texts() if memo is not None else None)
                continue
            # any other failure leaves them held, for the next write's settle
            if noting is not None:
                noting.release(intake.plan)
            report.moved = verify(backend, snapshot, changes, intake.plan.stamp).moved
            report.appended = len(intake.lead_ids)
            report.already = len(intake.already) + len(touches) - len(fresh)
            report.lead_ids = dict(intake.lead_ids)
            report.activities = len(fresh)
            return {**intake.already, **intake.lead_ids, **{e.key: "" for e in touches}}
    raise BackendError(
        f"{backend.location} kept changing while web-form leads were being added",
        "they wait in the outbox and are tried again shortly",
    )


def _without_rows(snapshot: Snapshot, names: tuple[str, ...]) -> Snapshot:
    """``snapshot`` with the tabs ``names`` reduced to their header."""
    tabs = {n: Table(t.header, []) if n in names else t for n, t in snapshot.tabs.items()}
    return replace(snapshot, tabs=tabs)


def _add_touches(changes: Changes, snapshot: Snapshot, touches: list[Entry]) -> None:
    """Posted touches as Activities rows, in the tab's header order, each with its key in
    Submission ID (added at the right of a tab from before it); the tab is created with them
    on a sheet from before it. A touch whose answers were erased adds nothing."""
    append_activities(
        [{**json.loads(e.body), KEY_COLUMN: e.key} for e in touches if e.body], snapshot, changes
    )


def describe(entry: Entry) -> dict[str, object]:
    """An outbox entry for ``sheetcrm outbox list``: no answers, only what identifies it."""
    return {
        "key": entry.key,
        "source": entry.source,
        "state": entry.state,
        "received_at": datetime.fromtimestamp(entry.received_at, UTC).isoformat(timespec="seconds"),
        "attempts": entry.attempts,
        # when a pending one is tried next: the time of its backoff, or already past
        "next_try_at": (
            datetime.fromtimestamp(entry.next_try_at, UTC).isoformat(timespec="seconds")
            if entry.state == PENDING
            else None
        ),
        "lead_id": entry.lead_id,
        "last_error": entry.last_error,
        "answers_erased": not entry.body,  # by the retention, or at the person's request
    }
