"""The metric tabs' cells: a grid of rows with the number format of each figure, and the
charts drawn on it (metric_tabs.py lays the metrics out on it).

Numbers are written as canonical numbers, so a chart can plot them and a read gives back what
was written; a figure no float holds is said, never shown as inf or nan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sheetcrm.engine.metric_data import AT
from sheetcrm.engine.schema import AS_OF, NO_DATA
from sheetcrm.engine.table import Table
from sheetcrm.engine.values import format_number

FORMATS = {
    "Win rate": "percent",
    "Conversion": "percent",
    "Probability": "percent",
    "Won value": "money",
    "Pipeline value": "money",
    "Weighted forecast": "money",
    "Mean days in stage": "days",
    "Median days in stage": "days",
    "Leads now": "leads",
    "Open deals": "deals",
    "Won deals": "deals",
    "Won value target": "money",
    "Won value attained": "percent",
    "Won deals attained": "percent",
    "Activities attained": "percent",
    "Activities per week": "weekly",
    "Calls reached": "percent",
    "Unsubscribe rate": "percent",
    "Reply rate": "percent",
    "SQL rate": "percent",
}
"""Number format of a table column, by header (the "(all time)" twin shares it); other
number columns are counts, which their header names."""
PRECISION = {
    "percent": 6,
    "money": 2,
    "days": 2,
    "hours": 2,
    "ratio": 4,
    "weekly": 2,
    "touches": 2,
    "activities": 0,
    "meetings": 0,
    "count": 0,
    "leads": 0,
    "deals": 0,
}
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CNY": "¥"}


def pattern(kind: str, currency: str = "USD") -> str:
    """The spreadsheet number format of a kind of figure (Excel and Google read the same).
    Every kind a figure on its own can have shows its unit: "451.9 hours", "1 lead"."""
    if kind == "money":
        symbol = SYMBOLS.get(currency.upper())
        return f'"{symbol}"#,##0' if symbol else f'#,##0 "{currency}"'
    if kind in ("leads", "deals", "meetings"):
        return f'[=1]0" {kind[:-1]}";#,##0" {kind}"'
    if kind == "activities":
        return '[=1]0" activity";#,##0" activities"'
    return {
        "percent": "0.00%",
        "days": '0.0" days"',
        "hours": '0.0" hours"',
        "ratio": '0.00"×"',
        "count": "#,##0",
        "weekly": '0.0" a week"',
        "touches": '0.0" touches"',
        "datetime": "yyyy-mm-dd hh:mm",
    }.get(kind, "General")


@dataclass(frozen=True)
class Chart:
    """A chart of a block of the tab: labels in one column, series in others (each headed
    by its name in ``header_row``). Rows and columns are 0-based grid positions."""

    title: str
    kind: str  # column or line
    header_row: int
    last_row: int
    label_column: int
    series: tuple[int, ...]
    anchor: tuple[int, int]


@dataclass
class MetricTab(Table):
    formats: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, col) -> kind
    charts: list[Chart] = field(default_factory=list)
    currency: str = "USD"


class Grid:
    def __init__(self, title: str, stamp: str, period: str) -> None:
        self.rows: list[list[str]] = [[title, AS_OF, stamp, "Period", period]]
        self.formats: dict[tuple[int, int], str] = {(0, 2): "datetime"}

    def line(self, *cells: object, kinds: Sequence[str] = ()) -> int:
        row = len(self.rows)
        texts = []
        for col, value in enumerate(cells):
            kind = kinds[col] if col < len(kinds) else ""
            texts.append(_text(value, kind))
            if kind and texts[-1] not in ("", NO_DATA, OUT_OF_RANGE):
                self.formats[(row, col)] = kind
        self.rows.append(texts)
        return row

    def block(self, title: str, table: pd.DataFrame) -> tuple[int, int]:
        """A titled table; returns the rows of its header and of its last line."""
        self.line()
        self.line(title)
        header = self.line(*table.columns)
        kinds = [_kind(c, table[c]) for c in table.columns]
        for values in table.itertuples(index=False):
            self.line(*values, kinds=kinds)
        return header, len(self.rows) - 1

    def tab(self, currency: str, charts: Sequence[Chart] = ()) -> MetricTab:
        width = max(len(r) for r in self.rows)
        rows = [r + [""] * (width - len(r)) for r in self.rows]
        return MetricTab(rows[0], rows[1:], dict(self.formats), list(charts), currency)


def _kind(column: str, values: pd.Series) -> str:
    base = column.removesuffix(AT)
    if base in FORMATS:
        return FORMATS[base]
    numbers = [isinstance(v, int | float | np.number) for v in values if v is not None]
    return "count" if numbers and all(numbers) else ""


OUT_OF_RANGE = "out of range"
"""A figure past what a float holds (amounts near 1e308 summed): said, never shown as inf."""


def _text(value: object, kind: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float | int | np.integer | np.floating):
        # The one edge every figure passes: whatever the amounts, no cell says inf or nan.
        number = float(value)
        if np.isnan(number):
            return NO_DATA
        if np.isinf(number):
            return OUT_OF_RANGE
        if kind:
            return format_number(round(number, PRECISION.get(kind, 6)) + 0.0)
    return str(value)
