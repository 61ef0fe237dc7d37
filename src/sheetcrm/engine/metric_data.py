"""The inputs of the metrics, typed once: the deals (Leads rows) and the stage log (History).

Columns are parsed per distinct text (a pipeline repeats its stages, owners and dates), and
canonical dates take a vectorised path; everything else goes through the same parsers the
sync uses, so a date or an amount means the same here as in a rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from functools import cached_property

import numpy as np
import pandas as pd
from pandas._libs.hashtable import PyObjectHashTable

from sheetcrm.engine.dates import canonical_times, date_array, parse_date
from sheetcrm.engine.frame import Frame, narrow
from sheetcrm.engine.history import HistoryFrame
from sheetcrm.engine.stages import first_seen
from sheetcrm.engine.stages_tab import Stage
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.values import blank_mask, parse_number_array
from sheetcrm.engine.wallclock import to_utc

DAY = np.timedelta64(1, "D")
AT = " (all time)"  # the suffix of a table column's all-time twin
EXPECTED_CLOSE = ("expected close", "expected close date", "close date")
"""Headers of an optional Leads column the forecast dates open deals by."""
GROUPED = ("Owner", "Source", "Industry", "Country", "Grade")
"""The Leads columns the metrics group deals by."""


def ratio(part: float, whole: float) -> float:
    """``part / whole``; NaN ("no data") when there is nothing to divide by."""
    return float(part) / float(whole) if whole else float("nan")


def median(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(np.median(values)) if len(values) else float("nan")


@dataclass(frozen=True)
class Window:
    """A span of time; an open end is unbounded. ``holds`` is False for a missing date."""

    label: str
    start: np.datetime64 | None = None
    end: np.datetime64 | None = None

    def holds(self, when: np.ndarray) -> np.ndarray:
        inside = ~np.isnat(when)
        if self.start is not None:
            inside &= when >= self.start
        if self.end is not None:
            inside &= when <= self.end
        return inside


def _distinct(values: Sequence[object] | pd.Series | np.ndarray) -> tuple[np.ndarray, list[str]]:
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    texts = [str(u).strip() for u in uniques]
    return np.where(codes < 0, len(texts), codes), [*texts, ""]


def first_rows(keys: np.ndarray, wanted: Sequence[str] | np.ndarray) -> np.ndarray:
    """Per text of ``wanted``, the first row whose key it is; -1 for none, and for a blank
    key (nobody's). Each key hashed once, in C: a Lead ID shared by two rows is the first's."""
    keys = np.asarray(keys, dtype=object)
    wanted = np.asarray(wanted, dtype=object)
    # pandas' own hash table (what factorize builds), of the keys alone, last row first so
    # that the first row of a key is the one it keeps: one table of 100,000 Lead IDs, not
    # one of them and the wanted texts together with their codes (6 MB less at the metrics'
    # peak, and half the time)
    table = PyObjectHashTable(len(keys))
    table.map_locations(keys[::-1])
    found = table.lookup(wanted)
    return np.where((found < 0) | (wanted == ""), -1, len(keys) - 1 - found)


def texts(values: Sequence[object] | pd.Series) -> np.ndarray:
    codes, uniques = _distinct(values)
    return np.asarray(uniques, dtype=object)[codes]


def wall_times(
    values: Sequence[object] | pd.Series | np.ndarray,
    dayfirst: bool,
    zone: tzinfo,
    canonical: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cells as wall times of ``zone`` (datetime64[ns], NaT where not a date) and their folds:
    the canonical forms the sync writes by exact format, in C (``canonical``: that pass
    already made, by the Activities frame a sync shares); the rest (what people type:
    03/04/2026, 5 Jan 2026, a stamp with its offset) by :func:`parse_date`, once per
    distinct text."""
    cells = np.asarray(values, dtype=object)
    parsed = canonical_times(cells) if canonical is None else canonical.copy()
    folds = np.zeros(len(cells), dtype=bool)
    todo = np.isnat(parsed) & (cells != "")
    if not todo.any():
        return parsed, folds
    codes, uniques = _distinct(cells[todo])
    rest = [parse_date(u, dayfirst, zone) if u else None for u in uniques]
    parsed[todo] = date_array(rest)[codes]
    folds[todo] = np.array([bool(d and d.fold) for d in rest], dtype=bool)[codes]
    return parsed, folds


def dates(
    values: Sequence[object] | pd.Series | np.ndarray, dayfirst: bool = True, zone: tzinfo = UTC
) -> np.ndarray:
    """Cells as wall times of the sheet's zone: what periods, months and days are counted on."""
    return wall_times(values, dayfirst, zone)[0]


def instants(
    values: Sequence[object] | pd.Series, dayfirst: bool = True, zone: tzinfo = UTC
) -> np.ndarray:
    """Cells as the real instants (UTC) they stand for: what elapsed hours are counted on."""
    return to_utc(*wall_times(values, dayfirst, zone), zone)


def numbers(values: Sequence[object] | pd.Series, decimal: str | None = None) -> np.ndarray:
    codes, uniques = _distinct(values)
    return parse_number_array(pd.Series(uniques, dtype=object), decimal)[codes]


def _bounded(amounts: np.ndarray, largest: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.where((amounts >= 0) & (amounts <= largest), amounts, np.nan)


@dataclass
class Deals:
    """One entry per Leads row. ``kind`` is the stage's type (open, won, lost), "open" for a
    blank Stage (it waits like the first stage) and "unknown" for a stage not on the tab."""

    ids: np.ndarray
    order: np.ndarray  # position of the stage on the Stages tab; -1 blank or unknown
    kind: np.ndarray
    blank: np.ndarray
    waiting: np.ndarray  # open in the first open stage, or without a stage: not touched yet
    amount: np.ndarray
    probability: np.ndarray  # 0..1
    created: np.ndarray
    closed: np.ndarray
    first_touch: np.ndarray  # an instant (UTC), like ``started``: hours between are real
    started: np.ndarray  # Assigned at, else Created at: when the first-touch clock starts
    expected: np.ndarray
    stale: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    overdue: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    # column (each of GROUPED) -> per row the code of its text, and the distinct texts:
    # grouping by them hashes no row's text again, and a column's text per deal is gathered
    # only where one is read (``owner``, ``texts``): 0.8 MB each at 100,000 deals
    coded: dict[str, tuple[np.ndarray, list[str]]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def texts(self, name: str) -> np.ndarray:
        """Column ``name`` (one of GROUPED), a text per deal."""
        codes, distinct = self.coded[name]
        return np.asarray(distinct, dtype=object)[codes]

    @cached_property
    def owner(self) -> np.ndarray:
        return self.texts("Owner")

    # each kind compared once: a comparison of a 100,000-row text column costs more than a
    # metric's own sum (a Deals is read per sync and never changed after)
    @cached_property
    def is_open(self) -> np.ndarray:
        return np.asarray(self.kind == "open", dtype=bool)

    @cached_property
    def won(self) -> np.ndarray:
        return np.asarray(self.kind == "won", dtype=bool)

    @cached_property
    def lost(self) -> np.ndarray:
        return np.asarray(self.kind == "lost", dtype=bool)

    def groups(self, name: str, blank: str) -> tuple[np.ndarray, np.ndarray]:
        """Column ``name`` (one of GROUPED) as per-row group codes and the groups' names, a
        blank text named ``blank``: as ``pd.factorize`` of its texts, but from the column's
        distinct texts (only groups some row holds)."""
        codes, distinct = self.coded[name]
        named = np.asarray(distinct, dtype=object)
        merged, names = pd.factorize(np.where(named == "", blank, named))
        per_row = merged[codes]
        held = np.bincount(per_row, minlength=len(names)) > 0
        if held.all():
            return per_row, names
        return (np.cumsum(held) - 1)[per_row], names[held]


def read_deals(
    data: pd.DataFrame,
    stages: Sequence[Stage],
    dayfirst: bool = True,
    zone: tzinfo = UTC,
    stale: np.ndarray | None = None,
    overdue: np.ndarray | None = None,
    decimal: str | None = None,
    largest: float = np.inf,
    frame: Frame | None = None,
) -> Deals:
    """``data``: the Leads rows as strings, columns named by their canonical header. An
    amount below 0 or over ``largest`` is a problem on its cell and counts as no amount:
    one typo or one hostile form post must not set the forecast. ``frame``: ``data`` as the
    sync's typed columns, whose distinct texts are then not found again."""
    n = len(data)
    columns = _Columns(data, frame)
    by_key = {norm_header(s.name): s for s in stages}
    first_open = next((s for s in stages if s.type == "open"), None)
    codes, uniques = columns.distinct("Stage")
    found = [by_key.get(norm_header(u)) for u in uniques]
    blank_u = blank_mask(pd.Series(uniques, dtype=object))
    order_u = narrow(np.array([s.order if s else -1 for s in found], dtype=int), len(stages))
    kind_u = np.array(
        [
            s.type if s else ("open" if b else "unknown")
            for s, b in zip(found, blank_u, strict=True)
        ],
        dtype=object,
    )

    def chance(stage: Stage | None, blank: bool) -> float:
        stage = stage or (first_open if blank else None)
        return np.nan if stage is None else (stage.probability or 0.0)

    chance_u = np.array([chance(s, b) for s, b in zip(found, blank_u, strict=True)])
    expected = next((c for c in data.columns if norm_header(c) in EXPECTED_CLOSE), None)
    created = columns.dates("Created at", dayfirst, zone)
    assigned_at = columns.instants("Assigned at", dayfirst, zone)
    created_at = columns.instants("Created at", dayfirst, zone)
    return Deals(
        ids=columns.texts("Lead ID"),
        order=order_u[codes],
        kind=kind_u[codes],
        blank=blank_u[codes],
        waiting=(order_u[codes] == (first_open.order if first_open else -2)) | blank_u[codes],
        amount=_bounded(columns.numbers("Amount", decimal), largest),
        probability=chance_u[codes] / 100,
        created=created,
        closed=columns.dates("Closed at", dayfirst, zone),
        first_touch=columns.instants("First touch at", dayfirst, zone),
        started=np.where(np.isnat(assigned_at), created_at, assigned_at),
        expected=columns.dates(expected, dayfirst, zone)
        if expected
        else np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"),
        stale=np.zeros(n, dtype=bool) if stale is None else stale,
        overdue=np.zeros(n, dtype=bool) if overdue is None else overdue,
        coded={k: columns.distinct(k) for k in GROUPED},
    )


class _Columns:
    """The Leads columns a metric reads, each as its distinct texts (stripped) and per row
    the code of its text: the sync's typed columns' (``frame``) when it has them, whose
    codes every rule and step already shares; else found here. Every parse is of the
    distinct texts, gathered back to the rows."""

    def __init__(self, data: pd.DataFrame, frame: Frame | None) -> None:
        self.data, self.frame = data, frame
        self._found: dict[str, tuple[np.ndarray, list[str]]] = {}
        self._walls: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # Created at: read twice

    def distinct(self, name: str) -> tuple[np.ndarray, list[str]]:
        if self.frame is not None:
            values = self.frame.values(name)
            return values.codes, values.text.tolist()
        if name not in self._found:
            self._found[name] = (
                _distinct(self.data[name])
                if name in self.data.columns
                else (np.zeros(len(self.data), dtype=np.int64), [""])
            )
        return self._found[name]

    def texts(self, name: str) -> np.ndarray:
        codes, uniques = self.distinct(name)
        return np.asarray(uniques, dtype=object)[codes]

    def numbers(self, name: str, decimal: str | None) -> np.ndarray:
        codes, uniques = self.distinct(name)
        return parse_number_array(pd.Series(uniques, dtype=object), decimal)[codes]

    def dates(self, name: str, dayfirst: bool, zone: tzinfo) -> np.ndarray:
        return self._wall_times(name, dayfirst, zone)[0]

    def instants(self, name: str, dayfirst: bool, zone: tzinfo) -> np.ndarray:
        return to_utc(*self._wall_times(name, dayfirst, zone), zone)

    def _wall_times(self, name: str, dayfirst: bool, zone: tzinfo) -> tuple[np.ndarray, np.ndarray]:
        if name not in self._walls:  # one read_deals: one dayfirst and zone
            self._walls[name] = self._parsed(name, dayfirst, zone)
        return self._walls[name]

    def _parsed(self, name: str, dayfirst: bool, zone: tzinfo) -> tuple[np.ndarray, np.ndarray]:
        if self.frame is None:  # dates are mostly distinct: hashing them costs more than it saves
            cells = self.data[name] if name in self.data.columns else np.full(len(self.data), "")
            return wall_times(cells, dayfirst, zone)
        codes, uniques = self.distinct(name)
        walls, folds = wall_times(uniques, dayfirst, zone)
        return walls[codes], folds[codes]


@dataclass
class StageLog:
    """History's Stage entries in the order they were logged."""

    lead: np.ndarray  # per entry, a code into ``leads``
    leads: list[str]  # the Lead IDs the entries name, each once
    stage: np.ndarray  # stage order on the Stages tab; -1 for a cleared or unknown stage
    at: np.ndarray
    observed: np.ndarray  # the entry saw the lead enter the stage (not "first seen ...")

    def reached(self, deals: Deals, n_stages: int) -> np.ndarray:
        """(deal, stage) -> whether History saw the deal enter the stage, or it is there now."""
        seen = np.zeros((len(deals), n_stages), dtype=bool)
        rows = first_rows(deals.ids, self.leads)[self.lead]
        ok = (rows >= 0) & (self.stage >= 0)
        seen[rows[ok], self.stage[ok]] = True
        now = deals.order >= 0
        seen[np.flatnonzero(now), deals.order[now]] = True
        return seen

    def days_in_stage(self, n_stages: int) -> dict[int, np.ndarray]:
        """Stage order -> days of each finished stay whose start History saw."""
        ordered = np.argsort(self.lead, kind="stable")
        lead, stage, at = self.lead[ordered], self.stage[ordered], self.at[ordered]
        observed = self.observed[ordered]
        following = np.full(len(at), np.datetime64("NaT"), dtype="datetime64[ns]")
        same = lead[1:] == lead[:-1]
        following[:-1] = np.where(same, at[1:], np.datetime64("NaT"))
        days = (following - at) / DAY
        finished = observed & (stage >= 0) & ~np.isnan(days)
        return {k: days[finished & (stage == k)] for k in range(n_stages)}


def read_log(history: HistoryFrame, stages: Sequence[Stage]) -> StageLog:
    """The Stage entries of ``history`` (with the rows this sync plans under it, if it
    has them: :meth:`HistoryFrame.plus`), typed from the frame's columns: each distinct To
    and Why read once, the stamps as the frame parsed them."""
    rows = np.flatnonzero(history.of_field("stage"))
    by_key = {norm_header(s.name): s.order for s in stages}
    to = history.column("To")
    order = _per_text(to.texts, to.codes[rows], lambda t: by_key.get(norm_header(t), -1), int)
    why = history.column("Why")
    seen = _per_text(why.texts, why.codes[rows], lambda t: not first_seen(str(t).strip()), bool)
    # the Lead IDs these rows name, numbered in the order they come (each entry's lead is a
    # code into them): History's codes number every Lead ID it holds, in its own order
    lead_codes, first = pd.factorize(history.column("Lead ID").codes[rows])
    leads = list(map(str.strip, map(str, history.column("Lead ID").texts[first])))  # C loops
    # an entry per Stage row of History (400,000 at 100,000 leads): codes in the smallest
    # type that holds them, 5 bytes an entry less at the metrics' peak
    return StageLog(
        lead=narrow(lead_codes, len(leads)),
        leads=[*leads, ""],
        stage=narrow(order, int(order.max(initial=0)) + 1)[to.codes[rows]],
        at=history.at[rows],
        observed=seen[why.codes[rows]],
    )


def _per_text(
    texts: np.ndarray, codes: np.ndarray, test: Callable[[str], object], dtype: type
) -> np.ndarray:
    """``test`` of each text some of ``codes`` name, by code: History's To and Why columns
    hold every field's texts (owners, sequences' reasons), the Stage rows a few of them."""
    out: np.ndarray = np.zeros(len(texts), dtype=dtype)  # a text no Stage row holds: never read
    for i in np.flatnonzero(np.bincount(codes, minlength=len(texts))).tolist():
        out[i] = test(texts[i])
    return out
