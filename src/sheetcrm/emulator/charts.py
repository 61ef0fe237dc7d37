"""Embedded charts: addChart, updateChartSpec and deleteEmbeddedObject, kept on the sheet the
chart is anchored to and echoed in spreadsheets.get under ``sheets[].charts``.

As on Google: a chart ID is chosen when none is given (and refused when taken), the answer to
addChart is the chart as stored, a spec must name a chart type, and the ranges it reads must
be on sheets that exist. The emulator draws nothing; the border and font defaults Google adds
to an echoed chart are left out.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from sheetcrm.emulator.defaults import echo_chart
from sheetcrm.emulator.errors import bad_request
from sheetcrm.emulator.grid import Sheet
from sheetcrm.emulator.store import Spreadsheet

Reply = dict[str, Any] | None
CHART_KINDS = (
    "basicChart",
    "pieChart",
    "bubbleChart",
    "candlestickChart",
    "orgChart",
    "histogramChart",
    "waterfallChart",
    "treemapChart",
    "scorecardChart",
)


def _find(book: Spreadsheet, chart_id: Any) -> tuple[Sheet, dict[str, Any]] | None:
    for sheet in book.sheets:
        for chart in sheet.charts:
            if chart["chartId"] == chart_id:
                return sheet, chart
    return None


def _check_spec(book: Spreadsheet, spec: dict[str, Any]) -> dict[str, Any]:
    if not any(kind in spec for kind in CHART_KINDS):
        raise bad_request("The chart spec must specify a chart type (e.g. basicChart).")
    stack: list[Any] = [spec]
    while stack:  # every GridRange a source names must be on a sheet that exists
        item = stack.pop()
        if isinstance(item, dict):
            for source in item.get("sourceRange", {}).get("sources", []):
                book.sheet_or_error(source.get("sheetId", 0))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return copy.deepcopy(spec)


def add_chart(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    given = params["chart"]
    chart_id = given.get("chartId") or book.store.new_id()
    if _find(book, chart_id) is not None:
        raise bad_request(f"An object with id {chart_id} already exists.")
    position = given.get("position") or {}
    if "overlayPosition" in position:
        sheet = book.sheet_or_error(position["overlayPosition"]["anchorCell"].get("sheetId", 0))
    elif "sheetId" in position:
        sheet = book.sheet_or_error(position["sheetId"])
    else:
        raise bad_request("A chart position must be an overlayPosition or a sheetId.")
    chart = {
        "chartId": chart_id,
        "spec": _check_spec(book, given.get("spec") or {}),
        "position": copy.deepcopy(position),
    }
    sheet.charts.append(chart)
    return {"chart": echo_chart(chart)}


def update_chart_spec(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    found = _find(book, params.get("chartId"))
    if found is None:
        raise bad_request(f"No chart with id: {params.get('chartId')}")
    found[1]["spec"] = _check_spec(book, params.get("spec") or {})
    return None


def delete_embedded_object(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    found = _find(book, params.get("objectId"))
    if found is None:
        raise bad_request(f"No object with id: {params.get('objectId')}")
    sheet, chart = found
    sheet.charts.remove(chart)
    return None


HANDLERS: dict[str, Callable[[Spreadsheet, dict[str, Any]], Reply]] = {
    "addChart": add_chart,
    "updateChartSpec": update_chart_spec,
    "deleteEmbeddedObject": delete_embedded_object,
}
