"""Last known good rules: the last valid version of each rule tab, kept on the hidden state tab.

A bad cell in a rule tab would otherwise stop the whole tab, and new leads would go unscored
and unrouted until a manager noticed. Instead the sync keeps applying the version of the tab
that was last valid (and of each Settings value, its last valid value), and says so on the
Problems tab and on the leads' Status. Each version is stored under keys of its own on the
state tab, compressed and cut into chunks below the smallest cell limit (xlsx: 32,767
characters; Google: 50,000), so that a Scoring tab of thousands of rows still fits.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from dataclasses import dataclass

from sheetcrm.engine.catalog import N_, _
from sheetcrm.engine.table import Table

KEY_PREFIX = "last good "
CHUNK = 30_000  # characters per state cell, below every backend's cell limit
_CHUNK_KEY = re.compile(r"last good (?P<tab>.+) (?P<part>\d+)/(?P<parts>\d+)")

# The tabs kept whole: a problem anywhere in one makes the sync use its last valid version.
WHOLE_TABS = ("Stages", "Scoring", "Routing", "Team", "Alerts")
SETTINGS_TAB = "Settings"  # kept value by value: rows of Key, Value, As of
SETTINGS_HEADER = ["Key", "Value", "As of"]


@dataclass(frozen=True)
class GoodVersion:
    """A tab as it was when last valid; ``stamp`` is the sync that first saw it so."""

    stamp: str
    table: Table


_KINDS = {"Team": N_("the team list"), "Stages": N_("the stages")}
_RULES = N_("the rules")


@dataclass(frozen=True)
class Fallback:
    """A rule tab (or one Settings value) that has a problem: what the sync did instead.

    ``stamp`` is when the version in use was last valid; "" when there is none, and the tab
    (or what the setting governs) is not applied this round."""

    tab: str
    cell: str  # the first problem's cell, where the manager looks
    stamp: str
    areas: frozenset[str]  # what it governs: scoring, routing, stages...
    setting: str = ""  # the Settings key, for a Settings value

    @property
    def what(self) -> str:
        return self.setting or self.tab

    def banner(self) -> str:
        """The line at the top of Problems: "Scoring: using the rules as of 2026-12-02 10:14
        until Scoring!C17 is fixed"; "Settings: using MQL score as of ..." for a value."""
        kind = self.setting or _(_KINDS.get(self.tab, _RULES))
        if self.stamp:
            return _("%(tab)s: using %(kind)s as of %(stamp)s until %(cell)s is fixed") % {
                "tab": self.tab,
                "kind": kind,
                "stamp": self.stamp,
                "cell": self.cell,
            }
        what = f"{self.tab}: {self.setting}" if self.setting else self.tab
        return _("%(what)s not applied until %(cell)s is fixed (no valid version yet)") % {
            "what": what,
            "cell": self.cell,
        }


def normalised(table: Table) -> Table:
    """``table`` without trailing empty cells and rows: backends differ there, and two
    versions that differ only there are one version."""
    rows = [_trimmed(r) for r in table.rows]
    while rows and not rows[-1]:
        rows.pop()
    return Table(_trimmed(table.header), rows)


def _trimmed(row: list[str]) -> list[str]:
    end = len(row)
    while end and not row[end - 1].strip():
        end -= 1
    return list(row[:end])


def encode(tab: str, version: GoodVersion) -> list[list[str]]:
    """The state tab rows (Key, Value) that keep ``version`` of ``tab``."""
    table = normalised(version.table)
    data = json.dumps(
        {"as of": version.stamp, "header": table.header, "rows": table.rows},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    # zlib's output always opens with 0x78, so the text opens with "e": never read as a
    # formula or a number by a spreadsheet
    text = base64.b64encode(zlib.compress(data.encode(), 9)).decode("ascii")
    parts = [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)] or [""]
    key = tab.casefold()
    return [[f"{KEY_PREFIX}{key} {i + 1}/{len(parts)}", part] for i, part in enumerate(parts)]


def decode(state: Table | None) -> dict[str, GoodVersion]:
    """The versions kept on the state tab, by tab name as in ``WHOLE_TABS``/``SETTINGS_TAB``.
    A version with a chunk missing or damaged (a person edited the hidden tab) is dropped:
    then there is no last valid version, which is said, rather than a wrong one used."""
    if state is None:
        return {}
    chunks: dict[str, dict[int, str]] = {}
    counts: dict[str, int] = {}
    for key, value in zip(state.column("Key"), state.column("Value"), strict=True):
        found = _CHUNK_KEY.fullmatch(key.strip().casefold())
        if found:
            tab = found["tab"]
            chunks.setdefault(tab, {})[int(found["part"])] = value.strip()
            counts[tab] = int(found["parts"])
    names = {t.casefold(): t for t in (*WHOLE_TABS, SETTINGS_TAB)}
    versions = {}
    for tab, parts in chunks.items():
        if tab not in names or sorted(parts) != list(range(1, counts[tab] + 1)):
            continue
        try:
            raw = zlib.decompress(base64.b64decode("".join(parts[i] for i in sorted(parts))))
            data = json.loads(raw)
            table = Table(
                [str(h) for h in data["header"]], [[str(c) for c in r] for r in data["rows"]]
            )
            versions[names[tab]] = GoodVersion(str(data["as of"]), table)
        except (binascii.Error, zlib.error, ValueError, KeyError, TypeError):
            continue
    return versions


def kept(
    current: dict[str, Table], stored: dict[str, GoodVersion], stamp: str
) -> dict[str, GoodVersion]:
    """What to keep after this sync: each tab valid now, as of when it was first valid in
    this form (so a sync with no edit writes nothing); each tab not valid now, as stored."""
    versions = dict(stored)
    for tab, table in current.items():
        was = stored.get(tab)
        now = normalised(table)
        if was is None or normalised(was.table) != now:
            versions[tab] = GoodVersion(stamp, now)
    return versions


def settings_kept(
    valid: dict[str, str], stored: GoodVersion | None, stamp: str
) -> GoodVersion | None:
    """The Settings values to keep: each value valid now (``valid``: key -> text as typed),
    as of when it was first typed so; a value not valid now keeps its stored row."""
    old = {r[0].casefold(): r for r in stored.table.rows if r} if stored else {}
    rows = []
    for key, text in valid.items():
        was = old.pop(key.casefold(), None)
        rows.append(was if was is not None and was[1:2] == [text] else [key, text, stamp])
    rows += [r for r in old.values() if len(r) >= 3]
    if not rows:
        return None
    rows.sort(key=lambda r: r[0].casefold())
    newest = max(r[2] for r in rows) if all(len(r) >= 3 for r in rows) else stamp
    return GoodVersion(newest, Table(list(SETTINGS_HEADER), [list(r[:3]) for r in rows]))


def settings_values(stored: GoodVersion | None) -> dict[str, tuple[str, str]]:
    """Key (casefolded) -> (text, as of) of each stored Settings value."""
    if stored is None:
        return {}
    return {r[0].casefold(): (r[1], r[2]) for r in stored.table.rows if len(r) >= 3 and r[0]}
