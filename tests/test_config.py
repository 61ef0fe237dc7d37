"""Rule tabs -> typed rules: every problem names its cell, carries a hint, freezes its area."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sheetcrm.engine.config import Config, parse_config
from sheetcrm.engine.forms_tab import FormMapping, form_key
from sheetcrm.engine.rule_tab import leads_fields
from sheetcrm.engine.schema import RULE_TABS as RULE_TAB_SPECS
from sheetcrm.engine.schema import Kind
from sheetcrm.engine.settings import ALL
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.files.templates import load_template

NOW = datetime(2026, 3, 10, 14, 30)
TEMPLATE = load_template(now=NOW)
RULE_TABS = tuple(t.name for t in RULE_TAB_SPECS)  # their order: test_cli.py


def tabs() -> dict[str, Table]:
    """A private copy of the default template's tabs."""
    return {name: table.copy() for name, table in TEMPLATE.items()}


def row_index(table: Table, column: str, value: str) -> int:
    """The data row index of the first row whose ``column`` is ``value``."""
    return table.column(column).index(value)


def set_cell(t: dict[str, Table], tab: str, find: tuple[str, str], column: str, text: str) -> int:
    """Write ``text`` into ``column`` of the row found by (column, value); its sheet row."""
    table = t[tab]
    i = row_index(table, *find)
    col = table.col(column)
    assert col is not None, column
    table.rows[i][col] = text
    return i + 2  # the header is sheet row 1


def parse(t: dict[str, Table]) -> Config:
    return parse_config(Snapshot(t))


# --- the template --------------------------------------------------------------------------


def test_the_template_parses_without_problems() -> None:
    config = parse(tabs())
    assert config.problems == []
    assert config.frozen == set()
    assert [s.name for s in config.stages] == [
        "Prospecting",
        "Qualified",
        "Meeting",
        "Proposal",
        "Negotiation",
        "Won",
        "Lost",
    ]
    assert [(s.type, s.probability, s.max_days) for s in config.stages][-3:] == [
        ("open", 80.0, 30.0),
        ("won", 100.0, None),
        ("lost", 0.0, None),
    ]
    proposal = config.stage("proposal")
    assert proposal is not None
    assert proposal.name == "Proposal"
    assert proposal.required == ("Amount",)
    assert len(config.scoring) == 13
    assert len(config.routing) == 4
    assert [m.name for m in config.team] == [
        "Sofia Marin",
        "Lukas Becker",
        "Jordan Lee",
        "Maya Patel",
        "Avery Chen",
    ]


def test_template_rules_are_typed() -> None:
    config = parse(tabs())
    hot = next(r for r in config.scoring if r.name == "Hot inbound")
    assert hot.points == 10.0
    assert [c.describe() for c in hot.conditions] == [
        "Source is Demo request",
        "Created at is within the last 7 days",
    ]
    free = next(r for r in config.scoring if r.name == "Free-mail address")
    assert free.points == -10.0
    assert next(r for r in config.scoring if r.name == "Recently contacted").group == "Engagement"
    assert [(r.label, r.assign_to, r.strategy) for r in config.routing] == [
        ("Routing rule 1", "EMEA", "round robin"),
        ("Routing rule 2", "Avery Chen", "direct"),
        ("Routing rule 3", "Americas", "least loaded"),
        ("Routing rule 4", "Enterprise", "weighted"),
    ]
    assert len(config.routing[1].conditions) == 2  # two rows share Order 2
    lukas = config.team[1]
    assert (lukas.team, lukas.active, lukas.weight, lukas.capacity) == ("EMEA", True, 1.0, 15.0)
    assert lukas.away_until == datetime(2026, 3, 13)  # {today+3}
    assert config.team[4].capacity is None


def test_template_settings_are_typed() -> None:
    s = parse(tabs()).settings
    assert s.zone.key == "America/New_York"
    assert s.dayfirst is False  # MDY
    assert s["Max score"] == 100.0
    assert s["Min score"] is None
    assert s["Fallback owner"] == "Jordan Lee"
    assert s["Required fields"] == (("Email", "Phone"),)
    assert s["Dedupe keys"] == ("email", "phone", "company domain")
    assert s.group_caps == {"engagement": 15.0}


