"""Follow-up KPIs (followup.py) on a small sheet worked out by hand, then on a random one
checked against a plain per-row computation; and the tabs without an Activities tab."""

from __future__ import annotations

import math
import random
import statistics
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.followup import FollowUp, followup, read_touches
from sheetcrm.engine.frame import Frame
from sheetcrm.engine.metric_data import read_deals
from sheetcrm.engine.metrics import period_window
from sheetcrm.engine.schema import ACTIVITIES, NO_DATA
from sheetcrm.engine.settings import MetricsPeriod
from sheetcrm.engine.stages_tab import Stage
from sheetcrm.engine.table import Table
from sheetcrm.files.templates import load_template

NOW = datetime(2026, 11, 23, 10, 0)
STAGES = [
    Stage("New", "open", 10, None, (), 0),
    Stage("Meeting", "open", 40, None, (), 1),
    Stage("Won", "won", 100, None, (), 2),
    Stage("Lost", "lost", 0, None, (), 3),
]
COLUMNS = ["Lead ID", "Stage", "Created at", "Assigned at", "Closed at", "Owner", "Email"]
LEADS = pd.DataFrame(
    [
        ["L-1", "Won", "2026-11-02 09:00", "2026-11-02 10:00", "2026-11-20 12:00", "Ann", "a@x.io"],
        ["L-2", "Lost", "2026-11-03 09:00", "", "2026-11-10 00:00", "Bob", ""],
        ["L-3", "New", "2026-11-20 08:00", "2026-11-20 08:00", "", "Ann", ""],
        ["L-4", "New", "2026-11-22 09:00", "", "", "Bob", ""],  # never touched
        ["L-5", "Meeting", "2026-10-01 00:00", "", "", "Ann", ""],
    ],
    columns=COLUMNS,
    dtype=object,
)
ROWS = [
    ["2026-11-02 12:00", "L-1", "call", "reached", "Ann"],  # L-1: 2 h after Assigned at
    ["2026-11-05 10:00", "A@x.io", "email", "", "Ann"],  # L-1 by its e-mail
    ["2026-11-21 10:00", "L-1", "meeting", "", "Ann"],  # after L-1 closed
    ["2026-11-04 09:00", "L-2", "call", "no answer", "Bob"],  # L-2: 24 h after Created at
    ["2026-11-06 09:00", "L-2", "Call", "Meeting booked", "Bob"],
    ["2026-11-09 09:00", "L-2", "note", "", "Bob"],
    ["2026-11-20 20:00", "L-3", "appel", "joint", "Ann"],  # French words; L-3: 12 h
    ["2026-10-02 00:00", "L-5", "call", "voicemail", ""],  # By empty: the lead's Owner (Ann)
    ["2026-11-10 00:00", "L-5", "rendez-vous", "rendez-vous pris", "Ann"],
    ["2026-11-15 00:00", "L-99", "call", "reached", "Bob"],  # no such lead: still Bob's call
]


def activities(rows: list[list[str]]) -> Table:
    return Table(ACTIVITIES.headers, [[*r, "", ""] for r in rows])


def run(data: pd.DataFrame, table: Table | None, sla: float = 24, days: float = 7) -> FollowUp:
    deals = read_deals(data, STAGES)
    touches = read_touches(table, deals, data["Email"].to_numpy())
    window = period_window(MetricsPeriod("month", 0), NOW)
    return followup(deals, touches, window, NOW, sla, days)


def test_the_leads_typed_columns_match_activities_by_email_as_the_cells_do() -> None:
    # the sync hands its typed Leads columns over: their Email folded once per distinct text
    # must find the same leads as the cells read one by one (spaces and case ignored)
    data = LEADS.copy()
    data["Email"] = [" A@X.io ", "b@y.io", "B@Y.IO", "", "c@z.io"]
    rows = [*ROWS, ["2026-11-06 09:00", "b@Y.io", "call", "", "Bob"]]
    deals = read_deals(data, STAGES)
    cells = read_touches(activities(rows), deals, data["Email"].to_numpy())
    typed = read_touches(activities(rows), deals, np.full(5, ""), leads=Frame(data, NOW))
    assert cells is not None and typed is not None
    assert cells.lead.tolist() == typed.lead.tolist()
    assert typed.lead[[1, len(rows) - 1]].tolist() == [0, 1]  # A@x.io: L-1; b@Y.io: L-2


def figures(result: FollowUp) -> dict[str, tuple[float, float]]:
    found = {name: (p, a) for name, p, a, _ in result.period}
    found |= {name: (v, v) for name, v, _ in result.now}
    return found


