"""Cell values: what a write stores (RAW or USER_ENTERED) and how a read renders it.

A stored cell is ``None`` (empty), a plain JSON value (str, int, float, bool), or a
:class:`Cell` when there is more to it: a formula, or a number shown in a format (a date
typed as ``2020-01-01``, ``2,000,000.01``, ``12%``).

RAW keeps strings as strings (``"=1+1"``, ``"00123"``) and JSON numbers as numbers.
USER_ENTERED parses what a person would type: numbers, booleans, dates, and a leading ``=``
as a formula. Formulas of plain arithmetic are computed (``=4/2`` shows ``2``); any other
formula shows ``#NAME?``, so a value written with USER_ENTERED never reads back unchanged
and formula injection is visible. The formula itself is kept (:attr:`Cell.formula`) and
read back with valueRenderOption=FORMULA.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import get_decimal_symbol

from sheetcrm.emulator.errors import ApiError, bad_request, invalid_value

Plain = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Cell:
    value: Plain  # the effective value
    formula: str | None = None
    text: str | None = None  # the formatted text, when a number format applies
    is_date: bool = False


Value = Plain | Cell
SKIP = object()  # a JSON null in a write: leave the cell as it is
Parsed = Any  # what a write stores: a Value, None (empty), or SKIP

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_SHOWN_NUMBER = re.compile(r"[+-]?\$?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?")
_PERCENT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)%")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?: (\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_EPOCH = datetime(1899, 12, 30)  # day 0 of spreadsheet serial dates


def from_raw(value: Any) -> Parsed:
    """A JSON value written with valueInputOption RAW, as stored."""
    if type(value) is str:
        return value or None
    if value is None:
        return SKIP
    if value == "" and isinstance(value, str):
        return None
    if isinstance(value, str | int | float | bool):
        return value
    raise invalid_value("data.values", value)


def from_user_entered(value: Any) -> Parsed:
    """A JSON value written with valueInputOption USER_ENTERED, parsed as if typed."""
    if not isinstance(value, str) or value == "":
        return from_raw(value)
    if value.startswith("'"):
        return value[1:] or None
    if value.startswith("=") and len(value) > 1:
        return Cell(_evaluate(value[1:]), formula=value)
    text = value.strip()
    if text.upper() in ("TRUE", "FALSE"):
        return text.upper() == "TRUE"
    return _typed_number(text) or _typed_date(text) or value


def _typed_number(text: str) -> Value | None:
    if _NUMBER.fullmatch(text):
        return _number(text)
    if _SHOWN_NUMBER.fullmatch(text):
        return Cell(_number(text.replace(",", "").replace("$", "")), text=text)
    if _PERCENT.fullmatch(text):
        return Cell(_number(text[:-1]) / 100, text=text)
    return None


def _number(text: str) -> int | float:
    number = float(text)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _typed_date(text: str) -> Cell | None:
    try:
        if match := _ISO_DATE.fullmatch(text):
            year, month, day, hour, minute, second = (int(g or 0) for g in match.groups())
            when = datetime(year, month, day, hour, minute, second)
        elif match := _US_DATE.fullmatch(text):
            month, day, year = (int(g) for g in match.groups())
            when = datetime(year, month, day)
        else:
            return None
    except ValueError:
        return None  # 2021-02-30 stays text
    serial = (when - _EPOCH).total_seconds() / 86400
    return Cell(_number(repr(serial)), text=text, is_date=True)


_OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def _evaluate(expression: str) -> Plain:
    """Plain arithmetic on number literals; anything else is a name we do not know."""

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return float(_OPERATORS[type(node.op)](walk(node.left), walk(node.right)))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
            return float(_OPERATORS[type(node.op)](walk(node.operand)))
        raise ValueError(node)

    try:
        result = walk(ast.parse(expression.strip().replace("^", "**"), mode="eval").body)
    except ZeroDivisionError:
        return "#DIV/0!"
    except (SyntaxError, ValueError, OverflowError):
        return "#NAME?"
    return _number(repr(result))


# -- reading ------------------------------------------------------------------------------


def number_text(number: int | float) -> str:
    """A number as the default (automatic) format shows it: 42, 0.5, 1234.5, 1.5E+20."""
    if isinstance(number, int):
        return str(number)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    text = f"{number:.10g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa}E{exponent[0]}{abs(int(exponent)):02d}"
    return text


def formatted(value: Value | None) -> str:
    if value is None:
        return ""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]
    if kind is bool:
        return "TRUE" if value else "FALSE"
    if isinstance(value, Cell):
        return value.text if value.text is not None else formatted(value.value)
    return number_text(value)  # type: ignore[arg-type]


_SHOWN_IN: dict[str, tuple[str, str, str]] = {}  # locale -> decimal mark, TRUE, FALSE
_BOOLEANS = {"fr": ("VRAI", "FAUX"), "de": ("WAHR", "FALSCH"), "es": ("VERDADERO", "FALSO")}


def _shown_in(locale: str) -> tuple[str, str, str]:
    """What ``locale`` writes for a decimal point, TRUE and FALSE (Google renders
    FORMATTED_VALUE in the spreadsheet's locale: an fr_FR sheet shows 1.25 as ``1,25``)."""
    if locale not in _SHOWN_IN:
        try:
            known = Locale.parse(locale)
        except (UnknownLocaleError, ValueError):
            known = Locale.parse("en_US")
        true, false = _BOOLEANS.get(known.language, ("TRUE", "FALSE"))
        _SHOWN_IN[locale] = (get_decimal_symbol(known), true, false)
    return _SHOWN_IN[locale]


def formatted_in(locale: str) -> Callable[[Value | None], str]:
    """:func:`formatted` as a spreadsheet of ``locale`` shows it: the automatic number
    format with the locale's decimal mark, booleans in its words. A cell with a text of
    its own (a number typed with its format) shows that text, as it was typed."""
    mark, true, false = _shown_in(locale)
    if (mark, true) == (".", "TRUE"):
        return formatted

    def show(value: Value | None) -> str:
        plain = value.value if isinstance(value, Cell) and value.text is None else value
        if type(plain) is bool:
            return true if plain else false
        if type(plain) in (int, float):
            return number_text(plain).replace(".", mark)  # type: ignore[arg-type]
        return formatted(value)

    return show


def unformatted(value: Value | None, dates_as_text: bool = False) -> Any:
    if value is None:
        return ""
    if isinstance(value, Cell):
        if value.is_date and dates_as_text:
            return value.text
        return unformatted(value.value)
    if type(value) is float and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def renderer(
    value_option: str, date_option: str, locale: str = "en_US"
) -> Callable[[Value | None], Any]:
    """The function that turns a stored cell into what a read answers, per the options and
    the spreadsheet's locale."""
    if date_option not in ("SERIAL_NUMBER", "FORMATTED_STRING"):
        raise _bad_option("date_time_render_option", "DateTimeRenderOption", date_option)
    dates_as_text = date_option == "FORMATTED_STRING"
    if value_option == "FORMATTED_VALUE":
        return formatted_in(locale)
    if value_option == "UNFORMATTED_VALUE":
        return lambda v: unformatted(v, dates_as_text)
    if value_option == "FORMULA":
        return lambda v: (
            v.formula
            if isinstance(v, Cell) and v.formula is not None
            else unformatted(v, dates_as_text)
        )
    raise _bad_option("value_render_option", "ValueRenderOption", value_option)


def parser(input_option: str | None) -> Callable[[Any], Parsed]:
    if input_option == "RAW":
        return from_raw
    if input_option == "USER_ENTERED":
        return from_user_entered
    if not input_option:
        raise bad_request("Invalid valueInputOption: INPUT_VALUE_OPTION_UNSPECIFIED")
    raise _bad_option("value_input_option", "ValueInputOption", input_option)


def _bad_option(field: str, enum: str, value: str) -> ApiError:
    return bad_request(
        f"Invalid value at '{field}' (type.googleapis.com/google.apps.sheets.v4.{enum}), "
        f'"{value}"'
    )


def sort_key(value: Value | None) -> tuple[int, Any]:
    """Order of a sort: numbers, then text (case-insensitive), then booleans."""
    plain = value.value if isinstance(value, Cell) else value
    if isinstance(plain, bool):
        return (2, plain)
    if isinstance(plain, int | float):
        return (0, plain)
    return (1, str(plain).casefold())
