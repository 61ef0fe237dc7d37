"""First-touch SLA reassignment: a lead nobody touched within the SLA goes to the next person
(never one who had it), with a History row, a new Assigned at and an alert to the new owner;
after Max reassignments it stays and the owner's manager is told, once."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import numpy as np
import pytest

from sales_sheet import MANAGER, email, sales_tabs, set_lead, set_member, sync
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.business_hours import Calendar
from sheetcrm.engine.config import parse_config
from sheetcrm.engine.schema import HISTORY, LEADS, SETTINGS
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.sync.sla import WHY
from sheetcrm.engine.table import Snapshot
from sheets import cell

MONDAY = datetime(2026, 11, 23, 10, 0)  # the sheet's wall time (America/New_York)
REASSIGN = {"Reassign after SLA": "yes", "First-touch SLA hours": "4"}


def _owner(backend: MemoryBackend, lead: str = "L-00001") -> str:
    return cell(backend.read(), LEADS.name, lead, "Owner")


def _sla_rows(backend: MemoryBackend) -> list[list[str]]:
    history = backend.read().table(HISTORY.name)
    return [r for r in history.rows if r[history.col("Why")].startswith(WHY)]


def test_an_untouched_lead_goes_to_the_next_person_who_is_told():
    backend = MemoryBackend(sales_tabs(REASSIGN, {"Email": "a@acme.example", "Company": "Acme"}))
    first = sync(backend, MONDAY)
    assert _owner(backend) == "Ann"
    [told] = first.notifications
    assert (told.recipient, told.subject) == (email("Ann"), "New lead L-00001 is yours: Acme")
    assert told.leads_row == 2

    assert not sync(backend, MONDAY + timedelta(hours=3, minutes=59)).notifications
    assert _owner(backend) == "Ann"

    late = MONDAY + timedelta(hours=4, minutes=1)
    plan = sync(backend, late)
    assert _owner(backend) == "Ben"
    [row] = _sla_rows(backend)
    history = backend.read().table(HISTORY.name)
    at, lead, field, before, after, by, why = (row[history.col(h)] for h in HISTORY.headers)
    assert (lead, field, before, after, by) == ("L-00001", "Owner", "Ann", "Ben", "sheetcrm")
    assert why.startswith("first-touch SLA missed after 4 h; ") and why.endswith(": Ben")
    assert at == cell(backend.read(), LEADS.name, "L-00001", "Assigned at") == "2026-11-23 14:01"
    # the new owner is told through the Alerts rule; the SLA flag went with the reassignment
    assert [(n.event, n.recipient) for n in plan.notifications] == [("lead assigned", email("Ben"))]
    assert cell(backend.read(), LEADS.name, "L-00001", "Status") == "OK"
    assert not sync(backend, late + timedelta(minutes=5)).notifications  # nothing new


def test_never_the_same_person_away_skipped_then_escalated_once_after_k():
    backend = MemoryBackend(sales_tabs(REASSIGN, {"Email": "a@acme.example", "Company": "Acme"}))
    set_member(backend, "Cal", "Away until", "2026-12-31")
    owners, plans = [], []
    for hours in (0, 5, 11, 16, 21):
        plans.append(sync(backend, MONDAY + timedelta(hours=hours)))
        owners.append(_owner(backend))
    # Ann -> Ben -> Dee (Cal is away), then Max reassignments (2) is reached: Dee keeps it
    assert owners == ["Ann", "Ben", "Dee", "Dee", "Dee"]
    assert [r[4] for r in _sla_rows(backend)] == ["Ben", "Dee"]
    escalations = [
        (i, n)
        for i, p in enumerate(plans)
        for n in p.notifications
        if n.event == "first-touch SLA missed"
    ]
    [(when, escalation)] = escalations  # once, when Dee's SLA ran out; not on later syncs
    assert when == 3 and escalation.recipient == email(MANAGER)
    assert escalation.text.startswith("escalation: overdue: first touch was due 2026-11-24 01:00")
    assert "reassigned 2 times" in escalation.text and "stays with Dee" in escalation.text
    assert escalation.subject == "Escalation: first touch overdue on L-00001: Acme"


def test_nobody_left_to_take_it_escalates_instead():
    tabs = sales_tabs({**REASSIGN, "Max reassignments": "5"}, {"Email": "a@acme.example"})
    backend = MemoryBackend(tabs)
    for name in ("Ben", "Cal", "Dee"):
        set_member(backend, name, "Active", "no")
    sync(backend, MONDAY)
    plan = sync(backend, MONDAY + timedelta(hours=5))
    assert _owner(backend) == "Ann" and not _sla_rows(backend)
    [escalation] = plan.notifications
    assert "nobody else can take it" in escalation.text


def test_a_touched_lead_or_a_setting_left_at_no_is_not_reassigned():
    backend = MemoryBackend(sales_tabs(REASSIGN, {"Email": "a@acme.example"}))
    sync(backend, MONDAY)
    set_lead(backend, 0, "Last contact", "2026-11-23")
    sync(backend, MONDAY + timedelta(hours=6))
    assert cell(backend.read(), LEADS.name, "L-00001", "First touch at")
    assert _owner(backend) == "Ann" and not _sla_rows(backend)

    off = MemoryBackend(sales_tabs({"First-touch SLA hours": "4"}, {"Email": "a@acme.example"}))
    sync(off, MONDAY)
    plan = sync(off, MONDAY + timedelta(hours=6))
    assert _owner(off) == "Ann" and not _sla_rows(off)
    assert [n.event for n in plan.notifications] == []  # the template rule list: no SLA rule


@pytest.mark.parametrize(
    ("now", "moved"),
    [
        (datetime(2026, 11, 28, 12, 0), False),  # Saturday: the SLA does not run
        (datetime(2026, 11, 30, 10, 59), False),  # Monday: 2 h on Friday + 1:59 today
        (datetime(2026, 11, 30, 11, 0), True),
    ],
)
def test_business_hours_count_across_a_weekend(now: datetime, moved: bool):
    hours = {**REASSIGN, "Business days": "Mon-Fri", "Business hours": "9:00-18:00"}
    backend = MemoryBackend(sales_tabs(hours, {"Email": "a@acme.example"}))
    sync(backend, datetime(2026, 11, 27, 16, 0))  # Friday 16:00
    sync(backend, now)
    assert _owner(backend) == ("Ben" if moved else "Ann")
    status = cell(backend.read(), LEADS.name, "L-00001", "Status")
    assert "first touch was due" not in status  # moved: the SLA starts again; else not due


def test_the_flag_names_the_business_due_time():
    hours = {"First-touch SLA hours": "4", "Business days": "Mon-Fri", "Business hours": "9-18"}
    backend = MemoryBackend(sales_tabs(hours, {"Email": "a@acme.example"}))
    sync(backend, datetime(2026, 11, 27, 16, 0))
    sync(backend, datetime(2026, 11, 30, 11, 5))
    status = cell(backend.read(), LEADS.name, "L-00001", "Status")
    assert status == "overdue: first touch was due 2026-11-30 11:00"


def test_calendar_counts_business_minutes():
    calendar = Calendar((0, 1, 2, 3, 4), (9 * 60, 18 * 60))
    friday = datetime(2026, 11, 27, 16, 0)
    assert calendar.due(friday, 4) == datetime(2026, 11, 30, 11, 0)
    assert calendar.due(datetime(2026, 11, 28, 20, 0), 9) == datetime(2026, 11, 30, 18, 0)
    walls = np.array(["2026-11-27T16:00", "2026-11-28T12:00", "NaT"], dtype="datetime64[ns]")
    minutes = calendar.minutes(walls)
    assert minutes[1] - minutes[0] == 120 and np.isnan(minutes[2])


def test_bad_settings_are_reported_at_their_cells_with_hints():
    bad = {
        "Business hours": "9:00-25:00",
        "Business days": "Mon-Fry",
        "Max reassignments": "-1",
        "Reassign after SLA": "maybe",
        "Digest at": "8h61",
        "Quiet hours": "20:00",
        "Alerts per person per hour": "many",
    }
    tabs = sales_tabs(bad)
    config = parse_config(Snapshot(tabs))
    keys = tabs[SETTINGS.name].column("Key")
    found = {p.cell: (p.problem, p.hint) for p in config.problems if p.tab == SETTINGS.name}
    for key in bad:
        where = f"Settings!B{keys.index(key) + 2}"
        assert where in found, key
        problem, hint = found[where]
        assert problem.startswith(key) and hint, (problem, hint)
    hints = {k: found[f"Settings!B{keys.index(k) + 2}"][1] for k in bad}
    assert hints["Business days"] == "did you mean 'Fri'?"
    assert "9:00-18:00" in hints["Business hours"] and "20:00-8:00" in hints["Quiet hours"]
    assert {"reassign", "digest"} <= config.frozen
    assert not {"routing", "stages"} & config.frozen  # the rest of the sync goes on


def test_a_hundred_thousand_leads_are_checked_quickly():
    n = 100_000
    leads = [{"Email": f"p{i}@x{i}.example", "Lead ID": f"L-{i + 1:06}"} for i in range(n)]
    tabs = sales_tabs({**REASSIGN, "Business days": "Mon-Fri", "Business hours": "9-18"}, *leads)
    table = tabs[LEADS.name]
    owner, at, created = table.col("Owner"), table.col("Assigned at"), table.col("Created at")
    for i, row in enumerate(table.rows):
        row[owner] = ("Ann", "Ben", "Cal", "Dee")[i % 4]
        row[created] = row[at] = "2026-11-20 10:00" if i < 200 else "2026-11-23 09:30"
    snapshot = Snapshot(tabs)
    started = time.perf_counter()
    plan = plan_sync(snapshot, MONDAY)
    sla_rows = [h for _, h, _ in plan.history if h[6].startswith(WHY)]
    assert len(sla_rows) == 200
    assert time.perf_counter() - started < 30  # the whole sync of 100k leads, shared machine


def test_a_reassignment_is_the_rotations_next_turn_after_this_syncs_routing():
    backend = MemoryBackend(sales_tabs(REASSIGN, {"Email": "a@acme.example"}))
    sync(backend, MONDAY)
    backend.human(lambda t: t[LEADS.name].rows.append(list(t[LEADS.name].rows[0])))
    set_lead(backend, 1, "Email", "b@bolt.example")
    for header in ("Lead ID", "Owner", "Assigned at", "Created at", "Status"):
        set_lead(backend, 1, header, "")
    sync(backend, MONDAY + timedelta(hours=5))
    # the new lead took Ben's turn first, so the untouched one goes on to Cal
    assert (_owner(backend, "L-00002"), _owner(backend)) == ("Ben", "Cal")
