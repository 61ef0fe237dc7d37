"""begin lays the Leads rows out as a frame of object columns: the same cells as pandas'
own constructor would hold, without a pointer per cell for a column nobody filled in."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from sheetcrm.engine.sync.begin import frame_of, leads_frame
from sheetcrm.engine.sync.state import put_column
from sheetcrm.engine.table import Table

CELLS = st.sampled_from(["", "", "", " ", "x", "L-00001", "Ana"])


@given(
    st.integers(1, 5).flatmap(
        lambda width: st.tuples(
            st.just(width), st.lists(st.lists(CELLS, min_size=width, max_size=width + 1))
        )
    ),
    st.integers(1, 4),
)
def test_the_frame_holds_the_cells_as_pandas_would(table, chunk):
    width, rows = table
    names = pd.Index([f"c{i}" for i in range(width)], dtype=object)
    got = frame_of(rows, names, chunk)
    expected = pd.DataFrame([r[:width] for r in rows] or None, columns=names, dtype=object)
    assert list(got.columns) == list(names)
    assert all(dtype == np.dtype(object) for dtype in got.dtypes)
    assert got.to_numpy(dtype=object).tolist() == expected.to_numpy(dtype=object).tolist()


def test_a_column_blank_in_the_sample_but_filled_further_down_keeps_its_cells():
    rows = [["a", ""] for _ in range(200)]
    rows[131][1] = "late"
    got = frame_of(rows, pd.Index(["a", "b"], dtype=object), chunk=16)
    assert got["b"].tolist() == ["late" if i == 131 else "" for i in range(200)]


def test_a_step_replaces_a_blank_column_without_touching_the_others():
    rows = [["x", "", ""] for _ in range(50)]
    data = frame_of(rows, pd.Index(["a", "b", "c"], dtype=object))
    put_column(data, "b", [str(i) for i in range(50)])
    assert data["b"].tolist() == [str(i) for i in range(50)]
    assert data["c"].tolist() == [""] * 50 and data["a"].tolist() == ["x"] * 50


def test_blank_columns_hold_no_pointer_a_row():
    n, header = 20_000, ["Email", "Stage", *[f"blank {i}" for i in range(10)]]
    leads = Table(header, [[f"a{i}@x.org", "New", *[""] * 10] for i in range(n)])
    tracemalloc.start()
    try:
        data, _ = leads_frame(leads)
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # the two filled columns' pointers (320 KB); all twelve were 1.9 MB
    assert held < 3 * n * np.dtype(object).itemsize * 1.5
    assert data["blank 3"].tolist() == [""] * n
