"""The look of a provisioned Google Sheet, as spreadsheets.batchUpdate requests.

Pure: from the template's tabs and the sheet's current metadata, the requests that are still
missing. The drop-downs and highlighting are engine/look.py's, which the workbook gets too.
Frozen bold headers and drop-downs are set the same way every time (setting them
again changes nothing); conditional formats and protected ranges are added only when one like
it is not there yet, so running ``sheetcrm init`` twice adds no duplicate rules.
"""

from __future__ import annotations

from typing import Any

from sheetcrm.engine.look import FIRST_ROW, Look, PlacedHighlight, place
from sheetcrm.engine.schema import LEADS, SETTINGS, STATE, Owner, tab_spec
from sheetcrm.engine.table import Table

PROTECTED = "sheetcrm: filled by the sync; your edits here are overwritten"


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
    ids = {name: sheet["properties"]["sheetId"] for name, sheet in sheets.items()}
    return requests + word_requests(_look(tabs), ids)


def _look(tabs: dict[str, Table]) -> Look:
    settings = tabs.get(SETTINGS.name)
    keys = settings.column("Key") if settings is not None and "Key" in settings.header else []
    return place({name: table.header for name, table in tabs.items()}, keys)


def word_requests(look: Look, sheet_ids: dict[str, int]) -> list[dict[str, Any]]:
    """The fixed-word drop-downs (engine/look.py): not strict, so a value typed in other
    words (French ones, an alias) is kept, and the sync says whether it reads it; setting
    one again replaces it."""
    requests = []
    for w in look.words:
        sid = sheet_ids.get(w.tab)
        if sid is None:
            continue
        grid = (
            _grid(sid, w.col, first_row=FIRST_ROW - 1)
            if w.row is None
            else _grid(sid, w.col, first_row=w.row - 1, rows=1)
        )
        values = [{"userEnteredValue": word} for word in w.spec.words]
        rule = {
            "condition": {"type": "ONE_OF_LIST", "values": values},
            "strict": False,
            "showCustomUi": True,
        }
        requests.append({"setDataValidation": {"range": grid, "rule": rule}})
    return requests


def colour(hex_rgb: str) -> dict[str, float]:
    """RRGGBB as the Sheets API's Color: exact 8-bit levels, which Google keeps as they are
    (it cuts a level to 8 bits, so a rounded 0.9882 would come back one shade darker)."""
    parts = (int(hex_rgb[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return dict(zip(("red", "green", "blue"), parts, strict=True))


def dropdown_requests(look: Look, sheet_id: int) -> list[dict[str, Any]]:
    """The Leads drop-downs, down the whole column: setting one again replaces it."""
    return [
        {
            "setDataValidation": {
                "range": _grid(sheet_id, d.col, first_row=FIRST_ROW - 1),
                "rule": {
                    "condition": {
                        "type": "ONE_OF_RANGE",
                        "values": [{"userEnteredValue": f"={d.source}"}],
                    },
                    "strict": False,
                    "showCustomUi": True,
                },
            }
        }
        for d in look.dropdowns
    ]


def highlight_rule(placed: PlacedHighlight, sheet_id: int) -> dict[str, Any]:
    if placed.spec.equals is not None:
        condition = {"type": "TEXT_EQ", "values": [{"userEnteredValue": placed.spec.equals}]}
    else:
        formula = [{"userEnteredValue": f"={placed.formula}"}]
        condition = {"type": "CUSTOM_FORMULA", "values": formula}
    return _rule(sheet_id, placed.col, condition, colour(placed.spec.colour))


def _leads_look(tabs: dict[str, Table], sheet: dict[str, Any]) -> list[dict[str, Any]]:
    header = tabs[LEADS.name].header
    sid = sheet["properties"]["sheetId"]
    look = _look(tabs)
    requests = dropdown_requests(look, sid)
    wanted = [highlight_rule(h, sid) for h in look.highlights]
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