def test_settings_default_when_a_key_is_left_out_or_empty() -> None:
    t = tabs()
    settings_tab = t["Settings"]
    settings_tab.rows = [
        r for r in settings_tab.rows if r[0] not in ("Time zone", "Date order", "MQL score")
    ]
    set_cell(t, "Settings", ("Key", "SQL score"), "Value", "")
    config = parse(t)
    assert config.problems == []
    assert config.settings.zone.key == "UTC"
    assert config.settings.dayfirst is True
    assert config.settings["MQL score"] == 40.0
    assert config.settings["SQL score"] == 70.0


# --- one broken cell at a time -------------------------------------------------------------

# tab, row found by (column, value), column to break, text, cell column letter,
# words of the problem, words of the hint, frozen areas
BROKEN = [
    (
        "Scoring",
        ("Rule", "Target market"),
        "Operator",
        "equls",
        "C",
        "unknown operator 'equls'",
        "did you mean 'equals'?",
        {"scoring"},
    ),
    (
        "Scoring",
        ("Rule", "Referral"),
        "Operator",
        "is greater",
        "C",
        "unknown operator 'is greater'",
        "",
        {"scoring"},
    ),
    (
        "Scoring",
        ("Rule", "Target market"),
        "Points",
        "ten",
        "E",
        "'ten' is not a number of points",
        "negative points are allowed",
        {"scoring"},
    ),
    (
        "Scoring",
        ("Rule", "Role address"),
        "Value",
        "([",
        "D",
        "bad regular expression '(['",
        "check brackets",
        {"scoring"},
    ),
    (
        "Scoring",
        ("Rule", "Target industry"),
        "Field",
        "Industy",
        "B",
        "unknown field 'Industy'",
        "did you mean 'Industry'?",
        {"scoring"},
    ),
    (
        "Scoring",
        ("Rule", "Budget 10k+"),
        "Value",
        "lots",
        "D",
        "'lots' is not a number",
        "'at least' needs a number",
        {"scoring"},
    ),
    (
        "Scoring",
        ("Rule", "No company"),
        "Operator",
        "at least",
        "C",
        "'at least' compares numbers, but Company holds text",
        "pick an operator for text",
        {"scoring"},
    ),
    (
        "Scoring",
        ("Rule", "Large deal"),
        "Value",
        "50000",
        "D",
        "'50000' is not a range of two numbers",
        "'10 and 50'",
        {"scoring"},
    ),
    (
        "Routing",
        ("Assign to", "Avery Chen"),
        "Assign to",
        "Avery Chan",
        "E",
        "'Avery Chan' is not on the Team tab",
        "did you mean 'Avery Chen'?",
        {"routing"},
    ),
    (
        "Routing",
        ("Assign to", "EMEA"),
        "Strategy",
        "round-robin",
        "F",
        "unknown strategy 'round-robin'",
        "did you mean 'round robin'?",
        {"routing"},
    ),
    (
        "Routing",
        ("Assign to", "Americas"),
        "Strategy",
        "randomly",
        "F",
        "unknown strategy 'randomly'",
        "use one of: round robin, weighted, least loaded",
        {"routing"},
    ),
    (
        "Routing",
        ("Assign to", "Enterprise"),
        "Order",
        "fourth",
        "A",
        "'fourth' is not a number",
        "number the rules 1, 2, 3",
        {"routing"},
    ),
    (
        "Routing",
        ("Assign to", "Enterprise"),
        "Operator",
        "at lest",
        "C",
        "unknown operator 'at lest'",
        "did you mean 'at least'?",
        {"routing"},
    ),
    (
        "Team",
        ("Name", "Maya Patel"),
        "Active",
        "maybe",
        "D",
        "'maybe' is not yes or no",
        "type yes or no",
        {"routing"},
    ),
    (
        "Team",
        ("Name", "Maya Patel"),
        "Weight",
        "heavy",
        "E",
        "'heavy' is not a weight",
        "1 for a normal share",
        {"routing"},
    ),
    (
        "Team",
        ("Name", "Maya Patel"),
        "Daily capacity",
        "-1",
        "F",
        "'-1' is not a count",
        "leave it empty for no limit",
        {"routing"},
    ),
    (
        "Team",
        ("Name", "Maya Patel"),
        "Away until",
        "someday",
        "G",
        "'someday' is not a date",
        "like 2026-01-31",
        {"routing"},
    ),
    (
        "Team",
        ("Name", "Maya Patel"),
        "Name",
        "Jordan Lee",
        "A",
        "'Jordan Lee' is listed twice",
        "keep one row each",
        {"routing"},
    ),
    (
        "Stages",
        ("Stage", "Lost"),
        "Type",
        "closed",
        "B",
        "unknown stage type 'closed'",
        "did you mean 'lost'?",
        {"stages", "validation"},
    ),
    (
        "Stages",
        ("Stage", "Meeting"),
        "Probability",
        "150",
        "C",
        "'150' is not a percentage",
        "from 0 to 100",
        {"stages", "validation"},
    ),
    (
        "Stages",
        ("Stage", "Meeting"),
        "Max days",
        "soon",
        "D",
        "'soon' is not a number of days",
        "whole number",
        {"stages", "validation"},
    ),
    (
        "Stages",
        ("Stage", "Proposal"),
        "Required fields",
        "Amount, Ammount",
        "E",
        "unknown field 'Ammount'",
        "did you mean 'Amount'?",
        {"stages", "validation"},
    ),
    (
        "Stages",
        ("Stage", "Qualified"),
        "Stage",
        "Prospecting",
        "A",
        "stage 'Prospecting' is listed twice",
        "keep one row per stage",
        {"stages", "validation"},
    ),
    (
        "Settings",
        ("Key", "Time zone"),
        "Value",
        "Europe/Pariss",
        "B",
        "Time zone: unknown time zone 'Europe/Pariss'",
        "did you mean 'Europe/Paris'?",
        ALL,
    ),
    (
        "Settings",
        ("Key", "Time zone"),
        "Value",
        "US",  # a folder of the zone database, not a zone
        "B",
        "Time zone: unknown time zone 'US'",
        "use an IANA name like Europe/Paris",
        ALL,
    ),
    (
        "Settings",
        ("Key", "Date order"),
        "Value",
        "YMD",
        "B",
        "unknown date order 'YMD'",
        "use DMY (31/01/2026) or MDY (01/31/2026)",
        ALL,
    ),
    (
        "Settings",
        ("Key", "Default phone region"),
        "Value",
        "ZZ",
        "B",
        "unknown phone region 'ZZ'",
        "two-letter country code",
        {"validation"},
    ),
    (
        "Settings",
        ("Key", "MQL score"),
        "Value",
        "forty",
        "B",
        "MQL score: 'forty' is not a number",
        "type a plain number",
        {"scoring"},
    ),
    (
        "Settings",
        ("Key", "First-touch SLA hours"),
        "Value",
        "-3",
        "B",
        "'-3' is below 0",
        "use 0 or more",
        {"stages"},
    ),
    (
        "Settings",
        ("Key", "Dedupe keys"),
        "Value",
        "email, fax",
        "B",
        "unknown dedupe key 'fax'",
        "email, phone, company domain",
        set(),
    ),
    (
        "Settings",
        ("Key", "Time zone"),
        "Key",
        "Timezone",
        "A",
        "unknown setting 'Timezone'",
        "did you mean 'Time zone'?",
        set(),
    ),
    (
        "Settings",
        ("Key", "Group cap: Engagement"),
        "Value",
        "X",
        "B",
        "'X' is not a number",
        "type the most points",
        {"scoring"},
    ),
    (
        "Settings",
        ("Key", "Fallback owner"),
        "Value",
        "Jordan Leigh",
        "B",
        "Fallback owner 'Jordan Leigh' is not on the Team tab",
        "did you mean 'Jordan Lee'?",
        {"routing"},
    ),
    # A Forms row with a problem is left out (its answers go by the defaults or into
    # Notes): nothing is frozen.
    (
        "Forms",
        ("Form field", "Work email"),
        "Leads column",
        "Emial",
        "B",
        "no Leads column 'Emial'",
        "did you mean 'Email'?",
        set(),
    ),
    (
        "Forms",
        ("Form field", "Work email"),
        "Leads column",
        "",
        "B",
        "form field 'Work email' goes to no Leads column",
        "type a Leads header",
        set(),
    ),
    (
        "Forms",
        ("Form field", "Work email"),
        "Leads column",
        "score",
        "B",
        "Score is filled by sheetcrm, not by forms",
        "a column people fill",
        set(),
    ),
    (
        "Forms",
        ("Form field", "Work email"),
        "Form field",
        "",
        "A",
        "a row without a form field",
        "or clear the row",
        set(),
    ),
    (
        "Forms",
        ("Form field", "Estimated budget"),
        "Form field",
        "work  E-MAIL",
        "A",
        "form field 'work  E-MAIL' is mapped twice; the first row is used",
        "delete one of the two rows",
        set(),
    ),
]


