"""The Preview tab: what the draft rules would change if published (engine/preview.py),
and the rule Score's evaluation live and with the drafts, out of time as the Scoring check
tab judges it. Always written, so that a new process's first read, which names every
metric tab, finds it: without a draft it says how to make one."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sheetcrm.engine.metric_grid import Grid, MetricTab
from sheetcrm.engine.preview import TOP, Preview
from sheetcrm.engine.schema import NOT_COMPUTED, PREVIEW
from sheetcrm.engine.scoring_check import check_lines

# two cells, each short enough to read in a metric tab's column
NO_DRAFT = ("none", "mark a rule row draft in its Status column to preview it")


def preview_tab(
    preview: Preview | None, data: pd.DataFrame, ids: list[str], stamp: str, currency: str
) -> MetricTab:
    """``preview``: None without a draft rule; ``data`` and ``ids``: the sync's leads, to
    name the ones that change."""
    period = f"out of time: tested from {preview.cut}" if preview and preview.cut else ""
    grid = Grid(PREVIEW.name, stamp, period)
    grid.line()
    if preview is None:
        grid.line("Draft rules", *NO_DRAFT)
        return grid.tab(currency)
    for name in preview.drafts:
        grid.line("Draft rule", name)
    if preview.not_computed:
        grid.line()
        grid.line(f"{NOT_COMPUTED}: {preview.not_computed}", "")
        return grid.tab(currency)
    grid.line()
    grid.line("If the drafts were published", "Leads")
    for name in ("Score", "Grade", "Lifecycle"):
        grid.line(f"{name} would change", preview.counts[name], kinds=("", "leads"))
    grid.line("Owner would change", preview.counts["Owner"], kinds=("", "leads"))
    grid.line(
        "  of the leads the routing assigns (no Owner yet)", preview.routed, kinds=("", "leads")
    )
    grid.line("Any of these would change", preview.changed, kinds=("", "leads"))
    grid.line()
    grid.line(f"The {TOP} biggest changes")
    grid.line("Lead ID", "Lead", "Field", "Now", "With drafts", "Why (draft rules)")
    names = lead_names(data, [c.row for c in preview.changes])
    for change, name in zip(preview.changes, names, strict=True):
        grid.line(ids[change.row], name, change.field, change.now, change.draft, change.why)
    if not preview.changes:
        grid.line("no lead would change")
    live, draft = preview.live, preview.draft
    if live is not None and draft is not None:
        grid.line()
        grid.line("Rule score, out of time", "Live", "With drafts")
        grid.line("Verdict", live.verdict, draft.verdict)
        if live.shown and draft.shown:
            grid.line("AUC", round(live.auc, 3), round(draft.auc, 3), kinds=("", "auc", "auc"))
        check_lines(grid, "Rule score, live", live, calibration=False)
        check_lines(grid, "Rule score, with drafts", draft, calibration=False)
    return grid.tab(currency)


def lead_names(data: pd.DataFrame, rows: list[int]) -> list[str]:
    """ "First Last · Company" of each of ``rows``."""

    def column(name: str) -> np.ndarray:
        if name not in data.columns:
            return np.full(len(rows), "", dtype=object)
        return data[name].to_numpy(dtype=object)[rows]

    first, last, company = column("First name"), column("Last name"), column("Company")
    return [
        " · ".join(p for p in (f"{f} {la}".strip(), str(c).strip()) if p)
        for f, la, c in zip(first, last, company, strict=True)
    ]
