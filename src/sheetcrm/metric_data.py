"""The inputs of the metrics, typed once: the deals (Leads rows) and the stage log (History).

Columns are parsed per distinct text (a pipeline repeats its stages, owners and dates), and
canonical dates take a vectorised path; everything else goes through the same parsers the
sync uses, so a date or an amount means the same here as in a rule.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sheetcrm.config import Stage
from sheetcrm.table import Table, norm_header
from sheetcrm.values import blank_mask, parse_date, parse_number_array

DAY = np.timedelta64(1, "D")
EXPECTED_CLOSE = ("expected close", "expected close date", "close date")
"""Headers of an optional Leads column the forecast dates open deals by."""
_CANONICAL = re.compile(r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}(?::\d{2})?)?")


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


def _distinct(values: Sequence[object] | pd.Series) -> tuple[np.ndarray, list[str]]:
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    texts = [str(u).strip() for u in uniques]
    return np.where(codes < 0, len(texts), codes), [*texts, ""]


def texts(values: Sequence[object] | pd.Series) -> np.ndarray:
    codes, uniques = _distinct(values)
    return np.asarray(uniques, dtype=object)[codes]


def dates(values: Sequence[object] | pd.Series, dayfirst: bool = True) -> np.ndarray:
    """Cells as datetime64[ns], NaT where not a date: canonical text vectorised, the rest
    (what people type: 03/04/2026, 5 Jan 2026) by :func:`parse_date`."""
    codes, uniques = _distinct(values)
    series = pd.Series(uniques, dtype=object)
    canonical = series.str.fullmatch(_CANONICAL).fillna(False).to_numpy(dtype=bool)
    parsed = np.full(len(uniques), np.datetime64("NaT"), dtype="datetime64[ns]")
    if canonical.any():
        found = pd.to_datetime(series[canonical], format="ISO8601", errors="coerce")
        parsed[canonical] = found.to_numpy(dtype="datetime64[ns]")
    for i in np.flatnonzero(~canonical & (series != "").to_numpy(dtype=bool)):
        when = parse_date(uniques[i], dayfirst)
        if when is not None:
            parsed[i] = np.datetime64(when, "ns")
    return parsed[codes]


def numbers(values: Sequence[object] | pd.Series) -> np.ndarray:
    codes, uniques = _distinct(values)
    return parse_number_array(pd.Series(uniques, dtype=object))[codes]


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
    first_touch: np.ndarray
    started: np.ndarray  # Assigned at, else Created at: when the first-touch clock starts
    expected: np.ndarray
    owner: np.ndarray
    source: np.ndarray
    industry: np.ndarray
    country: np.ndarray
    grade: np.ndarray
    stale: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    overdue: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def is_open(self) -> np.ndarray:
        return np.asarray(self.kind == "open", dtype=bool)


def read_deals(
    data: pd.DataFrame,
    stages: Sequence[Stage],
    dayfirst: bool = True,
    stale: np.ndarray | None = None,
    overdue: np.ndarray | None = None,
) -> Deals:
    """``data``: the Leads rows as strings, columns named by their canonical header."""
    n = len(data)

    def column(name: str) -> pd.Series:
        return data[name] if name in data.columns else pd.Series([""] * n, dtype=object)

    by_key = {norm_header(s.name): s for s in stages}
    first_open = next((s for s in stages if s.type == "open"), None)
    codes, uniques = _distinct(column("Stage"))
    found = [by_key.get(norm_header(u)) for u in uniques]
    blank_u = blank_mask(pd.Series(uniques, dtype=object))
    order_u = np.array([s.order if s else -1 for s in found], dtype=int)
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
    assigned = dates(column("Assigned at"), dayfirst)
    created = dates(column("Created at"), dayfirst)
    return Deals(
        ids=texts(column("Lead ID")),
        order=order_u[codes],
        kind=kind_u[codes],
        blank=blank_u[codes],
        waiting=(order_u[codes] == (first_open.order if first_open else -2)) | blank_u[codes],
        amount=numbers(column("Amount")),
        probability=chance_u[codes] / 100,
        created=created,
        closed=dates(column("Closed at"), dayfirst),
        first_touch=dates(column("First touch at"), dayfirst),
        started=np.where(np.isnat(assigned), created, assigned),
        expected=dates(column(expected), dayfirst)
        if expected
        else np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"),
        owner=texts(column("Owner")),
        source=texts(column("Source")),
        industry=texts(column("Industry")),
        country=texts(column("Country")),
        grade=texts(column("Grade")),
        stale=np.zeros(n, dtype=bool) if stale is None else stale,
        overdue=np.zeros(n, dtype=bool) if overdue is None else overdue,
    )


@dataclass
class StageLog:
    """History's Stage entries in the order they were logged."""

    lead: np.ndarray
    stage: np.ndarray  # stage order on the Stages tab; -1 for a cleared or unknown stage
    at: np.ndarray
    observed: np.ndarray  # the entry saw the lead enter the stage (not "first seen ...")

    def reached(self, deals: Deals, n_stages: int) -> np.ndarray:
        """(deal, stage) -> whether History saw the deal enter the stage, or it is there now."""
        seen = np.zeros((len(deals), n_stages), dtype=bool)
        lookup = {lead: i for i, lead in reversed(list(enumerate(deals.ids))) if lead}
        rows = pd.Series(self.lead, dtype=object).map(lookup).to_numpy(dtype=float)
        ok = ~np.isnan(rows) & (self.stage >= 0)
        seen[rows[ok].astype(int), self.stage[ok]] = True
        now = deals.order >= 0
        seen[np.flatnonzero(now), deals.order[now]] = True
        return seen

    def days_in_stage(self, n_stages: int) -> dict[int, np.ndarray]:
        """Stage order -> days of each finished stay whose start History saw."""
        codes, _ = pd.factorize(self.lead)
        ordered = np.argsort(codes, kind="stable")
        lead, stage, at = codes[ordered], self.stage[ordered], self.at[ordered]
        observed = self.observed[ordered]
        following = np.full(len(at), np.datetime64("NaT"), dtype="datetime64[ns]")
        same = lead[1:] == lead[:-1]
        following[:-1] = np.where(same, at[1:], np.datetime64("NaT"))
        days = (following - at) / DAY
        finished = observed & (stage >= 0) & ~np.isnan(days)
        return {k: days[finished & (stage == k)] for k in range(n_stages)}


