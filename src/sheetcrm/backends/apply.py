"""Writing a plan through a backend: ``apply(plan, backend)``, and ``sync_once`` (read, plan,
write under the spreadsheet's lease)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from datetime import datetime

from sheetcrm.backends.base import LeaseHeldError, SheetBackend, StaleSnapshotError
from sheetcrm.backends.notices import Notices
from sheetcrm.engine.changes import Changes
from sheetcrm.engine.landing import check_landing
from sheetcrm.engine.landing_quick import QuickCheck
from sheetcrm.engine.notifications import SentRecord
from sheetcrm.engine.plan import Plan, Resolved, resolve
from sheetcrm.engine.refused import refused_problems
from sheetcrm.engine.schema import PROBLEMS, tab_spec
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import Snapshot
from sheetcrm.engine.validation import Memo
from sheetcrm.engine.waiting import Waiting
from sheetcrm.errors import (
    BackendError,
    SheetCRMError,
    SheetLockedError,
    SheetUnreachableError,
    UnsafeWorkbookError,
)


@dataclass
class ApplyReport:
    cells: int = 0
    appended: int = 0
    conflicts: int = 0
    attempts: int = 0
    written: bool = False
    # tabs rewritten whole (Problems, the metric tabs), the hidden state tab left unsaid:
    # a sync after a web-form flush may write no cell and still rewrite every metric tab
    replaced: list[str] = field(default_factory=list)

    moved: int = 0  # cells that landed on another lead while the sheet changed; put back
    unrepaired: list[str] = field(default_factory=list)  # leads that could not be put right
    leftovers: list[str] = field(default_factory=list)  # files of killed writes, removed


REPAIR_ROUNDS = 3


def apply(plan: Plan, backend: SheetBackend, snapshot: Snapshot, attempts: int = 3) -> ApplyReport:
    """Write ``plan`` through ``backend``; re-resolve against a fresh read when the sheet
    changed under us (a person's edit), up to ``attempts`` times. No check before writing:
    an atomic backend refuses a stale write itself, and what a person moved under a write
    that is not atomic is found by reading it back (:func:`verify`)."""
    report = ApplyReport()
    current = snapshot
    for attempt in range(1, attempts + 1):
        report.attempts = attempt
        resolved: Resolved = resolve(plan, current)
        if not resolved.changes:
            report.conflicts = resolved.conflicts
            return report
        try:
            backend.write(resolved.changes)
        except StaleSnapshotError:
            current = backend.read()
            continue
        report.cells = len(resolved.changes.cells)
        report.appended = sum(len(r) for r in resolved.changes.appends.values())
        report.conflicts = resolved.conflicts
        report.replaced = [t for t in resolved.changes.replace if not _hidden(t)]
        report.written = True
        checked = verify(backend, current, resolved.changes, plan.stamp)
        report.conflicts += checked.moved
        report.moved, report.unrepaired = checked.moved, checked.unrepaired
        return report
    # stale every time: nothing was written (a StaleSnapshotError says so to the caller)
    raise StaleSnapshotError(
        f"{backend.location} kept changing while sheetcrm tried to write ({attempts} attempts)",
        "run the sync again in a moment",
    )


@dataclass
class Checked:
    moved: int = 0  # cells that landed on another lead while the sheet changed; put back
    unrepaired: list[str] = field(default_factory=list)  # leads that could not be put right


def verify(backend: SheetBackend, before: Snapshot, written: Changes, stamp: str) -> Checked:
    """After a write that was not atomic: read the sheet back, put every cell that landed on
    another lead where it belongs, and check the repair the same way, up to REPAIR_ROUNDS
    times (engine/landing.py). ``before`` is the read ``written`` was resolved against."""
    checked = Checked()
    if backend.atomic or not written.cells:
        return checked
    quick = QuickCheck.of(before, written)
    if quick is None:
        return checked  # no Leads cell written: nothing a sort can put on another lead
    if quick.columns:  # a few columns read back tell, most times
        header = backend.identity(quick.tab, quick.columns, quick.take)
        if header is not None and quick.landed(header):
            return checked
    for _ in range(REPAIR_ROUNDS):
        after = backend.read()
        landing = check_landing(before, written, after, stamp)
        checked.moved += landing.misplaced
        checked.unrepaired = landing.unrepaired
        if not landing.repair:
            return checked
        try:
            backend.write(landing.repair)
        except StaleSnapshotError:
            continue  # the sheet moved again: read it, and check what is there now
        before, written = after, landing.repair
    checked.unrepaired = checked.unrepaired or ["(the sheet kept changing)"]
    return checked


def _hidden(tab: str) -> bool:
    spec = tab_spec(tab)
    return spec is not None and spec.hidden


def sync_once(
    backend: SheetBackend,
    now: datetime,
    clock: datetime,
    memo: Memo | None = None,
    holder: str = "sheetcrm",
    notices: Notices | None = None,
    sent: Sequence[SentRecord] = (),
    waiting: Waiting | None = None,
) -> tuple[Plan, ApplyReport]:
    """One whole sync: read, hold the lease, clear what killed writes left, plan at ``now``
    (the sheet's time), write.
    ``clock`` is the real time, for the lease's expiry, even when ``now`` is fixed.
    With ``notices`` (the notification outbox), the plan's notifications are stored exactly
    once: held before the write, released once it landed (backends/notices.py).
    ``sent``: the messages the sender reports, for the Notifications tab (once per key).
    ``waiting``: the web submissions the service holds, for the top of Problems."""
    with notices.writing() if notices is not None else nullcontext():
        # the memo's texts: an unchanged cell is read as the string it already holds
        snapshot = backend.read(memo.texts() if memo is not None else None)
        with backend.lease(holder, clock):
            if notices is not None:
                notices.settle(snapshot)
            leftovers = backend.remove_leftovers(clock)
            if notices is not None and not sent:
                sent = notices.log_records()
            plan = plan_sync(snapshot, now, memo, sent=sent, waiting=waiting)
            try:
                report = _apply_noting(plan, backend, snapshot, notices)
            except (
                StaleSnapshotError,
                LeaseHeldError,
                SheetUnreachableError,
                SheetLockedError,
                UnsafeWorkbookError,
            ):
                # a person's edits, another sync's turn, a sheet out of reach (its retries
                # would only hold the lease longer), or a workbook a person has open or that
                # sheetcrm will not save: writing Problems would fail, or be refused, as well
                raise
            except BackendError as exc:
                _tell_refused(backend, snapshot, str(exc), plan, waiting)
                raise
            if notices is not None and sent:
                # on the tab now, or already were (it is appended once per key)
                notices.mark_logged(r.key for r in sent)
            report.leftovers = leftovers
            return plan, report


def _tell_refused(
    backend: SheetBackend, snapshot: Snapshot, error: str, plan: Plan, waiting: Waiting | None
) -> None:
    """Say at the top of Problems that the sync of ``plan`` was refused, and why, with the
    web submissions ``waiting`` as it counted them (engine/refused.py): Problems alone,
    rewritten in place, at the version the sync read. A best effort: where that is refused
    too, the error the caller raises is all there is."""
    tab = refused_problems(snapshot, error, plan.stamp, waiting, plan.settings.zone)
    with suppress(SheetCRMError):
        backend.write(Changes(snapshot.version, replace={PROBLEMS.name: tab}))


def _apply_noting(
    plan: Plan, backend: SheetBackend, snapshot: Snapshot, notices: Notices | None
) -> ApplyReport:
    if notices is None or not plan.notifications:
        return apply(plan, backend, snapshot)
    notices.hold(plan)
    try:
        report = apply(plan, backend, snapshot)
    except StaleSnapshotError:  # every attempt refused whole: nothing landed
        notices.drop(plan)
        raise
    # Any other failure leaves them held: a write whose answer was lost may have landed,
    # and the next sync's settle reads which.
    if report.written:
        notices.release(plan)
    else:
        notices.drop(plan)  # nothing to write after all (a person's edits made it moot)
    return report
