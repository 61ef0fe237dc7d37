"""Embedded charts on the Sheets API stand-in, over HTTP: addChart answers the chart as stored,
spreadsheets.get lists it under its sheet, updateChartSpec and deleteEmbeddedObject change it,
and mistakes answer 400 with nothing applied, as Google's documented API does."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sheetcrm.emulator import Emulator


@pytest.fixture
def running():
    with Emulator(quota_per_minute=None) as emulator:
        yield emulator
    assert emulator.errors == []


@pytest.fixture
def book(running):
    return running.store.create("CRM", sheets=["Leads", "Dashboard"])


def batch(running: Emulator, book: Any, *reqs: dict[str, Any]) -> requests.Response:
    url = f"{running.url}/v4/spreadsheets/{book.spreadsheet_id}:batchUpdate"
    return requests.post(url, json={"requests": list(reqs)}, timeout=10)


def spec(sheet_id: int, title: str = "Funnel") -> dict[str, Any]:
    def source(col: int) -> dict[str, Any]:
        grid = {"sheetId": sheet_id, "startRowIndex": 0, "endRowIndex": 5}
        return {
            "sourceRange": {
                "sources": [{**grid, "startColumnIndex": col, "endColumnIndex": col + 1}]
            }
        }

    return {
        "title": title,
        "basicChart": {
            "chartType": "COLUMN",
            "domains": [{"domain": source(0)}],
            "series": [{"series": source(1), "targetAxis": "LEFT_AXIS"}],
        },
    }


def add(sheet_id: int, title: str = "Funnel", **extra: Any) -> dict[str, Any]:
    anchor = {"sheetId": sheet_id, "rowIndex": 2, "columnIndex": 5}
    chart = {"spec": spec(sheet_id, title), "position": {"overlayPosition": {"anchorCell": anchor}}}
    return {"addChart": {"chart": {**chart, **extra}}}


def test_add_chart_answers_the_chart_and_get_lists_it(running, book):
    dash = book.sheet("Dashboard")
    answer = batch(running, book, add(dash.sheet_id)).json()
    chart = answer["replies"][0]["addChart"]["chart"]
    assert isinstance(chart["chartId"], int) and chart["chartId"] > 0
    assert chart["spec"]["title"] == "Funnel"
    assert chart["position"]["overlayPosition"]["anchorCell"]["columnIndex"] == 5
    url = f"{running.url}/v4/spreadsheets/{book.spreadsheet_id}"
    got = requests.get(url, params={"fields": "sheets(properties(title),charts)"}, timeout=10)
    sheets = got.json()["sheets"]
    assert "charts" not in sheets[0]  # Leads has none: the field is left out
    assert sheets[1]["charts"] == [chart]


def test_a_zero_sheet_id_is_left_out_of_the_echo(running, book):
    leads = book.sheet("Leads")
    assert leads.sheet_id == 0
    chart = batch(running, book, add(0)).json()["replies"][0]["addChart"]["chart"]
    assert "sheetId" not in chart["position"]["overlayPosition"]["anchorCell"]
    assert (
        "sheetId"
        not in chart["spec"]["basicChart"]["domains"][0]["domain"]["sourceRange"]["sources"][0]
    )


def test_update_chart_spec_and_delete_embedded_object(running, book):
    dash = book.sheet("Dashboard")
    chart_id = batch(running, book, add(dash.sheet_id)).json()["replies"][0]["addChart"]["chart"][
        "chartId"
    ]
    new = spec(dash.sheet_id, "Funnel, refreshed")
    assert batch(running, book, {"updateChartSpec": {"chartId": chart_id, "spec": new}}).ok
    assert dash.charts[0]["spec"]["title"] == "Funnel, refreshed"
    assert batch(running, book, {"deleteEmbeddedObject": {"objectId": chart_id}}).ok
    assert dash.charts == []


def test_chart_mistakes_answer_400_and_apply_nothing(running, book):
    dash = book.sheet("Dashboard")
    taken = batch(running, book, add(dash.sheet_id, chartId=42))
    assert taken.ok
    again = batch(running, book, add(dash.sheet_id, "Second"), add(dash.sheet_id, chartId=42))
    assert again.status_code == 400
    assert "requests[1].addChart" in again.json()["error"]["message"]
    assert [c["chartId"] for c in dash.charts] == [42]  # the first request was undone too
    no_type = add(dash.sheet_id)
    del no_type["addChart"]["chart"]["spec"]["basicChart"]
    assert batch(running, book, no_type).status_code == 400
    elsewhere = add(dash.sheet_id)
    source = elsewhere["addChart"]["chart"]["spec"]["basicChart"]["domains"][0]["domain"]
    source["sourceRange"]["sources"][0]["sheetId"] = 999
    assert "No grid with id: 999" in batch(running, book, elsewhere).json()["error"]["message"]
    unknown = batch(running, book, {"updateChartSpec": {"chartId": 7, "spec": spec(0)}})
    assert unknown.status_code == 400
