"""History read once per sync (engine/history.py): the frame's columns, stamps and the rows a
sync plans under it say what the rows say, read one row at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sheetcrm.engine.activities import parse_stamps
from sheetcrm.engine.history import ORDER, HistoryFrame
from sheetcrm.engine.metric_data import first_rows
from sheetcrm.engine.table import Table

PARIS = timezone(timedelta(hours=1))
STAMPS = ["2026-11-03 09:00", "2026-11-03 09:00", "", "03/11/2026 10:15", "x", "2026-11-03T08:00Z"]
cell = st.sampled_from(["", "L-00001", "L-00002", " Stage ", "Stage", "Owner", "Ann", "a"])
stamp = st.sampled_from([*STAMPS, "2026-11-04", "2026-11-04 07:30:15", "2026-02-30 10:00"])
row = st.tuples(stamp, *[cell] * 6).map(list)


def _column(rows: list[list[str]], header: list[str], name: str) -> list[str]:
    i = header.index(name) if name in header else None
    return [r[i] if i is not None and i < len(r) else "" for r in rows]


@settings(max_examples=60, deadline=None)
@given(st.lists(row, max_size=12), st.lists(row, max_size=6), st.booleans())
def test_the_frame_and_the_planned_rows_read_as_the_cells_do(
    rows: list[list[str]], planned: list[list[str]], shuffled: bool
) -> None:
    # a History whose columns are in another order, one of them missing, one row short
    header = ["Lead ID", "At", "Field", "To", "Why", "By"] if shuffled else list(ORDER)
    table = Table(header, [[r[ORDER.index(h)] for h in header] for r in rows])
    if table.rows:
        table.rows[-1] = table.rows[-1][:3]  # a row cut short after it was read
    frame = HistoryFrame(table, True, PARIS)
    joined = frame.plus(planned)
    as_read = [[_column([r], header, h)[0] for h in ORDER] for r in table.rows]
    everything = [*as_read, *planned]
    for name in ORDER:
        expected = _column(everything, list(ORDER), name)
        assert joined.cells(name).tolist() == expected
        assert frame.cells(name).tolist() == expected[: len(rows)]
    at = np.array(_column(everything, list(ORDER), "At"), dtype=object)
    assert np.array_equal(joined.at, parse_stamps(at, True, PARIS), equal_nan=True)
    for field in ("stage", "Owner"):
        last: dict[str, str] = {}
        for r in everything:
            if r[2].strip().casefold() == field.casefold() and r[1]:
                last[r[1]] = r[4]
        assert joined.last_recorded(field) == last


def test_a_run_of_equal_stamps_is_parsed_once_and_means_what_each_stamp_means() -> None:
    stamps = ["2026-11-03 09:00"] * 3 + ["03/11/2026 10:15", "", "2026-11-03T08:00Z"] * 2
    table = Table(list(ORDER), [[s, "L-1", "Stage", "", "New", "sheetcrm", ""] for s in stamps])
    at = HistoryFrame(table, True, PARIS).at
    assert at[0] == at[2] == np.datetime64(datetime(2026, 11, 3, 9, 0))
    assert at[3] == np.datetime64(datetime(2026, 11, 3, 10, 15))  # day first
    assert np.isnat(at[4])
    assert at[5] == np.datetime64(datetime(2026, 11, 3, 9, 0))  # 08:00 UTC in the sheet's zone
    assert HistoryFrame(table, False, UTC).at[3] == np.datetime64(datetime(2026, 3, 11, 10, 15))


@given(st.lists(cell, max_size=15), st.lists(cell, max_size=8))
def test_first_rows_is_the_first_row_of_each_key(keys: list[str], wanted: list[str]) -> None:
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key:
            first.setdefault(key, i)
    got = first_rows(np.array(keys, dtype=object), wanted)
    assert got.tolist() == [first.get(w, -1) for w in wanted]


def test_a_column_is_coded_in_the_smallest_type_and_stays_so_with_the_planned_rows() -> None:
    # the metrics hold History's frame and its planned rows whole: Field and To (a few
    # texts) a byte a row, not 8
    rows = [
        ["2026-11-03 09:00", f"L-{i:05d}", "Stage", "", "Won", "sheetcrm", ""] for i in range(300)
    ]
    frame = HistoryFrame(Table(list(ORDER), rows))
    assert frame.column("Field").codes.dtype == np.int8
    assert frame.column("Lead ID").codes.dtype == np.int16
    planned = [["2026-11-04 09:00", "L-99999", "Owner", "", "Ann", "sheetcrm", ""]]
    joined = frame.plus(planned)
    assert joined.column("Field").codes.dtype == np.int8
    assert joined.cells("Field").tolist() == ["Stage"] * 300 + ["Owner"]
    assert joined.cells("Lead ID")[-1] == "L-99999"
