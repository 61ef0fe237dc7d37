"""Conditions: Field / Operator / Value, as a manager types them in a rule tab.

A condition is parsed once, type-checked against the Leads columns, then evaluated over
every row at once with its operator's mask (operators.py). Its operator's words describe a
match ("Industry is SaaS"), so every score and routing decision can explain itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

import numpy as np
import pandas as pd

from sheetcrm.engine.catalog import N_, _
from sheetcrm.engine.dates import parse_date
from sheetcrm.engine.frame import EMAIL_DOMAIN, Frame
from sheetcrm.engine.hints import suggest
from sheetcrm.engine.operators import NUMERIC, TEMPORAL, Arg, Operator, find_operator, operator_hint
from sheetcrm.engine.patterns import Pattern, PatternError
from sheetcrm.engine.schema import LEADS, Kind
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.values import (
    ambiguous_number,
    format_datetime,
    format_number,
    match_key,
    parse_number,
    shown,
)


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
            return _("%(field)s is %(value)s") % {
                "field": EMAIL_DOMAIN,
                "value": matched or _show(self.value),
            }
        if self.lists_values and matched:
            return _("%(field)s is %(value)s") % {"field": self.field, "value": matched}
        if op.arg is Arg.NONE:
            return f"{self.field} {_(op.phrase)}"
        if op.arg is Arg.DAYS:
            said = (
                _("%(field)s is within the last %(days)s days")
                if op.name.startswith("within")
                else _("%(field)s is more than %(days)s days ago")
            )
            return said % {"field": self.field, "days": self.value}
        if self.value_text.endswith("%"):  # "at least 10%", not "at least 0.10"
            return f"{self.field} {_(op.phrase)} {self.value_text}"
        return f"{self.field} {_(op.phrase)} {_show(self.value)}"


def _show(value: Any) -> str:
    if isinstance(value, tuple) and value and isinstance(value[0], float):
        return _("%(low)s and %(high)s") % {"low": _num(value[0]), "high": _num(value[1])}
    if isinstance(value, tuple):
        return ", ".join(value)
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, Pattern):
        return value.text
    return str(value)


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


_HYPHEN_RANGE = re.compile(r"(?P<low>-?[\d.,$€£ ]*\d)\s*-\s*(?P<high>-?[\d.,$€£ ]*\d)")
# "10 and 50", and in French "10 et 50", "10 à 50"
_RANGE_SPLIT = re.compile(r"\s*(?:\b(?:and|to|et|à)\b|,|;|–|—|\.\.)\s*", re.IGNORECASE)
_RANGE_WORDS = re.compile(r"\s*(?:\b(?:and|to|et|à)\b|;|–|—|\.\.)\s*", re.IGNORECASE)
"""Split on words first, so that "10,000 and 50,000" keeps its thousands separators; a
comma separates the two numbers only when nothing else does ("10, 50")."""


_ITEM = re.compile(
    r'\s*(?:"(?P<quoted>(?:[^"]|"")*)"|[“„«](?P<curly>[^”“»]*)[”“»]|(?P<plain>[^,;\n"“„«][^,;\n]*)?)'
    r"\s*(?P<end>[,;\n]|\Z)"
)


class ListError(ValueError):
    """A list whose quotes do not close: which item, for the cell's problem."""


def split_list(text: str) -> tuple[str, ...]:
    """``"Acme, Inc.", Globex; Initech`` -> ("Acme, Inc.", "Globex", "Initech"): items apart
    at commas, semicolons or line breaks; an item in double quotes ("" for a quote inside)
    may hold them. Raises :class:`ListError` on a quote that does not close."""
    items, at = [], 0
    while at < len(text):
        found = _ITEM.match(text, at)
        if found is None:
            raise ListError(text[at:].strip())
        if found["quoted"] is not None:
            item = found["quoted"].replace('""', '"')
        else:
            item = found["curly"] if found["curly"] is not None else found["plain"] or ""
        if item.strip():
            items.append(item.strip())
        at = found.end()
        if not found["end"]:
            break
    return tuple(items)


