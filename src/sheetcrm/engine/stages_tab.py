"""The Stages tab -> the pipeline's stages, in order."""

from __future__ import annotations

from dataclasses import dataclass

from sheetcrm.engine.catalog import _
from sheetcrm.engine.hints import suggest
from sheetcrm.engine.rule_tab import RuleTab
from sheetcrm.engine.schema import STAGES, Kind, canonical_header
from sheetcrm.engine.table import Table, norm_header
from sheetcrm.engine.values import parse_number


@dataclass(frozen=True)
class Stage:
    name: str
    type: str  # open / won / lost
    probability: float | None
    max_days: float | None
    required: tuple[str, ...]
    order: int


def parse_stages(
    table: Table | None, fields: dict[str, Kind | None]
) -> tuple[list[Stage], RuleTab]:
    tab = RuleTab(STAGES, table, ["Stage", "Type"])
    stages: list[Stage] = []
    seen: set[str] = set()
    for i, cells in tab.rows():
        row, name = Table.sheet_row(i), cells["Stage"]
        if not name:
            tab.problem(
                row, "Stage", _("a stage without a name"), _("type its name, or clear the row")
            )
            continue
        if norm_header(name) in seen:
            tab.problem(
                row,
                "Stage",
                _("stage %(stage)r is listed twice") % {"stage": name},
                _("keep one row per stage"),
            )
        seen.add(norm_header(name))
        kind = cells["Type"].casefold() or "open"
        if kind not in ("open", "won", "lost"):
            tab.problem(
                row,
                "Type",
                _("unknown stage type %(type)r") % {"type": cells["Type"]},
                suggest(cells["Type"], ["open", "won", "lost"]),
            )
        prob = _percent(cells["Probability"])
        if cells["Probability"] and (prob is None or not 0 <= prob <= 100):
            tab.problem(
                row,
                "Probability",
                _("%(text)r is not a percentage") % {"text": cells["Probability"]},
                _("type a number from 0 to 100"),
            )
        max_days = tab.number(
            row,
            cells,
            "Max days",
            _("a number of days"),
            _("type a whole number, or leave it empty for no limit"),
        )
        # by the Leads column each name means: "Montant" is Amount
        required = tuple(
            canonical_header(r.strip()) for r in cells["Required fields"].split(",") if r.strip()
        )
        known = {norm_header(f): f for f in fields}
        for r in required:
            if norm_header(r) not in known:
                tab.problem(
                    row,
                    "Required fields",
                    _("unknown field %(field)r") % {"field": r},
                    suggest(r, list(fields)),
                )
        stages.append(
            Stage(
                name,
                kind,
                prob,
                max_days,
                tuple(known.get(norm_header(r), r) for r in required),
                len(stages),
            )
        )
    if tab.ok and not any(s.type == "open" for s in stages):
        tab.problem(None, None, _("no open stage"), _("add at least one stage of Type open"))
    return stages, tab


def _percent(text: str) -> float | None:
    value = parse_number(text.replace("%", "")) if text else None
    if value is not None and "%" not in text and 0 < value < 1:
        return value * 100  # 0.6 means 60 %
    return value
