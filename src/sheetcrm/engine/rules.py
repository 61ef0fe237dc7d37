"""The operator registry, as data, and conditions compiled to vectorised pandas masks.

A condition (Field / Operator / Value, as a manager types them in a rule tab) is parsed
once, type-checked against the Leads columns, then evaluated over every row at once.
Each operator carries the words used to describe a match ("Industry is SaaS"), so every
score and routing decision can explain itself.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from enum import Enum
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from sheetcrm.engine.dates import date_array, parse_date
from sheetcrm.engine.schema import LEADS, Kind
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.values import (
    BLANKS,
    format_datetime,
    format_number,
    parse_number,
    parse_number_array,
)
from sheetcrm.engine.wallclock import to_utc

EMAIL_DOMAIN = "Email domain"
"""A derived field: the part of Email after the @, for rules like "Email domain is gmail.com"."""

NUMERIC = frozenset({Kind.NUMBER, Kind.MONEY})
TEMPORAL = frozenset({Kind.DATE, Kind.DATETIME})


class Arg(Enum):
    NONE = "nothing"
    TEXT = "a text"
    LIST = "a comma-separated list"
    NUMBER = "a number"
    RANGE = "two numbers, like '10 and 50'"
    DATE = "a date, like 2026-01-31"
    DAYS = "a whole number of days"
    REGEX = "a regular expression"


class Values:
    """One column as its distinct texts plus, per row, which of them it holds.

    Lead columns repeat themselves (a few countries, sources, stages), so every parse and
    string test runs once per distinct text and is gathered back to the rows with ``take``.
    """

    def __init__(self, codes: np.ndarray, text: pd.Series, dayfirst: bool, zone: tzinfo) -> None:
        self.codes = codes
        self.text = text  # stripped text of each distinct value
        self.dayfirst = dayfirst
        self.zone = zone

    def take(self, per_value: Any) -> np.ndarray:
        return np.asarray(per_value)[self.codes]

    @cached_property
    def folded(self) -> pd.Series:
        return pd.Series(list(map(str.casefold, self.text)), dtype=object)

    @cached_property
    def keys(self) -> list[str]:
        """Each distinct text as it is matched against names (stages, people)."""
        return [norm_header(t) for t in self.text]

    @cached_property
    def blank(self) -> np.ndarray:
        return self.folded.isin(BLANKS).to_numpy(dtype=bool)

    @cached_property
    def numbers(self) -> np.ndarray:
        return parse_number_array(self.text.astype(object))

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

    def __init__(self, data: pd.DataFrame, now: datetime, dayfirst: bool = True) -> None:
        """``now``: the sync's time, aware in the sheet's time zone (naive: UTC)."""
        self.data = data
        self.zone = now.tzinfo or UTC
        self.now = now.replace(tzinfo=None)  # the wall time, like every date read from cells
        self.clock = now.replace(tzinfo=self.zone)
        self.dayfirst = dayfirst
        self._columns: dict[str, Values] = {}

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

    def _make(self, field: str) -> Values:
        if field == EMAIL_DOMAIN:
            email = self.values("Email")
            # no @, no domain: "info.acme.com" must not read as the domain info.acme.com
            domains = [e.rpartition("@")[2] if "@" in e else "" for e in email.folded]
            codes, uniques = pd.factorize(np.asarray(domains, dtype=object))
            text = pd.Series(uniques, dtype=object)
            codes = codes[email.codes] if len(codes) else email.codes
            return Values(codes, text, self.dayfirst, self.zone)
        if field in self.data.columns:
            raw = self.data[field].to_numpy(dtype=object)
        else:
            raw = np.full(len(self.data), "", dtype=object)
        codes, uniques = pd.factorize(raw)  # missing cells (None, NaN) get code -1
        # plain object strings: pandas' string dtype is slower for these per-value maps
        text = pd.Series(list(map(str.strip, map(str, uniques))), dtype=object)
        if (codes < 0).any():  # missing cells: give them an empty text of their own
            codes = np.where(codes < 0, len(text), codes)
            text = pd.concat([text, pd.Series([""], dtype=object)], ignore_index=True)
        return Values(codes, text, self.dayfirst, self.zone)

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


Mask = Callable[[Frame, str, Any], np.ndarray]


def _per_value(test: Callable[[Values, Any], Any]) -> Mask:
    """A mask computed once per distinct value of the column, then gathered to the rows."""

    def mask(frame: Frame, field: str, value: Any) -> np.ndarray:
        v = frame.values(field)
        with np.errstate(invalid="ignore"):
            return v.take(np.asarray(test(v, value), dtype=bool))

    return mask


def _isin_values(v: Values, items: tuple[str, ...]) -> np.ndarray:
    return v.folded.isin([i.casefold() for i in items]).to_numpy(dtype=bool)


def _compare(op: Callable[[Any, Any], Any]) -> Mask:
    def test(v: Values, value: Any) -> Any:
        if isinstance(value, datetime):
            return op(v.dates, np.datetime64(value))
        return op(v.numbers, value)

    return _per_value(test)


def _text(method: str) -> Mask:
    return _per_value(lambda v, value: [getattr(t, method)(value.casefold()) for t in v.folded])


def _contains(v: Values, value: str) -> Any:
    needle = value.casefold()
    return [needle in t for t in v.folded]


def _equals(v: Values, value: Any) -> Any:
    if isinstance(value, float):
        return v.numbers == value
    if isinstance(value, datetime):
        return v.dates.astype("datetime64[D]") == np.datetime64(value.date())
    return _isin_values(v, (value,))


def _between(v: Values, value: tuple[float, float]) -> Any:
    return (v.numbers >= value[0]) & (v.numbers <= value[1])


# Day counts are calendar days in the sheet's time zone, as people count them: a lead created
# yesterday evening is "within the last 1 day" all of today, whatever the hour.
def _within_days(frame: Frame, field: str, days: int) -> np.ndarray:
    today = np.datetime64(frame.now.date())
    low = today - np.timedelta64(days, "D")
    return _per_value(
        lambda v, _: (
            (v.dates.astype("datetime64[D]") >= low) & (v.dates.astype("datetime64[D]") <= today)
        )
    )(frame, field, days)


def _older_than_days(frame: Frame, field: str, days: int) -> np.ndarray:
    limit = np.datetime64(frame.now.date()) - np.timedelta64(days, "D")
    return _per_value(lambda v, _: v.dates.astype("datetime64[D]") < limit)(frame, field, days)


def _regex(v: Values, pattern: re.Pattern[str]) -> Any:
    return [pattern.search(t) is not None for t in v.text]


def _domain_in(frame: Frame, field: str, domains: tuple[str, ...]) -> np.ndarray:
    exact = frozenset(d.casefold() for d in domains)
    subdomain = tuple("." + d for d in exact)  # mail.example.com is in example.com

    def test(v: Values, _: Any) -> Any:
        return [t in exact or t.endswith(subdomain) for t in v.folded]

    return _per_value(test)(frame, EMAIL_DOMAIN if field == "Email" else field, domains)


@dataclass(frozen=True)
class Operator:
    name: str
    arg: Arg
    phrase: str  # how a match reads: "{field} {phrase} {value}"
    mask: Mask
    kinds: frozenset[Kind] | None = None  # column kinds it works on; None = any
    aliases: tuple[str, ...] = ()
    negated: bool = False  # blank cells match ("not SaaS" includes "no industry")


def _negate(op: Operator, name: str, phrase: str, aliases: tuple[str, ...]) -> Operator:
    def mask(frame: Frame, field: str, value: Any) -> np.ndarray:
        return ~op.mask(frame, field, value)

    return Operator(name, op.arg, phrase, mask, op.kinds, aliases, negated=True)


_EQUALS = Operator(
    "equals", Arg.TEXT, "is", _per_value(_equals), aliases=("is", "=", "==", "equal to", "equal")
)
_CONTAINS = Operator("contains", Arg.TEXT, "contains", _per_value(_contains), aliases=("has",))
_IN = Operator(
    "in list",
    Arg.LIST,
    "is",
    _per_value(_isin_values),
    aliases=("is one of", "in", "one of", "is in"),
)

OPERATORS: tuple[Operator, ...] = (
    _EQUALS,
    _negate(_EQUALS, "not equals", "is not", ("is not", "!=", "<>", "does not equal", "not")),
    _CONTAINS,
    _negate(_CONTAINS, "not contains", "does not contain", ("does not contain",)),
    Operator("starts with", Arg.TEXT, "starts with", _text("startswith"), aliases=("begins with",)),
    Operator("ends with", Arg.TEXT, "ends with", _text("endswith")),
    _IN,
    _negate(_IN, "not in list", "is not one of", ("is not one of", "not in", "not one of")),
    Operator(
        "greater than",
        Arg.NUMBER,
        "is over",
        _compare(np.greater),
        NUMERIC,
        (">", "more than", "over", "above"),
    ),
    Operator(
        "at least",
        Arg.NUMBER,
        "is at least",
        _compare(np.greater_equal),
        NUMERIC,
        (">=", "greater than or equal to", "min"),
    ),
    Operator(
        "less than",
        Arg.NUMBER,
        "is under",
        _compare(np.less),
        NUMERIC,
        ("<", "fewer than", "under", "below"),
    ),
    Operator(
        "at most",
        Arg.NUMBER,
        "is at most",
        _compare(np.less_equal),
        NUMERIC,
        ("<=", "less than or equal to", "max"),
    ),
    Operator("between", Arg.RANGE, "is between", _per_value(_between), NUMERIC, ("in range",)),
    Operator(
        "is empty",
        Arg.NONE,
        "is empty",
        _per_value(lambda v, _: v.blank),
        aliases=("empty", "is blank", "blank", "missing"),
    ),
    Operator(
        "is not empty",
        Arg.NONE,
        "is filled in",
        _per_value(lambda v, _: ~v.blank),
        aliases=("not empty", "is not blank", "not blank", "is filled", "present"),
    ),
    Operator(
        "matches", Arg.REGEX, "matches", _per_value(_regex), aliases=("regex", "matches regex")
    ),
    Operator("before", Arg.DATE, "is before", _compare(np.less), TEMPORAL, ("is before",)),
    Operator("after", Arg.DATE, "is after", _compare(np.greater), TEMPORAL, ("is after",)),
    Operator(
        "within last N days",
        Arg.DAYS,
        "is within the last",
        _within_days,
        TEMPORAL,
        ("within last", "in the last n days", "within the last n days", "within days"),
    ),
    Operator(
        "more than N days ago",
        Arg.DAYS,
        "is more than",
        _older_than_days,
        TEMPORAL,
        ("older than n days", "more than n days", "older than"),
    ),
    Operator(
        "email domain in list",
        Arg.LIST,
        "domain is",
        _domain_in,
        frozenset({Kind.EMAIL, Kind.TEXT}),
        ("domain in list", "email domain is"),
    ),
)

_BY_WORDS: dict[str, Operator] = {}
for _op in OPERATORS:
    for _word in (_op.name, *_op.aliases):
        _BY_WORDS[norm_header(_word)] = _op


def find_operator(text: str) -> Operator | None:
    return _BY_WORDS.get(norm_header(text))


def suggest(word: str, choices: list[str]) -> str:
    """A "did you mean" hint, or a list of what is allowed when nothing is close."""
    close = difflib.get_close_matches(
        word.casefold(), [c.casefold() for c in choices], n=1, cutoff=0.6
    )
    if close:
        original = next(c for c in choices if c.casefold() == close[0])
        return f"did you mean '{original}'?"
    if not choices:
        return ""  # nothing to offer: the problem's own words must say what to do
    shown = ", ".join(choices[:24])
    return f"use one of: {shown}" + (", ..." if len(choices) > 24 else "")


class ConditionError(ValueError):
    """A condition a manager typed cannot be used; ``column`` says which cell is wrong."""

    def __init__(self, column: str, problem: str, hint: str) -> None:
        super().__init__(problem)
        self.column = column
        self.problem = problem
        self.hint = hint


@dataclass(frozen=True)
class Condition:
    field: str  # the Leads header as written in the sheet, or EMAIL_DOMAIN
    operator: Operator
    value: Any
    value_text: str

    def mask(self, frame: Frame) -> np.ndarray:
        return np.asarray(self.operator.mask(frame, self.field, self.value), dtype=bool)

    @property
    def lists_values(self) -> bool:
        """Whether a match is best described by the row's own value ("Industry is SaaS")."""
        return self.operator.name in ("equals", "in list", "email domain in list")

    def describe(self, matched: str = "") -> str:
        op = self.operator
        if op.name == "email domain in list":
            return f"{EMAIL_DOMAIN} is {matched or _show(self.value)}"
        if self.lists_values and matched:
            return f"{self.field} is {matched}"
        if op.arg is Arg.NONE:
            return f"{self.field} {op.phrase}"
        if op.arg is Arg.DAYS:
            tail = " days" if op.name.startswith("within") else " days ago"
            return f"{self.field} {op.phrase} {self.value}{tail}"
        return f"{self.field} {op.phrase} {_show(self.value)}"


