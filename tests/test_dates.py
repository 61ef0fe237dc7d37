"""Dates as people and exports type them (issue 22, item 4): a year-first date is always
year-month-day, whatever the Date order; an offset is converted to the sheet's time zone; a
time-zone word that cannot be honoured is a problem on the row, never silently dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine import metric_data
from sheetcrm.engine.dates import parse_date, unreadable_zone
from sheetcrm.engine.lead_checks import check_rows
from sheetcrm.engine.rules import Frame
from sheetcrm.engine.schema import LEADS, SETTINGS
from sheetcrm.engine.sync import plan_sync
from sheets import put_leads, template

ZONES = [ZoneInfo(z) for z in ("UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata")]


@st.composite
def year_first(draw: st.DrawFn) -> tuple[str, datetime, timezone | None]:
    """A year-first date or date-time in one of the forms exports write, the wall time it
    shows, and the offset it names (None: the sheet's own time)."""
    when = draw(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2099, 12, 30)))
    sep = draw(st.sampled_from("-/."))
    pad = draw(st.booleans())
    day = f"{when.year}{sep}{when.month:0{2 if pad else 1}}{sep}{when.day:0{2 if pad else 1}}"
    if not draw(st.booleans()):
        return day, when.replace(hour=0, minute=0, second=0, microsecond=0), None
    clock = f"{when.hour:02}:{when.minute:02}" if pad else f"{when.hour}:{when.minute:02}"
    seconds = draw(st.sampled_from(["", ":ss", ":ss.000", ":ss.fff"]))
    shown = when.replace(second=0, microsecond=0)
    if seconds:
        clock += f":{when.second:02}"
        shown = shown.replace(second=when.second)
    if seconds.endswith(".000"):
        clock += ".000"
    elif seconds.endswith(".fff"):
        clock += f".{when.microsecond // 1000:03}"
        shown = shown.replace(microsecond=when.microsecond // 1000 * 1000)
    text = day + draw(st.sampled_from("T ")) + clock
    form = draw(st.sampled_from(["", "Z", "+HH:MM", "+HHMM", " +HH:MM"]))
    if not form:
        return text, shown, None
    if form == "Z":
        return text + "Z", shown, UTC
    minutes = draw(st.integers(-12 * 4, 14 * 4)) * 15  # real offsets are quarter hours
    sign, size = "+" if minutes >= 0 else "-", abs(minutes)
    hhmm = f"{size // 60:02}:{size % 60:02}" if ":" in form else f"{size // 60:02}{size % 60:02}"
    return (
        f"{text}{' ' if form.startswith(' ') else ''}{sign}{hhmm}",
        shown,
        timezone(timedelta(minutes=minutes)),
    )


@settings(max_examples=300)
@given(year_first(), st.booleans(), st.sampled_from(ZONES))
@example(  # 5:00Z is 1:00 the first time New York's clocks pass it (the fall-back hour)
    ("2028-11-5T5:00Z", datetime(2028, 11, 5, 5, 0), UTC), False, ZoneInfo("America/New_York")
)
def test_a_year_first_date_is_year_month_day_in_every_date_order(
    case: tuple[str, datetime, timezone | None], dayfirst: bool, zone: ZoneInfo
) -> None:
    text, shown, offset = case
    parsed = parse_date(text, dayfirst, zone)
    assert parsed is not None, text
    assert parsed.tzinfo is None
    if offset is None:
        assert parsed == shown  # the sheet's own time: taken as written
        return
    # an offset names an instant: the sheet shows it on its own clock, and the fold keeps
    # which of two equal wall times (the hour clocks go back) it is
    instant = shown.replace(tzinfo=offset)
    # as instants: Python's == across zones says False for any wall time the clocks repeat
    # (PEP 495), whatever its fold
    assert parsed.replace(tzinfo=zone).timestamp() == instant.timestamp()
    assert parsed == instant.astimezone(zone).replace(tzinfo=None)
    assert parsed.fold == instant.astimezone(zone).fold


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-02T09:00+05:00", datetime(2026, 3, 2, 4, 0)),
        ("2026-03-02T09:00Z", datetime(2026, 3, 2, 9, 0)),
        ("2026-03-02T09:00:00.000Z", datetime(2026, 3, 2, 9, 0)),
        ("2026-03-02 9:00", datetime(2026, 3, 2, 9, 0)),
        ("2026/03/02", datetime(2026, 3, 2)),
        ("2026.03.02", datetime(2026, 3, 2)),
        ("2026-03-02T09:00+0500", datetime(2026, 3, 2, 4, 0)),
        ("2026-03-02 09:00 UTC", datetime(2026, 3, 2, 9, 0)),
        ("2026-03-02 9:00 PM", datetime(2026, 3, 2, 21, 0)),
        ("2026-03-13T09:00Z", datetime(2026, 3, 13, 9, 0)),
        ("Mon, 02 Mar 2026 09:00:00 GMT", datetime(2026, 3, 2, 9, 0)),
        ("Mon, 02 Mar 2026 09:00:00 +0100", datetime(2026, 3, 2, 8, 0)),
        ("02/03/2026 09:00 +01:00", datetime(2026, 3, 2, 8, 0)),
    ],
)
@pytest.mark.parametrize("dayfirst", [True, False], ids=["DMY", "MDY"])
def test_the_dates_of_the_report(text: str, expected: datetime, dayfirst: bool) -> None:
    if text.startswith("02/03") and not dayfirst:
        expected = expected.replace(month=2, day=3)  # not year-first: the Date order decides
    assert parse_date(text, dayfirst, UTC) == expected


