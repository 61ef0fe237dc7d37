"""The metric tabs in a workbook: number formats and native openpyxl charts.

A metric tab is rewritten whole, so its charts are drawn again on each write that rewrites it:
the ones there are dropped first (openpyxl loaded them from the file), so charts never pile
up. :mod:`sheetcrm.backends.xlsx_safety` allows charts on these tabs only.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime

from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from sheetcrm.engine.metric_grid import Chart, MetricTab, pattern

WIDTHS = {1: 44, 2: 16, 3: 16}  # the figure names, then their values
CHART_SIZE = (18, 8.5)  # centimetres: about nine columns by seventeen rows


def dress_metric_tab(ws: Worksheet, tab: MetricTab) -> None:
    """Formats and charts of ``tab``, whose values ``ws`` already holds."""
    for row in ws.iter_rows():
        for cell in row:
            if cell.number_format != "General":
                cell.number_format = "General"  # a rewritten tab may have moved its figures
    for (r, c), kind in tab.formats.items():
        cell = ws.cell(r + 1, c + 1)
        if kind == "datetime" and isinstance(cell.value, str):
            with suppress(ValueError):  # the sync time as a date-time; reads back the same
                when = datetime.fromisoformat(cell.value)
                if when.tzinfo is None:  # one with an offset (the repeated hour) stays text:
                    cell.value = when  # an Excel date has no offset
        cell.number_format = pattern(kind, tab.currency)
    for col, width in WIDTHS.items():
        ws.column_dimensions[get_column_letter(col)].width = width
    draw_charts(ws, tab)


def draw_charts(ws: Worksheet, tab: MetricTab) -> None:
    """``ws``'s charts made ``tab``'s: the ones it held dropped (also by xlsx_metric_edit.py,
    which takes openpyxl's XML of them for a metric tab written in place)."""
    ws._charts = []
    for chart in tab.charts:
        anchor = f"{get_column_letter(chart.anchor[1] + 1)}{chart.anchor[0] + 1}"
        ws.add_chart(_chart(ws, chart), anchor)


def _chart(ws: Worksheet, spec: Chart) -> BarChart | LineChart:
    chart: BarChart | LineChart
    if spec.kind == "line":
        chart = LineChart()
    else:
        chart = BarChart()
        chart.type = "col"
    chart.title = spec.title
    chart.width, chart.height = CHART_SIZE
    for col in spec.series:
        data = Reference(
            ws,
            min_col=col + 1,
            max_col=col + 1,
            min_row=spec.header_row + 1,
            max_row=spec.last_row + 1,
        )
        chart.add_data(data, titles_from_data=True)
    labels = Reference(
        ws,
        min_col=spec.label_column + 1,
        min_row=spec.header_row + 2,
        max_row=spec.last_row + 1,
    )
    chart.set_categories(labels)
    return chart
