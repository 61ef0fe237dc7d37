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
from datetime import datetime, timedelta
from functools import cache, partial

import numpy as np
import pandas as pd

from sheetcrm.engine.catalog import N_, _, in_every_language
from sheetcrm.engine.history import HistoryFrame
from sheetcrm.engine.schema import SERVICE_BY
from sheetcrm.engine.table import norm_header

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


def read_turns(history: HistoryFrame, now: datetime) -> dict[tuple[str, str], Turns]:
    """Every rotation's turns in ``history``, as of ``now`` (the sheet's wall time, naive).

    History grows by every sync: each distinct why and name is read once, and only the turns
    of a rotation's last stamp have their Lead ID read."""
    if not history.rows:
        return {}
    why = history.column("Why")
    # a why is "<rule> (<conditions>) → <target>...": its rotation, once per distinct text
    code_of: dict[tuple[str, str], int] = {}
    per_why = np.full(len(why.texts), -1, dtype=np.int64)
    for j, text in enumerate(why.texts):
        if turn := turn_of(text):
            per_why[j] = code_of.setdefault(key(*turn), len(code_of))
    rotations = list(code_of)
    is_owner = history.of_field("owner")
    by_sync = history.column("By").per_text(lambda b: b.strip() == SERVICE_BY)
    picked = np.flatnonzero((per_why[why.codes] >= 0) & is_owner & by_sync)
    if not len(picked):
        return {}
    rotation = per_why[why.codes[picked]]
    at = history.at[picked]
    at = np.where(at <= np.datetime64(now, "ns"), at, np.datetime64("NaT", "ns"))
    to = history.column("To")
    name_codes, names = pd.factorize(to.codes[picked])  # each name normalised once
    keys = np.array([norm_header(n) for n in to.texts[names]], dtype=object)[name_codes]
    valid = ~np.isnat(at) & (keys != "")
    result: dict[tuple[str, str], Turns] = {}
    recent = valid & (at > np.datetime64(now - timedelta(days=WINDOW_DAYS)))
    ids = history.column("Lead ID")
    for code, rot in enumerate(rotations):
        mine = valid & (rotation == code)
        if not mine.any():
            continue
        # one sync stamps its turns alike: they were taken in Lead ID order
        last = np.flatnonzero(mine & (at == at[mine].max()))
        number = [_number(text) for text in ids.cells(picked[last])]
        latest = max(zip(number, picked[last].tolist(), last.tolist(), strict=True))[2]
        result[rot] = Turns(str(keys[latest]), Counter(keys[recent & (rotation == code)].tolist()))
    return result


def _number(lead_id: str) -> int:
    found = _NUMBER.search(lead_id)
    return int(found[1]) if found else -1