def read_log(
    history: Table,
    stages: Sequence[Stage],
    extra: Sequence[Sequence[str]] = (),
    dayfirst: bool = True,
) -> StageLog:
    """The Stage entries of ``history``, then ``extra`` rows (in the History tab's default
    column order: At, Lead ID, Field, From, To, By, Why), as this sync will append them."""
    columns = {name: history.column(name) for name in ("At", "Lead ID", "Field", "To", "Why")}
    for row in extra:
        for name, value in zip(("At", "Lead ID", "Field"), row[:3], strict=True):
            columns[name].append(value)
        columns["To"].append(row[4])
        columns["Why"].append(row[6])
    codes, uniques = _distinct(columns["Field"])
    keep = np.array([u.casefold() == "stage" for u in uniques], dtype=bool)[codes]
    by_key = {norm_header(s.name): s.order for s in stages}
    to_codes, to_uniques = _distinct(np.asarray(columns["To"], dtype=object)[keep])
    order = np.array([by_key.get(norm_header(u), -1) for u in to_uniques], dtype=int)
    why_codes, why_uniques = _distinct(np.asarray(columns["Why"], dtype=object)[keep])
    seen = np.array([not u.casefold().startswith("first seen") for u in why_uniques], dtype=bool)
    return StageLog(
        lead=texts(np.asarray(columns["Lead ID"], dtype=object)[keep]),
        stage=order[to_codes],
        at=dates(np.asarray(columns["At"], dtype=object)[keep], dayfirst),
        observed=seen[why_codes],
    )
