"""Daylight saving (issue 22, item 5), in Europe/Paris: clocks jump from 02:00 to 03:00 on
29 March 2026 and go back from 03:00 to 02:00 on 25 October 2026. Elapsed time is real time,
stamps never go backwards, and a ``--now`` the clocks never show is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.cli import main
from sheetcrm.engine.config import parse_config
from sheetcrm.engine.dates import parse_date
from sheetcrm.engine.history import HistoryFrame
from sheetcrm.engine.metric_data import read_deals
from sheetcrm.engine.metrics import compute, period_window
from sheetcrm.engine.schema import HISTORY, LEADS, SETTINGS, Kind
from sheetcrm.engine.settings import MetricsPeriod
from sheetcrm.engine.stage_log import read_log
from sheetcrm.engine.sync import local_now, plan_sync
from sheetcrm.engine.table import Table
from sheetcrm.engine.validation import tidy
from sheetcrm.engine.wallclock import from_utc, to_utc
from sheetcrm.errors import SheetCRMError
from sheets import template

PARIS = ZoneInfo("Europe/Paris")
SPRING = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 02:00 CET becomes 03:00 CEST
AUTUMN = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # 03:00 CEST becomes 02:00 CET


def _tabs(sla_hours: str = "24"):
    tabs = template()
    for row in tabs[SETTINGS.name].rows:
        if row[0] == "Time zone":
            row[1] = "Europe/Paris"
        elif row[0] == "Date order":
            row[1] = "DMY"
        elif row[0] == "First-touch SLA hours":
            row[1] = sla_hours
    tabs[LEADS.name].rows.clear()
    return tabs


def _backend(sla_hours: str = "24", **lead: str) -> MemoryBackend:
    tabs = _tabs(sla_hours)
    leads = tabs[LEADS.name]
    row = [""] * len(leads.header)
    for header, value in {"Lead ID": "L-00001", "Email": "a@acme.example", **lead}.items():
        row[leads.col(header.replace("_", " "))] = value
    leads.rows.append(row)
    return MemoryBackend(tabs)


def _sync(backend: MemoryBackend, now: datetime) -> None:
    snapshot = backend.read()
    apply(plan_sync(snapshot, now), backend, snapshot)


def _lead(backend: MemoryBackend) -> dict[str, str]:
    leads = backend.read().table(LEADS.name)
    return dict(zip(leads.header, leads.rows[0], strict=True))


def _set(backend: MemoryBackend, column: str, value: str) -> None:
    def edit(tabs) -> None:
        leads = tabs[LEADS.name]
        leads.rows[0][leads.col(column)] = value

    backend.human(edit)


def _instant(stamp: str) -> datetime:
    """The real instant a stamp in the sheet stands for."""
    local = parse_date(stamp, True, PARIS)
    assert local is not None, stamp
    return local.replace(tzinfo=PARIS).astimezone(UTC)


def _stamp(instant: datetime) -> str:
    """What a person (or an earlier sync) wrote for ``instant``: the Paris wall time, with its
    offset only in the hour clocks show twice."""
    local = instant.astimezone(PARIS)
    text = f"{local:%Y-%m-%d %H:%M}"
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        text += local.isoformat()[-6:]
    return text


# --- the first-touch SLA is counted in real hours ------------------------------------------


def _overdue(assigned: datetime, now: datetime, sla_hours: str = "24") -> bool:
    backend = _backend(
        sla_hours,
        Stage="Prospecting",
        Owner="Sofia Marin",
        Created_at=_stamp(assigned),
        Assigned_at=_stamp(assigned),
    )
    snapshot = backend.read()
    apply(plan_sync(snapshot, now, metrics=False), backend, snapshot)
    status = _lead(backend)["Status"]
    if now < assigned:  # said, and never overdue
        assert status.startswith("Assigned at: ") and status.endswith(" is in the future")
        return False
    assert status == "OK" or status.startswith("overdue: first touch"), status
    return status != "OK"


def test_march_23_and_a_half_real_hours_are_not_overdue() -> None:
    assigned = datetime(2026, 3, 28, 9, 0, tzinfo=UTC)  # 10:00 CET on Saturday
    # Sunday 10:30 CEST on the wall is 24.5 hours later on a naive clock, 23.5 in reality
    assert not _overdue(assigned, assigned + timedelta(hours=23, minutes=30))
    assert not _overdue(assigned, assigned + timedelta(hours=24))
    assert _overdue(assigned, assigned + timedelta(hours=24, minutes=1))


def test_october_24_and_a_half_real_hours_are_overdue() -> None:
    assigned = datetime(2026, 10, 24, 8, 0, tzinfo=UTC)  # 10:00 CEST on Saturday
    # Sunday 09:30 CET on the wall is 23.5 hours later on a naive clock, 24.5 in reality
    assert _overdue(assigned, assigned + timedelta(hours=24, minutes=30))
    backend = _backend(
        Stage="Prospecting",
        Owner="Sofia Marin",
        Created_at="2026-10-24 10:00",
        Assigned_at="2026-10-24 10:00",
    )
    _sync(backend, assigned + timedelta(hours=24, minutes=30))
    assert _lead(backend)["Status"] == "overdue: first touch was due 2026-10-25 09:00"


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([SPRING, AUTUMN]),
    st.integers(-36 * 60, 12 * 60),
    st.sampled_from(["1", "2", "3", "24"]),
    st.integers(-90, 90),
)
def test_flagged_exactly_when_real_elapsed_time_exceeds_the_sla(
    change: datetime, before: int, sla_hours: str, margin: int
) -> None:
    assigned = change + timedelta(minutes=before)
    elapsed = timedelta(hours=int(sla_hours), minutes=margin)
    assert _overdue(assigned, assigned + elapsed, sla_hours) == (margin > 0)


# --- stamps and History never go backwards -------------------------------------------------


STAGES = ["Qualified", "Meeting", "Proposal", "Negotiation", "Prospecting", "Qualified", "Won"]


def test_history_is_monotonic_across_the_fall_back_hour() -> None:
    backend = _backend(Stage="Prospecting", Owner="Sofia Marin", Amount="5000")
    start = AUTUMN - timedelta(minutes=45)  # 02:15 CEST
    _sync(backend, start - timedelta(minutes=15))
    for k, stage in enumerate(STAGES):
        _set(backend, "Stage", stage)
        _sync(backend, start + timedelta(minutes=15 * k))  # every 15 minutes, to 02:45 CET
    history = backend.read().table(HISTORY.name)
    stamps = [r[history.col("At")] for r in history.rows if r[history.col("Field")] == "Stage"]
    assert stamps[1:] == [
        "2026-10-25 02:15+02:00",
        "2026-10-25 02:30+02:00",
        "2026-10-25 02:45+02:00",
        "2026-10-25 02:00+01:00",  # 03:00 CEST: the clocks went back
        "2026-10-25 02:15+01:00",
        "2026-10-25 02:30+01:00",
        "2026-10-25 02:45+01:00",
    ]
    instants = [_instant(s) for s in stamps]
    assert instants == sorted(instants) and len(set(instants)) == len(instants)
    lead = _lead(backend)
    assert _instant(lead["First touch at"]) <= _instant(lead["Closed at"])
    assert lead["First touch at"] == "2026-10-25 02:15+02:00"
    assert lead["Closed at"] == "2026-10-25 02:45+01:00"
    # the stamps read back as written: a second sync at the same time writes nothing
    snapshot = backend.read()
    assert not plan_sync(snapshot, start + timedelta(minutes=15 * 6)).writes


def test_first_touch_from_a_last_contact_in_the_repeated_hour_keeps_its_offset() -> None:
    backend = _backend(
        Stage="Won",
        Owner="Sofia Marin",
        Amount="5000",
        Closed_at="2026-10-25 02:30+01:00",
        Last_contact="2026-10-25T01:15:00Z",  # 02:15 CET, the second 02:15 of the night
    )
    _sync(backend, AUTUMN + timedelta(hours=1))
    lead = _lead(backend)
    assert lead["First touch at"] == "2026-10-25 02:15+01:00"
    assert _instant(lead["First touch at"]) <= _instant(lead["Closed at"])


def test_a_workbook_keeps_a_stamp_with_an_offset_as_text(tmp_path) -> None:
    from sheetcrm.backends.workbook import WorkbookBackend

    tabs = _tabs()
    tabs[LEADS.name].rows.append([""] * len(tabs[LEADS.name].header))
    tabs[LEADS.name].rows[0][tabs[LEADS.name].col("Email")] = "a@acme.example"
    backend = WorkbookBackend(tmp_path / "crm.xlsx")
    backend.provision(tabs)
    now = AUTUMN + timedelta(minutes=15)  # 02:15 CET
    for expected in (True, False):
        snapshot = backend.read()
        report = apply(plan_sync(snapshot, now), backend, snapshot)
        assert bool(report.cells) is expected
    leads = backend.read().table(LEADS.name)
    assert leads.rows[0][leads.col("Created at")] == "2026-10-25 02:15+01:00"


# --- the sync's own clock ------------------------------------------------------------------


def test_local_now_keeps_the_fold_of_the_repeated_hour() -> None:
    config = parse_config(MemoryBackend(_tabs()).read())
    first = local_now(AUTUMN - timedelta(minutes=30, seconds=-20), config)  # 02:30:20 CEST
    second = local_now(AUTUMN + timedelta(minutes=30), config)  # 02:30 CET
    wall = datetime(2026, 10, 25, 2, 30)
    assert first.replace(tzinfo=None) == second.replace(tzinfo=None) == wall
    assert (first.fold, second.fold) == (0, 1)
    assert first.astimezone(UTC) < second.astimezone(UTC)  # one zone: compared on the wall
    # a --now on the sheet's clock: the first of the two, unless its offset says otherwise
    assert local_now(datetime(2026, 10, 25, 2, 30), config).fold == 0
    assert local_now(datetime.fromisoformat("2026-10-25T02:30+01:00"), config).fold == 1


def test_a_now_the_clocks_skip_is_refused() -> None:
    config = parse_config(MemoryBackend(_tabs()).read())
    with pytest.raises(SheetCRMError) as error:
        local_now(datetime(2026, 3, 29, 2, 30), config)
    assert "2026-03-29 02:30 does not exist in Europe/Paris" in error.value.message
    assert "03:30" in error.value.hint


def test_the_cli_refuses_a_now_the_clocks_skip(tmp_path, capsys) -> None:
    sheet = str(tmp_path / "crm.xlsx")
    assert main(["init", "--sheet", sheet, "--now", "2026-03-07T10:00"]) == 0
    capsys.readouterr()
    # the template's zone is America/New_York, where 8 March 2026 has no 02:30
    assert main(["sync", "--sheet", sheet, "--now", "2026-03-08T02:30"]) == 1
    err = capsys.readouterr().err
    assert "error: 2026-03-08 02:30 does not exist in America/New_York" in err
    assert "hint:" in err
    assert main(["sync", "--sheet", sheet, "--now", "2026-03-08T03:30"]) == 0


# --- the vectorised reading of wall times, and the metrics that count hours ----------------


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Europe/Dublin"]),
    st.sampled_from([SPRING, AUTUMN, datetime(2026, 4, 5, tzinfo=UTC)]),
    st.lists(st.tuples(st.integers(-30 * 60, 30 * 60), st.booleans()), min_size=1, max_size=20),
)
def test_to_utc_reads_wall_times_as_zoneinfo_does(
    name: str, near: datetime, times: list[tuple[int, bool]]
) -> None:
    zone = ZoneInfo(name)
    walls = [(near + timedelta(minutes=m)).replace(tzinfo=None) for m, _ in times]
    folds = np.array([f for _, f in times])
    got = to_utc(np.array(walls, dtype="datetime64[ns]"), folds, zone)
    expected = [
        w.replace(fold=int(f), tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
        for w, f in zip(walls, folds, strict=True)
    ]
    assert list(got) == [np.datetime64(e, "ns") for e in expected]


def test_a_skipped_wall_time_is_read_shifted_forward_by_the_gap() -> None:
    wall = np.array([np.datetime64("2026-03-29T02:30", "ns")])
    utc = to_utc(wall, np.array([False]), PARIS)
    assert from_utc(utc[0], PARIS).replace(tzinfo=None) == datetime(2026, 3, 29, 3, 30)


def test_speed_to_first_touch_is_in_real_hours() -> None:
    data = pd.DataFrame(
        {
            "Lead ID": ["L-1", "L-2"],
            "Stage": ["Meeting", "Meeting"],
            "Created at": ["2026-03-28 10:00", "2026-03-10 10:00"],
            "First touch at": ["2026-03-29 10:30", "2026-03-11 09:00"],  # 23.5 h, 23 h
        },
        dtype=object,
    )
    stages = parse_config(MemoryBackend(_tabs()).read()).stages
    deals = read_deals(data, stages, True, PARIS)
    now = datetime(2026, 11, 1, 12, 0, tzinfo=PARIS)
    window = period_window(MetricsPeriod("days", 365), now.replace(tzinfo=None))
    metrics = compute(
        deals, read_log(HistoryFrame(Table(HISTORY.headers)), stages), stages, window, now, 24
    )
    speeds = {f.name: f.all_time for f in metrics.figures}
    # the wall clock would say 24.5 hours for the first, so a median of 23.75 and one late
    assert speeds["Speed to first touch, median"] == pytest.approx(23.25)
    assert speeds["First-touch SLA met"] == pytest.approx(1.0)


def test_an_imported_time_in_the_repeated_hour_keeps_its_offset() -> None:
    settings_ = parse_config(MemoryBackend(_tabs()).read()).settings
    assert tidy("2026-10-25T01:15:00Z", "Last contact", Kind.DATETIME, "", settings_) == (
        "2026-10-25 02:15+01:00"
    )
    assert tidy("2026-03-02T09:00Z", "Last contact", Kind.DATETIME, "", settings_) == (
        "2026-03-02 10:00"
    )
