"""The local Sheets API v4 stand-in (sheetcrm.emulator), over real HTTP on loopback.

Three layers: A1 and value rules as plain functions; the API through `requests` and through
gspread 6 itself; and a replay of Google's real recorded answers (the gspread cassettes in
../shared/ref) whose every answer the emulator must give back in the same shape.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gspread
import pytest
import requests
from google.auth.credentials import AnonymousCredentials
from gspread.http_client import HTTPClient

from sheetcrm.emulator import DROP, DROP_AFTER, Emulator, ManualClock, Store
from sheetcrm.emulator.a1 import Span, format_range, parse_cells, quote_title, split_range
from sheetcrm.emulator.errors import ApiError

GOOGLE = "https://sheets.googleapis.com"
CASSETTES = Path(__file__).resolve().parents[2] / "shared" / "ref" / "gspread-cassettes"


@pytest.fixture
def emulator():
    with Emulator(quota_per_minute=None) as running:
        yield running
    assert running.errors == []  # no hook failed, no emulator bug answered 500


@pytest.fixture
def book(emulator):
    return emulator.store.create("CRM", sheets=["Leads", "History"])


@pytest.fixture
def local_book():
    """A spreadsheet in a store of its own, for rules that need no server."""
    return Store().create("CRM", sheets=["Leads", "History"])


class Api:
    """Plain HTTP calls to the emulator, as the Sheets API paths spell them."""

    def __init__(self, emulator: Emulator, spreadsheet_id: str = "") -> None:
        self.base = f"{emulator.url}/v4/spreadsheets/{spreadsheet_id}"

    def call(self, method: str, path: str = "", **kwargs: Any) -> requests.Response:
        return requests.request(method, self.base + path, timeout=10, **kwargs)

    def get(self, a1: str, **params: Any) -> dict[str, Any]:
        return self.call("GET", f"/values/{a1}", params=params).json()

    def put(self, a1: str, values: list[list[Any]], option: str = "RAW") -> requests.Response:
        params = {"valueInputOption": option}
        return self.call("PUT", f"/values/{a1}", params=params, json={"values": values})

    def batch(self, *requests_: dict[str, Any]) -> requests.Response:
        return self.call("POST", ":batchUpdate", json={"requests": list(requests_)})


def api(emulator: Emulator, book: Any = None) -> Api:
    return Api(emulator, book.spreadsheet_id if book is not None else "")


# -- A1 notation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("A1", Span(0, 1, 0, 1)),
        ("b2:c3", Span(1, 3, 1, 3)),
        ("D4:A1", Span(0, 4, 0, 4)),  # reversed: normalised
        ("A:C", Span(0, None, 0, 3)),
        ("2:5", Span(1, 5, 0, None)),
        ("A5:C", Span(4, None, 0, 3)),
        ("A2:2", Span(1, 2, 0, None)),
        ("AA10", Span(9, 10, 26, 27)),
    ],
)
def test_a1_cells(text, span):
    assert parse_cells(text) == span


@pytest.mark.parametrize("text", ["A0", "A1:", ":B2", "A", "3", "A:2", "AAAA1", "A1:B2:C3", "1A"])
def test_a1_cells_that_do_not_parse(text):
    with pytest.raises(ValueError):
        parse_cells(text)


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("Leads", ("Leads", None)),
        ("'My tab'!A1:B2", ("My tab", "A1:B2")),
        ("'it''s'", ("it's", None)),
        ("🌵 tab 1!A:A", ("🌵 tab 1", "A:A")),
    ],
)
def test_a1_split_title(text, parts):
    assert split_range(text) == parts


@pytest.mark.parametrize(
    ("title", "echo"),
    [("Sheet1", "Sheet1"), ("D3", "'D3'"), ("My tab", "'My tab'"), ("it's", "'it''s'")],
)
def test_titles_are_quoted_only_when_they_must_be(title, echo):
    assert quote_title(title) == echo


@pytest.mark.parametrize(
    ("asked", "echo"),
    [
        ("Leads", "Leads!A1:Z1000"),
        ("'Leads'!A1:C", "Leads!A1:C1000"),
        ("Leads!B:B", "Leads!B1:B1000"),
        ("Leads!A2:2", "Leads!A2:Z2"),
        ("Leads!A1:AZ5000", "Leads!A1:Z1000"),
        ("leads!B2", "Leads!B2"),  # titles match ignoring case
        ("C3:D4", "Leads!C3:D4"),  # no title: the first visible sheet
    ],
)
def test_ranges_are_clipped_to_the_grid_and_echoed(local_book, asked, echo):
    sheet, span = local_book.resolve(asked)
    assert format_range(sheet.title, local_book.within_grid(sheet, span)) == echo


@pytest.mark.parametrize("asked", ["Nope!A1", "Leads!A1:", "'Leads", "Leads!ZZZZ1", "Nope"])
def test_unknown_tabs_and_garbage_are_unparsable(local_book, asked):
    with pytest.raises(ApiError) as caught:
        local_book.resolve(asked)
    assert caught.value.body() == {
        "error": {
            "code": 400,
            "message": f"Unable to parse range: {asked}",
            "status": "INVALID_ARGUMENT",
        }
    }


# -- values ---------------------------------------------------------------------------------


def test_reads_leave_out_trailing_empties_and_empty_values(emulator, book):
    http = api(emulator, book)
    rows = [["A1", "B1", "", "D1"], ["", "b2", "", ""], ["", "", "", ""], ["A4", "", "", ""]]
    assert http.put("Leads!A1", rows).json() == {
        "spreadsheetId": book.spreadsheet_id,
        "updatedRange": "Leads!A1:D4",
        "updatedRows": 4,
        "updatedColumns": 4,
        "updatedCells": 16,
    }
    assert http.get("Leads") == {
        "range": "Leads!A1:Z1000",
        "majorDimension": "ROWS",
        "values": [["A1", "B1", "", "D1"], ["", "b2"], [], ["A4"]],
    }
    assert http.get("Leads!A1:D4", majorDimension="COLUMNS")["values"] == [
        ["A1", "", "", "A4"],
        ["B1", "b2"],
        [],
        ["D1"],
    ]
    assert http.get("History!A1:B2") == {"range": "History!A1:B2", "majorDimension": "ROWS"}
    batch = http.call("GET", "/values:batchGet", params={"ranges": ["Leads!B1:B", "History"]})
    assert [r["range"] for r in batch.json()["valueRanges"]] == [
        "Leads!B1:B1000",
        "History!A1:Z1000",
    ]


@pytest.mark.parametrize(
    ("option", "written", "formatted", "unformatted", "formula"),
    [
        ("RAW", "=1+1", "=1+1", "=1+1", "=1+1"),  # text stays text: no formula injection
        ("RAW", "00123", "00123", "00123", "00123"),
        ("RAW", 42, "42", 42, 42),  # JSON numbers stay numbers
        ("RAW", 1234.5, "1234.5", 1234.5, 1234.5),
        ("RAW", True, "TRUE", True, True),
        ("USER_ENTERED", "=1+1", "2", 2, "=1+1"),
        ("USER_ENTERED", '=HYPERLINK("http://x")', "#NAME?", "#NAME?", '=HYPERLINK("http://x")'),
        ("USER_ENTERED", "00123", "123", 123, 123),
        ("USER_ENTERED", "0.5", "0.5", 0.5, 0.5),
        ("USER_ENTERED", "2,000.5", "2,000.5", 2000.5, 2000.5),
        ("USER_ENTERED", "2020-01-01", "2020-01-01", 43831, 43831),
        ("USER_ENTERED", "'=1+1", "=1+1", "=1+1", "=1+1"),
        ("USER_ENTERED", "true", "TRUE", True, True),
    ],
)
def test_raw_keeps_values_and_user_entered_parses_them(
    emulator, book, option, written, formatted, unformatted, formula
):
    http = api(emulator, book)
    assert http.put("Leads!B2", [[written]], option).status_code == 200
    for render, expected in [
        ("FORMATTED_VALUE", formatted),
        ("UNFORMATTED_VALUE", unformatted),
        ("FORMULA", formula),
    ]:
        assert http.get("Leads!B2", valueRenderOption=render)["values"] == [[expected]]


def test_formulas_are_visible_in_the_store(emulator, book):
    api(emulator, book).put("Leads!A1", [["=1+1", "=1+1"]], "USER_ENTERED")
    cell = book.sheet("Leads").cell(0, 0)
    assert cell.formula == "=1+1"
    api(emulator, book).put("Leads!A1", [["=1+1"]], "RAW")
    assert book.sheet("Leads").cell(0, 0) == "=1+1"  # a plain string


def test_writes_stay_in_the_grid_and_in_the_requested_range(emulator, book):
    http = api(emulator, book)
    beyond = http.put("Leads!A1000", [["x"], ["y"]])
    assert beyond.status_code == 400
    assert beyond.json()["error"]["message"] == (
        "Range (Leads!A1001) exceeds grid limits. Max rows: 1000, max columns: 26"
    )
    wide = http.put("Leads!A1:B2", [["x", "y", "z"]])
    assert wide.json()["error"]["message"] == (
        "Requested writing within range [Leads!A1:B2], but tried writing to column [C]"
    )
    not_a_list = http.call(
        "PUT", "/values/Leads!A1", params={"valueInputOption": "RAW"}, json={"values": "X"}
    )
    assert not_a_list.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert not_a_list.json()["error"]["details"][0]["fieldViolations"][0]["field"] == "data.values"
    assert book.sheet("Leads").values() == []


def test_append_adds_after_the_last_row_and_grows_the_grid(emulator, book):
    http = api(emulator, book)
    leads = book.sheet("History")
    leads.set_values("A1", [["At", "Lead"], ["1", "L-1"], ["", ""], ["3", "L-3"]])
    params = {"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"}
    answer = http.call(
        "POST", "/values/History:append", params=params, json={"values": [["4", "L-4"]]}
    )
    assert answer.json()["tableRange"] == "History!A4:B4"
    assert answer.json()["updates"]["updatedRange"] == "History!A5:B5"
    assert leads.row_count == 1001  # INSERT_ROWS adds rows
    from_a1 = http.call(
        "POST", "/values/History!A1:append", params=params, json={"values": [["5"]]}
    )
    assert from_a1.json()["tableRange"] == "History!A1:B2"  # from A1: the table A1 starts
    leads.resize(rows=leads.row_count)
    full = emulator.store.create("Full", sheets=["Tab"])
    full.sheet("Tab").resize(rows=2, cols=1)
    full.sheet("Tab").set_values("A1", [["a"], ["b"]])
    grown = api(emulator, full).call(
        "POST",
        "/values/Tab:append",
        params={"valueInputOption": "RAW"},
        json={"values": [["c", "d"]]},
    )
    assert grown.json()["updates"]["updatedRange"] == "Tab!A3:B3"
    assert full.sheet("Tab").row_count == 3 and full.sheet("Tab").col_count == 2


def test_clear_and_batch_clear(emulator, book):
    http = api(emulator, book)
    book.sheet("Leads").set_values("A1", [["a", "b"], ["c", "d"]])
    cleared = http.call("POST", "/values/Leads!A1:A:clear").json()
    assert cleared == {"spreadsheetId": book.spreadsheet_id, "clearedRange": "Leads!A1:A1000"}
    batch = http.call("POST", "/values:batchClear", json={"ranges": ["Leads!B2", "History"]})
    assert batch.json()["clearedRanges"] == ["Leads!B2", "History!A1:Z1000"]
    assert book.sheet("Leads").values() == [["", "b"]]


# -- errors ---------------------------------------------------------------------------------


def test_errors_answer_as_google_does(emulator, book):
    missing = api(emulator).call("GET", "nope")
    assert (missing.status_code, missing.json()) == (
        404,
        {
            "error": {
                "code": 404,
                "message": "Requested entity was not found.",
                "status": "NOT_FOUND",
            }
        },
    )
    book.shared = False
    private = api(emulator, book).get("Leads!A1")
    assert private == {
        "error": {
            "code": 403,
            "message": "The caller does not have permission",
            "status": "PERMISSION_DENIED",
        }
    }
    book.shared = True
    bad = api(emulator, book).get("Nope!A1")
    assert bad["error"] == {
        "code": 400,
        "message": "Unable to parse range: Nope!A1",
        "status": "INVALID_ARGUMENT",
    }


# -- spreadsheets.get and batchUpdate ---------------------------------------------------------


def test_spreadsheets_get_honours_fields(emulator, book):
    http = api(emulator, book)
    props = http.call("GET", "", params={"fields": "sheets.properties"}).json()
    assert props == {"sheets": [{"properties": s.properties()} for s in book.sheets]}
    assert list(http.call("GET", "", params={"fields": "properties"}).json()) == ["properties"]
    titles = http.call("GET", "", params={"fields": "sheets.properties(title,index)"}).json()
    assert titles == {
        "sheets": [
            {"properties": {"title": "Leads", "index": 0}},
            {"properties": {"title": "History", "index": 1}},
        ]
    }
    whole = http.call("GET", "", params={"includeGridData": "false"}).json()
    assert list(whole) == ["spreadsheetId", "properties", "sheets", "spreadsheetUrl"]


def _provisioning(sheet_id: int) -> list[dict[str, Any]]:
    column = {"sheetId": sheet_id, "startRowIndex": 1, "startColumnIndex": 2, "endColumnIndex": 3}
    return [
        {
            "updateSheetProperties": {
                "properties": {"sheetId": sheet_id, "gridProperties": {"frozenRowCount": 1}},
                "fields": "gridProperties.frozenRowCount",
            }
        },
        {
            "repeatCell": {
                "range": {"sheetId": sheet_id, "startRowIndex": 0, "endRowIndex": 1},
                "cell": {"userEnteredFormat": {"textFormat": {"bold": True}}},
                "fields": "userEnteredFormat.textFormat.bold",
            }
        },
        {
            "setDataValidation": {
                "range": column,
                "rule": {
                    "condition": {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": "New"}]}
                },
            }
        },
        {
            "addConditionalFormatRule": {
                "index": 0,
                "rule": {
                    "ranges": [column],
                    "booleanRule": {
                        "condition": {"type": "TEXT_EQ", "values": [{"userEnteredValue": "A"}]},
                        "format": {"backgroundColor": {"red": 0.81, "green": 0.92, "blue": 0}},
                    },
                },
            }
        },
        {"addProtectedRange": {"protectedRange": {"range": column, "warningOnly": True}}},
    ]


def test_batch_update_keeps_what_each_request_set(emulator, book):
    http = api(emulator, book)
    leads = book.sheet("Leads")
    answer = http.batch(*_provisioning(leads.sheet_id)).json()
    assert [list(r) for r in answer["replies"]] == [[], [], [], [], ["addProtectedRange"]]
    assert leads.props["gridProperties"]["frozenRowCount"] == 1
    assert len(leads.formats) == len(leads.validations) == 1
    got = http.call(
        "GET", "", params={"fields": "sheets(properties,conditionalFormats,protectedRanges)"}
    ).json()
    rule = got["sheets"][0]["conditionalFormats"][0]
    # Google keeps colours as 8-bit channels shown as float32, and mirrors them as *Style:
    assert rule["booleanRule"]["format"] == {
        "backgroundColor": {"red": 0.80784315, "green": 0.91764706},
        "backgroundColorStyle": {"rgbColor": {"red": 0.80784315, "green": 0.91764706}},
    }
    assert got["sheets"][0]["protectedRanges"][0]["warningOnly"] is True
    http.batch(*_provisioning(leads.sheet_id))
    # Formats and validations are set again in place; rules and protections pile up, as on
    # Google: a provisioning that is not idempotent shows here.
    assert len(leads.formats) == len(leads.validations) == 1
    assert len(leads.conditional_formats) == len(leads.protected_ranges) == 2
    assert [next(iter(r)) for r in book.log].count("addConditionalFormatRule") == 2


def test_batch_update_answers_with_the_spreadsheet_its_field_mask_keeps(emulator, book):
    """What the lease's and the write's batchUpdate ask back (backends/sheets_grid.py): under
    a field mask, grid data comes when the mask names it, whatever responseIncludeGridData
    says (Google ignores it then), limited to responseRanges, trailing empties left out."""
    http = api(emulator, book)
    leads = book.sheet("Leads")
    leads.set_values("A1", [["Lead ID", "Email"], ["L-1", "a@b.example"], ["L-2", ""]])
    update = {
        "start": {"sheetId": leads.sheet_id},
        "rows": [{"values": [{"userEnteredValue": {"stringValue": "held"}}]}],
        "fields": "userEnteredValue",
    }
    body = {
        "requests": [{"updateCells": update}],
        "includeSpreadsheetInResponse": True,
        "responseIncludeGridData": False,
    }
    meta = "updatedSpreadsheet(properties(locale,timeZone),sheets(properties(sheetId,title)))"
    got = http.call("POST", ":batchUpdate", params={"fields": meta}, json=body).json()
    assert got == {
        "updatedSpreadsheet": {
            "properties": {"locale": "en_US", "timeZone": "Etc/GMT"},
            "sheets": [
                {"properties": {"sheetId": s.sheet_id, "title": s.title}} for s in book.sheets
            ],
        }
    }
    assert leads.values()[0] == ["held", "Email"]
    cells = (
        "updatedSpreadsheet.sheets(properties.title,"
        "data(startColumn,rowData.values.formattedValue))"
    )
    body["responseRanges"] = ["Leads!B:B"]
    got = http.call("POST", ":batchUpdate", params={"fields": cells}, json=body).json()
    assert got["updatedSpreadsheet"]["sheets"] == [
        {
            "properties": {"title": "Leads"},
            "data": [
                {
                    "startColumn": 1,
                    "rowData": [
                        {"values": [{"formattedValue": "Email"}]},
                        {"values": [{"formattedValue": "a@b.example"}]},
                    ],
                }
            ],
        }
    ]


def test_batch_update_is_all_or_nothing(emulator, book):
    http = api(emulator, book)
    failed = http.batch(
        {"addSheet": {"properties": {"title": "New"}}},
        {
            "updateSheetProperties": {
                "properties": {"sheetId": 0, "title": "History"},
                "fields": "title",
            }
        },
    )
    assert failed.status_code == 400
    assert failed.json()["error"]["message"] == (
        'Invalid requests[1].updateSheetProperties: A sheet with the name "History" already '
        "exists. Please enter another name."
    )
    assert [s.title for s in book.sheets] == ["Leads", "History"]
    leads = book.sheet("Leads")
    leads.set_values("A1", [["kept"]])
    rows = {"sheetId": 0, "dimension": "ROWS", "startIndex": 0, "endIndex": 1}
    failed = http.batch({"deleteDimension": {"range": rows}}, {"deleteSheet": {"sheetId": 12345}})
    assert (
        failed.json()["error"]["message"]
        == "Invalid requests[1].deleteSheet: No grid with id: 12345"
    )
    assert leads is book.sheet("Leads") and leads.values() == [["kept"]]  # undone in place


def test_a_failed_batch_puts_cells_rows_and_keys_back(emulator, book):
    """The backup keeps each row's own cells and key (copied apart from the rows): cells
    typed over, rows sorted and appended by requests before the failing one are undone."""
    http = api(emulator, book)
    leads = book.sheet("Leads")
    leads.set_values("A1", [["b", "2"], ["a", "1"]])
    before = (leads.values(), [r.key for r in leads.rows], leads.row_count)
    cells = {"values": [{"userEnteredValue": {"stringValue": "typed over"}}]}
    failed = http.batch(
        {"updateCells": {"start": {"sheetId": 0}, "rows": [cells], "fields": "*"}},
        {"sortRange": {"range": {"sheetId": 0}, "sortSpecs": [{"dimensionIndex": 1}]}},
        {"appendDimension": {"sheetId": 0, "dimension": "ROWS", "length": 5}},
        {"deleteSheet": {"sheetId": 12345}},
    )
    assert failed.status_code == 400
    assert (leads.values(), [r.key for r in leads.rows], leads.row_count) == before


def test_sheet_properties_follow_the_field_mask(emulator, book):
    http = api(emulator, book)
    history = book.sheet("History")
    hide = {
        "sheetId": history.sheet_id,
        "hidden": True,
        "title": "Log",
        "gridProperties": {"frozenRowCount": 2},
    }
    http.batch(
        {
            "updateSheetProperties": {
                "properties": hide,
                "fields": "hidden,gridProperties/frozenRowCount",
            }
        }
    )
    assert history.properties()["hidden"] is True and history.title == "History"
    assert history.properties()["gridProperties"] == {
        "rowCount": 1000,
        "columnCount": 26,
        "frozenRowCount": 2,
    }
    hide_all = http.batch(
        {
            "updateSheetProperties": {
                "properties": {"sheetId": 0, "hidden": True},
                "fields": "hidden",
            }
        }
    )
    assert hide_all.json()["error"]["message"] == (
        "Invalid requests[0].updateSheetProperties: You can't hide all the sheets in a document."
    )


def test_human_edits_through_the_api(emulator, book):
    http = api(emulator, book)
    leads = book.sheet("Leads")
    leads.set_values("A1", [["Name", "Score"], ["Cy", "2"], ["Ada", "10"], ["", ""], ["Bo", "1"]])
    sort = {"range": {"sheetId": 0, "startRowIndex": 1}, "sortSpecs": [{"dimensionIndex": 0}]}
    http.batch({"sortRange": sort})
    assert leads.values()[:4] == [["Name", "Score"], ["Ada", "10"], ["Bo", "1"], ["Cy", "2"]]
    rows = {"sheetId": 0, "dimension": "ROWS", "startIndex": 1, "endIndex": 2}
    http.batch({"insertDimension": {"range": rows}})
    assert leads.values()[:3] == [["Name", "Score"], [], ["Ada", "10"]]
    http.batch(
        {"deleteDimension": {"range": rows}},
        {"deleteDimension": {"range": {**rows, "dimension": "COLUMNS"}}},
    )
    assert leads.values()[:2] == [["Name"], ["Ada"]]


# -- developer metadata: row identity ---------------------------------------------------------


def _tag_rows(emulator, book, ids):
    requests_ = [
        {
            "createDeveloperMetadata": {
                "developerMetadata": {
                    "metadataKey": "lead",
                    "metadataValue": lead,
                    "visibility": "DOCUMENT",
                    "location": {
                        "dimensionRange": {
                            "sheetId": 0,
                            "dimension": "ROWS",
                            "startIndex": row,
                            "endIndex": row + 1,
                        }
                    },
                }
            }
        }
        for row, lead in ids
    ]
    return api(emulator, book).batch(*requests_).json()["replies"]


def _rows_of(emulator, book):
    found = api(emulator, book).call(
        "POST",
        "/developerMetadata:search",
        json={"dataFilters": [{"developerMetadataLookup": {"metadataKey": "lead"}}]},
    )
    return {
        m["developerMetadata"]["metadataValue"]: m["developerMetadata"]["location"][
            "dimensionRange"
        ]["startIndex"]
        for m in found.json().get("matchedDeveloperMetadata", [])
    }


def test_row_metadata_moves_with_its_row(emulator, book):
    leads = book.sheet("Leads")
    leads.set_values("A1", [["Lead ID", "Name"], ["L-1", "Cy"], ["L-2", "Ada"], ["L-3", "Bo"]])
    replies = _tag_rows(emulator, book, [(1, "L-1"), (2, "L-2"), (3, "L-3")])
    meta = replies[0]["createDeveloperMetadata"]["developerMetadata"]
    assert meta["location"] == {
        "locationType": "ROW",
        "dimensionRange": {"dimension": "ROWS", "startIndex": 1, "endIndex": 2},
    }
    # a person sorts the tab by name: values move, metadata stays where it was (Google
    # documents nothing of sorts and row metadata, so the stand-in promises nothing)
    leads.sort_rows("Name")
    assert _rows_of(emulator, book) == {"L-1": 1, "L-2": 2, "L-3": 3}
    assert [r[0] for r in leads.values()[1:4]] == ["L-2", "L-3", "L-1"]
    leads.insert_rows(1)  # ... inserts a row at the top: metadata follows its row
    assert _rows_of(emulator, book) == {"L-1": 2, "L-2": 3, "L-3": 4}
    leads.delete_rows(3)  # ... and deletes the second row: its metadata goes with it
    assert _rows_of(emulator, book) == {"L-1": 2, "L-3": 3}
    lookup = {"developerMetadataLookup": {"metadataKey": "lead", "metadataValue": "L-1"}}
    write = {
        "valueInputOption": "RAW",
        "data": [{"dataFilter": lookup, "values": [["L-1", "Cy", "A"]]}],
    }
    written = api(emulator, book).call("POST", "/values:batchUpdateByDataFilter", json=write).json()
    assert written["responses"][0]["updatedRange"] == "Leads!A3:C3"
    read = (
        api(emulator, book)
        .call("POST", "/values:batchGetByDataFilter", json={"dataFilters": [lookup]})
        .json()
    )
    assert read["valueRanges"][0]["valueRange"]["values"] == [["L-1", "Cy", "A"]]


def test_metadata_can_be_looked_up_updated_and_deleted(emulator, book):
    (reply,) = _tag_rows(emulator, book, [(5, "L-9")])
    meta_id = reply["createDeveloperMetadata"]["developerMetadata"]["metadataId"]
    assert (
        api(emulator, book).call("GET", f"/developerMetadata/{meta_id}").json()["metadataValue"]
        == "L-9"
    )
    by_id = [{"developerMetadataLookup": {"metadataId": meta_id}}]
    changed = {
        "updateDeveloperMetadata": {
            "dataFilters": by_id,
            "developerMetadata": {"metadataValue": "L-10"},
            "fields": "metadataValue",
        }
    }
    api(emulator, book).batch(changed)
    assert _rows_of(emulator, book) == {"L-10": 5}
    api(emulator, book).batch({"deleteDeveloperMetadata": {"dataFilter": by_id[0]}})
    assert _rows_of(emulator, book) == {}
    assert api(emulator, book).call("GET", f"/developerMetadata/{meta_id}").status_code == 404


# -- simulated limits -------------------------------------------------------------------------


def test_quotas_count_reads_and_writes_apart_and_answer_429():
    clock = ManualClock()
    with Emulator(quota_per_minute=3, clock=clock) as emulator:
        book = emulator.store.create(sheets=["Leads"])
        http = api(emulator, book)
        statuses = [
            http.call(
                "GET", "/values:batchGet", params={"ranges": ["Leads", "Leads!A1"]}
            ).status_code
            for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]  # a batch counts as one request
        assert http.put("Leads!A1", [["x"]]).status_code == 200  # writes have their own quota
        refused = http.get("Leads!A1")
        assert (
            refused["error"]["code"] == 429 and refused["error"]["status"] == "RESOURCE_EXHAUSTED"
        )
        assert refused["error"]["message"].startswith(
            "Quota exceeded for quota metric 'Read requests'"
        )
        clock.advance(60)
        assert "values" in http.get("Leads!A1")
        emulator.limits.read_quota = None
        assert all("values" in http.get("Leads!A1") for _ in range(5))


def test_random_faults_are_deterministic_with_a_seed():
    def statuses(seed):
        with Emulator(quota_per_minute=None, fault_rate=0.5, seed=seed) as emulator:
            book = emulator.store.create()
            return [api(emulator, book).call("GET", "").status_code for _ in range(16)]

    first = statuses(7)
    assert first == statuses(7)
    assert {200, 500, 503} <= set(first)
    assert statuses(8) != first


def test_injected_faults_and_dropped_connections(emulator, book):
    http = api(emulator, book)
    emulator.inject(503, 500, DROP, 429)
    assert http.get("Leads!A1")["error"] == {
        "code": 503,
        "message": "The service is currently unavailable.",
        "status": "UNAVAILABLE",
    }
    assert http.get("Leads!A1")["error"]["status"] == "INTERNAL"
    with pytest.raises(requests.ConnectionError):
        http.get("Leads!A1")
    assert http.get("Leads!A1")["error"]["code"] == 429
    assert http.get("Leads!A1") == {"range": "Leads!A1", "majorDimension": "ROWS"}
    emulator.inject(DROP_AFTER)  # the write happens, the answer is lost
    with pytest.raises(requests.ConnectionError):
        http.put("Leads!A1", [["written"]])
    assert book.sheet("Leads").values() == [["written"]]
    assert emulator.stats()["byStatus"] == {"503": 1, "500": 1, "dropped": 2, "429": 1, "200": 1}


def test_latency_is_added_to_every_request(emulator, book):
    http = api(emulator, book)
    emulator.limits.latency_ms = 60
    started = time.perf_counter()
    http.get("Leads!A1")
    http.get("Leads!A1")
    assert time.perf_counter() - started >= 0.12


def test_limits_can_be_changed_over_http(emulator, book):
    control = f"{emulator.url}/_emulator/limits"
    changed = requests.patch(control, json={"latency_ms": 5, "inject": [503]}, timeout=5).json()
    assert changed["latency_ms"] == 5
    assert api(emulator, book).get("Leads!A1")["error"]["code"] == 503
    assert requests.patch(control, json={"nope": 1}, timeout=5).status_code == 400


# -- the "human edit" hook and request counts ---------------------------------------------------


def test_hook_runs_between_two_requests(emulator, book):
    http = api(emulator, book)
    leads = book.sheet("Leads")
    leads.set_values("A1", [["Name"], ["Bo"], ["Ada"]])
    emulator.before_request(
        lambda store: store[book.spreadsheet_id].sheet("Leads").sort_rows("Name"),
        when=lambda info: info.kind == "write",
    )
    assert http.get("Leads")["values"] == [["Name"], ["Bo"], ["Ada"]]  # a read: not yet
    http.put("Leads!B1", [["Score"]])  # the sort lands right before this write
    assert leads.values() == [["Name", "Score"], ["Ada"], ["Bo"]]
    http.put("Leads!B2", [["1"]])
    assert leads.values()[1] == ["Ada", "1"]  # once only
    emulator.before_request(lambda store: 1 / 0)
    assert http.get("Leads!A1")["error"]["code"] == 500
    assert isinstance(emulator.errors.pop(), ZeroDivisionError)


def test_requests_are_counted_by_kind_and_endpoint(emulator, book):
    http = api(emulator, book)
    http.get("Leads!A1")
    http.call("GET", "/values:batchGet", params={"ranges": ["Leads", "History"]})
    http.put("Leads!A1", [["x"]])
    http.batch({"addSheet": {"properties": {"title": "X"}}}, {"addSheet": {}})
    stats = requests.get(f"{emulator.url}/_emulator/stats", timeout=5).json()
    assert stats == emulator.stats()
    assert (stats["total"], stats["reads"], stats["writes"]) == (4, 2, 2)
    assert stats["byEndpoint"] == {
        "values.get": 1,
        "values.batchGet": 1,
        "values.update": 1,
        "spreadsheets.batchUpdate": 1,
    }
    assert stats["batchUpdateRequests"] == {"addSheet": 2}
    requests.delete(f"{emulator.url}/_emulator/stats", timeout=5)
    assert emulator.stats()["total"] == 0


# -- through gspread ------------------------------------------------------------------------


def gspread_client(emulator: Emulator) -> gspread.Client:
    """A gspread Client on the emulator, with anonymous credentials."""

    class ToEmulator(HTTPClient):
        def request(self, method, endpoint, *args, **kwargs):
            return super().request(method, endpoint.replace(GOOGLE, emulator.url), *args, **kwargs)

    return gspread.Client(AnonymousCredentials(), http_client=ToEmulator)


def test_gspread_works_against_the_emulator(emulator, book):
    client = gspread_client(emulator)
    spreadsheet = client.open_by_key(book.spreadsheet_id)
    assert [w.title for w in spreadsheet.worksheets()] == ["Leads", "History"]
    leads = spreadsheet.worksheet("Leads")
    leads.update([["Lead ID", "Phone"], ["L-1", "0612345678"]], "A1", value_input_option="RAW")
    leads.append_row(["L-2", "00123"], value_input_option="RAW", table_range="A1")
    assert leads.get_all_values() == [["Lead ID", "Phone"], ["L-1", "0612345678"], ["L-2", "00123"]]
    assert leads.batch_get(["A2:A", "B1"]) == [[["L-1"], ["L-2"]], [["Phone"]]]
    leads.update_acell("C1", "=2*21")  # gspread writes USER_ENTERED here: a formula
    assert leads.acell("C1").value == "42"
    meta = spreadsheet.fetch_sheet_metadata({"fields": "sheets.properties.title"})
    assert meta == {
        "sheets": [{"properties": {"title": "Leads"}}, {"properties": {"title": "History"}}]
    }
    new = spreadsheet.add_worksheet("Problems", rows=10, cols=5)
    assert (new.row_count, new.col_count) == (10, 5)
    with pytest.raises(gspread.SpreadsheetNotFound):
        client.open_by_key("nope")
    book.shared = False
    with pytest.raises(PermissionError):
        client.open_by_key(book.spreadsheet_id)


# -- the command line -----------------------------------------------------------------------


def test_command_line_serves_on_loopback():
    command = [sys.executable, "-m", "sheetcrm.emulator", "--port", "0", "--create", "demo-sheet"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stderr is not None
        host = ""
        for _ in range(5):
            line = process.stderr.readline()
            if line.startswith("export SHEETS_EMULATOR_HOST="):
                host = line.strip().split("=", 1)[1]
                break
        assert host.startswith("127.0.0.1:")
        answer = requests.get(f"http://{host}/v4/spreadsheets/demo-sheet", timeout=5).json()
        assert answer["sheets"][0]["properties"]["title"] == "Sheet1"
        assert requests.get(f"http://{host}/_emulator/stats", timeout=5).json()["reads"] == 1
    finally:
        process.terminate()
        process.wait(timeout=5)
        if process.stderr is not None:
            process.stderr.close()


# -- replaying Google's recorded answers --------------------------------------------------------
#
# Every cassette is a gspread test recorded against the real API. The replay runs the first
# recording of each: the Drive "create file" that starts it becomes a spreadsheet in the
# store (titled as recorded, with Google's default Sheet1); then each Sheets API request is
# sent through gspread's HTTP client, with the recorded spreadsheet, sheet, protected-range
# and metadata IDs mapped to the emulator's, and the answer must match the recorded one:
# the same status, the same keys at every level, the same list lengths, the same JSON types,
# and the same values — ranges, values, titles, messages, replies — except IDs (compared by
# type only) and editors' e-mail addresses. Other Drive calls are skipped.

TYPE_ONLY = {
    "spreadsheetId",
    "sheetId",
    "protectedRangeId",
    "metadataId",
    "spreadsheetUrl",
    "users",
}
MAPPED_IDS = ("sheetId", "protectedRangeId", "metadataId")
NOT_EMULATED = {
    # Named ranges are not emulated:
    "CellTest.test_define_named_range.json": "named ranges",
    "CellTest.test_delete_named_range.json": "named ranges",
    "CellTest.test_update_named_range.json": "named ranges",
    "WorksheetTest.test_get_values_merge_cells_with_named_range.json": "named ranges",
    # Drive (copies, CSV import, listing files) is not emulated:
    "ClientTest.test_copy.json": "Drive copy",
    "ClientTest.test_import_csv.json": "Drive CSV import",
    "ClientTest.test_open_all_has_metadata.json": "Drive file listing",
    "ClientTest.test_openall.json": "Drive file listing",
    # Nor these batchUpdate requests and what they show:
    "WorksheetTest.test_copy_cut_range.json": "copyPaste / cutPaste",
    "WorksheetTest.test_group_columns.json": "dimension groups",
    "WorksheetTest.test_group_rows.json": "dimension groups",
    "WorksheetTest.test_auto_resize_columns.json": "column pixel sizes",
}
REPLAYED = sorted(p.name for p in CASSETTES.glob("*.json")) if CASSETTES.is_dir() else []


def shape_differences(recorded: Any, answered: Any, path: str = "") -> list[str]:
    key = path.rsplit(".", 1)[-1].split("[")[0]
    if isinstance(recorded, dict) and isinstance(answered, dict):
        out = [f"{path}.{k}: missing" for k in recorded if k not in answered]
        out += [f"{path}.{k}: not in Google's answer" for k in answered if k not in recorded]
        for k in recorded.keys() & answered.keys():
            out += shape_differences(recorded[k], answered[k], f"{path}.{k}")
        return out
    if isinstance(recorded, list) and isinstance(answered, list):
        if len(recorded) != len(answered):
            return [f"{path}: {len(recorded)} items, answered {len(answered)}"]
        return [
            d
            for i, pair in enumerate(zip(recorded, answered, strict=True))
            for d in shape_differences(*pair, f"{path}[{i}]")
        ]
    numbers = (int, float)
    same_type = type(recorded) is type(answered) or (
        type(recorded) in numbers and type(answered) in numbers
    )
    if not same_type:
        return [f"{path}: {recorded!r} answered as {answered!r}"]
    if key not in TYPE_ONLY and recorded != answered:
        return [f"{path}: {recorded!r} answered as {answered!r}"]
    return []


def _first_recording(interactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cassettes hold two recordings of the same test, each starting with a Drive create."""
    runs: list[list[dict[str, Any]]] = []
    for interaction in interactions:
        request = interaction["request"]
        if request["method"] == "POST" and urlsplit(request["uri"]).path == "/drive/v3/files":
            runs.append([])
        if runs:
            runs[-1].append(interaction)
    return runs[0] if runs else []


