"""Edits people really make, found by review: each of these once crashed, lied or looped."""

from __future__ import annotations

from datetime import timedelta

from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.schema import LEADS
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import Table
from sheetcrm.engine.validation import normalise_phone
from sheets import NOW, cell, template


def _sync(backend: MemoryBackend, now=NOW):
    snapshot = backend.read()
    plan = plan_sync(snapshot, now)
    apply(plan, backend, snapshot)
    return plan


def _drop_column(table: Table, header: str) -> None:
    i = table.col(header)
    table.header.pop(i)
    for row in table.rows:
        row.pop(i)


def test_deleting_the_stage_column_is_a_problem_not_a_crash():
    backend = MemoryBackend(template())
    _sync(backend)
    backend.human(lambda t: _drop_column(t[LEADS.name], "Stage"))
    plan = _sync(backend, NOW + timedelta(hours=1))
    assert "stages" in plan.summary.frozen
    assert any(p.problem == "the Leads tab has no Stage column" for p in plan.problems)
    assert "Stage" not in backend.tabs[LEADS.name].header  # not re-added: it is a person's


def test_renaming_lead_id_stops_the_sync_instead_of_renumbering_everyone():
    backend = MemoryBackend(template())
    _sync(backend)
    history = len(backend.tabs["History"].rows)
    backend.human(lambda t: t[LEADS.name].header.__setitem__(0, "ID"))
    plan = _sync(backend)
    assert not plan.writes and not plan.history
    assert plan.problems[0].hint.startswith("rename the column back to Lead ID")
    assert len(backend.tabs["History"].rows) == history
    assert backend.tabs[LEADS.name].column("ID")[0] == "L-00001"


def test_no_leads_tab_is_one_clear_problem():
    tabs = template()
    del tabs[LEADS.name]
    plan = plan_sync(MemoryBackend(tabs).read(), NOW)
    assert plan.problems[0].problem == "no Leads tab, or no header row on it"
    assert plan.summary.problems == len(plan.problems) == 1


def test_a_scoring_rule_on_the_score_itself_is_refused():
    tabs = template()
    tabs["Scoring"].rows.append(["Boost", "Score", "less than", "30", "20", ""])
    backend = MemoryBackend(tabs)
    plan = _sync(backend)
    row = len(tabs["Scoring"].rows) + 1
    problem = next(p for p in plan.problems if p.tab == "Scoring")
    assert problem.cell == f"Scoring!B{row}" and "never settle" in problem.problem
    assert "scoring" in plan.summary.frozen
    assert not plan_sync(backend.read(), NOW).writes


def test_an_email_in_the_phone_column_is_not_a_phone():
    number, problem = normalise_phone("bob@acme.example", "US")
    assert number == "" and "not a phone number" in problem


def test_history_never_records_an_assignment_a_person_beat_us_to():
    backend = MemoryBackend(template())
    snapshot = backend.read()
    plan = plan_sync(snapshot, NOW)
    routed = {r[1] for _, r, column in plan.history if column == "Owner"}
    first = next(p for p, r, column in plan.history if column == "Owner")
    row = plan.keys[first].row

    def owner_typed(tabs):
        t = tabs[LEADS.name]
        t.rows[row][t.col("Owner")] = "Maya Patel"

    backend.human(owner_typed)
    apply(plan, backend, snapshot)
    leads = backend.tabs[LEADS.name]
    assert leads.rows[row][leads.col("Owner")] == "Maya Patel"
    assert leads.rows[row][leads.col("Assigned at")] == ""  # not stamped without the Owner
    owners = [r for r in backend.tabs["History"].records() if r["Field"] == "Owner"]
    assert len(owners) == len(routed) - 1


def test_a_stage_set_later_on_a_lead_without_one_is_a_change():
    tabs = template()
    t = tabs[LEADS.name]
    t.rows[0][t.col("Stage")] = ""
    tabs["Activities"].rows.clear()  # first touch from the stage move alone, not a sample call
    backend = MemoryBackend(tabs)
    _sync(backend)
    assert cell(backend.read(), LEADS.name, "L-00001", "Stage changed at") == ""
    backend.human(
        lambda x: x[LEADS.name].rows[0].__setitem__(x[LEADS.name].col("Stage"), "Qualified")
    )
    plan = _sync(backend, NOW + timedelta(hours=2))
    snap = backend.read()
    assert cell(snap, LEADS.name, "L-00001", "Stage changed at") == "2026-11-23 12:00"
    assert cell(snap, LEADS.name, "L-00001", "First touch at") == "2026-11-23 12:00"
    assert plan.summary.stage_changes == 1
    last = [h for h in snap.table("History").records() if h["Lead ID"] == "L-00001"][-1]
    assert (last["From"], last["To"], last["Why"]) == ("", "Qualified", "stage set in the sheet")


def test_an_owner_not_on_the_team_is_flagged():
    tabs = template()
    t = tabs[LEADS.name]
    t.rows[0][t.col("Owner")] = "Bobby Tables"
    backend = MemoryBackend(tabs)
    _sync(backend)
    assert "'Bobby Tables' is not on the Team tab" in cell(
        backend.read(), LEADS.name, "L-00001", "Status"
    )


def test_a_huge_bad_cell_keeps_status_short_and_the_sync_idempotent():
    tabs = template()
    t = tabs[LEADS.name]
    t.rows[0][t.col("Email")] = "x" * 20_000
    t.rows[0][t.col("Phone")] = "9" * 20_000
    backend = MemoryBackend(tabs)
    _sync(backend)
    status = cell(backend.read(), LEADS.name, "L-00001", "Status")
    assert len(status) < 1000
    assert not plan_sync(backend.read(), NOW).writes


def test_a_backlog_beyond_capacity_keeps_the_same_reason_every_sync():
    tabs = template()
    t = tabs[LEADS.name]
    t.rows.clear()
    # a later row (later Lead ID) that arrived earlier: assignment order is not ID order
    for email, created in (
        ("a@a.example", "2026-11-23 09:00"),
        ("b@b.example", "2026-11-23 08:00"),
        ("c@c.example", "2026-11-23 09:30"),
    ):
        row = [""] * len(t.header)
        row[t.col("Email")], row[t.col("Country")] = email, "France"
        row[t.col("Stage")], row[t.col("Created at")] = "Prospecting", created
        t.rows.append(row)
    team = tabs["Team"]
    for r in team.rows:  # one lead a day each; the fallback owner takes none today
        r[team.col("Daily capacity")] = "0" if r[0] == "Jordan Lee" else "1"
        r[team.col("Away until")] = ""
    backend = MemoryBackend(tabs)
    _sync(backend)
    status = cell(backend.read(), LEADS.name, "L-00003", "Status")
    assert "Sofia Marin is at daily capacity (1); Lukas Becker is at daily capacity (1)" in status
    again = plan_sync(backend.read(), NOW + timedelta(minutes=1))
    assert not again.writes, again.describe(3)


def test_history_is_recreated_when_a_person_deletes_it():
    backend = MemoryBackend(template())
    _sync(backend)
    backend.human(lambda t: t.pop("History"))
    backend.human(lambda t: t[LEADS.name].rows[0].__setitem__(t[LEADS.name].col("Stage"), "Won"))
    _sync(backend, NOW + timedelta(hours=1))
    first = [h for h in backend.tabs["History"].records() if h["Lead ID"] == "L-00001"]
    assert [h["To"] for h in first] == ["Won"]
