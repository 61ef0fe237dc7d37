"""Writing a plan through a backend: ``apply(plan, backend)``, and ``sync_once`` (read, plan,
write under the spreadsheet's lease)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sheetcrm.backends.base import SheetBackend, StaleSnapshotError
from sheetcrm.engine.plan import Plan, Resolved, resolve
from sheetcrm.engine.schema import tab_spec
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import Snapshot
from sheetcrm.engine.validation import Memo
from sheetcrm.errors import BackendError


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


def apply(plan: Plan, backend: SheetBackend, snapshot: Snapshot, attempts: int = 3) -> ApplyReport:
    """Write ``plan`` through ``backend``; re-resolve against a fresh read when the sheet
    changed under us (a person's edit), up to ``attempts`` times."""
    report = ApplyReport()
    current = snapshot
    for attempt in range(1, attempts + 1):
        report.attempts = attempt
        if backend.version() != current.version:
            current = backend.read()
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
        return report
    raise BackendError(
        f"{backend.location} kept changing while sheetcrm tried to write ({attempts} attempts)",
        "run the sync again in a moment",
    )


def _hidden(tab: str) -> bool:
    spec = tab_spec(tab)
    return spec is not None and spec.hidden


def sync_once(
    backend: SheetBackend,
    now: datetime,
    clock: datetime,
    memo: Memo | None = None,
    holder: str = "sheetcrm",
) -> tuple[Plan, ApplyReport]:
    """One whole sync: read, hold the lease, plan at ``now`` (the sheet's time), write.
    ``clock`` is the real time, for the lease's expiry, even when ``now`` is fixed."""
    snapshot = backend.read()
    with backend.lease(holder, clock):
        plan = plan_sync(snapshot, now, memo)
        return plan, apply(plan, backend, snapshot)
