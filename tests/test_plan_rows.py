"""The rows a plan names, as columns (engine/plan_rows.py): they read as the per-row shapes
they replace (a dict of RowKey, a list of (key, cells, column)), and hold a fraction of them."""

from __future__ import annotations

import tracemalloc
from hashlib import blake2b

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sheetcrm.engine.plan_rows import PRINT, PlannedHistory, Repeated, RowKey, RowKeys, Texts
from sheetcrm.engine.schema import HISTORY

cell = st.sampled_from(["", "2026-11-23 10:00", "L-00001", "Stage", "Owner", "Ann", "sheetcrm"])
entry = st.tuples(
    st.integers(-1, 6), st.lists(cell, min_size=7, max_size=7), st.sampled_from(["", "Owner"])
)


@given(st.lists(entry, max_size=12), st.lists(entry, max_size=6), st.sets(st.integers(-1, 6)))
def test_planned_history_reads_as_the_list_of_rows_it_replaces(
    added: list[tuple[int, list[str], str]],
    extended: list[tuple[int, list[str], str]],
    appended_with: set[int],
) -> None:
    history = PlannedHistory()
    rows: list[tuple[int, list[str], str]] = []
    for key, cells, column in added:
        history.add(key, tuple(cells), column)
        rows.append((key, cells, column))
    history.extend(iter(extended))
    rows += extended
    assert len(history) == len(rows) and bool(history) == bool(rows)
    assert list(history) == rows
    assert [history[n] for n in range(len(rows))] == rows
    for n, name in enumerate(HISTORY.headers):
        assert history.column(name).tolist() == [cells[n] for _, cells, _ in rows]
    history.in_key_order()
    rows.sort(key=lambda row: row[0])  # stable: the rows of one lead as they came
    assert list(history) == rows
    history.unkeyed(appended_with)
    assert list(history) == [
        (-1, c, "") if k in appended_with else (k, c, col) for k, c, col in rows
    ]


def _fingerprint(n: int) -> bytes:
    return blake2b(str(n).encode(), digest_size=PRINT).digest()


@given(st.lists(st.tuples(st.integers(0, 40), st.booleans()), max_size=15), st.data())
def test_row_keys_read_as_the_dict_of_row_keys_they_replace(
    keys: list[tuple[int, bool]], data: st.DataObject
) -> None:
    by_position = {p: fresh for p, fresh in keys}  # one key per position
    positions = np.array(sorted(by_position), dtype=np.int64)
    fresh = np.array([by_position[p] for p in positions.tolist()], dtype=bool)
    rows = positions * 3 + 1
    ids = np.array(
        ["" if f else f"L-{p}" for p, f in zip(positions, fresh, strict=True)], dtype=object
    )
    prints = b"".join(
        _fingerprint(p) if f else bytes(PRINT) for p, f in zip(positions, fresh, strict=True)
    )
    table = RowKeys(positions, rows, ids, fresh, prints)
    expected = {
        p: RowKey("", p * 3 + 1, _fingerprint(p)) if f else RowKey(f"L-{p}", p * 3 + 1)
        for p, f in zip(positions.tolist(), fresh.tolist(), strict=True)
    }
    assert dict(table.items()) == expected and len(table) == len(expected)
    assert all(table[p] == key for p, key in expected.items())
    assert [p in table for p in range(-2, 45)] == [p in expected for p in range(-2, 45)]
    assert table.where_read() == {p: key.row for p, key in expected.items()}
    gone = data.draw(st.sets(st.sampled_from(sorted(expected) or [0])))
    assert dict(table.without(gone).items()) == {p: k for p, k in expected.items() if p not in gone}


def _held(build) -> float:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()
        size = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del kept
    return size


def test_a_plan_holds_its_rows_in_a_fraction_of_one_object_per_row() -> None:
    # a first sync of 100,000 leads plans 126,000 History rows: their cells are shared (the
    # stamp, the field names) or held elsewhere (the IDs); what the plan adds is per row
    count = 20_000
    ids = [f"L-{n:05d}" for n in range(count)]

    def history() -> PlannedHistory:
        planned = PlannedHistory()
        for n, lead in enumerate(ids):
            planned.add(n, ("2026-11-23 10:00", lead, "Stage", "", "New", "sheetcrm", ""), "")
        return planned

    assert _held(history) / count < 60  # a tuple of a list of seven cells: 184 bytes

    def keys() -> RowKeys:
        positions = np.arange(count, dtype=np.int64)
        fresh = np.ones(count, dtype=bool)
        prints = b"".join(_fingerprint(n) for n in range(count))
        return RowKeys(positions, positions + 5, np.full(count, "", object), fresh, prints)

    assert _held(keys) / count < 50  # a RowKey, its fingerprint and its dict entry: 180


@given(st.lists(st.sampled_from(["", "New", "Ann", "L-00001", " x "]), max_size=300))
def test_texts_read_as_the_cells_they_code(cells: list[str]) -> None:
    texts = Texts(np.array(cells, dtype=object))
    assert list(texts) == cells and len(texts) == len(cells)
    assert [texts[n] for n in range(len(cells))] == cells and texts[1:4] == cells[1:4]
    assert texts.codes.itemsize == 1  # five texts: a byte per cell


def test_a_repeated_column_widens_its_codes_past_65536_texts() -> None:
    column = Repeated()
    texts = [str(n) for n in range(70_000)]
    column.extend(texts[:3])
    assert column.codes.itemsize == 2
    column.extend(texts)
    column.append("0")
    assert list(column) == [*texts[:3], *texts, "0"] and column.codes.itemsize == 4
    column[1] = "69999"
    assert column[1] == "69999" and column.cells().tolist()[:3] == ["0", "69999", "2"]