@pytest.mark.parametrize(
    ("tab", "find", "column", "text", "letter", "problem", "hint", "frozen"),
    BROKEN,
    ids=[f"{b[0]}.{b[2]}={b[3]}" for b in BROKEN],
)
def test_one_broken_cell(
    tab: str,
    find: tuple[str, str],
    column: str,
    text: str,
    letter: str,
    problem: str,
    hint: str,
    frozen: set[str],
) -> None:
    t = tabs()
    row = set_cell(t, tab, find, column, text)
    config = parse(t)
    assert [p.cell for p in config.problems] == [f"{tab}!{letter}{row}"]
    found = config.problems[0]
    assert found.tab == tab
    assert problem in found.problem
    assert hint in found.hint
    assert found.hint  # every problem ends with a hint
    assert config.frozen == set(frozen)


def test_cells_are_exact_a1_references() -> None:
    # Anchors for the computed rows above: the second Scoring rule sits in sheet row 3.
    t = tabs()
    t["Scoring"].rows[1][2] = "equls"
    t["Routing"].rows[1][4] = "Nobody"
    t["Team"].rows[3][3] = "maybe"
    config = parse(t)
    assert [p.cell for p in config.problems] == ["Scoring!C3", "Routing!E3", "Team!D5"]
    assert config.frozen == {"scoring", "routing"}