def test_each_kpi_on_a_sheet_worked_out_by_hand() -> None:
    f = figures(run(LEADS, activities(ROWS)))
    # created this month: L-1 2 h, L-2 24 h, L-3 12 h, L-4 not touched; all time + L-5 24 h
    assert f["Speed to first touch (activities), median"] == (12, 18)
    assert f["Speed to first touch (activities), p90"] == pytest.approx((21.6, 24))
    # L-1, L-2 (24 h is within 24), L-3 met it; L-4 is past due at 10:00: 3/4; + L-5: 4/5
    assert f["Touched within the first-touch SLA"] == (0.75, 0.8)
    # before the close: L-1 2 (the meeting came after), L-2 3 -> median 2.5
    assert f["Touches before won or lost, median"] == (2.5, 2.5)
    assert f["Activities"] == (9, 10)  # all but the October call
    weeks = (22 + 10 / 24) / 7  # Nov 1 00:00 to Nov 23 10:00
    assert f["Activities per person per week"][0] == pytest.approx(9 / 2 / weeks)
    # calls this month: L-1, L-2 twice, L-3 (appel), L-99: 3 reached, 1 booked of 5
    assert f["Calls reached"] == (0.6, 0.5)
    assert f["Calls that booked a meeting"] == pytest.approx((0.2, 1 / 6))
    assert f["Meetings booked"] == (2, 2)  # L-2's call, L-5's rendez-vous pris
    # open: L-3 touched 3 days ago; L-4 never; L-5 last on Nov 10: 2 of 3
    assert f["Open leads with no touch in 7 days"][0] == pytest.approx(2 / 3)


def test_per_person_activities_meetings_and_untouched_leads() -> None:
    table = run(LEADS, activities(ROWS)).owners.set_index("Owner")
    assert table.loc["Ann", "Activities"] == 5
    assert table.loc["Bob", "Activities"] == 4
    assert table.loc["Ann", "Meetings booked"] == 1
    assert table.loc["Bob", "Meetings booked"] == 1
    assert table.loc["Ann", "Activities (all time)"] == 6  # the October call, By empty
    assert table.loc["Bob", "Calls reached"] == pytest.approx(1 / 3)
    assert table.loc["Ann", "Open leads with no touch in 7 days"] == 1  # L-5
    assert table.loc["Bob", "Open leads with no touch in 7 days"] == 1  # L-4


def test_the_no_touch_days_setting_moves_the_line() -> None:
    f = figures(run(LEADS, activities(ROWS), days=14))
    assert f["Open leads with no touch in 14 days"][0] == pytest.approx(1 / 3)  # L-4 only


def test_without_an_activities_tab_every_kpi_says_no_data() -> None:
    result = run(LEADS, None)
    assert all(math.isnan(p) and math.isnan(a) for _, p, a, _ in result.period)
    assert all(math.isnan(v) for _, v, _ in result.now)


def test_the_dashboard_says_no_data_when_the_sheet_has_no_activities_tab() -> None:
    tabs = load_template("b2b-en", now=NOW)
    del tabs[ACTIVITIES.name]
    backend = MemoryBackend(tabs)
    sync_once(backend, NOW, NOW)
    snapshot = backend.read()
    dash = {r[0]: r for r in snapshot.table("Dashboard").rows if r}
    assert dash["Calls reached"][1:3] == [NO_DATA, NO_DATA]
    owners = {r[0]: r for r in snapshot.table("By owner").rows if r}
    assert owners["Follow-up"][1].startswith(NO_DATA)


# --- against a plain computation, row by row ---------------------------------------------------


def random_sheet(seed: int, n: int = 150, m: int = 900) -> tuple[pd.DataFrame, list[list[str]]]:
    rng = random.Random(seed)
    start = datetime(2026, 8, 1)
    leads = []
    for i in range(n):
        created = start + timedelta(hours=rng.randrange(0, 24 * 110))
        stage = rng.choice(["New", "Meeting", "Won", "Lost"])
        closed = created + timedelta(hours=rng.randrange(1, 24 * 20))
        closed_at = f"{closed:%Y-%m-%d %H:%M}" if stage in ("Won", "Lost") else ""
        assigned = f"{created + timedelta(hours=1):%Y-%m-%d %H:%M}" if i % 3 else ""
        owner = rng.choice(["Ann", "Bob", "Cy"])
        row = [f"L-{i}", stage, f"{created:%Y-%m-%d %H:%M}", assigned, closed_at, owner, ""]
        leads.append(row)
    rows = []
    for _ in range(m):
        lead = rng.randrange(n + 5)  # a few leads that do not exist
        at = start + timedelta(hours=rng.randrange(0, 24 * 114))
        kind = rng.choice(["call", "call", "email", "meeting", "note"])
        outcome = rng.choice(["reached", "voicemail", "no answer", "meeting booked", ""])
        rows.append(
            [f"{at:%Y-%m-%d %H:%M}", f"L-{lead}", kind, outcome, rng.choice(["Ann", "Bob"])]
        )
    return pd.DataFrame(leads, columns=COLUMNS, dtype=object), rows


