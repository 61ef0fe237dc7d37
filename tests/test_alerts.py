"""The Alerts tab: rules a manager writes, problems at their cells, and the notifications a
sync plans from what it changed (planned once, never again on a re-sync)."""

from __future__ import annotations

import gc
import tracemalloc
from collections import Counter
from datetime import datetime, timedelta

from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.cli import main
from sheetcrm.engine.config import parse_config
from sheetcrm.engine.notifications import Notifications, keys_of
from sheetcrm.engine.plan import Plan
from sheetcrm.engine.schema import ALERTS, LEADS, TEAM
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import Snapshot, Table
from sheets import NOW, cell, put_leads, template

EVERY_EVENT = [
    ["lead assigned", "", "", "", "", "owner", "", ""],
    ["lifecycle reaches MQL", "", "", "", "", "owner", "", ""],
    ["lifecycle reaches SQL", "", "", "", "", "owner", "", ""],
    ["stage entered", "Proposal", "", "", "", "EMEA", "", "Proposal out"],
    ["deal won", "", "Amount", "at least", "1000", "", "sales-wins", "Big win"],
    ["deal lost", "", "", "", "", "boss@quillstack.example", "e-mail", ""],
    ["follow-up overdue", "", "", "", "", "owner", "", ""],
    ["deal stale", "", "", "", "", "the owner's manager", "", ""],
    ["first-touch SLA missed", "", "", "", "", "owner", "chat", ""],
]


def _tabs(rules: list[list[str]], *leads: dict[str, str]) -> dict[str, Table]:
    tabs = template()
    tabs[ALERTS.name] = Table(list(ALERTS.headers), [list(r) for r in rules])
    team = tabs[TEAM.name]
    team.rows[0][team.col("Manager")] = "Avery Chen"  # Sofia Marin's
    put_leads(tabs, *leads)
    return tabs


def _every_event(*leads: dict[str, str]) -> MemoryBackend:
    """A sheet whose Alerts rules follow every event, holding ``leads``."""
    return MemoryBackend(_tabs(EVERY_EVENT, *leads))


def _sync(backend: MemoryBackend, now: datetime) -> Plan:
    snapshot = backend.read()
    plan = plan_sync(snapshot, now)
    apply(plan, backend, snapshot)
    return plan


def _planned(plan: Plan) -> Counter[tuple[str, str]]:
    return Counter((n.event, n.lead_id) for n in plan.notifications)


def _set(backend: MemoryBackend, row: int, header: str, value: str) -> None:
    backend.human(lambda t: t[LEADS.name].rows[row].__setitem__(t[LEADS.name].col(header), value))


def test_a_bad_row_is_a_problem_at_its_cell_and_the_others_still_alert():
    rules = [
        ["lead asigned", "", "", "", "", "owner", "", ""],
        ["stage entered", "Proposl", "", "", "", "owner", "", ""],
        ["deal won", "Won", "", "", "", "owner", "", ""],
        ["deal lost", "", "Amount", "bigger than", "5", "owner", "", ""],
        ["deal lost", "", "", "", "", "Sofia Marn", "", ""],
        ["deal lost", "", "", "", "", "", "email", ""],
        ["lead assigned", "", "Country", "equals", "France", "EMEA", "", ""],
        ["deal won", "", "", "", "", "", "sales-wins", ""],
    ]
    config = parse_config(Snapshot(_tabs(rules)))
    problems = {(p.cell, p.problem): p.hint for p in config.problems if p.tab == ALERTS.name}
    cells = sorted(cell for cell, _ in problems)
    assert cells == ["Alerts!A2", "Alerts!B3", "Alerts!B4", "Alerts!D5", "Alerts!F6", "Alerts!F7"]
    hints = {cell: hint for (cell, _), hint in problems.items()}
    assert hints["Alerts!A2"] == "did you mean 'lead assigned'?"
    assert hints["Alerts!B3"] == "did you mean 'Proposal'?"
    assert hints["Alerts!F6"] == "did you mean 'Sofia Marin'?"
    assert [(r.row, r.event) for r in config.alerts] == [(8, "lead assigned"), (9, "deal won")]
    team = config.alerts[0]
    assert team.recipients == ("sofia.marin@quillstack.example", "lukas.becker@quillstack.example")
    assert not config.frozen  # a bad alert stops no other part of the sync


def test_a_manager_not_on_the_team_tab_is_a_problem_that_stops_no_routing():
    tabs = _tabs([])
    team = tabs[TEAM.name]
    team.rows[1][team.col("Manager")] = "Sofia Marn"
    config = parse_config(Snapshot(tabs))
    [problem] = [p for p in config.problems if p.tab == TEAM.name]
    assert (problem.cell, problem.hint) == ("Team!H3", "did you mean 'Sofia Marin'?")
    assert "routing" not in config.frozen


