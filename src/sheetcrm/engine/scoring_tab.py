"""The Scoring tab -> scoring rules: rows sharing a Rule name are one rule, all of whose
conditions must hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from sheetcrm.engine.catalog import _
from sheetcrm.engine.rule_status import is_draft
from sheetcrm.engine.rule_tab import RuleTab, read_conditions
from sheetcrm.engine.rules import Condition
from sheetcrm.engine.schema import SCORING, Kind
from sheetcrm.engine.table import Table, norm_header
from sheetcrm.engine.values import ambiguous_number, format_number, parse_number


@dataclass(frozen=True)
class ScoringRule:
    name: str
    conditions: tuple[Condition, ...]
    points: float
    group: str
    draft: bool = False  # Status: draft, previewed and not applied (engine/rule_status.py)


SCORED = frozenset({"Score", "Score reasons", "Grade", "Lifecycle", "Status"})
"""What scoring writes (or what is written after it): a Scoring rule cannot test these."""


def parse_scoring(
    table: Table | None,
    fields: dict[str, Kind | None],
    dayfirst: bool,
    zone: tzinfo,
    decimal: str | None = None,
) -> tuple[list[ScoringRule], RuleTab]:
    tab = RuleTab(SCORING, table, ["Rule", "Field", "Operator", "Value", "Points"])
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for i, cells in tab.rows():
        name = cells["Rule"] or f"Row {Table.sheet_row(i)}"
        groups.setdefault(norm_header(name), []).append((i, cells))
    rules = []
    for rows in groups.values():
        name = rows[0][1]["Rule"] or f"Row {Table.sheet_row(rows[0][0])}"
        draft = is_draft(tab, rows, name)
        points_cells = [(i, c["Points"]) for i, c in rows if c["Points"]]
        values = {parse_number(p, decimal) for _, p in points_cells}
        for i, text in points_cells:
            if decimal is None and ambiguous_number(text):
                tab.problem(
                    Table.sheet_row(i),
                    "Points",
                    _("%(text)r could be %(one)s or %(other)s points")
                    % {
                        "text": text,
                        "one": format_number(parse_number(text) or 0),
                        "other": format_number(parse_number(text.replace(".", "")) or 0),
                    },
                    _(
                        "write it without a thousands separator, like 1000 or 1, or set "
                        "Settings: Number format (1,234.56 or 1.234,56)"
                    ),
                )
            elif parse_number(text, decimal) is None:
                tab.problem(
                    Table.sheet_row(i),
                    "Points",
                    _("%(text)r is not a number of points") % {"text": text},
                    _("type a whole number; negative points are allowed, like -10"),
                )
        if not points_cells:
            tab.problem(
                Table.sheet_row(rows[0][0]),
                "Points",
                _("rule %(rule)r has no points") % {"rule": name},
                _("type its points on the rule's first row"),
            )
        elif len(values) > 1:
            tab.problem(
                Table.sheet_row(points_cells[1][0]),
                "Points",
                _("rule %(rule)r has different points on its rows") % {"rule": name},
                _("put the points on the first row only"),
            )
        conditions = read_conditions(tab, rows, fields, dayfirst, zone, SCORED, decimal)
        if not conditions and not any(c["Field"] for _, c in rows):
            tab.problem(
                Table.sheet_row(rows[0][0]),
                "Field",
                _("rule %(rule)r has no condition") % {"rule": name},
                _("fill Field, Operator and Value"),
            )
        groups_named = {c["Group"] for _, c in rows if c["Group"]}
        if tab.ok:
            rules.append(
                ScoringRule(
                    name,
                    conditions,
                    float(next(iter(values)) or 0),
                    next(iter(groups_named), ""),
                    draft,
                )
            )
    return rules, tab