def _number(text: str, decimal: str | None, fail: Callable[[str], ConditionError]) -> float:
    """A rule's number, read in the sheet's Number format; one that format leaves to a guess
    (``12.500`` under auto) is refused rather than read as either."""
    if decimal is None and ambiguous_number(text):
        whole = parse_number(text.replace(".", ""))
        raise ConditionError(
            "Value",
            _("%(text)r could be %(one)s or %(other)s")
            % {
                "text": text,
                "one": format_number(parse_number(text) or 0),
                "other": format_number(whole or 0),
            },
            _(
                "write it without a thousands separator, like 12500 or 12.5, or set Settings: "
                "Number format (1,234.56 or 1.234,56)"
            ),
        )
    number = parse_number(text, decimal)
    if number is None:
        raise fail(_("%(text)r is not a number") % {"text": text})
    return number


_KIND_HINTS = {  # translated where used
    **dict.fromkeys(
        TEMPORAL, N_("pick an operator for dates, like 'before', 'after' or 'within last N days'")
    ),
    **dict.fromkeys(
        NUMERIC, N_("pick an operator for numbers, like 'at least', 'at most' or 'between'")
    ),
    Kind.TEXT: N_("pick an operator for text, like 'equals', 'contains' or 'in list'"),
}
_KINDS = {kind: N_(kind.value) for kind in Kind}  # what a column holds; translated where used
# the words of Kind, for the catalogue (N_ marks them; Kind's values stay the schema's)
N_("text"), N_("email"), N_("phone"), N_("number"), N_("money"), N_("date"), N_("datetime")
N_("choice"), N_("person"), N_("yes/no")
_ARGS = {  # what an operator needs as its Value; translated where used
    Arg.NONE: N_("nothing"),
    Arg.TEXT: N_("a text"),
    Arg.LIST: N_("a comma-separated list"),
    Arg.NUMBER: N_("a number"),
    Arg.RANGE: N_("two numbers, like '10 and 50'"),
    Arg.DATE: N_("a date, like 2026-01-31"),
    Arg.DAYS: N_("a whole number of days"),
    Arg.REGEX: N_("a regular expression"),
}


def compile_condition(
    field_text: str,
    op_text: str,
    value_text: str,
    fields: dict[str, Kind | None],
    dayfirst: bool = True,
    zone: tzinfo = UTC,
    decimal: str | None = None,
) -> Condition:
    """Parse and type-check one condition; raise :class:`ConditionError` naming the bad cell.

    ``fields`` maps each usable Leads header (as written) to its kind, None for columns the
    schema does not know (imported extras), which are compared as text or coerced to numbers.
    ``decimal``: the sheet's decimal mark (Settings: Number format), None for auto.
    """
    by_key = {norm_header(h): h for h in fields}
    by_key.setdefault(norm_header(EMAIL_DOMAIN), EMAIL_DOMAIN)
    field = by_key.get(norm_header(field_text))
    if field is None and (column := LEADS.column(field_text)) is not None:
        field = by_key.get(norm_header(column.header))  # "E-mail" for the Email column
    if field is None:
        raise ConditionError(
            "Field",
            _("unknown field %(field)r") % {"field": field_text},
            suggest(field_text, [*fields, EMAIL_DOMAIN]),
        )
    kind = Kind.TEXT if field == EMAIL_DOMAIN else fields.get(field)
    op = find_operator(op_text)
    if op is None:
        raise ConditionError(
            "Operator",
            _("unknown operator %(operator)r") % {"operator": op_text},
            operator_hint(op_text),
        )
    if op.kinds is not None and kind is not None and kind not in op.kinds:
        what = (
            _("numbers")
            if op.kinds == NUMERIC
            else _("dates")
            if op.kinds == TEMPORAL
            else _("emails")
        )
        raise ConditionError(
            "Operator",
            _("'%(operator)s' compares %(what)s, but %(field)s holds %(kind)s")
            % {"operator": op.name, "what": what, "field": field, "kind": _(_KINDS[kind])},
            _(_KIND_HINTS.get(kind, _KIND_HINTS[Kind.TEXT])),
        )
    value = _parse_value(op, value_text.strip(), kind, dayfirst, zone, decimal)
    return Condition(field, op, value, value_text.strip())


