"""``sheetcrm init``: set a spreadsheet up, whether it is new or already holds a team's leads.

One path for every case: a new or empty spreadsheet gets the template's tabs (sample leads,
or none with ``--blank``); one that holds data is adopted (engine/adoption.py): what is
missing is added, nothing a person typed is moved, rewritten or deleted. ``--force`` never
drops data either: it starts over only after keeping a whole copy, and says where.
"""

from __future__ import annotations

from datetime import datetime

from sheetcrm.backends.base import SheetBackend
from sheetcrm.engine.adoption import find_leads_tab, plan_adoption
from sheetcrm.engine.table import Snapshot, Table


def set_up(
    backend: SheetBackend,
    tabs: dict[str, Table],
    blank: dict[str, Table],
    now: datetime,
    clock: datetime,
    *,
    force: bool = False,
    dry_run: bool = False,
) -> list[str]:
    """Set ``backend`` up and say what was done, a line at a time. ``tabs``: the template a
    new spreadsheet gets; ``blank``: the tabs an adopted one gets (no fictional people);
    ``now``: as ``sync`` takes it; ``clock``: the real time, for the name of a copy."""
    snapshot = backend.read() if backend.exists() else None
    if snapshot is not None and _holds_data(snapshot):
        if not force:
            adoption = plan_adoption(snapshot, blank, now)
            lines = adoption.describe()
            if dry_run:
                return [*lines, "Dry run: nothing written."]
            if adoption:
                backend.adopt(adoption, snapshot.version)
                lines.append(f"Added to {backend.location}; every cell that was there is kept.")
            return lines
        tab, _ = find_leads_tab(snapshot)
        leads = sum(1 for r in snapshot.tabs[tab].rows if any(c.strip() for c in r)) if tab else 0
        if dry_run:
            return [f"Would keep a copy of {backend.location} ({leads} leads), then start over."]
        copy = backend.keep_copy(clock, leads)
        lines = [f"Kept a copy of {backend.location} as it was ({leads} leads): {copy}"]
    else:
        lines = []
    names = ", ".join(t for t in tabs if not t.startswith("_"))
    if dry_run:
        return [f"Would create {backend.location} with the tabs {names}.", "Dry run."]
    # an empty spreadsheet (as Excel or Google makes a new one) has nothing to lose
    backend.provision(tabs, force=force or snapshot is not None)
    rows = len(tabs["Leads"].rows) if "Leads" in tabs else 0
    leads_said = f"{rows} sample leads" if rows else "no leads yet"
    return [*lines, f"Created {backend.location}: {names} ({leads_said})."]


def _holds_data(snapshot: Snapshot) -> bool:
    """Whether any tab has anything typed in it (a new Google Sheet has one empty tab)."""
    return any(
        any(h.strip() for h in t.header) or any(c.strip() for r in t.rows for c in r)
        for t in snapshot.tabs.values()
    )
