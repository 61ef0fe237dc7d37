"""Stage transitions and the flags on deals that slip, through a whole sync."""

from __future__ import annotations

from datetime import datetime, timedelta

from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.schema import LEADS
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import Table
from sheets import NOW, cell, template


def _lead(table: Table, **values: str) -> None:
    row = [""] * len(table.header)
    for header, value in values.items():
        row[table.col(header.replace("_", " "))] = value
    table.rows.append(row)


def _backend(*leads: dict[str, str]) -> MemoryBackend:
    tabs = template()
    tabs[LEADS.name].rows.clear()
    for values in leads:
        _lead(tabs[LEADS.name], **values)
    return MemoryBackend(tabs)


def _sync(backend: MemoryBackend, now: datetime):
    snapshot = backend.read()
    plan = plan_sync(snapshot, now)
    apply(plan, backend, snapshot)
    return plan


def _status(backend: MemoryBackend, lead_id: str = "L-00001") -> str:
    return cell(backend.read(), LEADS.name, lead_id, "Status")


def test_a_deal_goes_stale_after_its_stage_max_days():
    backend = _backend({"Email": "a@acme.example", "Stage": "Proposal", "Amount": "5000"})
    _sync(backend, NOW)  # new lead: Stage changed at = now
    assert cell(backend.read(), LEADS.name, "L-00001", "Stage changed at") == "2026-11-23 10:00"
    _sync(backend, NOW + timedelta(days=21))
    assert _status(backend) == "OK"  # 21 days is the limit, not past it
    _sync(backend, NOW + timedelta(days=21, hours=1))
    assert _status(backend) == "stale: in Proposal since 2026-11-23 (max 21 days)"


def test_won_and_lost_deals_are_never_stale_and_get_closed_at():
    backend = _backend({"Email": "a@acme.example", "Stage": "Negotiation", "Amount": "9000"})
    _sync(backend, NOW)
    backend.human(lambda t: t[LEADS.name].rows[0].__setitem__(t[LEADS.name].col("Stage"), "Won"))
    _sync(backend, NOW + timedelta(days=2))
    snap = backend.read()
    assert cell(snap, LEADS.name, "L-00001", "Closed at") == "2026-11-25 10:00"
    _sync(backend, NOW + timedelta(days=400))
    assert _status(backend) == "OK"
    # reopened: Closed at is cleared, and History has the whole path
    backend.human(
        lambda t: t[LEADS.name].rows[0].__setitem__(t[LEADS.name].col("Stage"), "Negotiation")
    )
    _sync(backend, NOW + timedelta(days=401))
    snap = backend.read()
    assert cell(snap, LEADS.name, "L-00001", "Closed at") == ""
    path = [(h["From"], h["To"]) for h in snap.table("History").records() if h["Field"] == "Stage"]
    assert path == [("", "Negotiation"), ("Negotiation", "Won"), ("Won", "Negotiation")]


def test_first_touch_sla_is_counted_from_assignment():
    backend = _backend({"Email": "b@acme.example", "Country": "France", "Stage": "Prospecting"})
    _sync(backend, NOW)  # routed now to EMEA
    assert cell(backend.read(), LEADS.name, "L-00001", "Assigned at") == "2026-11-23 10:00"
    _sync(backend, NOW + timedelta(hours=24))
    assert _status(backend) == "OK"
    _sync(backend, NOW + timedelta(hours=24, minutes=1))
    assert _status(backend) == "overdue: first touch was due 2026-11-24 10:00"
    # the owner calls: Last contact filled -> First touch at stamped, flag gone
    backend.human(
        lambda t: t[LEADS.name].rows[0].__setitem__(t[LEADS.name].col("Last contact"), "2026-11-24")
    )
    _sync(backend, NOW + timedelta(hours=26))
    assert cell(backend.read(), LEADS.name, "L-00001", "First touch at") == "2026-11-24"
    assert _status(backend) == "OK"


