"""The metric tabs in a Google Sheet: typed values, number formats and native charts.

Pure: from a :class:`MetricTab` and the sheet's current metadata, the values to send and the
spreadsheets.batchUpdate requests. A chart is added once (``addChart``) and found again by
its title on later syncs; then only its data ranges are refreshed (``updateChartSpec``), and
only when they moved. Charts a person added, anywhere, are never touched.
"""

from __future__ import annotations

from typing import Any

from sheetcrm.engine.metric_grid import Chart, MetricTab, pattern
from sheetcrm.engine.values import parse_number

NUMBER_TYPES = {
    "percent": "PERCENT",
    "money": "CURRENCY",
    "count": "NUMBER",
    "leads": "NUMBER",
    "deals": "NUMBER",
    "days": "NUMBER",
    "hours": "NUMBER",
    "ratio": "NUMBER",
    "datetime": "DATE_TIME",
}
CHART_TYPES = {"column": "COLUMN", "line": "LINE"}
CHART_SIZE = (640, 320)  # pixels


def cell_values(tab: MetricTab) -> list[list[Any]]:
    """The tab's rows, header first, with its figures as JSON numbers (so charts plot them
    and formats apply); everything else as text, sent RAW."""
    rows: list[list[Any]] = [list(tab.header), *[list(r) for r in tab.rows]]
    for (r, c), kind in tab.formats.items():
        if kind != "datetime" and r < len(rows) and c < len(rows[r]):
            number = parse_number(rows[r][c])
            if number is not None:
                rows[r][c] = int(number) if number.is_integer() else number
    return rows


def _grid(sheet_id: int, row0: int, row1: int, col0: int, col1: int) -> dict[str, Any]:
    return {
        "sheetId": sheet_id,
        "startRowIndex": row0,
        "endRowIndex": row1,
        "startColumnIndex": col0,
        "endColumnIndex": col1,
    }


def format_requests(tab: MetricTab, sheet_id: int) -> list[dict[str, Any]]:
    """Clear the tab's number formats, then set each figure's, one request per run of cells
    of one kind down a column."""
    requests: list[dict[str, Any]] = [
        {
            "repeatCell": {
                "range": {"sheetId": sheet_id},
                "cell": {"userEnteredFormat": {}},
                "fields": "userEnteredFormat.numberFormat",
            }
        }
    ]
    runs: list[tuple[int, int, int, str]] = []  # column, first row, last row, kind
    for (r, c), kind in sorted(tab.formats.items(), key=lambda item: (item[0][1], item[0][0])):
        if runs and runs[-1][0] == c and runs[-1][2] == r - 1 and runs[-1][3] == kind:
            runs[-1] = (c, runs[-1][1], r, kind)
        else:
            runs.append((c, r, r, kind))
    for c, first, last, kind in runs:
        number_format = {
            "type": NUMBER_TYPES.get(kind, "NUMBER"),
            "pattern": pattern(kind, tab.currency),
        }
        requests.append(
            {
                "repeatCell": {
                    "range": _grid(sheet_id, first, last + 1, c, c + 1),
                    "cell": {"userEnteredFormat": {"numberFormat": number_format}},
                    "fields": "userEnteredFormat.numberFormat",
                }
            }
        )
    return requests


def chart_spec(chart: Chart, sheet_id: int) -> dict[str, Any]:
    def source(col: int, first: int) -> dict[str, Any]:
        return {
            "sourceRange": {"sources": [_grid(sheet_id, first, chart.last_row + 1, col, col + 1)]}
        }

    return {
        "title": chart.title,
        "basicChart": {
            "chartType": CHART_TYPES.get(chart.kind, "COLUMN"),
            "legendPosition": "BOTTOM_LEGEND",
            "headerCount": 1,
            "domains": [{"domain": source(chart.label_column, chart.header_row)}],
            "series": [
                {"series": source(col, chart.header_row), "targetAxis": "LEFT_AXIS"}
                for col in chart.series
            ],
        },
    }


def _sources(spec: dict[str, Any]) -> list[Any]:
    """Where a chart reads its data: what a refresh has to keep right. Google echoes a spec
    with defaults of its own added, so whole specs do not compare."""
    basic = spec.get("basicChart", {})
    parts = [d.get("domain", {}) for d in basic.get("domains", [])]
    parts += [s.get("series", {}) for s in basic.get("series", [])]
    return [
        [{k: v for k, v in g.items() if not (k == "sheetId" and v == 0)} for g in sources]
        for sources in (p.get("sourceRange", {}).get("sources", []) for p in parts)
    ]


def chart_requests(
    tab: MetricTab, sheet_id: int, existing: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """addChart for a chart the tab does not have yet (by title), updateChartSpec for one
    whose data moved; nothing for one that is right."""
    by_title = {c.get("spec", {}).get("title"): c for c in existing}
    requests: list[dict[str, Any]] = []
    for chart in tab.charts:
        spec = chart_spec(chart, sheet_id)
        have = by_title.get(chart.title)
        if have is None:
            width, height = CHART_SIZE
            position = {
                "overlayPosition": {
                    "anchorCell": {
                        "sheetId": sheet_id,
                        "rowIndex": chart.anchor[0],
                        "columnIndex": chart.anchor[1],
                    },
                    "widthPixels": width,
                    "heightPixels": height,
                }
            }
            requests.append({"addChart": {"chart": {"spec": spec, "position": position}}})
        elif _sources(have.get("spec", {})) != _sources(spec):
            requests.append({"updateChartSpec": {"chartId": have["chartId"], "spec": spec}})
    return requests
