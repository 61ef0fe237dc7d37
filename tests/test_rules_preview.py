"""Draft rules: a Scoring or Routing row whose Status is draft is not applied; the sync's
Preview tab and `sheetcrm rules preview` say what publishing it would change, and typing
active (or clearing the cell) publishes it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from sales_sheet import set_settings, sync
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.cli import main
from sheetcrm.engine.config import parse_config
from sheetcrm.engine.preview_tab import NO_DRAFT
from sheetcrm.engine.schema import HISTORY, LEADS, PREVIEW, ROUTING, SCORING
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import Snapshot, Table
from sheets import NOW, cell, put_leads, template

STATUS = len(SCORING.headers) - 1  # the Status column is the last of both tabs
assert SCORING.headers[STATUS] == ROUTING.headers[-1] == "Status"


def crm(scoring_status: str = "draft", routing_status: str = "draft") -> dict[str, Table]:
    """One active and one draft Scoring rule, two active Routing rules and a draft one
    before them, four leads: three without an owner."""
    tabs = template()
    tabs[SCORING.name] = Table(
        list(SCORING.headers),
        [
            ["Referral", "Source", "equals", "Referral", "10", "", ""],
            ["Fintech push", "Industry", "equals", "Fintech", "30", "", scoring_status],
        ],
    )
    tabs[ROUTING.name] = Table(
        list(ROUTING.headers),
        [
            ["1", "Country", "equals", "France", "Sofia Marin", "", "active"],
            ["2", "", "", "", "Jordan Lee", "", ""],
            ["0", "Industry", "equals", "Fintech", "Avery Chen", "", routing_status],
        ],
    )
    set_settings(tabs, {"Grade C at": "20", "Grade B at": "40", "MQL score": "40"})
    lead = {"Created at": "2026-11-20 09:00", "Stage": "Prospecting"}
    put_leads(
        tabs,
        {**lead, "First name": "Lea", "Company": "Fin FR", "Industry": "Fintech",
         "Country": "France", "Source": "Referral"},
        {**lead, "First name": "Max", "Company": "Fin US", "Industry": "Fintech",
         "Country": "United States", "Owner": "Maya Patel"},
        {**lead, "First name": "Sam", "Company": "Saas US", "Industry": "SaaS",
         "Country": "United States"},
        {**lead, "First name": "Ida", "Company": "Fin DE", "Industry": "Fintech",
         "Country": "Germany"},
    )  # fmt: skip
    return tabs


def shown(tab: Table) -> list[list[str]]:
    return [[c for c in row if c != ""] for row in [tab.header, *tab.rows]]


def line(tab: Table, first: str) -> list[str]:
    return next(r for r in shown(tab) if r and r[0] == first)


def test_a_draft_rule_is_not_applied() -> None:
    backend = MemoryBackend(crm())
    sync(backend, NOW)
    after = backend.read()
    leads = after.table(LEADS.name)
    assert leads.column("Score") == ["10", "0", "0", "0"]
    assert leads.column("Owner") == ["Sofia Marin", "Maya Patel", "Jordan Lee", "Jordan Lee"]
    config = parse_config(after)
    assert [r.name for r in config.scoring] == ["Referral"]
    assert [r.name for r in config.draft_scoring if r.draft] == ["Fintech push"]
    assert [r.label for r in config.routing] == ["Routing rule 1", "Routing rule 2"]


def test_the_preview_counts_and_lists_the_changes_with_the_draft_rules_behind_them() -> None:
    backend = MemoryBackend(crm())
    sync(backend, NOW)
    assert line(backend.read().table(PREVIEW.name), "Owner would change")[1] == "2"
    sync(backend, NOW + timedelta(minutes=5))
    tab = backend.read().table(PREVIEW.name)
    assert line(tab, "Draft rule") == ["Draft rule", "Fintech push"]
    assert ["Draft rule", "Routing rule 0"] in shown(tab)
    counts = {r[0]: r[1] for r in shown(tab) if len(r) == 2 and r[0].endswith("change")}
    # Lea, Max, Ida are Fintech: +30; Lea 10 -> 40 is grade C -> B and Lead -> MQL
    assert counts == {
        "Score would change": "3",
        "Grade would change": "3",
        "Lifecycle would change": "1",
        "Owner would change": "0",  # synced before: nobody is left without an owner
        "Any of these would change": "3",
    }
    start = shown(tab).index(
        ["Lead ID", "Lead", "Field", "Now", "With drafts", "Why (draft rules)"]
    )
    changes = shown(tab)[start + 1 : start + 7]
    assert changes[:3] == [
        ["L-00001", "Lea · Fin FR", "Score", "10", "40", "+30 Fintech push"],
        ["L-00001", "Lea · Fin FR", "Grade", "D", "B", "+30 Fintech push"],
        ["L-00001", "Lea · Fin FR", "Lifecycle", "Lead", "MQL", "+30 Fintech push"],
    ]
    assert changes[3] == ["L-00002", "Max · Fin US", "Score", "0", "30", "+30 Fintech push"]


def test_owners_are_compared_on_the_leads_the_routing_assigns_only() -> None:
    plan = plan_sync(Snapshot(crm()), NOW)  # before the first sync: three leads to route
    assert plan.preview is not None
    rows = shown(plan.preview)
    assert line(plan.preview, "Owner would change")[1] == "2"  # Lea and Ida; Max keeps his
    assert line(plan.preview, "  of the leads the routing assigns (no Owner yet)")[1] == "3"
    owners = [r for r in rows if len(r) > 2 and r[2] == "Owner"]
    assert [(r[0], r[3], r[4]) for r in owners] == [
        ("L-00001", "Sofia Marin", "Avery Chen"),
        ("L-00004", "Jordan Lee", "Avery Chen"),
    ]
    assert all(r[5].startswith("Routing rule 0") for r in owners)


def test_without_a_draft_the_tab_says_how_to_make_one() -> None:
    backend = MemoryBackend(crm("active", ""))
    plan = sync(backend, NOW)
    assert shown(backend.read().table(PREVIEW.name))[2] == ["Draft rules", *NO_DRAFT]
    assert plan.summary.routed == 3
    assert sync(backend, NOW + timedelta(minutes=5)).replace == {}  # idempotent


def test_publishing_applies_the_draft_and_history_logs_the_owner() -> None:
    backend = MemoryBackend(crm())
    sync(backend, NOW)

    def publish(tabs: dict[str, Table]) -> None:
        tabs[SCORING.name].rows[1][STATUS] = "active"
        tabs[ROUTING.name].rows[2][STATUS] = ""  # a cleared cell is active too
        new = ["", "2026-11-23 09:30", "Zoe", "", "", "", "Fin UK", "United Kingdom", "Fintech"]
        tabs[LEADS.name].rows.append(new + [""] * (len(tabs[LEADS.name].header) - len(new)))

    backend.human(publish)
    sync(backend, NOW + timedelta(hours=1))
    after = backend.read()
    assert after.table(LEADS.name).column("Score") == ["40", "30", "0", "30", "30"]
    assert cell(after, LEADS.name, "L-00005", "Owner") == "Avery Chen"
    assert cell(after, LEADS.name, "L-00001", "Owner") == "Sofia Marin"  # owned: kept
    history = after.table(HISTORY.name)
    logged = [r for r in history.rows if r[1] == "L-00005" and r[2] == "Owner"]
    assert logged and logged[0][4] == "Avery Chen" and "Routing rule 0" in logged[0][6]
    assert shown(after.table(PREVIEW.name))[2] == ["Draft rules", *NO_DRAFT]


@pytest.mark.parametrize("status", ["maybe", "draft?"])
def test_a_bad_status_is_a_problem_at_its_cell(status: str) -> None:
    plan = plan_sync(Snapshot(crm(scoring_status=status)), NOW)
    problem = next(p for p in plan.problems if p.tab == SCORING.name)
    assert problem.cell == "Scoring!G3"
    assert repr(status) in problem.problem and "draft" in problem.hint


def test_rows_of_one_rule_must_agree() -> None:
    tabs = crm(scoring_status="")
    tabs[SCORING.name].rows.append(["Fintech push", "Country", "equals", "France", "", "", "draft"])
    plan = plan_sync(Snapshot(tabs), NOW)
    problem = next(p for p in plan.problems if p.tab == SCORING.name)
    assert problem.cell == "Scoring!G4" and "draft" in problem.problem


def test_a_sheet_without_the_status_column_is_all_active() -> None:
    tabs = crm()
    for name in (SCORING.name, ROUTING.name):
        old = tabs[name]
        tabs[name] = Table(old.header[:-1], [r[:-1] for r in old.rows])
    config = parse_config(Snapshot(tabs))
    assert config.problems == [] and config.draft_scoring == [] == config.draft_routing
    assert [r.name for r in config.scoring] == ["Referral", "Fintech push"]


def test_a_french_sheet_writes_statut_brouillon_and_actif() -> None:
    tabs = crm()
    tabs[SCORING.name] = Table(
        ["Règle", "Champ", "Opérateur", "Valeur", "Points", "Groupe", "Statut"],
        [
            ["Parrainage", "Source", "égal à", "Referral", "10", "", "actif"],
            ["Fintech", "Secteur", "égal à", "Fintech", "30", "", "Brouillon"],
        ],
    )
    config = parse_config(Snapshot(tabs))
    assert [p.problem for p in config.problems if p.tab == SCORING.name] == []
    assert [r.name for r in config.scoring] == ["Parrainage"]
    assert [r.name for r in config.draft_scoring if r.draft] == ["Fintech"]


def test_the_evaluation_compares_the_auc_live_and_with_the_drafts() -> None:
    """400 closed leads over 40 weeks: Fintech ones are won, the others lost; the live rule
    (Referral) cannot tell them apart, the draft one can."""
    tabs = crm()
    start = datetime(2026, 1, 5, 9, 0)
    leads = []
    for i in range(400):
        fintech = i % 3 == 0
        closed = (start + timedelta(days=i * 0.7)).strftime("%Y-%m-%d %H:%M")
        leads.append(
            {
                "Created at": closed,
                "First name": f"P{i}",
                "Company": f"C{i}",
                "Industry": "Fintech" if fintech else "SaaS",
                "Country": "France",
                "Source": "Referral" if i % 2 else "Web",
                "Stage": "Won" if fintech else "Lost",
                "Owner": "Sofia Marin",
                "Amount": "1000",
                "Closed at": closed,
            }
        )
    put_leads(tabs, *leads)
    plan = plan_sync(Snapshot(tabs), NOW)
    assert plan.preview is not None
    assert line(plan.preview, "Verdict") == ["Verdict", "no signal", "signal"]
    assert line(plan.preview, "Rule score, with drafts")[1] == "separates won from lost"


def test_the_cli_prints_the_preview_of_a_workbook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = WorkbookBackend(tmp_path / "crm.xlsx")
    backend.provision(crm())
    before = (tmp_path / "crm.xlsx").read_bytes()
    assert (
        main(["rules", "preview", "--sheet", str(tmp_path / "crm.xlsx"), "--now", NOW.isoformat()])
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert "Draft rule  Fintech push" in out
    assert "Score would change  3" in out and "Owner would change  2" in out
    assert "L-00001  Lea · Fin FR  Score  10  40  +30 Fintech push" in out
    assert any(line.startswith("Verdict") for line in out)
    assert (tmp_path / "crm.xlsx").read_bytes() == before  # a preview writes nothing
    assert main(["sync", "--sheet", str(tmp_path / "crm.xlsx"), "--now", NOW.isoformat()]) == 0
    assert (
        "Draft rules, not applied: Fintech push, Routing rule 0; what they would change: the "
        "Preview tab, or `sheetcrm rules preview`." in capsys.readouterr().out.splitlines()
    )


def test_the_cli_prints_the_preview_of_a_google_sheet(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sheets import google_backend

    backend = google_backend(crm())
    monkeypatch.setenv("SHEETS_EMULATOR_HOST", backend.http.emulator_host)
    assert main(["rules", "preview", "--sheet", backend.location, "--now", NOW.isoformat()]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "Score would change  3" in out and "Owner would change  2" in out
    assert backend.read().get(PREVIEW.name).rows == []  # nothing written: made by init only


def test_with_the_scoring_tab_not_applied_the_preview_says_so() -> None:
    tabs = crm()
    tabs[SCORING.name].rows[0][SCORING.headers.index("Points")] = "ten"
    plan = plan_sync(Snapshot(tabs), NOW)  # a new sheet: no last valid Scoring tab to use
    assert plan.preview is not None
    said = [r for r in shown(plan.preview) if r and r[0].startswith("Not computed")]
    assert said == [["Not computed this round: the scoring rules are not applied "
                     "(see Problems)"]]  # fmt: skip
