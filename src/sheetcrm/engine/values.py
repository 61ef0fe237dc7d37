"""Canonical text for cell values, and parsers for what people type into cells.

Backends format what they read with these functions and the engine formats what it
writes with the same ones, so a value read back compares equal to the value written:
that is what makes a second sync write nothing.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime, time

import numpy as np
import pandas as pd

from sheetcrm.engine.wallclock import ambiguous, offset_text

BLANKS = frozenset({"", "-", "--", "n/a", "na", "none", "null", "select", "nan"})
"""What people and form tools put in a cell to mean "nothing" ('Select' is an unanswered
dropdown in many marketing-automation exports)."""


def shown(text: str, limit: int = 60) -> str:
    """A cell's text quoted for a message, cut short: a Status cell must stay readable."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


MAX_CELL = 32_767
"""The most characters a cell holds in the smallest backend (Excel's limit; Google allows
50,000): what text is cut to when the sheet's own limit is not known."""
CUT_END = " characters cut]"
"""How a cut cell ends (:func:`clamp`): a text that holds it nowhere holds no cut cell."""
_CUT = re.compile(r"… \[([\d,]+) characters cut\]\Z")


def clamp(text: str, limit: int = MAX_CELL) -> str:
    """Text cut to what a cell of ``limit`` characters holds, its end saying how much was
    cut: the cell itself keeps the fact (each sync reports it again, see :func:`cut_from`),
    and the value read back is the value written."""
    if len(text) <= limit:
        return text
    marker = ""
    while True:  # the marker's own length decides how much is cut, so how long it is
        kept = limit - len(marker)
        longer = f"… [{len(text) - kept:,} characters cut]"
        if longer == marker:
            return text[:kept] + marker
        marker = longer


def cut_from(text: str) -> int:
    """How many characters :func:`clamp` cut from ``text``; 0 when it is whole."""
    found = _CUT.search(text) if len(text) >= MAX_CELL else None
    return int(found[1].replace(",", "")) if found else 0


def is_blank(text: str) -> bool:
    return text.strip().casefold() in BLANKS


_UNSEEN = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))


def match_key(text: str) -> str:
    """Text as the text operators compare it: case, accents and the kind and number of
    spaces set aside, so that what looks the same matches. "Société  Générale" typed with
    a no-break space, pasted decomposed (NFD, as macOS and some web forms send it) or typed
    without accents ("Societe Generale") all give one key."""
    if text.isascii():
        return " ".join(text.casefold().split())
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_UNSEEN))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())


def stripped(values: Iterable[object]) -> pd.Series:
    """Cells with surrounding spaces removed, as an object Series. Each distinct text is
    stripped once: lead columns repeat themselves, and pandas' ``.str`` accessor is slower
    than a plain loop over Python strings."""
    index = values.index if isinstance(values, pd.Series) else None
    array = (
        values.to_numpy(dtype=object)
        if isinstance(values, pd.Series)
        else np.asarray(list(values), dtype=object)
    )
    codes, uniques = pd.factorize(array)
    clean = np.array([*map(str.strip, map(str, uniques)), ""], dtype=object)
    return pd.Series(clean[codes], index=index, dtype=object)  # code -1 (missing) -> ""


def blank_mask(values: pd.Series) -> np.ndarray:
    """Per cell, whether it means "nothing" (empty, spaces, or a placeholder like "Select")."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=object))
    # is_blank through map(): no Python call per value, and an Email column has as many
    # distinct values as rows
    folded = map(str.casefold, map(str.strip, map(str, uniques)))
    blank = np.fromiter(map(BLANKS.__contains__, folded), dtype=bool, count=len(uniques))
    return np.append(blank, True)[codes]


def format_number(value: float, decimal: str | None = None) -> str:
    """``value`` as sheetcrm writes it: no thousands separator, so that the text reads back
    as the same number under every Number format; ``decimal`` "," writes a decimal comma
    (``1250,5``), as a sheet whose numbers are read with one shows them."""
    if math.isnan(value):
        return ""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.10g}"
    return text.replace(".", ",") if decimal == "," else text


def format_datetime(value: datetime | date) -> str:
    """``2026-01-31`` at midnight, else ``2026-01-31 09:00`` (seconds only when not zero): the
    wall time, in ``value``'s own zone when it is aware.

    In the hour clocks go back, the wall time is shown twice; there its UTC offset is written
    too (``2026-10-25 02:15+01:00``), so that the second pass reads back as the second and
    stamps never seem to go backwards. Only there: every other stamp stays as people read and
    type them (stamps in UTC, or all with an offset, would be noise to them the year round),
    and a sheet written before reads back unchanged, so a sync still writes nothing new.
    """
    if not isinstance(value, datetime):
        return value.isoformat()
    # Microseconds are never shown, so they must not decide the form either: 09:00:00.5
    # reads as "09:00", the same text that value is read back as.
    value = value.replace(microsecond=0)
    if value.tzinfo is not None and ambiguous(value):
        form = "%Y-%m-%d %H:%M" if value.second == 0 else "%Y-%m-%d %H:%M:%S"
        return value.strftime(form) + offset_text(value)
    if value.time() == time(0, 0):
        return value.date().isoformat()
    if value.second == 0:
        return value.strftime("%Y-%m-%d %H:%M")
    return value.strftime("%Y-%m-%d %H:%M:%S")


def format_cell(value: object) -> str:
    """Whatever a spreadsheet library hands back, as the canonical string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime | date):
        return format_datetime(value)
    if isinstance(value, time):
        return value.strftime("%H:%M") if value.second == 0 else value.isoformat()
    if isinstance(value, int | float):
        return format_number(float(value))
    return str(value)