def test_moving_out_of_the_first_stage_is_a_first_touch():
    backend = _backend({"Email": "c@acme.example", "Stage": "Prospecting"})
    _sync(backend, NOW)
    backend.human(
        lambda t: t[LEADS.name].rows[0].__setitem__(t[LEADS.name].col("Stage"), "Qualified")
    )
    _sync(backend, NOW + timedelta(hours=3))
    assert cell(backend.read(), LEADS.name, "L-00001", "First touch at") == "2026-11-23 13:00"


def test_a_past_next_action_date_is_flagged_on_open_deals_only():
    backend = _backend(
        {
            "Email": "d@acme.example",
            "Stage": "Meeting",
            "Next action date": "2026-11-20",
            "Last contact": "2026-11-19",
        },
        {"Email": "e@other.example", "Stage": "Lost", "Next action date": "2026-11-20"},
    )
    _sync(backend, NOW)
    assert _status(backend) == "follow-up overdue since 2026-11-20"
    assert _status(backend, "L-00002") == "OK"


def test_an_unknown_stage_is_a_problem_with_a_suggestion():
    backend = _backend({"Email": "f@acme.example", "Stage": "Negociation"})
    plan = _sync(backend, NOW)
    problem = next(p for p in plan.problems if p.lead == "L-00001")
    assert (problem.cell, problem.problem) == ("Leads!K2", "Stage: unknown stage 'Negociation'")
    assert problem.hint == "did you mean 'Negotiation'?"
    assert not [h for h in backend.read().table("History").records() if h["Field"] == "Stage"]


def test_each_unknown_stage_gets_the_hint_of_its_own_stage():
    # not every row's hints joined: what another row holds tells nothing about this one
    backend = _backend(
        {"Email": "f@acme.example", "Stage": "Negociation"},
        {"Email": "g@acme.example", "Stage": "Nope"},
    )
    plan = _sync(backend, NOW)
    hints = {p.lead: p.hint for p in plan.problems if p.problem.startswith("Stage:")}
    assert hints["L-00001"] == "did you mean 'Negotiation'?"
    assert hints["L-00002"].startswith("use one of: Prospecting, Qualified")


def test_duplicates_point_at_the_earliest_lead_through_any_key():
    backend = _backend(
        {"Email": "Ann@Acme.example", "Stage": "Prospecting"},
        {"Email": "bob@gmail.com", "Phone": "+1 415 555 0100", "Stage": "Prospecting"},
        {"Email": " ann@acme.EXAMPLE", "Stage": "Prospecting"},  # same email, other case
        {"Email": "carl@gmail.com", "Phone": "(415) 555-0100", "Stage": "Prospecting"},
        {"Email": "dora@acme.example", "Stage": "Prospecting"},  # same company domain
        {"Email": "eve@gmail.com", "Stage": "Prospecting"},  # free mail: not a company
    )
    _sync(backend, NOW)
    dupes = backend.read().table(LEADS.name).column("Duplicate of")
    assert dupes == ["", "", "L-00001", "L-00002", "L-00001", ""]


def test_round_robin_carries_on_from_the_sheet_across_syncs():
    france = {"Country": "France", "Stage": "Prospecting"}
    backend = _backend(*({"Email": f"p{i}@x{i}.example", **france} for i in range(3)))
    # Lukas is away until {today+3} in the template: bring him back for this test
    backend.human(lambda t: t["Team"].rows[1].__setitem__(t["Team"].col("Away until"), ""))
    _sync(backend, NOW)
    owners = backend.read().table(LEADS.name).column("Owner")
    assert owners == ["Sofia Marin", "Lukas Becker", "Sofia Marin"]
    backend.human(lambda t: _lead(t[LEADS.name], Email="p9@x9.example", **france))
    _sync(backend, NOW + timedelta(minutes=5))
    assert backend.read().table(LEADS.name).column("Owner")[-1] == "Lukas Becker"
    # the same sheet planned twice routes the same way: no hidden state
    snapshot = backend.read()
    backend.human(lambda t: _lead(t[LEADS.name], Email="q@q.example", **france))
    again = backend.read()
    assert plan_sync(again, NOW).describe() == plan_sync(again, NOW).describe()
    assert snapshot.version != again.version