def test_a_sheet_without_the_alerts_tab_has_no_rules_and_no_problem():
    tabs = template()
    del tabs[ALERTS.name]
    config = parse_config(Snapshot(tabs))
    assert config.alerts == []
    assert not [p for p in config.problems if p.tab == ALERTS.name]


def test_each_event_is_planned_once_by_the_sync_that_makes_it_happen():
    backend = _every_event(
        {"Email": "a@acme.example", "Country": "France", "Stage": "Prospecting"},
        {"Email": "b@bolt.example", "Country": "France", "Stage": "Prospecting"},
        {"Email": "c@cask.example", "Country": "France", "Stage": "Meeting"},
    )
    first = _sync(backend, NOW)
    assert _planned(first) == Counter(
        [
            *(("lead assigned", f"L-0000{i}") for i in (1, 2, 3)),
            ("lifecycle reaches MQL", "L-00003"),  # a lead arriving past Prospecting is an SQL
            ("lifecycle reaches SQL", "L-00003"),
        ]
    )
    mail = {n.lead_id: n for n in first.notifications}["L-00001"]
    assert mail.channel == "email" and mail.recipient.endswith("@quillstack.example")
    assert "Leads row 2" in mail.text and "Alerts row 2" in mail.text
    assert not _sync(backend, NOW).notifications  # nothing new: nothing planned

    _set(backend, 0, "Stage", "Proposal")  # a later open stage: qualified, so MQL and SQL
    _set(backend, 0, "Amount", "5000")
    _set(backend, 0, "Last contact", "2026-11-23")  # touched: only lead 2 misses its SLA
    _set(backend, 2, "Next action date", "2026-11-23")
    later = NOW + timedelta(days=1, hours=1)
    second = _sync(backend, later)
    assert _planned(second) == Counter(
        [
            ("lifecycle reaches MQL", "L-00001"),
            ("lifecycle reaches SQL", "L-00001"),
            ("stage entered", "L-00001"),
            ("stage entered", "L-00001"),  # the EMEA team: both its people
            ("follow-up overdue", "L-00003"),
            ("first-touch SLA missed", "L-00002"),
        ]
    )
    stage = next(n for n in second.notifications if n.event == "stage entered")
    assert "Prospecting → Proposal" in stage.text and stage.text.endswith("Proposal out")
    sla = next(n for n in second.notifications if n.event == "first-touch SLA missed")
    assert sla.channel == "chat"
    assert not _sync(backend, later).notifications

    _set(backend, 0, "Stage", "Won")
    _set(backend, 1, "Stage", "Lost")
    third = _sync(backend, later + timedelta(hours=1))
    assert _planned(third) == Counter([("deal won", "L-00001"), ("deal lost", "L-00002")])
    won = next(n for n in third.notifications if n.event == "deal won")
    assert (won.channel, won.recipient) == ("sales-wins", "")
    lost = next(n for n in third.notifications if n.event == "deal lost")
    assert (lost.channel, lost.recipient) == ("email", "boss@quillstack.example")

    stale_at = later + timedelta(days=15)  # Meeting: at most 14 days
    stale = _sync(backend, stale_at)
    assert _planned(stale) == Counter([("deal stale", "L-00003")])
    owner = cell(backend.read(), LEADS.name, "L-00003", "Owner")
    assert owner == "Sofia Marin"
    assert stale.notifications[0].recipient == "avery.chen@quillstack.example"  # her manager
    assert not _sync(backend, stale_at + timedelta(hours=1)).notifications


def test_a_re_planned_event_keeps_its_key_so_a_sender_can_drop_it():
    tabs = _tabs(EVERY_EVENT, {"Email": "a@acme.example", "Country": "France"})
    once = plan_sync(Snapshot(tabs), NOW).notifications
    again = plan_sync(Snapshot(tabs), NOW).notifications  # a sync whose writes were lost
    assert [n.key for n in once] == [n.key for n in again] and once
    # assigned a minute later: another event, another key
    later = plan_sync(Snapshot(tabs), NOW + timedelta(minutes=1)).notifications
    assert later[0].event == once[0].event and later[0].key != once[0].key


