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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from functools import cache, partial
from operator import itemgetter

import numpy as np
import pandas as pd

from sheetcrm.engine.catalog import N_, _, in_every_language
from sheetcrm.engine.dates import date_array, parse_date
from sheetcrm.engine.schema import SERVICE_BY
from sheetcrm.engine.table import Table, norm_header

WINDOW_DAYS = 30
"""A weighted rotation shares its leads by the weights over this many days: long enough for
one lead a day to even out, short enough that a weight changed today shows within a month."""

ROTATING = ("round robin", "weighted")
"""The strategies that remember their turns; least loaded looks at open leads instead."""

_NUMBER = re.compile(r"(\d+)\s*$")

_SAID = {
    "round robin": N_("→ %(team)s by round robin: %(name)s"),
    "weighted": N_("→ %(team)s by weighted: %(name)s"),
    "least loaded": N_("→ %(team)s by least loaded: %(name)s"),
}
"""How the why of an assignment to a team ends, by strategy: the words of the sheet's
Language, read back in every language (a sheet switched from English to French keeps the
turns its English History rows record)."""


def said(team: str, strategy: str, name: str) -> str:
    """The end of the why of a rotation's turn, as History keeps it and this module reads it."""
    return _(_SAID[strategy]) % {"team": team, "name": name}


@cache
def _tails() -> tuple[tuple[re.Pattern[str], str], ...]:
    """(pattern, strategy): how the text after a why's last "→" reads as a rotation's turn,
    in each language; the pattern's ``team`` group is the rotation's team."""
    found = []
    for strategy in ROTATING:
        for text in dict.fromkeys(in_every_language(partial(_, _SAID[strategy]))):
            tail = text.partition("→")[2].partition("%(name)s")[0]
            head, _team, rest = tail.partition("%(team)s")
            pattern = rf"^\s*{re.escape(head.strip())}(?P<team>.+){re.escape(rest)}"
            found.append((re.compile(pattern, re.DOTALL), strategy))
    return tuple(found)


def turn_of(why: str) -> tuple[str, str] | None:
    """(team, strategy) of a History why that records a rotation's turn, in any language."""
    tail = why.rpartition("→")[2]
    for pattern, strategy in _tails():
        if m := pattern.match(tail):
            return m["team"], strategy
    return None


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
    """Every rotation's turns in ``history``, as of ``now`` (the sheet's wall time, naive).

    History grows by every sync: each distinct why, stamp and name is parsed once, and only
    the turns of a rotation's last stamp have their Lead ID read."""
    if not history.rows:
        return {}
    why, field, by, stamp, to = _columns(history, "Why", "Field", "By", "At", "To")
    codes, whys = pd.factorize(why)
    # a why is "<rule> (<conditions>) → <target>...": its rotation, once per distinct text
    code_of: dict[tuple[str, str], int] = {}
    per_why = np.full(len(whys) + 1, -1, dtype=np.int64)
    for j, text in enumerate(whys):
        if turn := turn_of(text):
            per_why[j] = code_of.setdefault(key(*turn), len(code_of))
    rotations = list(code_of)
    is_owner = _per_value(field, lambda f: f.strip().casefold() == "owner")
    by_sync = _per_value(by, lambda b: b.strip() == SERVICE_BY)
    picked = np.flatnonzero((per_why[codes] >= 0) & is_owner & by_sync)
    if not len(picked):
        return {}
    rotation = per_why[codes][picked]
    id_col = history.col("Lead ID")
    at_codes, stamps = pd.factorize(stamp[picked])
    parsed = [parse_date(t, dayfirst, zone) for t in stamps]
    at = date_array([p if p is not None and p <= now else None for p in parsed] + [None])
    at = at[at_codes]
    name_codes, names = pd.factorize(to[picked])
    keys = np.array([norm_header(n) for n in names] + [""], dtype=object)[name_codes]
    valid = ~np.isnat(at) & (keys != "")
    result: dict[tuple[str, str], Turns] = {}
    recent = valid & (at > np.datetime64(now - timedelta(days=WINDOW_DAYS)))
    for code, rot in enumerate(rotations):
        mine = valid & (rotation == code)
        if not mine.any():
            continue
        # one sync stamps its turns alike: they were taken in Lead ID order
        last = np.flatnonzero(mine & (at == at[mine].max()))
        number = [_number(history.rows[picked[k]], id_col) for k in last]
        latest = max(zip(number, picked[last].tolist(), last.tolist(), strict=True))[2]
        result[rot] = Turns(str(keys[latest]), Counter(keys[recent & (rotation == code)].tolist()))
    return result


def _columns(table: Table, *names: str) -> list[np.ndarray]:
    """Several columns of a long tab, each as an object array, the rows' widths checked once."""
    cols = [table.col(n) for n in names]
    if None in cols or min(map(len, table.rows)) <= max(c for c in cols if c is not None):
        return [np.asarray(table.column(n), dtype=object) for n in names]
    return [np.array(list(map(itemgetter(c), table.rows)), dtype=object) for c in cols]


def _per_value(values: np.ndarray, test: Callable[[str], bool]) -> np.ndarray:
    """``test`` of each value, run once per distinct value."""
    codes, uniques = pd.factorize(values)
    return np.array([test(u) for u in uniques] + [False], dtype=bool)[codes]


def _number(row: list[str], col: int | None) -> int:
    found = _NUMBER.search(row[col]) if col is not None and col < len(row) else None
    return int(found[1]) if found else -1