def _parse_value(
    op: Operator, text: str, kind: Kind | None, dayfirst: bool, zone: tzinfo, decimal: str | None
) -> Any:
    def fail(problem: str) -> ConditionError:
        return ConditionError(
            "Value",
            problem,
            _("'%(operator)s' needs %(arg)s") % {"operator": op.name, "arg": _(_ARGS[op.arg])},
        )

    if op.arg is Arg.NONE:
        return None
    if not text:
        raise fail(_("'%(operator)s' needs a value") % {"operator": op.name})
    if op.arg is Arg.LIST:
        try:
            items = split_list(text)
        except ListError as exc:
            raise ConditionError(
                "Value",
                _("the quoted item %(item)s does not end with its quote")
                % {"item": shown(str(exc), 40)},
                _('put an item that holds a comma in double quotes, like "Acme, Inc.", Globex'),
            ) from exc
        if op.name == "email domain in list":  # "@gmail.com", as people write a domain
            items = tuple(i.removeprefix("@").strip() for i in items)
        return items
    if op.arg is Arg.NUMBER:
        if kind in TEMPORAL:
            parsed = parse_date(text, dayfirst, zone)
            if parsed is None:
                raise fail(_("%(text)r is not a date") % {"text": text})
            return parsed
        return _number(text, decimal, fail)
    if op.arg is Arg.RANGE:
        parts = [p for p in _RANGE_WORDS.split(text) if p]
        if len(parts) != 2:
            parts = [p for p in _RANGE_SPLIT.split(text) if p]
        if len(parts) != 2 and (m := _HYPHEN_RANGE.fullmatch(text)):
            parts = [m["low"], m["high"]]  # 10-50, 10 000 - 50 000
        if len(parts) != 2 or None in [parse_number(p, decimal) for p in parts]:
            raise fail(_("%(text)r is not a range of two numbers") % {"text": text})
        low, high = sorted(_number(p, decimal, fail) for p in parts)
        return (low, high)
    if op.arg is Arg.DATE:
        parsed = parse_date(text, dayfirst, zone)
        if parsed is None:
            raise fail(_("%(text)r is not a date") % {"text": text})
        return parsed
    if op.arg is Arg.DAYS:
        words = text.lower().strip()
        for unit in ("days", "day", "jours", "jour", "j"):  # "30 days", "30 jours", "30 j"
            words = words.removesuffix(unit)
        number = parse_number(words)
        if number is None or number < 0 or not float(number).is_integer():
            raise fail(_("%(text)r is not a whole number of days") % {"text": text})
        return int(number)
    if op.arg is Arg.REGEX:
        try:
            return Pattern(text)
        except PatternError as exc:
            raise ConditionError("Value", exc.problem, exc.hint) from exc
    equals = op.name in ("equals", "not equals")
    if kind in NUMERIC and equals and parse_number(text, decimal) is not None:
        return _number(text, decimal, fail)
    if kind in TEMPORAL and equals:
        parsed = parse_date(text, dayfirst, zone)
        if parsed is not None:
            return parsed
    return text


def matched_values(condition: Condition, frame: Frame) -> pd.Series:
    """For list-like conditions, the rule's own spelling of the value each row matched."""
    codes, spelled = matched_spelling(condition, frame)
    return pd.Series(spelled[codes], index=frame.data.index)


def matched_spelling(condition: Condition, frame: Frame) -> tuple[np.ndarray, np.ndarray]:
    """:func:`matched_values` as (per row, a code; per code, the spelling): the spelling is
    looked up once per distinct cell text, and callers that group rows keep the codes."""
    if condition.operator.name == "email domain in list":
        domain = frame.values(EMAIL_DOMAIN)
        return domain.codes, domain.text.to_numpy(dtype=object)
    value = condition.value
    v = frame.values(condition.field)
    if isinstance(value, float):
        return v.codes, np.full(len(v.text), format_number(value), dtype=object)
    items = value if isinstance(value, tuple) else (value,)
    spelled = {match_key(str(i)): str(i) for i in items}
    return v.codes, v.loose.map(spelled).fillna("").to_numpy(dtype=object)