def test_a_frozen_area_still_parses_the_others() -> None:
    t = tabs()
    set_cell(t, "Scoring", ("Rule", "Target market"), "Operator", "equls")
    config = parse(t)
    assert config.frozen == {"scoring"}
    assert len(config.routing) == 4
    assert len(config.stages) == 7
    assert len(config.team) == 5


def test_every_problem_of_a_tab_is_listed() -> None:
    t = tabs()
    set_cell(t, "Scoring", ("Rule", "Target market"), "Operator", "equls")
    set_cell(t, "Scoring", ("Rule", "Referral"), "Points", "lots")
    set_cell(t, "Scoring", ("Rule", "Role address"), "Value", "([")
    config = parse(t)
    assert [p.cell for p in config.problems] == ["Scoring!C3", "Scoring!E8", "Scoring!D13"]


def test_team_away_until_is_read_in_the_settings_date_order() -> None:
    t = tabs()  # the template's Date order is MDY
    set_cell(t, "Team", ("Name", "Maya Patel"), "Away until", "03/04/2026")
    assert parse(t).team[3].away_until == datetime(2026, 3, 4)
    set_cell(t, "Settings", ("Key", "Date order"), "Value", "DMY")
    assert parse(t).team[3].away_until == datetime(2026, 4, 3)


def test_percentages_read_as_typed() -> None:
    t = tabs()
    set_cell(t, "Stages", ("Stage", "Meeting"), "Probability", "0.4")
    set_cell(t, "Stages", ("Stage", "Proposal"), "Probability", "60%")
    config = parse(t)
    assert config.problems == []
    assert [s.probability for s in config.stages][2:4] == [40.0, 60.0]


def test_scoring_rule_points_must_agree_across_its_rows() -> None:
    t = tabs()
    row = set_cell(t, "Scoring", ("Value", "7"), "Points", "20")  # Hot inbound's 2nd row
    config = parse(t)
    assert [(p.cell, p.problem) for p in config.problems] == [
        (f"Scoring!E{row}", "rule 'Hot inbound' has different points on its rows")
    ]
    assert config.frozen == {"scoring"}


def test_the_same_points_twice_are_fine() -> None:
    t = tabs()
    set_cell(t, "Scoring", ("Value", "7"), "Points", "10")
    assert parse(t).problems == []


def test_a_scoring_rule_needs_points_and_a_condition() -> None:
    t = tabs()
    no_points = set_cell(t, "Scoring", ("Rule", "Referral"), "Points", "")
    parts = t["Scoring"]
    i = row_index(parts, "Rule", "No company")
    parts.rows[i][1] = ""  # Field
    parts.rows[i][2] = ""  # Operator
    config = parse(t)
    assert [(p.cell, p.problem) for p in config.problems] == [
        (f"Scoring!E{no_points}", "rule 'Referral' has no points"),
        (f"Scoring!B{i + 2}", "rule 'No company' has no condition"),
    ]


