"""Rule tabs -> typed, validated rules. Every problem carries its cell and a hint.

A tab with a problem is not applied this round: the areas it governs are *frozen*, so
nothing changes silently on a half-understood rule. The other tabs still apply.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, tzinfo

from sheetcrm.engine.dates import parse_date
from sheetcrm.engine.rules import Condition, ConditionError, compile_condition, suggest
from sheetcrm.engine.schema import (
    FORMS,
    LEADS,
    ROUTING,
    SCORING,
    SETTINGS,
    STAGES,
    TEAM,
    Kind,
    Owner,
    TabSpec,
)
from sheetcrm.engine.settings import ALL, GROUP_CAP_PREFIX, SettingError, Settings, find_setting
from sheetcrm.engine.table import Snapshot, Table, a1, norm_header
from sheetcrm.engine.values import parse_bool, parse_number


@dataclass(frozen=True)
class Problem:
    tab: str
    cell: str  # A1 reference, "Leads!E12", or the tab alone
    problem: str
    hint: str = ""
    lead_id: str = ""


@dataclass(frozen=True)
class Stage:
    name: str
    type: str  # open / won / lost
    probability: float | None
    max_days: float | None
    required: tuple[str, ...]
    order: int


@dataclass(frozen=True)
class ScoringRule:
    name: str
    conditions: tuple[Condition, ...]
    points: float
    group: str


@dataclass(frozen=True)
class RoutingRule:
    label: str  # "Routing rule 2"
    conditions: tuple[Condition, ...]
    assign_to: str  # a member's or a team's name, as spelled in the Team tab
    strategy: str  # direct, round robin, weighted, least loaded


@dataclass(frozen=True)
class Member:
    name: str
    email: str
    team: str
    active: bool
    weight: float
    capacity: float | None
    away_until: date | None


def form_key(text: str) -> str:
    """How form fields, sources and form titles are matched: letters and digits only,
    without case ("Work e-mail", "work_email" and "workEmail" are one field)."""
    return "".join(c for c in text.casefold() if c.isalnum())


@dataclass(frozen=True)
class FormRule:
    field: str  # a form field's label or key, as the manager typed it
    column: str  # the Leads column: its schema header, or an extra column as written
    form: str = ""  # only for this source or form title; "" for every form
    row: int = 0  # the sheet row, for messages

    def applies_to(self, source: str, form: str) -> bool:
        return not self.form or form_key(self.form) in (form_key(source), form_key(form))


@dataclass(frozen=True)
class FormMapping:
    """The Forms tab: which form field goes to which Leads column. Empty = defaults only."""

    rules: tuple[FormRule, ...] = ()

    def rules_for(self, source: str, form: str) -> list[FormRule]:
        """The rules for a submission, those naming its source or form first."""
        rules = [r for r in self.rules if r.applies_to(source, form)]
        return sorted(rules, key=lambda r: not r.form)


STRATEGIES = ("round robin", "weighted", "least loaded")
SCORED = frozenset({"Score", "Score reasons", "Grade", "Lifecycle", "Status"})
"""What scoring writes (or what is written after it): a Scoring rule cannot test these."""


@dataclass
class Config:
    settings: Settings
    stages: list[Stage] = field(default_factory=list)
    scoring: list[ScoringRule] = field(default_factory=list)
    routing: list[RoutingRule] = field(default_factory=list)
    team: list[Member] = field(default_factory=list)
    frozen: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    forms: FormMapping = field(default_factory=FormMapping)

    def stage(self, name: str) -> Stage | None:
        key = norm_header(name)
        return next((s for s in self.stages if norm_header(s.name) == key), None)


class _Tab:
    """Reads one rule tab by header and collects its problems with cell references."""

    def __init__(self, spec: TabSpec, table: Table | None, required: Iterable[str]) -> None:
        self.spec, self.table = spec, table or Table([])
        self.problems: list[Problem] = []
        if table is None:
            self.problem(
                None,
                None,
                f"the {spec.name} tab is missing",
                f"add a tab named {spec.name} with headers: {', '.join(spec.headers)}",
            )
        for header in required if table is not None else ():
            if self.table.col(header) is None:
                self.problem(
                    1,
                    None,
                    f"the {spec.name} tab has no {header!r} column",
                    suggest(header, self.table.header)
                    if self.table.header
                    else f"put the headers in row 1: {', '.join(spec.headers)}",
                )

    @property
    def ok(self) -> bool:
        return not self.problems

    def rows(self) -> Iterable[tuple[int, dict[str, str]]]:
        if not self.ok:
            return
        cols = {h: self.table.col(h) for h in self.spec.headers}
        for i, row in enumerate(self.table.rows):
            cells = {h: (row[c].strip() if c is not None else "") for h, c in cols.items()}
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
            self.problem(row, header, f"{text!r} is not {what}", hint)
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


def _conditions(
    tab: _Tab,
    rows: list[tuple[int, dict[str, str]]],
    fields: dict[str, Kind | None],
    dayfirst: bool,
    zone: tzinfo,
    computed: frozenset[str] = frozenset(),
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
                f"{tab.spec.name} rules cannot test {spec.header}: the sync computes it "
                "from these very rules, so it would never settle",
                "test the fields it is computed from instead",
            )
            continue
        try:
            conditions.append(
                compile_condition(
                    cells["Field"], cells["Operator"], cells["Value"], fields, dayfirst, zone
                )
            )
        except ConditionError as exc:
            tab.problem(Table.sheet_row(i), exc.column, exc.problem, exc.hint)
    return tuple(conditions)


def parse_settings(table: Table | None) -> tuple[Settings, set[str], list[Problem]]:
    tab = _Tab(SETTINGS, table, ["Key", "Value"])
    settings, frozen = Settings(), set[str]()
    if not tab.ok:
        # No tab, or no Key or Value column: every setting would silently fall back to its
        # default (time zone, date order, fallback owner...), so nothing they govern runs.
        frozen |= ALL
    for i, cells in tab.rows():
        key, text, row = cells["Key"], cells["Value"], Table.sheet_row(i)
        if key.casefold().startswith(GROUP_CAP_PREFIX):
            cap = parse_number(text)
            if cap is None:
                tab.problem(row, "Value", f"{text!r} is not a number", "type the most points")
                frozen.add("scoring")
            else:
                settings.group_caps[key.split(":", 1)[1].strip().casefold()] = cap
            continue
        setting = find_setting(key)
        if setting is None:
            from sheetcrm.engine.settings import SETTINGS as DECLARED

            tab.problem(
                row, "Key", f"unknown setting {key!r}", suggest(key, [s.key for s in DECLARED])
            )
            continue
        if setting.key in settings.cells:
            tab.problem(
                row,
                "Key",
                f"{setting.key!r} is set twice; the first one is used",
                "delete one of the two rows",
            )
            continue
        settings.cells[setting.key] = a1(SETTINGS.name, row, tab.table.col("Value"))
        try:
            settings.values[setting.key] = setting.parse(text if text else setting.default)
        except SettingError as exc:
            tab.problem(row, "Value", f"{setting.key}: {exc.problem}", exc.hint)
            frozen |= setting.governs
    return settings, frozen, tab.problems


def parse_stages(table: Table | None, fields: dict[str, Kind | None]) -> tuple[list[Stage], _Tab]:
    tab = _Tab(STAGES, table, ["Stage", "Type"])
    stages: list[Stage] = []
    seen: set[str] = set()
    for i, cells in tab.rows():
        row, name = Table.sheet_row(i), cells["Stage"]
        if not name:
            tab.problem(row, "Stage", "a stage without a name", "type its name, or clear the row")
            continue
        if norm_header(name) in seen:
            tab.problem(row, "Stage", f"stage {name!r} is listed twice", "keep one row per stage")
        seen.add(norm_header(name))
        kind = cells["Type"].casefold() or "open"
        if kind not in ("open", "won", "lost"):
            tab.problem(
                row,
                "Type",
                f"unknown stage type {cells['Type']!r}",
                suggest(cells["Type"], ["open", "won", "lost"]),
            )
        prob = _percent(cells["Probability"])
        if cells["Probability"] and (prob is None or not 0 <= prob <= 100):
            tab.problem(
                row,
                "Probability",
                f"{cells['Probability']!r} is not a percentage",
                "type a number from 0 to 100",
            )
        max_days = tab.number(
            row,
            cells,
            "Max days",
            "a number of days",
            "type a whole number, or leave it empty for no limit",
        )
        required = tuple(r.strip() for r in cells["Required fields"].split(",") if r.strip())
        known = {norm_header(f): f for f in fields}
        for r in required:
            if norm_header(r) not in known:
                tab.problem(
                    row, "Required fields", f"unknown field {r!r}", suggest(r, list(fields))
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
        tab.problem(None, None, "no open stage", "add at least one stage of Type open")
    return stages, tab


def _percent(text: str) -> float | None:
    value = parse_number(text.replace("%", "")) if text else None
    if value is not None and "%" not in text and 0 < value < 1:
        return value * 100  # 0.6 means 60 %
    return value


def parse_team(
    table: Table | None, dayfirst: bool = True, zone: tzinfo = UTC
) -> tuple[list[Member], _Tab]:
    tab = _Tab(TEAM, table, ["Name"])
    members: list[Member] = []
    for i, cells in tab.rows():
        row = Table.sheet_row(i)
        if not cells["Name"]:
            tab.problem(row, "Name", "a team member without a name", "type the person's name")
            continue
        if any(norm_header(m.name) == norm_header(cells["Name"]) for m in members):
            tab.problem(row, "Name", f"{cells['Name']!r} is listed twice", "keep one row each")
        active = parse_bool(cells["Active"]) if cells["Active"] else True
        if active is None:
            tab.problem(row, "Active", f"{cells['Active']!r} is not yes or no", "type yes or no")
        weight = tab.number(
            row, cells, "Weight", "a weight", "type a number, 1 for a normal share", default=1.0
        )
        capacity = tab.number(
            row,
            cells,
            "Daily capacity",
            "a count",
            "type how many new leads a day, or leave it empty for no limit",
        )
        away = parse_date(cells["Away until"], dayfirst, zone) if cells["Away until"] else None
        if cells["Away until"] and away is None:
            tab.problem(
                row,
                "Away until",
                f"{cells['Away until']!r} is not a date",
                "type a date like 2026-01-31, or leave it empty",
            )
        members.append(
            Member(
                cells["Name"],
                cells["Email"],
                cells["Team"],
                bool(active),
                weight or 0.0,
                capacity,
                away.date() if away else None,
            )
        )
    return members, tab


def parse_scoring(
    table: Table | None, fields: dict[str, Kind | None], dayfirst: bool, zone: tzinfo
) -> tuple[list[ScoringRule], _Tab]:
    tab = _Tab(SCORING, table, ["Rule", "Field", "Operator", "Value", "Points"])
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for i, cells in tab.rows():
        name = cells["Rule"] or f"Row {Table.sheet_row(i)}"
        groups.setdefault(norm_header(name), []).append((i, cells))
    rules = []
    for rows in groups.values():
        name = rows[0][1]["Rule"] or f"Row {Table.sheet_row(rows[0][0])}"
        points_cells = [(i, c["Points"]) for i, c in rows if c["Points"]]
        values = {parse_number(p) for _, p in points_cells}
        for i, text in points_cells:
            if parse_number(text) is None:
                tab.problem(
                    Table.sheet_row(i),
                    "Points",
                    f"{text!r} is not a number of points",
                    "type a whole number; negative points are allowed, like -10",
                )
        if not points_cells:
            tab.problem(
                Table.sheet_row(rows[0][0]),
                "Points",
                f"rule {name!r} has no points",
                "type its points on the rule's first row",
            )
        elif len(values) > 1:
            tab.problem(
                Table.sheet_row(points_cells[1][0]),
                "Points",
                f"rule {name!r} has different points on its rows",
                "put the points on the first row only",
            )
        conditions = _conditions(tab, rows, fields, dayfirst, zone, SCORED)
        if not conditions and not any(c["Field"] for _, c in rows):
            tab.problem(
                Table.sheet_row(rows[0][0]),
                "Field",
                f"rule {name!r} has no condition",
                "fill Field, Operator and Value",
            )
        groups_named = {c["Group"] for _, c in rows if c["Group"]}
        if tab.ok:
            rules.append(
                ScoringRule(
                    name, conditions, float(next(iter(values)) or 0), next(iter(groups_named), "")
                )
            )
    return rules, tab


def parse_routing(
    table: Table | None,
    fields: dict[str, Kind | None],
    team: list[Member],
    dayfirst: bool,
    zone: tzinfo,
) -> tuple[list[RoutingRule], _Tab]:
    tab = _Tab(ROUTING, table, ["Order", "Field", "Operator", "Value", "Assign to"])
    groups: dict[float, list[tuple[int, dict[str, str]]]] = {}
    for i, cells in tab.rows():
        order = parse_number(cells["Order"]) if cells["Order"] else None
        if cells["Order"] and order is None:
            tab.problem(
                Table.sheet_row(i),
                "Order",
                f"{cells['Order']!r} is not a number",
                "number the rules 1, 2, 3...",
            )
        groups.setdefault(order if order is not None else 1e9 + i, []).append((i, cells))
    people = {norm_header(m.name): m.name for m in team}
    teams = {norm_header(m.team): m.team for m in team if m.team}
    rules = []
    for order, rows in sorted(groups.items()):
        first_row = Table.sheet_row(rows[0][0])
        targets = [(i, c["Assign to"]) for i, c in rows if c["Assign to"]]
        label = f"Routing rule {order:g}" if order < 1e9 else f"Routing row {first_row}"
        if not targets:
            tab.problem(
                first_row,
                "Assign to",
                f"{label} assigns to nobody",
                "type a person's or a team's name from the Team tab",
            )
            continue
        i, target = targets[0]
        key = norm_header(target)
        strategy = norm_header(next((c["Strategy"] for _, c in rows if c["Strategy"]), ""))
        if key in people and not (key in teams and strategy):
            target, strategy = people[key], "direct"
        elif key in teams:
            target, strategy = teams[key], strategy or "round robin"
            if strategy not in STRATEGIES:
                row = next(Table.sheet_row(j) for j, c in rows if c["Strategy"])
                tab.problem(
                    row,
                    "Strategy",
                    f"unknown strategy {strategy!r}",
                    suggest(strategy, list(STRATEGIES)),
                )
        else:
            tab.problem(
                Table.sheet_row(i),
                "Assign to",
                f"{target!r} is not on the Team tab",
                suggest(target, list(people.values()) + list(teams.values()))
                if people
                else "add the people leads go to on the Team tab",
            )
        conditions = _conditions(tab, rows, fields, dayfirst, zone)
        if tab.ok:
            rules.append(RoutingRule(label, conditions, target, strategy))
    return rules, tab


def parse_forms(
    table: Table | None, fields: dict[str, Kind | None]
) -> tuple[FormMapping, list[Problem]]:
    """The Forms tab. No tab is no mapping, not a problem: the defaults apply. A row with a
    problem is left out, so its answers go by the defaults or into Notes: nothing is lost."""
    if table is None:
        return FormMapping(), []
    tab = _Tab(FORMS, table, ["Form field", "Leads column"])
    columns = {norm_header(h): h for h in [*LEADS.headers, *fields]}
    rules: list[FormRule] = []
    for i, cells in tab.rows():
        row, name, target = Table.sheet_row(i), cells["Form field"], cells["Leads column"]
        spec = LEADS.column(target)
        column = spec.header if spec else columns.get(norm_header(target), "")
        if not name:
            tab.problem(
                row,
                "Form field",
                "a row without a form field",
                "type the question's label or key as the form sends it, or clear the row",
            )
        elif not target:
            tab.problem(
                row,
                "Leads column",
                f"form field {name!r} goes to no Leads column",
                "type a Leads header, like Email, Company or Notes",
            )
        elif not column:
            tab.problem(
                row,
                "Leads column",
                f"no Leads column {target!r}",
                suggest(target, list(dict.fromkeys([*fields, *LEADS.headers]))),
            )
        elif spec is not None and spec.owner is Owner.SERVICE and spec.header != "Owner":
            tab.problem(
                row,
                "Leads column",
                f"{spec.header} is filled by sheetcrm, not by forms",
                "map the answer to a column people fill, or to Notes",
            )
        elif any(
            form_key(r.field) == form_key(name) and form_key(r.form) == form_key(cells["Form"])
            for r in rules
        ):
            tab.problem(
                row,
                "Form field",
                f"form field {name!r} is mapped twice; the first row is used",
                "delete one of the two rows",
            )
        else:
            rules.append(FormRule(name, column, cells["Form"], row))
    return FormMapping(tuple(rules)), tab.problems


def parse_config(snapshot: Snapshot) -> Config:
    """Parse every rule tab of ``snapshot``; never raises on what a person typed."""
    settings, frozen, problems = parse_settings(snapshot.get(SETTINGS.name))
    fields = leads_fields(snapshot.table(LEADS.name))
    stages, stages_tab = parse_stages(snapshot.get(STAGES.name), fields)
    dayfirst, zone = settings.dayfirst, settings.zone
    team, team_tab = parse_team(snapshot.get(TEAM.name), dayfirst, zone)
    scoring, scoring_tab = parse_scoring(snapshot.get(SCORING.name), fields, dayfirst, zone)
    routing, routing_tab = parse_routing(snapshot.get(ROUTING.name), fields, team, dayfirst, zone)
    forms, forms_problems = parse_forms(snapshot.get(FORMS.name), fields)
    fallback = settings["Fallback owner"]
    if (
        fallback
        and team_tab.ok
        and not any(norm_header(m.name) == norm_header(fallback) for m in team)
    ):
        problems.append(
            Problem(
                SETTINGS.name,
                settings.cells.get("Fallback owner", SETTINGS.name),
                f"Fallback owner {fallback!r} is not on the Team tab",
                suggest(fallback, [m.name for m in team]),
            )
        )
        frozen.add("routing")
    known = {norm_header(f) for f in fields}
    # the default is not the manager's typo; with no Leads header there is nothing to check
    typed = "Required fields" in settings.cells and bool(fields)
    for group in settings["Required fields"] if typed else ():
        for name in group:
            if norm_header(name) not in known:
                problems.append(
                    Problem(
                        SETTINGS.name,
                        settings.cells.get("Required fields", SETTINGS.name),
                        f"Required fields: Leads has no column {name!r}",
                        suggest(name, list(fields)),
                    )
                )
                frozen.add("validation")
    for tab, areas in (
        (stages_tab, {"stages", "validation"}),
        (scoring_tab, {"scoring"}),
        (routing_tab, {"routing"}),
        (team_tab, {"routing"}),
    ):
        if not tab.ok:
            frozen |= areas
        problems += tab.problems
    return Config(
        settings,
        stages if stages_tab.ok else [],
        scoring,
        routing,
        team if team_tab.ok else [],
        frozen,
        problems + forms_problems,
        forms,
    )