# --- numbers -----------------------------------------------------------------------------

_NUMBER_JUNK = re.compile(r"[\s\u00a0\u202f'$€£¥₹]|(?i:usd|eur|gbp|chf|inr)")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$", re.IGNORECASE)


_DOTTED_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:\.\d{3}){2,}")
_DIALLED = re.compile(r"\+\s*\d+(?:[\s\u00a0\u202f]+\d+)+")
"""``+33 6 12 34 56 78``: a phone number, whose groups the space-stripping below would
otherwise join into one large amount."""


_SWAP_SEPARATORS = str.maketrans(".,", ",.")
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_DOT_THREE = re.compile(r"[+-]?\d{1,3}\.\d{3}")


def ambiguous_number(text: str) -> bool:
    """Whether ``text`` reads differently under the two conventions and :func:`parse_number`
    only guesses: a lone dot before exactly three digits (``12.500``: 12.5, or 12,500 where
    the dot groups thousands). A lone comma before three digits is read as thousands, as
    lead amounts are; a leading 0 (``0.125``) is a decimal in both."""
    s = _NUMBER_JUNK.sub("", text.strip().strip("()").removesuffix("%"))
    return _DOT_THREE.fullmatch(s) is not None and s.lstrip("+-")[0] != "0"


def parse_number(text: str, decimal: str | None = None) -> float | None:
    """``1,234.50``, ``1.234,50``, ``1 234,5``, ``$1,200``, ``(300)``, ``12%`` -> float.

    None when the text is not a finite number, or reads as a phone number (a leading + and
    groups of digits apart). ``decimal`` is the sheet's decimal mark (Settings: Number
    format), "." or ","; the other mark then groups thousands (``12.500`` is 12500 under
    ","). Without one, a lone comma followed by exactly three digits is a thousands
    separator (``1,200`` is twelve hundred), otherwise a decimal comma.
    """
    s = text.strip()
    if not s or _DIALLED.fullmatch(s):
        return None
    negative = s.startswith("(") and s.endswith(")")
    if negative:
        s = s[1:-1]
    percent = s.endswith("%")
    if percent:
        s = s[:-1]
    s = _NUMBER_JUNK.sub("", s).replace("\u2212", "-")  # the minus sign our reasons write
    if decimal is not None:
        s = _declared(s.translate(_SWAP_SEPARATORS) if decimal == "," else s)
    elif "," not in s and _DOTTED_THOUSANDS.fullmatch(s):  # 1.234.567
        s = s.replace(".", "")
    elif "," in s and "." in s:
        if s.rfind(",") > s.rfind("."):
            s = s.replace(".", "").replace(",", ".")
        else:
            s = s.replace(",", "")
    elif "," in s:
        parts = s.split(",")
        # ... and no thousands group starts with 0: "0,125" is a decimal comma.
        if len(parts) > 2 or (
            len(parts) == 2 and len(parts[1]) == 3 and parts[0].lstrip("+-") not in ("", "0")
        ):
            s = s.replace(",", "")
        else:
            s = s.replace(",", ".")
    if not _PLAIN_NUMBER.match(s):
        return None
    value = float(s)
    if math.isnan(value) or math.isinf(value):
        return None
    if negative:
        value = -value
    return value / 100 if percent else value


def _declared(s: str) -> str:
    """``s`` with "." as its decimal mark: commas that group thousands are dropped; a lone
    comma that groups nothing (``1,5``) is read as the decimal mark people meant."""
    if "," not in s:
        return s
    if _GROUPED.fullmatch(s):
        return s.replace(",", "")
    return s.replace(",", ".") if s.count(",") == 1 and "." not in s else ""


_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def parse_number_array(texts: pd.Series, decimal: str | None = None) -> np.ndarray:
    """:func:`parse_number` over many texts: plain and ``1,234.5`` numbers at C speed, the
    rest (currencies, decimal commas, percentages...) one by one."""
    numbers = pd.to_numeric(texts, errors="coerce").to_numpy(dtype=float, copy=True)
    numbers[np.isinf(numbers)] = np.nan
    if decimal == ",":  # 12.500 is twelve thousand five hundred, not what C reads
        numbers[np.array(["." in t for t in texts], dtype=bool)] = np.nan
    todo = np.isnan(numbers) & (texts != "").to_numpy(dtype=bool)
    if todo.any():
        rest = texts[todo]
        commas = np.array(
            [decimal != "," and _THOUSANDS.fullmatch(t) is not None for t in rest], dtype=bool
        )
        cleaned = pd.to_numeric(rest[commas].str.replace(",", "", regex=False), errors="coerce")
        values = np.full(len(rest), np.nan)
        values[commas] = cleaned.to_numpy(dtype=float)
        for i in np.flatnonzero(~commas):
            parsed = parse_number(rest.iat[i], decimal)
            values[i] = np.nan if parsed is None else parsed
        numbers[todo] = values
    return numbers


def parse_numbers(values: Iterable[str]) -> pd.Series:
    """Vectorised :func:`parse_number`: each distinct text is parsed once; NaN when not one."""
    series = pd.Series(list(values) if not isinstance(values, pd.Series) else values, dtype=object)
    lookup = {v: parse_number(str(v)) for v in series.dropna().unique()}
    return pd.to_numeric(series.map(lookup), errors="coerce").astype(float)


_TRUE = frozenset({"yes", "y", "true", "1", "x", "✓", "✔", "active", "on", "oui", "ja", "si", "sí"})
_FALSE = frozenset({"no", "n", "false", "0", "", "inactive", "off", "non", "nein"})


def parse_bool(text: str) -> bool | None:
    s = text.strip().casefold()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    return None
