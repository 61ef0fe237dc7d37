"""What each team's rotation did before this sync, read back from History.

A rotation is a team under a strategy: "Sales by round robin", "Sales by weighted". Its turns
are the History rows in which the sync gave a lead its Owner with a why that ends
"→ Sales by round robin: Ann" (:func:`said`). A lead a person assigned, one sent by a direct
rule, to the fallback owner or to the owner of its original is nobody's turn, so it never
moves a rotation. History is the sheet's own append-only log: any two runs read the same
turns, and nothing is lost with a server.

A turn stamped after ``now`` (typed in by hand, or written before the Time zone setting moved
the clock back) is not counted: its place in the order cannot be known, and counting it would
freeze the rotation on it until that time comes.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

import numpy as np
import pandas as pd

from sheetcrm.engine.dates import parse_date
from sheetcrm.engine.schema import SERVICE_BY
from sheetcrm.engine.table import Table, norm_header

WINDOW_DAYS = 30
"""A weighted rotation shares its leads by the weights over this many days: long enough for
one lead a day to even out, short enough that a weight changed today shows within a month."""

ROTATING = ("round robin", "weighted")
"""The strategies that remember their turns; least loaded looks at open leads instead."""

_TAIL = re.compile(r"^\s*(.+) by (round robin|weighted): ", re.DOTALL)
_NUMBER = re.compile(r"(\d+)\s*$")


def said(team: str, strategy: str, name: str) -> str:
    """The end of the why of a rotation's turn, as History keeps it and this module reads it."""
    return f"→ {team} by {strategy}: {name}"


def key(team: str, strategy: str) -> tuple[str, str]:
    return norm_header(team), strategy


@dataclass
class Turns:
    """One rotation's past: who got its latest lead, and how many each member got lately."""

    latest: str = ""  # norm_header of the member
    counts: Counter[str] = field(default_factory=Counter)  # member key -> turns in the window


def read_turns(
    history: Table, now: datetime, dayfirst: bool, zone: tzinfo
) -> dict[tuple[str, str], Turns]:
    """Every rotation's turns in ``history``, as of ``now`` (the sheet's wall time, naive)."""
    if not history.rows:
        return {}
    why = np.asarray(history.column("Why"), dtype=object)
    codes, uniques = pd.factorize(why)
    # a why is "<rule> (<conditions>) → <target>...": its rotation, once per distinct text
    code_of: dict[tuple[str, str], int] = {}
    per_why = np.full(len(uniques) + 1, -1, dtype=np.int64)
    for j, text in enumerate(uniques):
        if m := _TAIL.match(text.rpartition("→")[2]):
            per_why[j] = code_of.setdefault(key(m[1], m[2]), len(code_of))
    rotations = list(code_of)
    rotation = per_why[codes]
    picked = np.flatnonzero(rotation >= 0)
    if not len(picked):
        return {}
    fields, by = history.column("Field"), history.column("By")
    picked = np.array(
        [
            i
            for i in picked
            if fields[i].strip().casefold() == "owner" and by[i].strip() == SERVICE_BY
        ],
        dtype=np.int64,
    )
    stamps = np.asarray(history.column("At"), dtype=object)[picked]
    at_codes, at_uniques = pd.factorize(stamps)
    parsed = [parse_date(t, dayfirst, zone) for t in at_uniques]
    at = np.array([p if p is not None and p <= now else pd.NaT for p in parsed] + [pd.NaT])
    to, ids = history.column("To"), history.column("Lead ID")
    taken = pd.DataFrame(
        {
            "rotation": rotation[picked],
            "name": [norm_header(to[i]) for i in picked],
            "at": pd.to_datetime(at[at_codes]),
            # one sync stamps its turns alike: they were taken in Lead ID order
            "number": [int(m[1]) if (m := _NUMBER.search(ids[i])) else -1 for i in picked],
            "position": picked,
        }
    )
    taken = taken[taken["at"].notna() & (taken["name"] != "")]
    last = taken.sort_values(["at", "number", "position"]).drop_duplicates("rotation", keep="last")
    result = {
        rotations[code]: Turns(latest=name)
        for code, name in zip(last["rotation"].tolist(), last["name"].tolist(), strict=True)
    }
    recent = taken[taken["at"] > now - timedelta(days=WINDOW_DAYS)]
    pairs = zip(recent["rotation"].tolist(), recent["name"].tolist(), strict=True)
    for (code, name), count in Counter(pairs).items():
        result[rotations[code]].counts[name] = count
    return result
