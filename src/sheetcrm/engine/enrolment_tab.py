"""The Enrolment tab -> who enters each sequence and who leaves it.

``Sequence | When | Field | Operator | Value``: the ``enrol if`` rows of one sequence are ANDed
(like Routing rows sharing an Order); each ``exit if`` row is an exit on its own. Field is a
Leads header, read by the same condition compiler as Scoring and Routing, or ``Activity
type`` / ``Activity outcome``: the lead has an Activities row of that type or outcome at or
after its enrolment. A sequence with a bad ``enrol if`` row enrols nobody automatically
until it is fixed (the rest of its rows would enrol too many); a bad exit row is left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import tzinfo

from sheetcrm.engine.catalog import _
from sheetcrm.engine.hints import suggest
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.rule_tab import RuleTab, read_conditions
from sheetcrm.engine.rules import Condition
from sheetcrm.engine.schema import ENROLMENT, Kind
from sheetcrm.engine.table import Table, norm_header

ENROL, EXIT = "enrol if", "exit if"
_WHEN = {
    "enrol if": ENROL,
    "enroll if": ENROL,
    "inscrire si": ENROL,
    "exit if": EXIT,
    "sortir si": EXIT,
}
ACTIVITY_TYPE, ACTIVITY_OUTCOME = "Activity type", "Activity outcome"
ACTIVITY_FIELDS: dict[str, Kind | None] = {ACTIVITY_TYPE: None, ACTIVITY_OUTCOME: None}
_ACTIVITY_NAMES = {
    norm_header(n): f
    for f, names in (
        (ACTIVITY_TYPE, ("Activity type", "type d'activité", "type d’activité")),
        (ACTIVITY_OUTCOME, ("Activity outcome", "résultat d'activité", "résultat d’activité")),
    )
    for n in names
}


@dataclass(frozen=True)
class Exit:
    row: int  # the Enrolment tab's row, as the sheet numbers it
    condition: Condition  # on a Leads field, or on ACTIVITY_TYPE / ACTIVITY_OUTCOME

    @property
    def on_activity(self) -> bool:
        return self.condition.field in ACTIVITY_FIELDS


@dataclass
class SequenceRules:
    sequence: str  # as the Sequences tab spells it
    enrol: tuple[Condition, ...] = ()  # ANDed; () = by hand only
    exits: list[Exit] = field(default_factory=list)
    broken: bool = False  # a bad enrol row: nobody is enrolled automatically


def parse_enrolment(
    table: Table | None,
    fields: dict[str, Kind | None],
    sequences: Iterable[str],
    dayfirst: bool,
    zone: tzinfo,
    decimal: str | None = None,
) -> tuple[dict[str, SequenceRules], list[Problem]]:
    """The rules by sequence (its name normalised). No tab: none, not a problem."""
    if table is None:
        return {}, []
    names = {norm_header(s): s for s in sequences}
    tab = RuleTab(ENROLMENT, table, ["Sequence", "When", "Field", "Operator"])
    enrol_rows: dict[str, list[tuple[int, dict[str, str]]]] = {}
    rules: dict[str, SequenceRules] = {}
    for i, cells in tab.rows():
        row = Table.sheet_row(i)
        key = norm_header(cells["Sequence"])
        if key not in names:
            tab.problem(
                row,
                "Sequence",
                _("%(name)r is not a sequence of the Sequences tab") % {"name": cells["Sequence"]},
                suggest(cells["Sequence"], list(names.values()))
                or _("name a sequence of the Sequences tab"),
            )
            continue
        rule = rules.setdefault(key, SequenceRules(names[key]))
        when = _WHEN.get(" ".join(cells["When"].casefold().split()))
        if when is None:
            tab.problem(
                row,
                "When",
                _("%(text)r is not enrol if or exit if") % {"text": cells["When"]},
                _("write enrol if (rows of one sequence are ANDed) or exit if (each on its own)"),
            )
            rule.broken = True  # it may have been meant as an enrol row
            continue
        activity = _ACTIVITY_NAMES.get(norm_header(cells["Field"]))
        if activity is not None and when == ENROL:
            tab.problem(
                row,
                "Field",
                _("%(field)s can only end a sequence") % {"field": activity},
                _("write exit if, or test a Leads column"),
            )
            rule.broken = True
            continue
        if when == ENROL:
            enrol_rows.setdefault(key, []).append((i, cells))
            continue
        cells = {**cells, "Field": activity or cells["Field"]}
        before = len(tab.problems)
        found = read_conditions(
            tab, [(i, cells)], {**fields, **ACTIVITY_FIELDS}, dayfirst, zone, decimal=decimal
        )
        if found and len(tab.problems) == before:
            rule.exits.append(Exit(row, found[0]))
    for key, rows in enrol_rows.items():
        before = len(tab.problems)
        conditions = read_conditions(tab, rows, fields, dayfirst, zone, decimal=decimal)
        rules[key].enrol = conditions
        rules[key].broken |= len(tab.problems) > before
    return rules, tab.problems
