"""What History says of nurture sequences: when each lead was enrolled (the start of its
waits after enrolment and of its activity exits) and how many steps went out today."""

from __future__ import annotations

from datetime import datetime, tzinfo

import numpy as np
import pandas as pd

from sheetcrm.engine.activities import parse_stamps
from sheetcrm.engine.table import Table

_NAT = np.datetime64("NaT", "ns")


def enrolled_at(history: Table, ids: list[str], dayfirst: bool, zone: tzinfo) -> np.ndarray:
    """Per lead (``ids`` in lead order), the wall time of its latest History row of Field
    Sequence (its enrolment); NaT for none."""
    out = np.full(len(ids), _NAT, dtype="datetime64[ns]")
    picked, stamps = _rows(history, "sequence", dayfirst, zone)
    if not len(picked):
        return out
    lead = pd.Index(ids, dtype=object).get_indexer(_column(history, "Lead ID")[picked])
    found = lead >= 0
    frame = pd.DataFrame({"lead": lead[found], "at": stamps[found]})
    latest = frame.groupby("lead")["at"].max()
    out[latest.index.to_numpy()] = latest.to_numpy()
    return out


def steps_today(history: Table, now: datetime, dayfirst: bool, zone: tzinfo) -> pd.Series:
    """Lead ID -> the nurture steps planned for it today (History rows of Field Sequence
    step whose To is a step number, stamped today): what the per-sender cap counts."""
    picked, stamps = _rows(history, "sequence step", dayfirst, zone)
    if not len(picked):
        return pd.Series(dtype=np.int64)
    today = np.datetime64(now.date(), "D")
    to = _column(history, "To")[picked]
    numbered = np.array([str(t).strip().isdigit() for t in to], dtype=bool)
    mine = numbered & (stamps.astype("datetime64[D]") == today)
    return pd.Series(_column(history, "Lead ID")[picked][mine]).value_counts()


def _column(history: Table, name: str) -> np.ndarray:
    return np.asarray(history.column(name), dtype=object)


def _rows(
    history: Table, field: str, dayfirst: bool, zone: tzinfo
) -> tuple[np.ndarray, np.ndarray]:
    """The History rows of ``field`` (casefolded), and their At as wall times."""
    if not history.rows or history.col("Field") is None:
        return np.zeros(0, np.int64), np.zeros(0, "datetime64[ns]")
    codes, uniques = pd.factorize(_column(history, "Field"))
    wanted = np.array([str(u).strip().casefold() == field for u in uniques] + [False], bool)
    picked = np.flatnonzero(wanted[codes])
    stamps = parse_stamps(_column(history, "At")[picked], dayfirst, zone)
    keep = ~np.isnat(stamps)
    return picked[keep], stamps[keep]