def _show(value: Any) -> str:
    if isinstance(value, tuple) and value and isinstance(value[0], float):
        return f"{_num(value[0])} and {_num(value[1])}"
    if isinstance(value, tuple):
        return ", ".join(value)
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, re.Pattern):
        return value.pattern
    return str(value)


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


_HYPHEN_RANGE = re.compile(r"(?P<low>-?[\d.,$€£ ]*\d)\s*-\s*(?P<high>-?[\d.,$€£ ]*\d)")
_RANGE_SPLIT = re.compile(r"\s*(?:\band\b|\bto\b|,|;|–|—|\.\.)\s*", re.IGNORECASE)
_RANGE_WORDS = re.compile(r"\s*(?:\band\b|\bto\b|;|–|—|\.\.)\s*", re.IGNORECASE)
"""Split on words first, so that "10,000 and 50,000" keeps its thousands separators; a
comma separates the two numbers only when nothing else does ("10, 50")."""


def split_list(text: str) -> tuple[str, ...]:
    return tuple(i.strip() for i in re.split(r"[,;\n]", text) if i.strip())


_KIND_HINTS = {
    **dict.fromkeys(
        TEMPORAL, "pick an operator for dates, like 'before', 'after' or 'within last N days'"
    ),
    **dict.fromkeys(
        NUMERIC, "pick an operator for numbers, like 'at least', 'at most' or 'between'"
    ),
    Kind.TEXT: "pick an operator for text, like 'equals', 'contains' or 'in list'",
}


