"""Reading a rule tab by its headers, with every problem tied to its cell; and the
Field / Operator / Value rows that Scoring and Routing share, type-checked against Leads."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo

from sheetcrm.engine.catalog import _
from sheetcrm.engine.hints import suggest
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.rules import Condition, ConditionError, compile_condition
from sheetcrm.engine.schema import LEADS, Kind, TabSpec
from sheetcrm.engine.table import Table, a1
from sheetcrm.engine.values import parse_number


class RuleTab:
    """Reads one rule tab by header and collects its problems with cell references."""

    def __init__(self, spec: TabSpec, table: Table | None, required: Iterable[str]) -> None:
        self.spec, self.table = spec, table or Table([])
        self.problems: list[Problem] = []
        if table is None:
            self.problem(
                None,
                None,
                _("the %(tab)s tab is missing") % {"tab": spec.name},
                _(
                    "add a tab named %(tab)s with headers: %(headers)s; or run `sheetcrm init` "
                    "on this sheet: it adds every tab missing and changes no cell"
                )
                % {"tab": spec.name, "headers": ", ".join(spec.headers)},
            )
        for header in required if table is not None else ():
            if self.table.col(header) is None:
                self.problem(
                    1,
                    None,
                    _("the %(tab)s tab has no %(header)r column")
                    % {"tab": spec.name, "header": header},
                    suggest(header, self.table.header)
                    if self.table.header
                    else _("put the headers in row 1: %(headers)s")
                    % {"headers": ", ".join(spec.headers)},
                )

    @property
    def ok(self) -> bool:
        return not self.problems

    def rows(self) -> Iterable[tuple[int, dict[str, str]]]:
        if not self.ok:
            return
        cols = {h: self.table.col(h) for h in self.spec.headers}
        for i, row in enumerate(self.table.rows):
            # a row typed before a column was added may be shorter than the header
            cells = {
                h: (row[c].strip() if c is not None and c < len(row) else "")
                for h, c in cols.items()
            }
            if any(cells.values()):
                yield i, cells

    def number(
        self,
        row: int,
        cells: dict[str, str],
        header: str,
        what: str,
        hint: str,
        default: float | None = None,
    ) -> float | None:
        """The cell as a number of at least 0; ``default`` when empty; a problem when not."""
        text = cells[header]
        if not text:
            return default
        value = parse_number(text)
        if value is None or value < 0:
            self.problem(
                row, header, _("%(text)r is not %(what)s") % {"text": text, "what": what}, hint
            )
        return value

    def problem(self, row: int | None, header: str | None, problem: str, hint: str = "") -> None:
        col = self.table.col(header) if header else None
        self.problems.append(Problem(self.spec.name, a1(self.spec.name, row, col), problem, hint))


def leads_fields(leads: Table) -> dict[str, Kind | None]:
    """Each Leads column with its schema kind (None for extra columns), named as the sync's
    Leads frame names it: by its canonical header ("E-mail" is Email), extras as written."""
    fields: dict[str, Kind | None] = {}
    for header in leads.header:
        if header.strip():
            column = LEADS.column(header)
            fields[column.header if column else header.strip()] = column.kind if column else None
    return fields


def read_conditions(
    tab: RuleTab,
    rows: list[tuple[int, dict[str, str]]],
    fields: dict[str, Kind | None],
    dayfirst: bool,
    zone: tzinfo,
    computed: frozenset[str] = frozenset(),
    decimal: str | None = None,
) -> tuple[Condition, ...]:
    conditions = []
    for i, cells in rows:
        if not cells["Field"] and not cells["Operator"]:
            continue
        spec = LEADS.column(cells["Field"])
        if spec is not None and spec.header in computed:
            tab.problem(
                Table.sheet_row(i),
                "Field",
                _(
                    "%(tab)s rules cannot test %(field)s: the sync computes it from these very "
                    "rules, so it would never settle"
                )
                % {"tab": tab.spec.name, "field": spec.header},
                _("test the fields it is computed from instead"),
            )
            continue
        try:
            conditions.append(
                compile_condition(
                    cells["Field"],
                    cells["Operator"],
                    cells["Value"],
                    fields,
                    dayfirst,
                    zone,
                    decimal,
                )
            )
        except ConditionError as exc:
            tab.problem(Table.sheet_row(i), exc.column, exc.problem, exc.hint)
    return tuple(conditions)
