"""The Leads rows as typed columns, each derived once per sync and shared by every condition
and every step that reads the rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from functools import cached_property
from operator import is_
from typing import Any

import numpy as np
import pandas as pd

from sheetcrm.engine.dates import date_array, parse_date
from sheetcrm.engine.memo import Memo
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.values import BLANKS, match_key, parse_number_array
from sheetcrm.engine.wallclock import to_utc

EMAIL_DOMAIN = "Email domain"
"""A derived field: the part of Email after the @, for rules like "Email domain is gmail.com"."""


class Values:
    """One column as its distinct texts plus, per row, which of them it holds.

    Lead columns repeat themselves (a few countries, sources, stages), so every parse and
    string test runs once per distinct text and is gathered back to the rows with ``take``.
    """

    def __init__(
        self,
        codes: np.ndarray,
        text: pd.Series,
        dayfirst: bool,
        zone: tzinfo,
        decimal: str | None = None,
    ) -> None:
        self.codes = codes
        self.text = text  # stripped text of each distinct value
        self.dayfirst = dayfirst
        self.zone = zone
        self.decimal = decimal  # the sheet's decimal mark (Settings: Number format)

    def take(self, per_value: Any) -> np.ndarray:
        return np.asarray(per_value)[self.codes]

    @cached_property
    def folded(self) -> pd.Series:
        return _same_when_equal(self.text, str.casefold)

    @cached_property
    def loose(self) -> pd.Series:
        """Each distinct text as the text operators match it (:func:`match_key`)."""
        return _same_when_equal(self.text, match_key)

    @cached_property
    def keys(self) -> list[str]:
        """Each distinct text as it is matched against names (stages, people)."""
        return [norm_header(t) for t in self.text]

    @cached_property
    def blank(self) -> np.ndarray:
        return self.folded.isin(BLANKS).to_numpy(dtype=bool)

    @cached_property
    def numbers(self) -> np.ndarray:
        return parse_number_array(self.text.astype(object), self.decimal)

    @cached_property
    def parsed(self) -> list[datetime | None]:
        return [parse_date(v, self.dayfirst, self.zone) for v in self.text]

    @cached_property
    def dates(self) -> np.ndarray:
        """Wall times of the sheet's zone: what calendar days and months are counted on."""
        return date_array(self.parsed)

    @cached_property
    def instants(self) -> np.ndarray:
        """The real instants (UTC) the dates stand for: what elapsed time is counted on."""
        folds = np.fromiter((bool(d and d.fold) for d in self.parsed), bool, len(self.parsed))
        return to_utc(self.dates, folds, self.zone)