def test_an_offset_is_converted_to_the_sheets_zone_and_keeps_its_fold() -> None:
    paris = ZoneInfo("Europe/Paris")
    assert parse_date("2026-03-02T09:00+05:00", True, paris) == datetime(2026, 3, 2, 5, 0)
    # 25 October 2026, clocks go back at 03:00 CEST: 02:15 is shown twice in Paris
    first = parse_date("2026-10-25T00:15Z", True, paris)
    second = parse_date("2026-10-25T01:15Z", True, paris)
    assert first == second == datetime(2026, 10, 25, 2, 15)
    assert first is not None and second is not None
    assert (first.fold, second.fold) == (0, 1)
    assert parse_date("2026-10-25 02:15+01:00", True, paris) == second
    assert parse_date("2026-10-25 02:15+01:00", True, paris).fold == 1  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("2026-03-02 09:00 EST", "EST"),
        ("2026-03-02 09:00 PST", "PST"),
        ("2026-03-02 09:00 CET", "CET"),
        ("2026-03-02T09:00 CEST", "CEST"),
        ("02/03/2026 9:00 EST", "EST"),
        ("Mar 2 2026 9am EST", "EST"),
        ("2026-03-02 09:00 GMT+3", "GMT+3"),  # GMT+3 is UTC-3 to POSIX, UTC+3 to people
        ("2026-03-02 09:00 EST-5", "EST"),
    ],
)
def test_a_zone_word_that_cannot_be_honoured_is_not_a_date(text: str, word: str) -> None:
    for dayfirst in (True, False):
        assert parse_date(text, dayfirst, ZoneInfo("Europe/Paris")) is None
        assert unreadable_zone(text, dayfirst) == word


@pytest.mark.parametrize("text", ["2026-03-02 09:00", "2026-03-02 09:00 UTC", "hello", ""])
def test_a_date_without_a_zone_word_has_no_unreadable_zone(text: str) -> None:
    assert unreadable_zone(text) is None


def test_check_rows_says_which_zone_it_cannot_honour() -> None:
    data = pd.DataFrame(
        {
            "Email": ["a@acme.example", "b@acme.example"],
            "Last contact": ["2026-03-02 09:00 EST", "2026-03-02 9:00"],
            "Next action date": ["soon", "2026/03/02"],
        },
        dtype=object,
    )
    problems = {
        column: (list(rows), said, hint)
        for rows, column, said, hint in check_rows(data, "FR", True, ()).problems
    }
    rows, said, hint = problems["Last contact"]
    assert rows == [0]
    assert said == ["'2026-03-02 09:00 EST' names the time zone EST, which cannot be converted"]
    assert "offset" in hint and "Time zone" in hint
    assert problems["Next action date"][:2] == ([0], ["'soon' is not a date"])


def _sheet(zone: str, order: str, *leads: dict[str, str]) -> MemoryBackend:
    tabs = template()
    settings_tab = tabs[SETTINGS.name]
    for row in settings_tab.rows:
        if row[0] == "Time zone":
            row[1] = zone
        elif row[0] == "Date order":
            row[1] = order
    put_leads(tabs, *leads)
    return MemoryBackend(tabs)


def _after_sync(backend: MemoryBackend, now: datetime) -> dict[str, str]:
    """Lead L-00001 as one sync at ``now`` leaves it."""
    snapshot = backend.read()
    apply(plan_sync(snapshot, now), backend, snapshot)
    leads = backend.read().table(LEADS.name)
    return dict(
        zip(leads.header, leads.rows[leads.column("Lead ID").index("L-00001")], strict=True)
    )


def test_a_sync_under_dmy_reads_hubspot_dates_in_the_right_month() -> None:
    lead = {
        "Email": "a@acme.example",
        "Stage": "Prospecting",
        "Created at": "2026-03-02T09:00:00.000Z",  # HubSpot's Create Date
        "Last contact": "2026-03-02T08:30Z",
        "Next action date": "2026-03-02",
    }
    backend = _sheet("Europe/Paris", "DMY", lead)
    row = _after_sync(backend, datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    assert row["First touch at"] == "2026-03-02 09:30"  # 08:30Z is 09:30 in Paris, in March
    assert "overdue" not in row["Status"]  # the next action is tomorrow, not 3 February


def test_a_zone_word_is_reported_on_the_row_and_on_problems() -> None:
    lead = {
        "Email": "a@acme.example",
        "Stage": "Prospecting",
        "Last contact": "2026-03-02 9:00 PST",
    }
    backend = _sheet("Europe/Paris", "DMY", lead)
    plan = plan_sync(backend.read(), datetime(2026, 3, 3, 12, 0, tzinfo=UTC))
    status = next(w for w in plan.writes if w.column == "Status").new[0]
    assert "Last contact: '2026-03-02 9:00 PST' names the time zone PST" in status
    problem = next(p for p in plan.problems if "PST" in p.problem)
    assert "offset" in problem.hint
    first_touch = [w.new[0] for w in plan.writes if w.column == "First touch at"]
    assert first_touch in ([], [""])  # not guessed from a time it cannot place


@pytest.mark.parametrize("text", ["9999-12-31", "31/12/9999", "1500-01-01", "2262-04-12 10:00"])
def test_a_year_beyond_what_date_columns_hold_does_not_wrap_around(text: str) -> None:
    # datetime64[ns] spans 1677-2262: 9999 wrapped around to 1816 and made a follow-up
    # "overdue since 1816-03-29". Such a date stays a date (Away until 9999-12-31: away for
    # good), but no column places it.
    assert parse_date(text) is not None
    frame = Frame(pd.DataFrame({"Next action date": [text]}, dtype=object), datetime(2026, 3, 1))
    assert np.isnat(frame.dates("Next action date")).all()
    assert np.isnat(frame.instants("Next action date")).all()
    assert np.isnat(metric_data.dates([text])).all()
