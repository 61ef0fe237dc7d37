"""Last known good rules: a rule tab (or a Settings value) with a problem is applied as it was
last valid, kept on the hidden state tab, and the sheet says so (a banner on Problems, a note
on the leads' Status); with no valid version ever, the Status says why nothing was applied.
Also: the consistency checks of Settings and Team, every problem listed in one sync, and a
won deal reopened."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.base import SheetBackend
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.config import parse_config
from sheetcrm.engine.last_good import CHUNK, decode, normalised
from sheetcrm.engine.plan import Plan
from sheetcrm.engine.schema import LEADS, PROBLEMS, STATE
from sheetcrm.engine.table import Snapshot, Table
from sheets import NOW, cell, google_backend, human_edit, put_leads, template

ANN = {
    "Email": "ann@acme.example",
    "First name": "Ann",
    "Company": "Acme",
    "Country": "Germany",
    "Industry": "SaaS",
    "Source": "Referral",
    "Stage": "Prospecting",
}  # 20 (industry) + 10 (market) + 15 (referral) = 45: grade B, MQL
BOB = {**ANN, "Email": "bob@beta.example", "First name": "Bob", "Company": "Beta"}
FIRST = "2026-11-23 10:00"  # NOW, as the sheet writes it


def backend_with(*leads: dict[str, str], tabs: dict[str, Table] | None = None) -> MemoryBackend:
    tabs = template() if tabs is None else tabs
    put_leads(tabs, *leads)
    return MemoryBackend(tabs)


def sync(backend: SheetBackend, hours: float = 0) -> Plan:
    at = NOW + timedelta(hours=hours)
    plan, _ = sync_once(backend, at, datetime.now().astimezone())
    return plan


def set_cell(table: Table, find: tuple[str, str], column: str, text: str) -> None:
    row = table.column(find[0]).index(find[1])
    col = table.col(column)
    assert col is not None
    table.rows[row][col] = text


def add_lead(backend: SheetBackend, values: dict[str, str]) -> None:
    def append(leads: Table) -> None:
        row = [""] * len(leads.header)
        for header, value in values.items():
            row[leads.col(header)] = value  # type: ignore[index]
        leads.rows.append(row)

    human_edit(backend, LEADS.name, append)


def lead(backend: SheetBackend, email: str, column: str) -> str:
    leads = backend.read().table(LEADS.name)
    return leads.rows[leads.column("Email").index(email)][leads.col(column)]  # type: ignore[index]


def problems(backend: SheetBackend) -> list[dict[str, str]]:
    return backend.read().table(PROBLEMS.name).records()


# --- a rule tab with a problem, after a good sync ---------------------------------------------


def test_a_bad_scoring_row_keeps_the_last_valid_rules_for_old_and_new_leads() -> None:
    backend = backend_with(ANN)
    sync(backend)
    assert lead(backend, ANN["Email"], "Score") == "45"

    def edit(scoring: Table) -> None:
        set_cell(scoring, ("Rule", "Target industry"), "Points", "50")  # not applied yet
        set_cell(scoring, ("Rule", "Referral"), "Field", "Sourse")  # Scoring!B8

    human_edit(backend, "Scoring", edit)
    add_lead(backend, BOB)
    plan = sync(backend, 1)
    assert "scoring" not in plan.summary.frozen
    assert plan.summary.last_good == ("Scoring",)
    for email in (ANN["Email"], BOB["Email"]):  # old and new alike, by the rules of 10:00
        assert lead(backend, email, "Score") == "45"
        assert lead(backend, email, "Grade") == "B"
        assert lead(backend, email, "Status") == (
            f"scored by the rules of {FIRST}: Scoring!B8 has a problem"
        )
    banner, *rest = problems(backend)
    assert banner["Problem"] == f"Scoring: using the rules as of {FIRST} until Scoring!B8 is fixed"
    assert banner["Cell"] == "Scoring!B8" and banner["Hint"]
    assert any(p["Cell"] == "Scoring!B8" and "Sourse" in p["Problem"] for p in rest)

    human_edit(backend, "Scoring", lambda t: set_cell(t, ("Rule", "Referral"), "Field", "Source"))
    plan = sync(backend, 2)
    assert plan.summary.last_good == ()
    assert lead(backend, BOB["Email"], "Score") == "75"  # the new rules: 50 + 10 + 15
    assert "Scoring" not in lead(backend, BOB["Email"], "Status")
    assert not any("using the rules" in p["Problem"] for p in problems(backend))
    # the rules as fixed are now the last valid ones: breaking them again keeps 75
    human_edit(backend, "Scoring", lambda t: set_cell(t, ("Rule", "Referral"), "Points", "lots"))
    sync(backend, 3)
    assert lead(backend, BOB["Email"], "Score") == "75"
    assert problems(backend)[0]["Problem"].startswith(
        "Scoring: using the rules as of 2026-11-23 12:00"
    )


def test_a_bad_team_tab_routes_by_the_last_valid_team() -> None:
    backend = backend_with(ANN)
    sync(backend)
    assert lead(backend, ANN["Email"], "Owner") == "Sofia Marin"  # EMEA; Lukas is away

    def edit(team: Table) -> None:
        set_cell(team, ("Name", "Sofia Marin"), "Active", "no")  # not applied yet
        team.rows.append(["Maya Patel", "maya@x.example", "Americas", "yes", "", "", "", ""])

    human_edit(backend, "Team", edit)  # Maya Patel listed twice: Team!A7
    add_lead(backend, BOB)
    sync(backend, 1)
    assert lead(backend, BOB["Email"], "Owner") == "Sofia Marin"  # the team as it was
    assert f"routed by the rules of {FIRST}: Team!A7 has a problem" in lead(
        backend, BOB["Email"], "Status"
    )
    assert "routed by" not in lead(backend, ANN["Email"], "Status")  # routed before: untouched
    assert problems(backend)[0]["Problem"] == (
        f"Team: using the team list as of {FIRST} until Team!A7 is fixed"
    )


def test_a_bad_settings_value_keeps_its_last_valid_value() -> None:
    backend = backend_with(ANN)
    sync(backend)
    assert lead(backend, ANN["Email"], "Grade") == "B"  # 45, Grade B at 40
    human_edit(backend, "Settings", lambda t: set_cell(t, ("Key", "Grade B at"), "Value", "abc"))
    plan = sync(backend, 1)
    assert "scoring" not in plan.summary.frozen
    assert lead(backend, ANN["Email"], "Grade") == "B"
    cell_ = parse_config(backend.read()).settings.cells["Grade B at"]
    assert problems(backend)[0]["Problem"] == (
        f"Settings: using Grade B at as of {FIRST} until {cell_} is fixed"
    )
    assert lead(backend, ANN["Email"], "Status") == (
        f"scored by the rules of {FIRST}: {cell_} has a problem"
    )


def test_a_fallback_owner_not_on_the_team_keeps_the_last_valid_one() -> None:
    backend = backend_with(ANN)
    sync(backend)
    human_edit(
        backend,
        "Settings",
        lambda t: set_cell(t, ("Key", "Fallback owner"), "Value", "Jordan Leee"),
    )
    add_lead(backend, {**BOB, "Country": "Japan", "Industry": ""})  # no rule takes Japan
    plan = sync(backend, 1)
    assert "routing" not in plan.summary.frozen
    assert lead(backend, BOB["Email"], "Owner") == "Jordan Lee"  # the last valid fallback
    cell_ = parse_config(backend.read()).settings.cells["Fallback owner"]
    assert problems(backend)[0]["Problem"] == (
        f"Settings: using Fallback owner as of {FIRST} until {cell_} is fixed"
    )
    assert any("'Jordan Leee' is not on the Team tab" in p["Problem"] for p in problems(backend))


# --- no valid version ever: not applied, and each lead's Status says why ----------------------


def test_a_new_workbook_with_a_bad_scoring_tab_says_why_on_each_lead() -> None:
    tabs = template()
    set_cell(tabs["Scoring"], ("Rule", "Referral"), "Field", "Sourse")
    backend = backend_with(ANN, BOB, tabs=tabs)
    plan = sync(backend)
    assert "scoring" in plan.summary.frozen
    for email in (ANN["Email"], BOB["Email"]):
        assert lead(backend, email, "Score") == ""
        assert lead(backend, email, "Status") == "not scored: Scoring!B8 has a problem"
    assert problems(backend)[0]["Problem"] == (
        "Scoring not applied until Scoring!B8 is fixed (no valid version yet)"
    )


@pytest.mark.parametrize(
    ("tab", "find", "column", "text", "frozen", "status"),
    [
        (
            "Routing",
            ("Order", "2"),
            "Assign to",
            "Avery Chenn",
            "routing",
            "not routed: Routing!E3",
        ),
        ("Stages", ("Stage", "Won"), "Type", "wonn", "stages", "not checked: Stages!B7"),
        ("Settings", ("Key", "Grade B at"), "Value", "abc", "scoring", "not scored: Settings!B"),
    ],
)
def test_a_new_workbook_with_a_bad_tab_says_why_on_each_lead(
    tab: str, find: tuple[str, str], column: str, text: str, frozen: str, status: str
) -> None:
    tabs = template()
    set_cell(tabs[tab], find, column, text)
    backend = backend_with(ANN, tabs=tabs)
    plan = sync(backend)
    assert frozen in plan.summary.frozen
    said = lead(backend, ANN["Email"], "Status")
    assert said.startswith(status) and "has a problem" in said
    assert "not applied until" in problems(backend)[0]["Problem"]
    if tab == "Routing":
        assert lead(backend, ANN["Email"], "Owner") == ""


# --- the kept versions: compact, split below the cell limit, across backends ------------------


def big_scoring(rows: int = 60, words: int = 150) -> Table:
    """A Scoring tab whose kept version needs several state cells: random words compress
    little."""
    rng = random.Random(14)
    scoring = Table(["Rule", "Field", "Operator", "Value", "Points", "Group"])
    for i in range(rows):
        values = ", ".join(f"{rng.getrandbits(40):010x}" for _ in range(words))
        scoring.rows.append([f"Company list {i}", "Company", "in list", values, "1", ""])
    return scoring


@pytest.mark.parametrize("kind", ["workbook", "google"])
def test_the_kept_rules_survive_the_backend_round_trip(kind: str, tmp_path: Path) -> None:
    tabs = template()
    tabs["Scoring"] = big_scoring()
    token = tabs["Scoring"].rows[3][3].split(", ")[7]
    put_leads(tabs, {**ANN, "Company": token})
    if kind == "workbook":
        from sheetcrm.backends.workbook import WorkbookBackend

        backend: SheetBackend = WorkbookBackend(tmp_path / "crm.xlsx")
        backend.provision(tabs)
    else:
        backend = google_backend(tabs)
    sync(backend)
    assert lead(backend, ANN["Email"], "Score") == "1"
    if kind == "workbook":
        from sheetcrm.backends.workbook import WorkbookBackend

        backend = WorkbookBackend(tmp_path / "crm.xlsx")  # read back from the file
    state = backend.read().table(STATE.name)
    chunks = [v for k, v in state.rows if k.startswith("last good scoring")]
    assert len(chunks) >= 2 and max(map(len, chunks)) <= CHUNK
    assert decode(state)["Scoring"].table == normalised(tabs["Scoring"])

    human_edit(
        backend, "Scoring", lambda t: set_cell(t, ("Rule", "Company list 0"), "Field", "Compny")
    )
    add_lead(backend, {**BOB, "Company": token})
    plan = sync(backend, 1)
    assert plan.summary.last_good == ("Scoring",)
    assert lead(backend, BOB["Email"], "Score") == "1"
    assert lead(backend, BOB["Email"], "Status").startswith(f"scored by the rules of {FIRST}")
    assert not sync(backend, 1)  # nothing new: the kept versions are not rewritten


def test_a_damaged_kept_version_is_no_version() -> None:
    backend = backend_with(ANN)
    sync(backend)
    state = backend.read().table(STATE.name)
    assert "Scoring" in decode(state)
    damaged = Table(
        state.header,
        [[k, v[:-9] if k.startswith("last good scoring") else v] for k, v in state.rows],
    )
    assert "Scoring" not in decode(damaged)
    assert "Team" in decode(damaged)


# --- consistency checks, each at its cell with a hint -----------------------------------------


@pytest.mark.parametrize(
    ("values", "key", "words"),
    [
        ({"Min score": "120"}, "Min score", "Min score 120 is above Max score 100"),
        ({"MQL score": "80"}, "MQL score", "MQL score 80 is above SQL score 70"),
        ({"Grade B at": "80"}, "Grade B at", "Grade B at 80 is above Grade A at 70"),
        ({"Grade C at": "45"}, "Grade C at", "Grade C at 45 is above Grade B at 40"),
        (
            {"Group cap: Engagement": "-15"},
            "Group cap: Engagement",
            "is below 0, but the group's rules add points",
        ),
    ],
)
def test_contradictory_settings_are_said_at_their_cell(
    values: dict[str, str], key: str, words: str
) -> None:
    tabs = template()
    for k, v in values.items():
        set_cell(tabs["Settings"], ("Key", k), "Value", v)
    config = parse_config(Snapshot(tabs))
    row = tabs["Settings"].column("Key").index(key) + 2
    found = [p for p in config.problems if words in p.problem]
    assert [p.cell for p in found] == [f"Settings!B{row}"]
    assert found[0].hint
    assert "scoring" in config.frozen  # no valid value kept yet: not applied
    assert parse_config(Snapshot(template())).problems == []


def test_a_contradiction_falls_back_to_the_last_valid_value() -> None:
    backend = backend_with(ANN)
    sync(backend)
    human_edit(backend, "Settings", lambda t: set_cell(t, ("Key", "Grade B at"), "Value", "80"))
    plan = sync(backend, 1)
    assert "scoring" not in plan.summary.frozen
    assert lead(backend, ANN["Email"], "Grade") == "B"  # by Grade B at 40, as it was
    assert "Grade B at 80 is above Grade A at 70" in [p["Problem"] for p in problems(backend)]


def test_a_name_that_is_both_a_person_and_a_team() -> None:
    tabs = template()
    tabs["Team"].rows.append(["EMEA", "emea@x.example", "", "yes", "", "", "", ""])
    config = parse_config(Snapshot(tabs))
    found = [p for p in config.problems if "both a person and a team" in p.problem]
    assert [p.cell for p in found] == [f"Team!A{len(tabs['Team'].rows) + 1}"]
    assert found[0].hint
    assert "routing" in config.frozen


# --- every problem of every tab, in one sync ---------------------------------------------------


def test_every_tab_s_problems_are_listed_in_one_sync() -> None:
    tabs = template()
    set_cell(tabs["Settings"], ("Key", "Time zone"), "Value", "Mars/Base")
    set_cell(tabs["Scoring"], ("Rule", "Referral"), "Field", "Sourse")
    set_cell(tabs["Routing"], ("Order", "2"), "Assign to", "Avery Chenn")
    set_cell(tabs["Team"], ("Name", "Maya Patel"), "Active", "maybe")
    set_cell(tabs["Team"], ("Name", "Maya Patel"), "Manager", "Jordan Leee")
    set_cell(tabs["Settings"], ("Key", "Fallback owner"), "Value", "Jordan Leee")
    set_cell(tabs["Stages"], ("Stage", "Won"), "Type", "wonn")
    backend = backend_with(ANN, tabs=tabs)
    sync(backend)
    listed = {p["Cell"] for p in problems(backend)}
    tz = tabs["Settings"].column("Key").index("Time zone") + 2
    fallback = tabs["Settings"].column("Key").index("Fallback owner") + 2
    for cell_ in (
        f"Settings!B{tz}",
        f"Settings!B{fallback}",
        "Scoring!B8",
        "Routing!E3",
        "Team!D5",
        "Team!H5",
    ):
        assert cell_ in listed, cell_
    assert any(c.startswith("Stages!") for c in listed)


# --- a won deal reopened ------------------------------------------------------------------------


def test_a_won_deal_moved_back_to_proposal_is_no_customer() -> None:
    backend = backend_with({**ANN, "Stage": "Negotiation", "Amount": "9000"})
    sync(backend)
    human_edit(backend, LEADS.name, lambda t: set_cell(t, ("Email", ANN["Email"]), "Stage", "Won"))
    sync(backend, 1)
    assert lead(backend, ANN["Email"], "Lifecycle") == "Customer"
    assert lead(backend, ANN["Email"], "Closed at") != ""
    human_edit(
        backend, LEADS.name, lambda t: set_cell(t, ("Email", ANN["Email"]), "Stage", "Proposal")
    )
    sync(backend, 2)
    snapshot = backend.read()
    assert cell(snapshot, LEADS.name, "L-00001", "Closed at") == ""
    assert cell(snapshot, LEADS.name, "L-00001", "Lifecycle") == "SQL"  # past the first stage