def test_dry_run_lists_the_notifications_it_would_send(tmp_path, capsys):
    sheet = tmp_path / "crm.xlsx"
    assert main(["init", "--sheet", str(sheet), "--now", "2026-11-23T10:00"]) == 0
    capsys.readouterr()
    assert main(["sync", "--sheet", str(sheet), "--dry-run", "--now", "2026-11-23T10:00"]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("notify ")]
    assert lines, "the template's Alerts rules tell owners of the leads assigned"
    assert all("(lead L-" in x and "Alerts row " in x and "[key " in x for x in lines)
    assert any(x.startswith("notify email ") and "assigned to " in x for x in lines)


def test_every_notification_has_a_one_line_subject_and_its_leads_row():
    backend = _every_event(
        {"Email": "a@acme.example", "Country": "France", "Company": "Acme\r\nBcc: x@y.z"},
        {"Email": "b@bolt.example", "Country": "France", "First name": "Bo"},
    )
    first = _sync(backend, NOW)
    assert {(n.lead_id, n.subject, n.leads_row) for n in first.notifications} == {
        ("L-00001", "New lead L-00001 is yours: Acme Bcc: x@y.z", 2),
        ("L-00002", "New lead L-00002 is yours: Bo", 3),
    }
    _set(backend, 1, "Stage", "Proposal")
    _set(backend, 1, "Amount", "5000")
    second = _sync(backend, NOW + timedelta(hours=1))
    subjects = {(n.event, n.subject) for n in second.notifications}
    assert ("stage entered", "Lead L-00002 entered Proposal: Bo") in subjects
    assert ("lifecycle reaches SQL", "Lead L-00002 is now an SQL: Bo") in subjects
    assert all(n.leads_row == 3 for n in second.notifications)


def test_a_team_sheet_synced_for_the_first_time_tells_of_assignments_not_of_its_backlog():
    """An adopted sheet (no Status column yet) with follow-ups long overdue: that is how the
    sheet stands, not news, so the first sync plans no overdue alert for it; a follow-up that
    falls overdue afterwards is one."""
    tabs = _tabs(
        EVERY_EVENT,
        {"Email": "a@acme.example", "Country": "France", "Next action date": "2026-10-01"},
        {"Email": "b@bolt.example", "Country": "France", "Next action date": "2026-10-02"},
    )
    leads = tabs[LEADS.name]
    status = leads.col("Status")
    leads.header.pop(status)
    for row in leads.rows:
        row.pop(status)
    backend = MemoryBackend(tabs)
    first = _sync(backend, NOW)
    assert _planned(first) == Counter(("lead assigned", f"L-0000{i}") for i in (1, 2))
    assert "overdue" in cell(backend.read(), LEADS.name, "L-00001", "Status")  # still shown
    _set(backend, 0, "Next action date", "2026-11-24")
    later = _sync(backend, NOW + timedelta(days=2))
    assert _planned(later) == Counter(
        [
            ("follow-up overdue", "L-00001"),  # L-00002's was shown already: not news
            ("first-touch SLA missed", "L-00001"),  # both assigned by the first sync
            ("first-touch SLA missed", "L-00002"),
        ]
    )


def test_a_first_syncs_alerts_are_held_in_a_few_dozen_bytes_each():
    """Issue 21: a first sync of 100,000 new leads tells as many owners; as Notification
    objects with their own texts they held 40 MB to the end of the sync. A rule's messages
    are columns now, their texts made when read, and read the same as the objects were."""
    leads = [
        {"Email": f"p{i}@firm{i}.example", "Country": "France", "Company": f"Firm {i}"}
        for i in range(1_000)
    ]
    tabs = _tabs(EVERY_EVENT, *leads)
    team = tabs[TEAM.name]
    for person in team.rows:
        person[team.col("Daily capacity")] = ""  # no cap: each lead gets an owner
    snapshot = MemoryBackend(tabs).read()
    tracemalloc.start()
    try:
        plan = plan_sync(snapshot, NOW)
        gc.collect()  # the sync's own garbage: not the notifications'
        held, count = tracemalloc.get_traced_memory()[0], len(plan.notifications)
        plan.notifications = Notifications()
        gc.collect()
        freed = held - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert count >= 1_000 and freed / count < 100  # 500 bytes each as objects with texts
    listed = list(plan_sync(snapshot, NOW).notifications)  # each as an object, texts made
    assigned = [n for n in listed if n.event == "lead assigned"]
    assert len(assigned) == 1_000
    first = assigned[0]
    assert first.subject == "New lead L-00001 is yours: Firm 0"
    assert first.text.startswith("assigned to ") and "(lead L-00001, Leads row 2;" in first.text
    assert [n.key for n in listed] == list(keys_of(Notifications(listed)))
    assert Notifications(listed) == listed and listed[-1] == Notifications(listed)[-1]