def compile_condition(
    field_text: str,
    op_text: str,
    value_text: str,
    fields: dict[str, Kind | None],
    dayfirst: bool = True,
    zone: tzinfo = UTC,
) -> Condition:
    """Parse and type-check one condition; raise :class:`ConditionError` naming the bad cell.

    ``fields`` maps each usable Leads header (as written) to its kind, None for columns the
    schema does not know (imported extras), which are compared as text or coerced to numbers.
    """
    by_key = {norm_header(h): h for h in fields}
    by_key.setdefault(norm_header(EMAIL_DOMAIN), EMAIL_DOMAIN)
    field = by_key.get(norm_header(field_text))
    if field is None and (column := LEADS.column(field_text)) is not None:
        field = by_key.get(norm_header(column.header))  # "E-mail" for the Email column
    if field is None:
        raise ConditionError(
            "Field", f"unknown field {field_text!r}", suggest(field_text, [*fields, EMAIL_DOMAIN])
        )
    kind = Kind.TEXT if field == EMAIL_DOMAIN else fields.get(field)
    op = find_operator(op_text)
    if op is None:
        names = [o.name for o in OPERATORS]
        raise ConditionError("Operator", f"unknown operator {op_text!r}", suggest(op_text, names))
    if op.kinds is not None and kind is not None and kind not in op.kinds:
        what = "numbers" if op.kinds == NUMERIC else "dates" if op.kinds == TEMPORAL else "emails"
        raise ConditionError(
            "Operator",
            f"'{op.name}' compares {what}, but {field} holds {kind.value}",
            _KIND_HINTS.get(kind, _KIND_HINTS[Kind.TEXT]),
        )
    value = _parse_value(op, value_text.strip(), kind, dayfirst, zone)
    return Condition(field, op, value, value_text.strip())


