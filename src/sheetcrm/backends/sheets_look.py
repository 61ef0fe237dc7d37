"""The look of a provisioned Google Sheet, as spreadsheets.batchUpdate requests.

Pure: from the template's tabs and the sheet's current metadata, the requests that are still
missing. Frozen bold headers and drop-downs are set the same way every time (setting them
again changes nothing); conditional formats and protected ranges are added only when one like
it is not there yet, so running ``sheetcrm init`` twice adds no duplicate rules.
"""

from __future__ import annotations

from typing import Any

from sheetcrm.engine.schema import LEADS, STAGES, STATE, TEAM, Owner, tab_spec
from sheetcrm.engine.table import Table, column_letter

PROTECTED = "sheetcrm: filled by the sync; your edits here are overwritten"
GREY = {"red": 0.93, "green": 0.93, "blue": 0.93}
GRADES = {
    "A": {"red": 0.81, "green": 0.92, "blue": 0.84},
    "B": {"red": 0.90, "green": 0.96, "blue": 0.92},
    "C": {"red": 1.0, "green": 0.97, "blue": 0.88},
    "D": {"red": 0.99, "green": 0.91, "blue": 0.90},
}
PROBLEM = {"red": 0.99, "green": 0.91, "blue": 0.90}


def _grid(
    sheet_id: int, col: int | None = None, first_row: int = 1, rows: int | None = None
) -> dict[str, Any]:
    grid: dict[str, Any] = {"sheetId": sheet_id, "startRowIndex": first_row}
    if rows is not None:
        grid["endRowIndex"] = first_row + rows
    if col is not None:
        grid["startColumnIndex"], grid["endColumnIndex"] = col, col + 1
    return grid


def _rule(
    sheet_id: int, col: int, condition: dict[str, Any], colour: dict[str, float]
) -> dict[str, Any]:
    return {
        "ranges": [_grid(sheet_id, col)],
        "booleanRule": {"condition": condition, "format": {"backgroundColor": colour}},
    }


def _plain(grid: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """A range as Google echoes it: it leaves out ``sheetId`` when it is 0."""
    return tuple(sorted((k, v) for k, v in grid.items() if not (k == "sheetId" and v == 0)))


def _same_rule(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Rules compare by what they test and where; Google echoes colours with its own rounding."""
    cond = [a.get("booleanRule", {}).get("condition"), b.get("booleanRule", {}).get("condition")]
    ranges = [[_plain(r) for r in x.get("ranges", [])] for x in (a, b)]
    return cond[0] == cond[1] and ranges[0] == ranges[1]


def provisioning_requests(tabs: dict[str, Table], meta: dict[str, Any]) -> list[dict[str, Any]]:
    sheets = {s["properties"]["title"]: s for s in meta.get("sheets", [])}
    requests: list[dict[str, Any]] = []
    for name in tabs:
        sheet = sheets.get(name)
        if sheet is None:
            continue
        props = sheet["properties"]
        sid = props["sheetId"]
        hidden = name == STATE.name
        if (
            props.get("gridProperties", {}).get("frozenRowCount") != 1
            or bool(props.get("hidden")) != hidden
        ):
            requests.append(
                {
                    "updateSheetProperties": {
                        "properties": {
                            "sheetId": sid,
                            "hidden": hidden,
                            "gridProperties": {"frozenRowCount": 1},
                        },
                        "fields": "hidden,gridProperties.frozenRowCount",
                    }
                }
            )
        requests.append(
            {
                "repeatCell": {
                    "range": {"sheetId": sid, "startRowIndex": 0, "endRowIndex": 1},
                    "cell": {"userEnteredFormat": {"textFormat": {"bold": True}}},
                    "fields": "userEnteredFormat.textFormat.bold",
                }
            }
        )
    leads = sheets.get(LEADS.name)
    if leads is not None and LEADS.name in tabs:
        requests += _leads_look(tabs, leads)
    return requests


def _leads_look(tabs: dict[str, Table], sheet: dict[str, Any]) -> list[dict[str, Any]]:
    header = tabs[LEADS.name].header
    sid = sheet["properties"]["sheetId"]
    col = {h: i for i, h in enumerate(header)}
    requests: list[dict[str, Any]] = []
    for column, tab, source in (("Stage", STAGES.name, "Stage"), ("Owner", TEAM.name, "Name")):
        source_col = tabs[tab].header.index(source) if tab in tabs else 0
        letter = column_letter(source_col)
        requests.append(
            {
                "setDataValidation": {
                    "range": _grid(sid, col[column], rows=4999),
                    "rule": {
                        "condition": {
                            "type": "ONE_OF_RANGE",
                            "values": [{"userEnteredValue": f"='{tab}'!${letter}$2:${letter}$500"}],
                        },
                        "strict": False,
                        "showCustomUi": True,
                    },
                }
            }
        )
    wanted = [
        _rule(sid, col["Grade"], {"type": "TEXT_EQ", "values": [{"userEnteredValue": g}]}, colour)
        for g, colour in GRADES.items()
    ]
    status = column_letter(col["Status"])
    wanted.append(
        _rule(
            sid,
            col["Status"],
            {
                "type": "CUSTOM_FORMULA",
                "values": [{"userEnteredValue": f'=AND(LEN(${status}2)>0,${status}2<>"OK")'}],
            },
            PROBLEM,
        )
    )
    existing = sheet.get("conditionalFormats", [])
    for rule in wanted:
        if not any(_same_rule(rule, have) for have in existing):
            requests.append({"addConditionalFormatRule": {"rule": rule, "index": 0}})
    protected = {
        (tuple(sorted(r.get("range", {}).items())), r.get("description"))
        for r in sheet.get("protectedRanges", [])
    }
    spec = tab_spec(LEADS.name)
    for i, h in enumerate(header):
        declared = spec.column(h) if spec else None
        if declared is None or declared.owner is not Owner.SERVICE or h == "Owner":
            continue
        grid = _grid(sid, i, first_row=0)
        if (_plain(grid), PROTECTED) not in protected:
            requests.append(
                {
                    "addProtectedRange": {
                        "protectedRange": {
                            "range": grid,
                            "description": PROTECTED,
                            "warningOnly": True,
                        }
                    }
                }
            )
    return requests