def test_routing_rules_are_ordered_by_order_not_by_row() -> None:
    t = tabs()
    routing = t["Routing"]
    routing.rows.reverse()
    config = parse(t)
    assert config.problems == []
    assert [r.assign_to for r in config.routing] == ["EMEA", "Avery Chen", "Americas", "Enterprise"]


def test_a_routing_rule_without_an_order_or_condition_matches_all() -> None:
    t = tabs()
    t["Routing"].rows.append(["", "", "", "", "jordan lee", ""])
    config = parse(t)
    assert config.problems == []
    last = config.routing[-1]
    assert (last.label, last.assign_to, last.strategy, last.conditions) == (
        f"Routing row {len(t['Routing'].rows) + 1}",
        "Jordan Lee",  # spelled as on the Team tab
        "direct",
        (),
    )


def test_a_routing_rule_that_assigns_to_nobody() -> None:
    t = tabs()
    row = set_cell(t, "Routing", ("Assign to", "Enterprise"), "Assign to", "")
    config = parse(t)
    assert [(p.cell, p.problem) for p in config.problems] == [
        (f"Routing!E{row}", "Routing rule 4 assigns to nobody")
    ]
    assert config.frozen == {"routing"}


def test_a_stages_tab_without_an_open_stage() -> None:
    t = tabs()
    for row in t["Stages"].rows:
        row[1] = "lost"
    config = parse(t)
    assert [(p.cell, p.problem) for p in config.problems] == [("Stages", "no open stage")]
    assert config.frozen == {"stages", "validation"}
    assert config.stages == []


def test_a_blank_stage_type_is_open() -> None:
    t = tabs()
    set_cell(t, "Stages", ("Stage", "Meeting"), "Type", "")
    config = parse(t)
    assert config.problems == []
    assert [s.type for s in config.stages if s.name == "Meeting"] == ["open"]


def test_fallback_owner_must_be_active_on_the_team_even_in_another_case() -> None:
    t = tabs()
    set_cell(t, "Settings", ("Key", "Fallback owner"), "Value", "jordan LEE")
    assert parse(t).problems == []


# --- missing tabs and columns --------------------------------------------------------------


@pytest.mark.parametrize(
    ("tab", "frozen"),
    [
        ("Scoring", {"scoring"}),
        ("Routing", {"routing"}),
        ("Stages", {"stages", "validation"}),
    ],
)
def test_a_missing_rule_tab_freezes_its_area(tab: str, frozen: set[str]) -> None:
    t = tabs()
    del t[tab]
    config = parse(t)
    assert [(p.tab, p.cell, p.problem) for p in config.problems] == [
        (tab, tab, f"the {tab} tab is missing")
    ]
    assert config.problems[0].hint.startswith(f"add a tab named {tab} with headers: ")
    assert config.frozen == frozen


def test_a_missing_team_tab_freezes_routing() -> None:
    t = tabs()
    del t["Team"]
    config = parse(t)
    assert ("Team", "the Team tab is missing") in [(p.cell, p.problem) for p in config.problems]
    assert config.frozen == {"routing"}
    assert config.team == []
    # the routing rules name people who are now unknown; the hint does not list nobody
    routing = [p for p in config.problems if p.tab == "Routing"]
    assert routing and all(p.hint == "add the people leads go to on the Team tab" for p in routing)


def test_a_missing_settings_tab_is_a_problem() -> None:
    t = tabs()
    del t["Settings"]
    config = parse(t)
    assert [(p.cell, p.problem) for p in config.problems] == [
        ("Settings", "the Settings tab is missing")
    ]
    assert config.settings.zone.key == "UTC"


def test_tabs_are_found_by_name_whatever_the_case() -> None:
    t = tabs()
    t["scoring "] = t.pop("Scoring")
    assert parse(t).problems == []


@pytest.mark.parametrize(
    ("tab", "column", "renamed", "hint", "frozen"),
    [
        ("Scoring", "Points", "Pointz", "did you mean 'Pointz'?", {"scoring"}),
        ("Scoring", "Operator", "Op", "use one of: Rule, Field, Op, Value, Points", {"scoring"}),
        ("Routing", "Assign to", "Owner", "use one of: ", {"routing"}),
        ("Stages", "Type", "Kind", "use one of: ", {"stages", "validation"}),
        ("Team", "Name", "Who", "use one of: ", {"routing"}),
        ("Settings", "Value", "Setting", "use one of: ", ALL),
    ],
)
def test_a_missing_required_column(
    tab: str, column: str, renamed: str, hint: str, frozen: set[str]
) -> None:
    t = tabs()
    table = t[tab]
    table.header[table.header.index(column)] = renamed
    config = parse(t)
    mine = [p for p in config.problems if p.tab == tab]
    assert [(p.cell, p.problem) for p in mine] == [
        (f"{tab}!1", f"the {tab} tab has no {column!r} column")
    ]
    assert hint in mine[0].hint
    assert config.frozen == set(frozen)


