"""The Activities tab through whole syncs: Last contact, First touch at and Next action date
set from the touches, problems at their cells, History rows, and nothing on a second sync."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.activities import parse_stamps
from sheetcrm.engine.schema import ACTIVITIES, LEADS
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import Table
from sheetcrm.files.templates import load_template
from sheets import NOW, cell, template


def _row(table: Table, **values: str) -> list[str]:
    row = [""] * len(table.header)
    for header, value in values.items():
        row[table.col(header.replace("_", " "))] = value
    return row


def _backend(leads: list[dict[str, str]], touches: list[dict[str, str]]) -> MemoryBackend:
    tabs = template()
    tabs[LEADS.name].rows[:] = [_row(tabs[LEADS.name], **v) for v in leads]
    tabs[ACTIVITIES.name].rows[:] = [_row(tabs[ACTIVITIES.name], **v) for v in touches]
    return MemoryBackend(tabs)


def _sync(backend: MemoryBackend, now=NOW):
    snapshot = backend.read()
    plan = plan_sync(snapshot, now)
    apply(plan, backend, snapshot)
    return plan


def _touch(at: str, lead: str, **more: str) -> dict[str, str]:
    return {"At": at, "Lead_ID": lead, **more}


def _lead(snapshot, lead_id: str, column: str) -> str:
    return cell(snapshot, LEADS.name, lead_id, column)


def _activity_problems(plan) -> dict[str, tuple[str, str, str]]:
    return {p.cell: (p.problem, p.hint, p.lead) for p in plan.problems if p.tab == ACTIVITIES.name}


ANN = {"Email": "ann@acme.example", "Stage": "Prospecting", "Created at": "2026-11-01 09:00"}
BOB = {"Email": "bob@bolt.example", "Stage": "Prospecting", "Created at": "2026-11-02 09:00"}


def test_touches_set_last_contact_first_touch_and_next_action_then_a_resync_writes_nothing():
    backend = _backend(
        [ANN, BOB],
        [
            _touch(
                "2026-11-20 15:30",
                "ann@acme.example",
                Type="call",
                Outcome="reached",
                By="Sofia Marin",
                Next_action_date="2026-11-27",
            ),
            _touch("2026-11-05 09:15", "ANN@acme.example", Type="email", By="Sofia Marin"),
            _touch("2026-11-10", "bob@bolt.example", Type="meeting", Outcome="meeting booked"),
        ],
    )
    plan = _sync(backend)
    snap = backend.read()
    assert _lead(snap, "L-00001", "Last contact") == "2026-11-20"
    assert _lead(snap, "L-00001", "First touch at") == "2026-11-05 09:15"
    assert _lead(snap, "L-00001", "Next action date") == "2026-11-27"
    assert _lead(snap, "L-00002", "Last contact") == "2026-11-10"
    assert _lead(snap, "L-00002", "First touch at") == "2026-11-10"
    assert _lead(snap, "L-00002", "Next action date") == ""
    history = [r for r in snap.table("History").records() if r["Field"] != "Stage"]
    ann = {r["Field"]: r for r in history if r["Lead ID"] == "L-00001"}
    assert ann["Last contact"]["Why"] == "activity 2026-11-20 call (reached) by Sofia Marin"
    assert ann["First touch at"]["Why"] == "activity 2026-11-05 email by Sofia Marin"
    assert ann["Next action date"]["To"] == "2026-11-27"
    assert {r["By"] for r in history} == {"sheetcrm"}
    assert not _activity_problems(plan)
    again = plan_sync(backend.read(), NOW + timedelta(minutes=15))
    assert not [w for w in again.writes if w.column in ("Last contact", "Next action date")]
    assert not [h for _pos, h, _col in again.history if h[2] != "Stage"]


def test_a_later_last_contact_a_person_typed_is_kept():
    backend = _backend(
        [{**ANN, "Last contact": "2026-11-22"}], [_touch("2026-11-20 15:30", "ann@acme.example")]
    )
    _sync(backend)
    snap = backend.read()
    assert _lead(snap, "L-00001", "Last contact") == "2026-11-22"
    assert _lead(snap, "L-00001", "First touch at") == "2026-11-20 15:30"


def test_a_newer_touch_moves_last_contact_and_a_person_date_after_the_sync_stays():
    backend = _backend(
        [ANN], [_touch("2026-11-20", "ann@acme.example", Next_action_date="2026-11-25")]
    )
    _sync(backend)
    # a person moves the follow-up: it stays, the older activity does not take it back
    backend.human(
        lambda t: (
            t[LEADS.name].rows[0].__setitem__(t[LEADS.name].col("Next action date"), "2026-12-01")
        )
    )
    _sync(backend, NOW + timedelta(hours=1))
    assert _lead(backend.read(), "L-00001", "Next action date") == "2026-12-01"
    # a newer activity with its own date wins
    new = _row(backend.tabs[ACTIVITIES.name], At="2026-11-23 11:30", Lead_ID="L-00001",
               Next_action_date="2026-11-30")  # fmt: skip
    backend.human(lambda t: t[ACTIVITIES.name].rows.append(new))
    _sync(backend, NOW + timedelta(hours=2))
    snap = backend.read()
    assert _lead(snap, "L-00001", "Next action date") == "2026-11-30"
    assert _lead(snap, "L-00001", "Last contact") == "2026-11-23"
    assert _lead(snap, "L-00001", "First touch at") == "2026-11-20"  # the earliest stays


def test_first_touch_at_is_the_earliest_of_a_stage_move_and_the_activities():
    backend = _backend([ANN], [])
    _sync(backend)
    backend.human(
        lambda t: t[LEADS.name].rows[0].__setitem__(t[LEADS.name].col("Stage"), "Qualified")
    )
    _sync(backend, NOW + timedelta(hours=1))
    assert _lead(backend.read(), "L-00001", "First touch at") == "2026-11-23 11:00"
    earlier = _row(backend.tabs[ACTIVITIES.name], At="2026-11-21 08:00", Lead_ID="L-00001")
    backend.human(lambda t: t[ACTIVITIES.name].rows.append(earlier))
    _sync(backend, NOW + timedelta(hours=2))
    assert _lead(backend.read(), "L-00001", "First touch at") == "2026-11-21 08:00"


def test_rows_that_cannot_count_are_reported_at_their_cells_and_what_people_typed_stays():
    touches = [
        _touch("2026-11-20", "L-0999"),
        _touch("2026-11-20", "nobody@nowhere.example"),
        _touch("the 20th", "L-00001"),
        _touch("2026-11-20", "L-00001", Type="cal", Outcome="reachd"),
        _touch("2026-11-21", "L-00001", By="Sofia Marine"),
        _touch("2026-11-21", "L-00001", Next_action_date="soon"),
        {},  # a gap on the tab: nothing to say
    ]
    backend = _backend([ANN], touches)
    before = [list(r) for r in backend.tabs[ACTIVITIES.name].rows]
    plan = _sync(backend)
    problems = _activity_problems(plan)
    assert problems["Activities!B2"][0] == "no lead with ID or e-mail 'L-0999'"
    assert "Lead ID" in problems["Activities!B2"][1]
    assert problems["Activities!B3"][0] == "no lead with ID or e-mail 'nobody@nowhere.example'"
    assert problems["Activities!A4"][0] == "'the 20th' is not a date"
    assert problems["Activities!C5"][:2] == ("unknown activity type 'cal'", "did you mean 'call'?")
    assert problems["Activities!D5"][:2] == ("unknown outcome 'reachd'", "did you mean 'reached'?")
    assert problems["Activities!E6"] == (
        "'Sofia Marine' is not on the Team tab; the activity still counts",
        "did you mean 'Sofia Marin'?",
        "L-00001",
    )
    assert problems["Activities!G7"][0] == "'soon' is not a date"
    assert len(problems) == 7
    # the row by someone not on the Team still counts
    assert _lead(backend.read(), "L-00001", "Last contact") == "2026-11-21"
    assert [list(r) for r in backend.tabs[ACTIVITIES.name].rows] == before


def test_an_email_several_leads_share_means_the_oldest_and_says_so():
    twin = {**ANN, "Email": "Ann@Acme.example", "Created at": "2026-11-03"}
    backend = _backend([ANN, twin], [_touch("2026-11-20", "ann@ACME.example")])
    plan = _sync(backend)
    snap = backend.read()
    assert _lead(snap, "L-00001", "Last contact") == "2026-11-20"
    assert _lead(snap, "L-00002", "Last contact") == ""
    problem, hint, lead = _activity_problems(plan)["Activities!B2"]
    assert problem.startswith("2 leads have the e-mail 'ann@ACME.example'")
    assert lead == "L-00001" and "Lead ID" in hint


def test_a_sheet_without_the_activities_tab_syncs_as_before():
    tabs = template()
    del tabs[ACTIVITIES.name]
    backend = MemoryBackend(tabs)
    plan = _sync(backend)
    assert not _activity_problems(plan)
    assert not [h for _p, h, _c in plan.history if h[2] == "Last contact"]


def test_french_headers_and_words_are_read():
    tabs = load_template("b2b-fr", NOW.replace(tzinfo=None))
    backend = MemoryBackend(tabs)
    plan = _sync(backend)
    assert not _activity_problems(plan)
    whys = [h[6] for _p, h, _c in plan.history if h[2] == "Next action date"]
    assert len(whys) == 3 and any("rendez-vous (rendez-vous pris)" in w for w in whys)


@pytest.mark.parametrize(
    ("text", "wall"),
    [
        ("2026-11-20 15:30", "2026-11-20T15:30"),
        ("2026-11-20", "2026-11-20T00:00"),
        ("20/11/2026 15:30", "2026-11-20T15:30"),  # day first, by the slow path
        ("", "NaT"),
        ("tomorrow-ish", "NaT"),
        ("9999-11-20 15:30", "NaT"),  # a datetime64[ns] cannot hold it: not wrapped to 1815
    ],
)
def test_stamps_are_read_fast_and_slow_alike(text, wall):
    from zoneinfo import ZoneInfo

    got = parse_stamps(np.array([text], dtype=object), True, ZoneInfo("UTC"))
    assert np.datetime_as_string(got[0], unit="m") == wall


def test_the_kpis_count_the_tab_the_activities_step_read_as_if_they_read_it_themselves():
    """The sync parses the Activities tab once: the metric tabs made from the frame the step
    kept on the state are those made from the tab read afresh (French headers and words,
    the demo's touches, a short row and an e-mail in another case included)."""
    from sheetcrm.engine.sync import STEPS, begin
    from sheetcrm.engine.sync.metrics import plan_metrics

    tabs = load_template("b2b-fr", NOW.replace(tzinfo=None))
    activities = tabs[ACTIVITIES.name]
    email = tabs[LEADS.name].rows[0][tabs[LEADS.name].col("E-mail")]
    activities.rows.append(activities.rows[0][:2])  # a short row
    activities.rows.append([activities.rows[0][0], email.upper(), *activities.rows[0][2:]])
    state = begin(MemoryBackend(tabs).read(), NOW, None, True)
    for _name, step in STEPS:
        state = step(state)
    assert state.activities is not None and state.activities.rows == len(activities.rows)
    shared, dashboard = state.metrics_digest, state.plan.replace["Dashboard"]
    state.activities = None  # the metrics step now reads the tab itself
    assert plan_metrics(state).metrics_digest == shared
    counted = [r for r in dashboard.rows if r[0] == "Activities"]
    assert counted and int(counted[0][2]) == len(activities.rows)  # every row counts
