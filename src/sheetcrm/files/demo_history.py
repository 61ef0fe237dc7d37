"""The demo's story so far: the stage moves its sample deals went through, made up from their
Created at and Closed at, so that the demo's Funnel shows conversions and days in stage
(a template cannot carry them: History starts empty and Lead IDs are given by the first
sync). Each entry says it is sample data in its Why."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sheetcrm.engine.dates import parse_date
from sheetcrm.engine.schema import SHEET_BY
from sheetcrm.engine.stages_tab import Stage
from sheetcrm.engine.table import Table
from sheetcrm.engine.values import format_datetime

WHY = "stage changed in the sheet (demo sample)"


def _path(stage: str, lead: str, stages: Sequence[Stage]) -> list[str]:
    """The stages a deal now in ``stage`` went through, in order."""
    path = [s.name for s in stages if s.type == "open"]
    kinds = {s.name: s.type for s in stages}
    if kinds.get(stage) == "open":
        return path[: path.index(stage) + 1]
    if kinds.get(stage) == "won":
        return [*path, stage]
    if kinds.get(stage) == "lost":  # lost somewhere along the way, the same place each demo
        digits = int("".join(c for c in lead if c.isdigit()) or 0)
        return [*path[: digits % len(path) + 1], stage]
    return []


def stage_moves(leads: Table, stages: Sequence[Stage], now: datetime) -> list[list[str]]:
    """History rows (its default column order) for every lead that went past a first stage:
    entered at even steps from Created at to Closed at (an open deal: to 60 % of its age)."""
    rows: list[list[str]] = []
    col = {h: leads.col(h) for h in ("Lead ID", "Stage", "Created at", "Closed at")}
    for row in leads.rows:
        lead, stage, created_text, closed_text = (
            row[c] if c is not None else "" for c in col.values()
        )
        created = parse_date(created_text, False) if created_text else None
        steps = _path(stage, lead, stages)
        if not lead or created is None or len(steps) < 2:
            continue
        closed = parse_date(closed_text, False) if closed_text else None
        end = closed or created + (now - created) * 0.6
        for j, (before, after) in enumerate(zip(["", *steps], steps, strict=False)):
            at = created + (end - created) * j / (len(steps) - 1)
            why = "new lead" if j == 0 else WHY
            rows.append([format_datetime(at), lead, "Stage", before, after, SHEET_BY, why])
    return rows
