"""The inputs of the metrics, typed once: the deals (Leads rows); the stage log (History)
is stage_log.py.

Columns are parsed per distinct text (a pipeline repeats its stages, owners and dates), and
canonical dates take a vectorised path; everything else goes through the same parsers the
sync uses, so a date or an amount means the same here as in a rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from functools import cached_property

import numpy as np
import pandas as pd
from pandas._libs.hashtable import PyObjectHashTable

from sheetcrm.engine.dates import canonical_times, date_array, parse_date
from sheetcrm.engine.frame import Frame, narrow
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
    missing = (found < 0) | (wanted == "")
    del table  # in place from here: a table and three arrays of 100,000 at the metrics' peak
    np.subtract(len(keys) - 1, found, out=found)
    found[missing] = -1
    return found  # type: ignore[no-any-return]


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


@dataclass(frozen=True)
class Gathered:
    """A column of the deals as its distinct values and per deal the code of its value
    (None: the values are the deals' own, in order), gathered each time a metric reads it:
    the sync's typed columns hold the codes already, and a pipeline's dates, amounts and
    stages repeat (100,000 deals: 0.8 MB a column less at the metrics step's peak)."""

    values: np.ndarray
    codes: np.ndarray | None = None

    def __call__(self, rows: slice | np.ndarray = slice(None)) -> np.ndarray:
        """The value of each deal of ``rows`` (all by default)."""
        if self.codes is None:
            return self.values[rows]  # type: ignore[no-any-return]
        return self.values[self.codes[rows]]  # type: ignore[no-any-return]

    def equals(self, value: object) -> np.ndarray:
        """Per deal, whether its value is ``value``: compared once per distinct value."""
        same = np.asarray(self.values == value, dtype=bool)
        return same if self.codes is None else same[self.codes]


@dataclass
class Deals:
    """One entry per Leads row. ``kind`` is the stage's type (open, won, lost), "open" for a
    blank Stage (it waits like the first stage) and "unknown" for a stage not on the tab.
    The columns read per deal (Lead ID, kind, amount, probability, the dates) are kept as
    :class:`Gathered` and read through the properties of their names."""

    lead_id: Gathered
    order: np.ndarray  # position of the stage on the Stages tab; -1 blank or unknown
    kinds: Gathered
    blank: np.ndarray
    waiting: np.ndarray  # open in the first open stage, or without a stage: not touched yet
    amounts: Gathered
    chances: Gathered  # 0..1
    created_at: Gathered  # the wall times of the sheet's zone
    closed_at: Gathered
    # instants (UTC), like ``started``: hours between are real
    first_touch_at: Gathered
    assigned_utc: Gathered
    created_utc: Gathered
    expected_at: Gathered
    stale: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    overdue: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    # column (each of GROUPED) -> per row the code of its text, and the distinct texts:
    # grouping by them hashes no row's text again, and a column's text per deal is gathered
    # only where one is read (``owner``, ``texts``): 0.8 MB each at 100,000 deals
    coded: dict[str, tuple[np.ndarray, list[str]]] = field(default_factory=dict)

    @property
    def ids(self) -> np.ndarray:
        return self.lead_id()

    @property
    def kind(self) -> np.ndarray:
        return self.kinds()

    @property
    def amount(self) -> np.ndarray:
        return self.amounts()

    @property
    def probability(self) -> np.ndarray:
        return self.chances()

    @property
    def created(self) -> np.ndarray:
        return self.created_at()

    @property
    def closed(self) -> np.ndarray:
        return self.closed_at()

    @property
    def expected(self) -> np.ndarray:
        return self.expected_at()

    @property
    def first_touch(self) -> np.ndarray:
        return self.first_touch_at()

    @property
    def started(self) -> np.ndarray:
        """Assigned at, else Created at: when the first-touch clock starts (an instant)."""
        assigned = self.assigned_utc()
        return np.where(np.isnat(assigned), self.created_utc(), assigned)

    def __len__(self) -> int:
        return len(self.order)

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
        return self.kinds.equals("open")

    @cached_property
    def won(self) -> np.ndarray:
        return self.kinds.equals("won")

    @cached_property
    def lost(self) -> np.ndarray:
        return self.kinds.equals("lost")

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
    return Deals(
        lead_id=columns.texts("Lead ID"),
        order=order_u[codes],
        kinds=Gathered(kind_u, codes),
        blank=blank_u[codes],
        waiting=(order_u[codes] == (first_open.order if first_open else -2)) | blank_u[codes],
        amounts=columns.numbers("Amount", decimal, largest),
        chances=Gathered(chance_u / 100, codes),
        created_at=columns.dates("Created at", dayfirst, zone),
        closed_at=columns.dates("Closed at", dayfirst, zone),
        first_touch_at=columns.instants("First touch at", dayfirst, zone),
        assigned_utc=columns.instants("Assigned at", dayfirst, zone),
        created_utc=columns.instants("Created at", dayfirst, zone),
        expected_at=columns.dates(expected, dayfirst, zone)
        if expected
        else Gathered(
            np.full(1, np.datetime64("NaT"), dtype="datetime64[ns]"), np.zeros(n, np.int8)
        ),
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
        self._walls: dict[
            str, tuple[np.ndarray | None, np.ndarray, np.ndarray]
        ] = {}  # Created at: read twice

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

    def texts(self, name: str) -> Gathered:
        codes, uniques = self.distinct(name)
        return Gathered(np.asarray(uniques, dtype=object), codes)

    def numbers(self, name: str, decimal: str | None, largest: float) -> Gathered:
        codes, uniques = self.distinct(name)
        parsed = parse_number_array(pd.Series(uniques, dtype=object), decimal)
        return Gathered(_bounded(parsed, largest), codes)

    def dates(self, name: str, dayfirst: bool, zone: tzinfo) -> Gathered:
        codes, walls, _folds = self._wall_times(name, dayfirst, zone)
        return Gathered(walls, codes)

    def instants(self, name: str, dayfirst: bool, zone: tzinfo) -> Gathered:
        codes, walls, folds = self._wall_times(name, dayfirst, zone)
        return Gathered(to_utc(walls, folds, zone), codes)

    def _wall_times(
        self, name: str, dayfirst: bool, zone: tzinfo
    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        if name not in self._walls:  # one read_deals: one dayfirst and zone
            self._walls[name] = self._parsed(name, dayfirst, zone)
        return self._walls[name]

    def _parsed(
        self, name: str, dayfirst: bool, zone: tzinfo
    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """The column's codes (None: a time per row), its wall times and their folds."""
        if self.frame is None:  # dates are mostly distinct: hashing them costs more than it saves
            cells = self.data[name] if name in self.data.columns else np.full(len(self.data), "")
            return None, *wall_times(cells, dayfirst, zone)
        codes, uniques = self.distinct(name)
        return codes, *wall_times(uniques, dayfirst, zone)