class Frame:
    """The Leads rows as typed columns, each derived once and shared by every condition."""

    def __init__(
        self,
        data: pd.DataFrame,
        now: datetime,
        dayfirst: bool = True,
        decimal: str | None = None,
        memo: Memo | None = None,
    ) -> None:
        """``now``: the sync's time, aware in the sheet's time zone (naive: UTC); ``decimal``:
        the decimal mark amounts are read with, None to guess it per cell; ``memo``: the
        sync's, which keeps each column derived, so that a column whose every cell is what it
        was at the last sync is not factorised and parsed again."""
        self.data = data
        self.zone = now.tzinfo or UTC
        self.now = now.replace(tzinfo=None)  # the wall time, like every date read from cells
        self.clock = now.replace(tzinfo=self.zone)
        self.dayfirst = dayfirst
        self.decimal = decimal
        self._columns: dict[str, Values] = {}
        self.memo = memo

    def __len__(self) -> int:
        return len(self.data)

    def values(self, field: str) -> Values:
        if field not in self._columns:
            self._columns[field] = self._make(field)
        return self._columns[field]

    def forget(self, field: str) -> None:
        """Drop what was derived from ``field``: its column in ``data`` was just replaced."""
        self._columns.pop(field, None)
        if field == "Email":
            self._columns.pop(EMAIL_DOMAIN, None)

    def with_columns(self, columns: dict[str, object]) -> Frame:
        """The same rows with ``columns`` replaced (a what-if: the rule preview), sharing what
        was derived from every other column; ``data`` itself is left as it is."""
        data = self.data.copy(deep=False)
        for name, values in columns.items():
            data[name] = pd.Series(np.asarray(values, dtype=object), index=data.index)
        other = Frame(data, self.clock, self.dayfirst, self.decimal)
        other._columns = {k: v for k, v in self._columns.items() if k not in columns}
        if "Email" in columns:
            other._columns.pop(EMAIL_DOMAIN, None)
        return other

    def _make(self, field: str) -> Values:
        if self.memo is None:
            return self._derive(field)
        # Keyed by content: the last sync's column, its distinct cells as read and which one
        # each row holds, compared cell by cell (at C speed) with this one's; and by the
        # settings every parse reads. A distinct cell kept, not a row's: a code a row.
        key = f"frame {field}"
        params = (self.dayfirst, self.zone, self.decimal)
        kept = self.memo.columns.get(key)
        if field == EMAIL_DOMAIN:
            email = self.values("Email")
            if kept is not None and kept[0] == params and kept[1] is email:
                return kept[2]  # type: ignore[no-any-return]
            values = self._derive(field)
            self.memo.columns[key] = (params, email, values)
            return values
        raw = self._raw(field)
        if kept is not None and kept[0] == params and len(kept[2]) == len(raw):
            _params, cells, codes, values = kept
            if not (cells[codes] != raw).any():
                return values  # type: ignore[no-any-return]
        cells, codes = _factorized(raw)
        values = self._coded(cells, codes)
        self.memo.columns[key] = (params, cells, codes, values)
        return values

    def _derive(self, field: str) -> Values:
        if field == EMAIL_DOMAIN:
            email = self.values("Email")
            # no @, no domain: "info.acme.com" must not read as the domain info.acme.com
            domains = [e.rpartition("@")[2] if "@" in e else "" for e in email.folded]
            codes, uniques = pd.factorize(np.asarray(domains, dtype=object))
            text = pd.Series(uniques, dtype=object)
            codes = narrow(codes, len(uniques))[email.codes] if len(codes) else email.codes
            return Values(codes, text, self.dayfirst, self.zone, self.decimal)
        return self._coded(*_factorized(self._raw(field)))

    def _raw(self, field: str) -> np.ndarray:
        if field in self.data.columns:
            return self.data[field].to_numpy(dtype=object)  # type: ignore[no-any-return]
        return np.full(len(self.data), "", dtype=object)

    def _coded(self, uniques: np.ndarray, codes: np.ndarray) -> Values:
        # plain object strings: pandas' string dtype is slower for these per-value maps
        stripped = list(map(str.strip, map(str, uniques)))
        # the distinct cells themselves when stripping changed none (the memo keeps both)
        same = all(map(is_, stripped, uniques))
        text = pd.Series(uniques if same else stripped, dtype=object, copy=False)
        return Values(codes, text, self.dayfirst, self.zone, self.decimal)

    # Row-level views, for the steps that work row by row.
    def text(self, field: str) -> pd.Series:
        v = self.values(field)
        return pd.Series(v.take(v.text.to_numpy(dtype=object)), index=self.data.index, dtype=object)

    def folded(self, field: str) -> pd.Series:
        v = self.values(field)
        per_row = v.take(v.folded.to_numpy(dtype=object))
        return pd.Series(per_row, index=self.data.index, dtype=object)

    def blank(self, field: str) -> np.ndarray:
        v = self.values(field)
        return v.take(v.blank)

    def keys(self, field: str) -> np.ndarray:
        v = self.values(field)
        return v.take(np.array(v.keys, dtype=object))

    def per_key(self, field: str, test: Callable[[str], Any], dtype: type = bool) -> np.ndarray:
        """``test`` of each row's key, called once per distinct value."""
        v = self.values(field)
        return v.take(np.array([test(k) for k in v.keys], dtype=dtype))

    def numbers(self, field: str) -> np.ndarray:
        v = self.values(field)
        return v.take(v.numbers)

    def dates(self, field: str) -> np.ndarray:
        v = self.values(field)
        return v.take(v.dates)

    def instants(self, field: str) -> np.ndarray:
        v = self.values(field)
        return v.take(v.instants)


def _same_when_equal(texts: pd.Series, make: Callable[[str], str]) -> pd.Series:
    """``make`` of each text, but the text itself wherever it made an equal one, and the
    very ``texts`` when it made every one equal: casefold and match_key return a new string
    even for a text already in that form (a lower-case e-mail), and the memo keeps these
    per distinct text between syncs: for Email, a string per lead (about 7 MB at 100,000
    leads) and an array of them (0.8 MB) for each of folded and loose."""
    made = [t if m == t else m for t, m in zip(texts, map(make, texts), strict=True)]
    if all(map(is_, made, texts)):
        return texts
    return pd.Series(made, dtype=object)


def _factorized(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct cells of ``raw`` and per row which of them it holds; missing cells (None,
    NaN) hold an empty one of their own, the last."""
    codes, uniques = pd.factorize(raw)  # missing cells get code -1
    uniques = np.asarray(uniques, dtype=object)
    if len(codes) and codes.min() < 0:
        uniques, codes = np.append(uniques, ""), np.where(codes < 0, len(uniques), codes)
    return uniques, narrow(codes, len(uniques))


def narrow(codes: np.ndarray, count: int) -> np.ndarray:
    """``codes`` (0..count-1) in the smallest integer type that holds them: the memo keeps
    a column's codes between syncs for every column read, and most columns (Stage, Owner,
    Country, a blank one) have under 128 distinct texts: a byte a row, not 8."""
    for dtype in (np.int8, np.int16, np.int32):
        if count <= np.iinfo(dtype).max:
            return codes.astype(dtype, copy=False)
    return codes