def _remap(value: Any, ids: dict[Any, Any], key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _remap(v, ids, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_remap(v, ids, key) for v in value]
    if key in MAPPED_IDS:
        return ids.get((key, value), value)
    if isinstance(value, str):
        for old, new in ids.items():
            if isinstance(old, str):
                value = value.replace(old, new)
    return value


def _learn_ids(recorded: Any, answered: Any, ids: dict[Any, Any]) -> None:
    if isinstance(recorded, dict) and isinstance(answered, dict):
        for key in recorded.keys() & answered.keys():
            if key in MAPPED_IDS:
                ids[(key, recorded[key])] = answered[key]
            else:
                _learn_ids(recorded[key], answered[key], ids)
    elif isinstance(recorded, list) and isinstance(answered, list):
        for pair in zip(recorded, answered, strict=False):
            _learn_ids(*pair, ids)


@pytest.fixture(scope="module")
def replay_client():
    with Emulator(quota_per_minute=None) as running:
        yield running, gspread_client(running).http_client
    assert running.errors == []


@pytest.mark.skipif(not REPLAYED, reason=f"the recorded cassettes are not here: {CASSETTES}")
@pytest.mark.parametrize("name", REPLAYED or ["none"])
def test_answers_match_googles_recorded_answers(replay_client, name):
    if name in NOT_EMULATED:
        pytest.skip(f"not emulated: {NOT_EMULATED[name]}")
    emulator, http = replay_client
    ids: dict[Any, Any] = {}
    differences, replayed = [], 0
    for n, interaction in enumerate(
        _first_recording(json.loads((CASSETTES / name).read_text())["interactions"])
    ):
        request, recorded = interaction["request"], interaction["response"]
        if not request["uri"].startswith(GOOGLE):
            if request["method"] == "POST" and urlsplit(request["uri"]).path == "/drive/v3/files":
                created = emulator.store.create(json.loads(request["body"])["name"])
                ids[json.loads(recorded["body"]["string"])["id"]] = created.spreadsheet_id
            continue
        uri = _remap(request["uri"], ids)
        target = urlsplit(uri).path.split("/")[3].split(":")[0]
        if recorded["status"]["code"] == 403 and target not in emulator.store:
            emulator.store.create(spreadsheet_id=target).shared = False  # exists, not shared
        body = (
            json.dumps(_remap(json.loads(request["body"]), ids)).encode()
            if request["body"]
            else None
        )
        headers = {"Content-Type": "application/json"} if body else None
        try:
            answer = http.request(request["method"], uri, data=body, headers=headers)
        except gspread.exceptions.APIError as exc:
            answer = exc.response
        replayed += 1
        where = f"#{n} {request['method']} {urlsplit(uri).path.split('/', 4)[-1][:60]}"
        if answer.status_code != recorded["status"]["code"]:
            status = recorded["status"]["code"]
            differences.append(f"{where}: status {status}, answered {answer.status_code}")
            continue
        if recorded["body"]["string"].strip():
            expected = json.loads(recorded["body"]["string"])
            _learn_ids(expected, answer.json(), ids)
            differences += [f"{where}: {d}" for d in shape_differences(expected, answer.json())]
    assert replayed, "no Sheets API request in this cassette"
    assert not differences, "\n".join(differences)


@pytest.mark.skipif(not REPLAYED, reason=f"the recorded cassettes are not here: {CASSETTES}")
def test_the_replay_covers_what_sheetcrm_uses():
    replayed = set(REPLAYED) - set(NOT_EMULATED)
    assert len(replayed) >= 10
    for must in [
        "SpreadsheetTest.test_values_batch_get.json",
        "WorksheetTest.test_batch_update.json",
        "WorksheetTest.test_append_row_with_empty_value_and_table_range.json",
        "WorksheetTest.test_get_all_records_value_render_options.json",
        "WorksheetTest.test_batch_clear.json",
        "WorksheetTest.test_add_validation.json",  # 400 INVALID_ARGUMENT
        "WorksheetTest.test_hide_show_worksheet.json",  # 400 on a batchUpdate request
        "ClientTest.test_access_non_existing_spreadsheet.json",  # 404
        "ClientTest.test_access_private_spreadsheet.json",  # 403
        "WorksheetTest.test_add_protected_range_warning.json",
    ]:
        assert must in replayed