def test_headers_are_matched_whatever_their_case_and_spacing() -> None:
    t = tabs()
    t["Scoring"].header = [f"  {h.upper()}  " for h in t["Scoring"].header]
    t["Routing"].header = [h.replace(" ", "   ") for h in t["Routing"].header]
    assert parse(t).problems == []


def test_an_empty_tab_asks_for_headers() -> None:
    t = tabs()
    t["Scoring"] = Table([])
    config = parse(t)
    assert len(config.problems) == 5
    assert {p.cell for p in config.problems} == {"Scoring!1"}
    assert config.problems[0].hint.startswith("put the headers in row 1: Rule, Field")


# --- Leads columns -------------------------------------------------------------------------


def test_leads_fields_use_canonical_headers() -> None:
    leads = Table(["Lead ID", "E-mail", "deal value", " Budget ", ""])
    assert leads_fields(leads) == {
        "Lead ID": Kind.TEXT,
        "Email": Kind.EMAIL,
        "Amount": Kind.MONEY,
        "Budget": None,
    }


def test_rules_work_on_a_leads_tab_with_alias_headers() -> None:
    t = tabs()
    leads = t["Leads"]
    leads.header[leads.header.index("Email")] = "E-mail"
    leads.header[leads.header.index("Amount")] = "Deal value"
    config = parse(t)
    assert config.problems == []
    free = next(r for r in config.scoring if r.name == "Free-mail address")
    assert free.conditions[0].field == "Email"  # as the sync's Leads frame names it
    budget = next(r for r in config.scoring if r.name == "Budget 10k+")
    assert budget.conditions[0].field == "Amount"


def test_a_rule_on_a_column_the_leads_tab_lacks() -> None:
    t = tabs()
    row = set_cell(t, "Scoring", ("Rule", "Target industry"), "Field", "Budget")
    config = parse(t)
    assert [(p.cell, p.problem) for p in config.problems] == [
        (f"Scoring!B{row}", "unknown field 'Budget'")
    ]
    t["Leads"].header.append("Budget")
    assert parse(t).problems == []


# --- never raises --------------------------------------------------------------------------

_WORDS = st.sampled_from(
    [
        "",
        " ",
        "equals",
        "between",
        "at least",
        "within last N days",
        "is empty",
        "1",
        "-5",
        "10 and",
        "([",
        "Amount",
        "Email",
        "Created at",
        "Select",
        "yes",
        "EMEA",
        "Jordan Lee",
        "weighted",
        "won",
        "2026-01-01",
        "Group cap: x",
        "Time zone",
        "Fallback owner",
        "Date order",
    ]
)
_EDIT = st.tuples(
    st.sampled_from(RULE_TABS),
    st.integers(0, 40),
    st.integers(0, 7),
    st.one_of(st.text(), _WORDS),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_EDIT, min_size=1, max_size=8))
def test_parse_config_never_raises_on_what_people_type(
    edits: list[tuple[str, int, int, str]],
) -> None:
    t = tabs()
    for tab, row, col, text in edits:
        table = t[tab]
        row %= len(table.rows) + 1
        col %= len(table.header)
        if row == len(table.rows):
            table.header[col] = text  # a header typed over, too
        else:
            table.rows[row][col] = text
    config = parse(t)
    assert config.frozen <= ALL
    for p in config.problems:
        assert p.tab in RULE_TABS
        assert p.cell.startswith(p.tab), p
        assert p.cell == p.tab or p.cell.startswith(f"{p.tab}!")


def test_a_setting_typed_twice_is_a_problem_and_the_first_one_counts() -> None:
    t = tabs()
    t["Settings"].rows.append(["MQL score", "5", ""])
    config = parse(t)
    row = len(t["Settings"].rows) + 1
    assert [p.cell for p in config.problems] == [f"Settings!A{row}"]
    assert "set twice" in config.problems[0].problem
    assert config.settings["MQL score"] == 40


