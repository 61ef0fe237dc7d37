"""Checking lead rows: emails, phones, dates, amounts and required fields, each a problem
at its cell. Bad rows are data, never exceptions. Emails and phones go through the sync's
:class:`~sheetcrm.engine.validation.Memo`, so a re-sync checks only the cells that changed."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sheetcrm.engine.catalog import _
from sheetcrm.engine.dates import date_problem, parse_date
from sheetcrm.engine.row_memo import per_row
from sheetcrm.engine.schema import LEADS, Kind
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.validation import Memo, country_region, normalise_email, normalise_phone
from sheetcrm.engine.values import BLANKS, format_number, parse_number, shown

TYPED_DATES = (*(c.header for c in LEADS.columns if c.kind is Kind.DATE), "Created at")
"""The date columns people type in, checked as dates: every date the schema declares, and
Created at, which the sync stamps only when it is empty."""


@dataclass
class Checked:
    """Per row: normalised contacts and the problems found, by Leads column."""

    email: pd.Series
    phone: pd.Series
    problems: list[tuple[np.ndarray, str, list[str], str]]  # rows, column, messages, hint


def check_rows(
    data: pd.DataFrame,
    region: str,
    dayfirst: bool,
    required: Iterable[tuple[str, ...]],
    memo: Memo | None = None,
    largest_amount: float = math.inf,
    decimal: str | None = None,
) -> Checked:
    """Check every row of ``data`` (Leads, strings) and normalise its contacts."""
    memo = memo if memo is not None else Memo()
    problems: list[tuple[np.ndarray, str, list[str], str]] = []
    index = data.index

    # Settings' Required fields are typed by people: find them as headers are found, case,
    # spacing and the schema's aliases ignored ("email or phone", "E-mail").
    by_key = {norm_header(c): c for c in data.columns}

    def resolve(name: str) -> str:
        spec = LEADS.column(name)
        return by_key.get(norm_header(spec.header if spec else name)) or name

    columns: dict[str, np.ndarray] = {}

    def column(name: str) -> np.ndarray:
        name = resolve(name)
        if name not in columns:
            columns[name] = _texts(data[name] if name in data.columns else None, len(index))
        return columns[name]

    # Emails and phones through the memo: a re-sync checks only the cells that changed.
    email, email_said, email_blank = per_row(
        memo, "Email", (), (column("Email"),), lambda cells: _emails(cells, memo)
    )
    _collect(
        problems,
        email_said,
        "Email",
        _("type an address like name@company.com, or leave the cell empty"),
    )
    regions = _regions(column("Country"), region)
    phone, phone_said, phone_blank = per_row(
        memo, "Phone", (), (column("Phone"), regions), lambda cells, at: _phones(cells, at, memo)
    )
    _collect(
        problems,
        phone_said,
        "Phone",
        _(
            "type it with the country code, like +44 20 7946 0958 (without one, the lead's "
            "Country is assumed, else Settings' Default phone region, %(region)s)"
        )
        % {"region": region},
    )

    for name in TYPED_DATES:
        codes, texts = _distinct(column(name))
        undated = np.fromiter(
            (bool(v) and parse_date(v, dayfirst) is None for v in texts), bool, len(texts)
        )
        bad = undated[codes]
        if bad.any():  # grouped by hint: a zone word has its own
            said = {int(c): date_problem(texts[c], dayfirst) for c in np.flatnonzero(undated)}
            rows = np.flatnonzero(bad)
            hints = np.array([said[c][1] for c in codes[rows].tolist()], dtype=object)
            for hint in dict.fromkeys(hints):
                pick = hints == hint
                messages = [said[c][0] for c in codes[rows[pick]].tolist()]
                problems.append((rows[pick], name, messages, hint))
    codes, texts = _distinct(column("Amount"))
    amount_said = np.array([amount_problem(v, largest_amount, decimal) for v in texts], object)
    _collect(
        problems,
        amount_said[codes],
        "Amount",
        (
            _(
                "type the deal's value, a number from 0 up to Settings' Largest amount "
                "(%(largest)s), like 12500 or 12,500.00"
            )
            if math.isfinite(largest_amount)
            else _(
                "type the deal's value, a number from 0 up to Settings' Largest amount, "
                "like 12500 or 12,500.00"
            )
        )
        % {"largest": format_number(largest_amount)},
    )

    known = {resolve("Email"): ~email_blank, resolve("Phone"): ~phone_blank}
    filled = {
        name: known[resolve(name)] if resolve(name) in known else ~_blank(column(name))
        for name in {n for group in required for n in group}
    }
    for group in required:
        missing = ~np.logical_or.reduce([filled[n] for n in group])
        if missing.any():
            need = _(" or ").join(resolve(n) for n in group)
            problems.append(
                (
                    np.flatnonzero(missing),
                    resolve(group[0]),
                    [_("missing %(columns)s") % {"columns": need}] * int(missing.sum()),
                    _("every lead needs %(columns)s (Settings: Required fields)")
                    % {"columns": need},
                )
            )
    return Checked(
        pd.Series(email, index=index, dtype=object),
        pd.Series(phone, index=index, dtype=object),
        problems,
    )


def _distinct(cells: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(per cell, which distinct text it holds; each distinct text, stripped): the checks
    below run once per distinct text."""
    codes, uniques = pd.factorize(cells)
    return codes, [str(u).strip() for u in uniques]


