"""What History says of nurture sequences: when each lead was enrolled (the start of its
waits after enrolment and of its activity exits) and how many steps went out today."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from sheetcrm.engine.history import HistoryFrame

_NAT = np.datetime64("NaT", "ns")


def enrolled_at(history: HistoryFrame, ids: list[str]) -> np.ndarray:
    """Per lead (``ids`` in lead order), the wall time of its latest History row of Field
    Sequence (its enrolment); NaT for none."""
    out = np.full(len(ids), _NAT, dtype="datetime64[ns]")
    picked, stamps = _rows(history, "sequence")
    if not len(picked):
        return out
    named = pd.Index(history.cells("Lead ID", picked), dtype=object)
    lead = pd.Index(ids, dtype=object).get_indexer(named)
    found = lead >= 0
    frame = pd.DataFrame({"lead": lead[found], "at": stamps[found]})
    latest = frame.groupby("lead")["at"].max()
    out[latest.index.to_numpy()] = latest.to_numpy()
    return out


def steps_today(history: HistoryFrame, now: datetime) -> pd.Series:
    """Lead ID -> the nurture steps planned for it today (History rows of Field Sequence
    step whose To is a step number, stamped today): what the per-sender cap counts."""
    picked, stamps = _rows(history, "sequence step")
    if not len(picked):
        return pd.Series(dtype=np.int64)
    today = np.datetime64(now.date(), "D")
    numbered = history.column("To").per_text(lambda t: t.strip().isdigit())[picked]
    mine = numbered & (stamps.astype("datetime64[D]") == today)
    return pd.Series(history.cells("Lead ID", picked[mine])).value_counts()


def _rows(history: HistoryFrame, field: str) -> tuple[np.ndarray, np.ndarray]:
    """The History rows of ``field`` (casefolded) with a readable At, and their At."""
    picked = np.flatnonzero(history.of_field(field))
    stamps = history.at[picked]
    keep = ~np.isnat(stamps)
    return picked[keep], stamps[keep]