def _parse_value(op: Operator, text: str, kind: Kind | None, dayfirst: bool, zone: tzinfo) -> Any:
    def fail(problem: str) -> ConditionError:
        return ConditionError("Value", problem, f"'{op.name}' needs {op.arg.value}")

    if op.arg is Arg.NONE:
        return None
    if not text:
        raise fail(f"'{op.name}' needs a value")
    if op.arg is Arg.LIST:
        return split_list(text)
    if op.arg is Arg.NUMBER:
        if kind in TEMPORAL:
            parsed = parse_date(text, dayfirst, zone)
            if parsed is None:
                raise fail(f"{text!r} is not a date")
            return parsed
        number = parse_number(text)
        if number is None:
            raise fail(f"{text!r} is not a number")
        return number
    if op.arg is Arg.RANGE:
        parts = [p for p in _RANGE_WORDS.split(text) if p]
        if len(parts) != 2:
            parts = [p for p in _RANGE_SPLIT.split(text) if p]
        if len(parts) != 2 and (m := _HYPHEN_RANGE.fullmatch(text)):
            parts = [m["low"], m["high"]]  # 10-50, 10 000 - 50 000
        numbers = [parse_number(p) for p in parts]
        if len(numbers) != 2 or None in numbers:
            raise fail(f"{text!r} is not a range of two numbers")
        low, high = sorted(float(n) for n in numbers if n is not None)
        return (low, high)
    if op.arg is Arg.DATE:
        parsed = parse_date(text, dayfirst, zone)
        if parsed is None:
            raise fail(f"{text!r} is not a date")
        return parsed
    if op.arg is Arg.DAYS:
        number = parse_number(text.lower().removesuffix("days").removesuffix("day"))
        if number is None or number < 0 or not float(number).is_integer():
            raise fail(f"{text!r} is not a whole number of days")
        return int(number)
    if op.arg is Arg.REGEX:
        try:
            return re.compile(text, re.IGNORECASE)
        except re.error as exc:
            raise ConditionError(
                "Value",
                f"bad regular expression {text!r}: {exc}",
                "check brackets and escape special characters with \\",
            ) from exc
    if kind in NUMERIC and op.name in ("equals", "not equals"):
        number = parse_number(text)
        if number is not None:
            return number
    if kind in TEMPORAL and op.name in ("equals", "not equals"):
        parsed = parse_date(text, dayfirst, zone)
        if parsed is not None:
            return parsed
    return text


def matched_values(condition: Condition, frame: Frame) -> pd.Series:
    """For list-like conditions, the rule's own spelling of the value each row matched."""
    if condition.operator.name == "email domain in list":
        return frame.text(EMAIL_DOMAIN)
    value = condition.value
    items = value if isinstance(value, tuple) else (value,)
    spelled = {str(i).casefold(): str(i) for i in items}
    if isinstance(value, float):
        return pd.Series(format_number(value), index=frame.data.index)
    v = frame.values(condition.field)
    per_value = v.folded.map(spelled).fillna("").to_numpy(dtype=object)
    return pd.Series(v.take(per_value), index=frame.data.index)