def _blank(cells: np.ndarray) -> np.ndarray:
    codes, texts = _distinct(cells)
    blank = np.fromiter((t.casefold() in BLANKS for t in texts), bool, len(texts))
    return blank[codes]  # type: ignore[no-any-return]


def _emails(cells: np.ndarray, memo: Memo) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cell: the normalised address, its problem ("" for none), whether it is blank."""
    codes, uniques = pd.factorize(cells)
    results = memo.emails_of(uniques, lambda t: normalise_email(t, memo))
    blank = [t.strip().casefold() in BLANKS for t in uniques]
    return (
        np.array([r[0] for r in results], dtype=object)[codes],
        np.array([r[1] for r in results], dtype=object)[codes],
        np.array(blank, dtype=bool)[codes],
    )


def _phones(
    cells: np.ndarray, regions: np.ndarray, memo: Memo
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cell, read in its row's region: E.164, its problem ("" for none), whether blank."""
    results = memo.phones_of(
        cells.tolist(), regions.tolist(), lambda t, r: normalise_phone(t, r, memo)
    )
    return (
        np.array([r[0] for r in results], dtype=object),
        np.array([r[1] for r in results], dtype=object),
        _blank(cells),
    )


def _regions(countries: np.ndarray, region: str) -> np.ndarray:
    """Per row, the region its phone number is read in: its Country's, else ``region``."""
    codes, uniques = pd.factorize(countries)
    return np.array([country_region(c) or region for c in uniques], dtype=object)[codes]  # type: ignore[no-any-return]


def amount_problem(text: str, largest: float, decimal: str | None = None) -> str:
    """What is wrong with an Amount cell's text; "" when nothing is. A deal's value is never
    negative, and one past ``largest`` is a typo or a post meant to swamp the metric tabs."""
    if text.casefold() in BLANKS:
        return ""
    value = parse_number(text, decimal)
    if value is None:
        return _("%(value)s is not an amount") % {"value": shown(text)}
    if value < 0:
        return _("%(value)s is a negative amount") % {"value": shown(text)}
    if value > largest:
        return _("%(value)s is over the largest amount, %(largest)s") % {
            "value": shown(text),
            "largest": format_number(largest),
        }
    return ""


def _texts(values: pd.Series | None, n: int) -> np.ndarray:
    """A column's cells as plain Python strings ("" for a missing cell or column): .astype(str)
    would give pandas' slower string dtype."""
    if values is None:
        return np.full(n, "", dtype=object)
    cells = values.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(cells, skipna=False) == "string":  # all str already
        return cells  # type: ignore[no-any-return]
    texts = [v if isinstance(v, str) else "" if v is None or v != v else str(v) for v in cells]
    return np.array(texts, dtype=object)


def _collect(
    problems: list[tuple[np.ndarray, str, list[str], str]],
    messages: np.ndarray,
    column: str,
    hint: str,
) -> None:
    bad = messages != ""
    if bad.any():
        problems.append((np.flatnonzero(bad), column, messages[bad].tolist(), hint))
