"""The stage log's days in stage (engine/stage_log.py) against the stays read one lead at a
time: a stay lasts from an entry the log saw to that lead's next entry, whenever logged."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sheetcrm.engine.stage_log import StageLog

entry = st.tuples(
    st.integers(0, 3),  # lead
    st.integers(-1, 2),  # stage (-1: cleared or unknown)
    st.one_of(st.none(), st.integers(0, 10**6)),  # minutes since the start, None: no stamp
    st.booleans(),  # observed
)


@settings(max_examples=80, deadline=None)
@given(st.lists(entry, max_size=20))
def test_days_in_stage_are_each_leads_stays_read_one_by_one(entries: list[tuple]) -> None:
    start = np.datetime64("2026-01-01T00:00", "ns")
    at = [
        start + np.timedelta64(m, "m") if m is not None else np.datetime64("NaT")
        for _, _, m, _ in entries
    ]
    log = StageLog(
        lead=np.array([e[0] for e in entries], dtype=np.int8),
        leads=["L-0", "L-1", "L-2", "L-3", ""],
        stage=np.array([e[1] for e in entries], dtype=np.int8),
        at=np.array(at, dtype="datetime64[ns]"),
        observed=np.array([e[3] for e in entries], dtype=bool),
    )
    expected: dict[int, list[float]] = {k: [] for k in range(3)}
    for lead in range(4):
        mine = [(e, t) for e, t in zip(entries, at, strict=True) if e[0] == lead]
        for ((_, stage, _, seen), t), (_, after) in pairwise(mine):
            days = (after - t) / np.timedelta64(1, "D")
            if seen and stage >= 0 and not np.isnan(days):
                expected[stage].append(float(days))
    got = log.days_in_stage(3)
    assert {k: sorted(v.tolist()) for k, v in got.items()} == {
        k: sorted(v) for k, v in expected.items()
    }