def plain(data: pd.DataFrame, rows: list[list[str]], sla: float, days: float) -> dict[str, float]:
    """The same KPIs, one lead and one activity at a time, with datetime and statistics."""

    def when(text: str) -> datetime | None:
        return datetime.strptime(text, "%Y-%m-%d %H:%M") if text else None

    month = datetime(NOW.year, NOW.month, 1)
    leads = {r["Lead ID"]: r for r in data.to_dict("records")}
    mine: dict[str, list[list[str]]] = {k: [] for k in leads}
    for r in rows:
        if r[1] in mine:
            mine[r[1]].append(r)
    speeds, met, judged, touches, quiet, open_n = [], 0, 0, [], 0, 0
    for lead_id, lead in leads.items():
        created = when(lead["Created at"])
        started = when(lead["Assigned at"]) or created
        acts = [when(r[0]) for r in mine[lead_id]]
        in_month = created is not None and month <= created <= NOW
        first = min(acts) if acts else None
        hours = max((first - started).total_seconds() / 3600, 0) if first else None
        if in_month and hours is not None:
            speeds.append(hours)
        if in_month and (hours is not None or started + timedelta(hours=sla) <= NOW):
            judged += 1
            met += hours is not None and hours <= sla
        closed = when(lead["Closed at"])
        if lead["Stage"] in ("Won", "Lost") and closed and month <= closed <= NOW:
            touches.append(sum(1 for a in acts if a <= closed))
        if lead["Stage"] in ("New", "Meeting"):
            open_n += 1
            quiet += not acts or max(acts) < NOW - timedelta(days=days)
    this = [r for r in rows if month <= when(r[0]) <= NOW]
    calls = [r for r in this if r[2] == "call"]
    return {
        "Speed to first touch (activities), median": statistics.median(speeds),
        "Touched within the first-touch SLA": met / judged,
        "Touches before won or lost, median": statistics.median(touches),
        "Activities": len(this),
        "Calls reached": sum(r[3] == "reached" for r in calls) / len(calls),
        "Calls that booked a meeting": sum(r[3] == "meeting booked" for r in calls) / len(calls),
        "Meetings booked": sum(r[3] == "meeting booked" for r in this),
        f"Open leads with no touch in {days:g} days": quiet / open_n,
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_kpis_match_a_plain_per_row_computation(seed: int) -> None:
    data, rows = random_sheet(seed)
    found = figures(run(data, activities(rows), sla=30, days=5))
    for name, expected in plain(data, rows, 30, 5).items():
        assert found[name][0] == pytest.approx(expected), name
    assert not np.isnan(found["Speed to first touch (activities), p90"][0])


def test_nurture_emails_count_as_activities_only_and_unsubscribes_not_at_all():
    """A sequence's e-mails (By "sequence <name>") add to Activities; every figure about
    people's touches, and the by-owner table, stay as without them; an unsubscribe counts
    nowhere."""
    machine = [
        ["2026-10-30 08:00", "L-5", "email", "sent", "sequence Nurture C"],  # last month
        ["2026-11-22 10:00", "L-4", "email", "envoyé", "séquence Relance C"],  # untouched lead
        ["2026-11-22 11:00", "L-4", "unsubscribe", "", ""],
        ["2026-11-22 11:05", "L-5", "désinscription", "", ""],
    ]
    base, more = run(LEADS, activities(ROWS)), run(LEADS, activities([*ROWS, *machine]))
    plain, with_them = figures(base), figures(more)
    period, ever = plain.pop("Activities")
    assert with_them.pop("Activities") == (period + 1, ever + 2)
    assert ever == 10
    assert with_them.keys() == plain.keys()
    for name, values in plain.items():
        assert with_them[name] == pytest.approx(values, nan_ok=True), name
    pd.testing.assert_frame_equal(more.owners, base.owners)


def test_the_kpis_read_every_word_the_activities_step_accepts_as_it_does() -> None:
    """One list of words: a Type or Outcome the Activities tab takes (French included) is
    counted as the same type or outcome by the KPIs, whatever accents it is typed with."""
    from sheetcrm.engine import activity_words, followup

    for word, meant in activity_words.TYPES.items():
        assert followup.TYPES[word] == meant
    said = {**{o: o for o in activity_words.OUTCOMES}, **activity_words.FRENCH_OUTCOMES}
    for word, meant in {**said, **activity_words.SERVICE_OUTCOMES}.items():
        assert followup.OUTCOMES[word] == meant
