"""The operator registry, as data: each operator with its plain words and aliases, the value
it takes, the phrase a match reads as ("Industry is SaaS"), and its vectorised mask.

Text operators compare :func:`match_key` of both sides: case, accents and white space set
aside, so "Etude", "Étude" and a decomposed "Étude" pasted from a Mac are one value. Each
distinct cell text is keyed once (``Values.loose``), not each row.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import numpy as np

from sheetcrm.engine.catalog import N_
from sheetcrm.engine.frame import EMAIL_DOMAIN, Frame, Values
from sheetcrm.engine.patterns import Pattern
from sheetcrm.engine.schema import Kind
from sheetcrm.engine.values import match_key

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


Mask = Callable[[Frame, str, Any], np.ndarray]


def _per_value(test: Callable[[Values, Any], Any]) -> Mask:
    """A mask computed once per distinct value of the column, then gathered to the rows."""

    def mask(frame: Frame, field: str, value: Any) -> np.ndarray:
        v = frame.values(field)
        with np.errstate(invalid="ignore"):
            return v.take(np.asarray(test(v, value), dtype=bool))

    return mask


def _isin_values(v: Values, items: tuple[str, ...]) -> np.ndarray:
    return v.loose.isin([match_key(i) for i in items]).to_numpy(dtype=bool)


def _compare(op: Callable[[Any, Any], Any]) -> Mask:
    def test(v: Values, value: Any) -> Any:
        if isinstance(value, datetime):
            return op(v.dates, np.datetime64(value))
        return op(v.numbers, value)

    return _per_value(test)


def _text(method: str) -> Mask:
    def test(v: Values, value: str) -> Any:
        needle = match_key(value)
        return [getattr(t, method)(needle) for t in v.loose]

    return _per_value(test)


def _contains(v: Values, value: str) -> Any:
    needle = match_key(value)
    return [needle in t for t in v.loose]


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


def _regex(v: Values, pattern: Pattern) -> Any:
    return [pattern.search(t) for t in v.text]


def _domain_in(frame: Frame, field: str, domains: tuple[str, ...]) -> np.ndarray:
    exact = frozenset(match_key(d).removeprefix("@") for d in domains)
    subdomain = tuple("." + d for d in exact)  # mail.example.com is in example.com

    def test(v: Values, _: Any) -> Any:
        return [t in exact or t.endswith(subdomain) for t in v.loose]

    return _per_value(test)(frame, EMAIL_DOMAIN if field == "Email" else field, domains)


@dataclass(frozen=True)
class Operator:
    name: str
    arg: Arg
    phrase: str  # how a match reads: "{field} {phrase} {value}", marked for the catalogue
    mask: Mask
    kinds: frozenset[Kind] | None = None  # column kinds it works on; None = any
    aliases: tuple[str, ...] = ()
    negated: bool = False  # blank cells match ("not SaaS" includes "no industry")


def _negate(op: Operator, name: str, phrase: str, aliases: tuple[str, ...]) -> Operator:
    def mask(frame: Frame, field: str, value: Any) -> np.ndarray:
        return ~op.mask(frame, field, value)

    return Operator(name, op.arg, phrase, mask, op.kinds, aliases, negated=True)


_EQUALS = Operator(
    "equals",
    Arg.TEXT,
    N_("is"),
    _per_value(_equals),
    aliases=("is", "=", "==", "equal to", "equal"),
)
_CONTAINS = Operator("contains", Arg.TEXT, N_("contains"), _per_value(_contains), aliases=("has",))
_IN = Operator(
    "in list",
    Arg.LIST,
    N_("is"),
    _per_value(_isin_values),
    aliases=("is one of", "in", "one of", "is in"),
)

OPERATORS: tuple[Operator, ...] = (
    _EQUALS,
    _negate(_EQUALS, "not equals", N_("is not"), ("is not", "!=", "<>", "does not equal", "not")),
    _CONTAINS,
    _negate(_CONTAINS, "not contains", N_("does not contain"), ("does not contain",)),
    Operator(
        "starts with", Arg.TEXT, N_("starts with"), _text("startswith"), aliases=("begins with",)
    ),
    Operator("ends with", Arg.TEXT, N_("ends with"), _text("endswith")),
    _IN,
    _negate(_IN, "not in list", N_("is not one of"), ("is not one of", "not in", "not one of")),
    Operator(
        "greater than",
        Arg.NUMBER,
        N_("is over"),
        _compare(np.greater),
        NUMERIC,
        (">", "more than", "over", "above"),
    ),
    Operator(
        "at least",
        Arg.NUMBER,
        N_("is at least"),
        _compare(np.greater_equal),
        NUMERIC,
        (">=", "greater than or equal to", "min"),
    ),
    Operator(
        "less than",
        Arg.NUMBER,
        N_("is under"),
        _compare(np.less),
        NUMERIC,
        ("<", "fewer than", "under", "below"),
    ),
    Operator(
        "at most",
        Arg.NUMBER,
        N_("is at most"),
        _compare(np.less_equal),
        NUMERIC,
        ("<=", "less than or equal to", "max"),
    ),
    Operator("between", Arg.RANGE, N_("is between"), _per_value(_between), NUMERIC, ("in range",)),
    Operator(
        "is empty",
        Arg.NONE,
        N_("is empty"),
        _per_value(lambda v, _: v.blank),
        aliases=("empty", "is blank", "blank", "missing"),
    ),
    Operator(
        "is not empty",
        Arg.NONE,
        N_("is filled in"),
        _per_value(lambda v, _: ~v.blank),
        aliases=("not empty", "is not blank", "not blank", "is filled", "present"),
    ),
    Operator(
        "matches", Arg.REGEX, N_("matches"), _per_value(_regex), aliases=("regex", "matches regex")
    ),
    Operator("before", Arg.DATE, N_("is before"), _compare(np.less), TEMPORAL, ("is before",)),
    Operator("after", Arg.DATE, N_("is after"), _compare(np.greater), TEMPORAL, ("is after",)),
    Operator(
        "within last N days",
        Arg.DAYS,
        N_("is within the last"),
        _within_days,
        TEMPORAL,
        ("within last", "in the last n days", "within the last n days", "within days"),
    ),
    Operator(
        "more than N days ago",
        Arg.DAYS,
        N_("is more than"),
        _older_than_days,
        TEMPORAL,
        ("older than n days", "more than n days", "older than"),
    ),
    Operator(
        "email domain in list",
        Arg.LIST,
        N_("domain is"),
        _domain_in,
        frozenset({Kind.EMAIL, Kind.TEXT}),
        ("domain in list", "email domain is"),
    ),
)

FRENCH: dict[str, tuple[str, ...]] = {
    "equals": ("égal à", "est", "égale", "égale à", "égal"),
    "not equals": ("différent de", "n'est pas", "différente de"),
    "contains": ("contient",),
    "not contains": ("ne contient pas",),
    "starts with": ("commence par",),
    "ends with": ("se termine par", "finit par"),
    "in list": ("dans la liste", "parmi", "est parmi"),
    "not in list": ("pas dans la liste", "hors liste", "n'est pas dans la liste"),
    "greater than": ("supérieur à", "plus de", "supérieure à"),
    "at least": ("au moins", "supérieur ou égal à"),
    "less than": ("inférieur à", "moins de", "inférieure à"),
    "at most": ("au plus", "inférieur ou égal à"),
    "between": ("entre",),
    "is empty": ("est vide", "vide"),
    "is not empty": ("n'est pas vide", "rempli", "non vide"),
    "matches": ("correspond à",),
    "before": ("avant", "est avant"),
    "after": ("après", "est après"),
    "within last N days": ("dans les N derniers jours", "dans les derniers jours"),
    "more than N days ago": ("il y a plus de N jours", "plus de N jours", "depuis plus de"),
    "email domain in list": ("domaine e-mail dans la liste", "domaine dans la liste"),
}
"""By operator name: its French words, the first the one a French sheet shows (b2b-fr, the
drop-down of a French sheet); accepted in any sheet, like the English aliases."""


_APOSTROPHES = re.compile("['\u2019\u02bc`]")


def french_name(op: Operator) -> str:
    """The words a French sheet writes ``op`` with: "supérieur à" for greater than."""
    return FRENCH[op.name][0]


def operator_key(text: str) -> str:
    """How an Operator cell is matched: case, accents, spacing and apostrophes set aside
    ("Supérieur a", "superieur à"; "n’est pas" as Google Sheets autocorrects it, "n est pas")."""
    return match_key(_APOSTROPHES.sub(" ", text))


_BY_WORDS: dict[str, Operator] = {}
_NAME_OF: dict[str, str] = {}  # operator_key of a word -> the name a hint suggests
for _op in OPERATORS:
    for _word in (_op.name, *_op.aliases):
        _BY_WORDS[operator_key(_word)] = _op
        _NAME_OF.setdefault(operator_key(_word), _op.name)
    for _word in FRENCH[_op.name]:
        _BY_WORDS[operator_key(_word)] = _op
        _NAME_OF.setdefault(operator_key(_word), french_name(_op))


def find_operator(text: str) -> Operator | None:
    return _BY_WORDS.get(operator_key(text))


def operator_hint(text: str) -> str:
    """What to write instead of an unknown operator: the closest word in either language,
    named as that language writes it ("supérieure a" -> 'supérieur à'), else the list."""
    close = difflib.get_close_matches(operator_key(text), list(_NAME_OF), n=1, cutoff=0.6)
    if close:
        return f"did you mean '{_NAME_OF[close[0]]}'?"
    english = ", ".join(o.name for o in OPERATORS)
    french = ", ".join(french_name(o) for o in OPERATORS)
    return f"use one of: {english} (in French: {french})"