def test_required_fields_naming_no_column_freezes_validation() -> None:
    t = tabs()
    row = set_cell(t, "Settings", ("Key", "Required fields"), "Value", "Email or Phon")
    config = parse(t)
    assert [(p.cell, p.hint) for p in config.problems] == [
        (f"Settings!B{row}", "did you mean 'Phone'?")
    ]
    assert config.frozen == {"validation"}


def test_a_missing_settings_tab_freezes_everything_it_governs() -> None:
    t = tabs()
    del t["Settings"]
    config = parse(t)
    assert config.frozen == ALL
    assert config.problems[0].problem == "the Settings tab is missing"


# --- Forms ---------------------------------------------------------------------------------


def test_the_template_forms_tab() -> None:
    forms = parse(tabs()).forms
    assert [(r.field, r.column, r.form, r.row) for r in forms.rules] == [
        ("Work email", "Email", "", 2),
        ("Estimated budget", "Amount", "", 3),
        ("How did you hear about us?", "Source", "", 4),
        ("Which company do you work for?", "Company", "typeform", 5),
    ]


def test_a_sheet_without_a_forms_tab_is_fine() -> None:
    t = tabs()
    del t["Forms"]
    config = parse(t)
    assert config.problems == []
    assert config.forms == FormMapping()


def test_a_forms_row_with_a_problem_is_left_out_and_the_others_kept() -> None:
    t = tabs()
    set_cell(t, "Forms", ("Form field", "Work email"), "Leads column", "Emial")
    config = parse(t)
    assert [r.field for r in config.forms.rules] == [
        "Estimated budget",
        "How did you hear about us?",
        "Which company do you work for?",
    ]
    assert config.frozen == set()


def test_forms_columns_are_leads_headers_aliases_or_added_columns() -> None:
    t = tabs()
    t["Leads"].header.append("Budget range")
    t["Forms"].rows = [
        ["Mail", "e-mail", ""],
        ["Range", "budget RANGE", ""],
        ["Rep", "Owner", ""],  # service-owned, but a person may set it
        ["Sector", "Industry", "Google Forms"],
    ]
    config = parse(t)
    assert config.problems == []
    assert [(r.column, r.form) for r in config.forms.rules] == [
        ("Email", ""),
        ("Budget range", ""),
        ("Owner", ""),
        ("Industry", "Google Forms"),
    ]
    assert config.forms.rules[3].applies_to("google-forms", "Contact")
    assert not config.forms.rules[3].applies_to("typeform", "Contact")


def test_a_forms_tab_without_its_columns_is_reported_and_maps_nothing() -> None:
    t = tabs()
    t["Forms"] = Table(["Field", "Leads column"], [["Work email", "Email"]])
    config = parse(t)
    assert [(p.cell, p.problem) for p in config.problems] == [
        ("Forms!1", "the Forms tab has no 'Form field' column")
    ]
    assert config.forms.rules == ()
    assert config.frozen == set()


def test_forms_problems_reach_the_problems_tab() -> None:
    from sheetcrm.engine.sync import plan_sync

    t = tabs()
    row = set_cell(t, "Forms", ("Form field", "Work email"), "Leads column", "Emial")
    plan = plan_sync(Snapshot(t), NOW)
    assert f"Forms!B{row}" in [p.cell for p in plan.problems]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Work e-mail", "workemail"),
        ("work_email", "workemail"),
        ("workEmail", "workemail"),
        ("  Société ", "societe"),  # accents folded: French users type both
        ("Te\u0301le\u0301phone", "telephone"),  # decomposed, as macOS pastes it
        ("名前", "名前"),
        ("--", ""),
    ],
)
def test_form_key(text: str, key: str) -> None:
    assert form_key(text) == key


@pytest.mark.parametrize("name", ["Select", "N/A", "none"])
def test_a_team_member_named_like_an_empty_cell_is_refused(name):
    """Found by Hypothesis (test_invariants): an Owner "SELECT" reads as empty, so the lead
    was routed again at every sync and a second sync was never a no-op."""
    tabs = dict(TEMPLATE)
    tabs["Team"] = Table(["Name", "Team"], [[name, "EMEA"], ["Sofia Marin", "EMEA"]])
    config = parse_config(Snapshot(tabs, "v"))
    assert "routing" in config.frozen  # a Team tab with a mistake routes nobody this round
    assert any(
        p.cell == "Team!A2" and "reads as an empty cell" in p.problem for p in config.problems
    )
