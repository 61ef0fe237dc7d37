"""What Google fills in: spreadsheet properties of a new spreadsheet (copied from a real
spreadsheets.get answer in the gspread cassettes), and how it echoes ranges and colours."""

from __future__ import annotations

import copy
import struct
from typing import Any


def _rgb(red: float, green: float, blue: float) -> dict[str, float]:
    return {"red": red, "green": green, "blue": blue}


_THEME = [
    ("TEXT", {}),
    ("BACKGROUND", _rgb(1, 1, 1)),
    ("ACCENT1", _rgb(0.25882354, 0.52156866, 0.95686275)),
    ("ACCENT2", _rgb(0.91764706, 0.2627451, 0.20784314)),
    ("ACCENT3", _rgb(0.9843137, 0.7372549, 0.015686275)),
    ("ACCENT4", _rgb(0.20392157, 0.65882355, 0.3254902)),
    ("ACCENT5", _rgb(1, 0.42745098, 0.003921569)),
    ("ACCENT6", _rgb(0.27450982, 0.7411765, 0.7764706)),
    ("LINK", _rgb(0.06666667, 0.33333334, 0.8)),
]


def spreadsheet_properties(title: str) -> dict[str, Any]:
    return {
        "title": title,
        "locale": "en_US",
        "autoRecalc": "ON_CHANGE",
        "timeZone": "Etc/GMT",
        "defaultFormat": {
            "backgroundColor": _rgb(1, 1, 1),
            "padding": {"top": 2, "right": 3, "bottom": 2, "left": 3},
            "verticalAlignment": "BOTTOM",
            "wrapStrategy": "OVERFLOW_CELL",
            "textFormat": {
                "foregroundColor": {},
                "fontFamily": "arial,sans,sans-serif",
                "fontSize": 10,
                "bold": False,
                "italic": False,
                "strikethrough": False,
                "underline": False,
                "foregroundColorStyle": {"rgbColor": {}},
            },
            "backgroundColorStyle": {"rgbColor": _rgb(1, 1, 1)},
        },
        "spreadsheetTheme": {
            "primaryFontFamily": "Arial",
            "themeColors": [{"colorType": t, "color": {"rgbColor": c}} for t, c in _THEME],
        },
    }


def echo_grid_range(grid: dict[str, Any]) -> dict[str, Any]:
    """A GridRange as Google answers it: a zero sheetId left out (proto3 default)."""
    return {k: v for k, v in grid.items() if not (k == "sheetId" and not v)}


def with_color_styles(value: Any) -> Any:
    """Google answers every ``fooColor`` also as ``fooColorStyle: {"rgbColor": ...}``."""
    if isinstance(value, list):
        return [with_color_styles(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: with_color_styles(v) for k, v in value.items()}
    for key, colour in value.items():
        if key.endswith("Color") and isinstance(colour, dict) and f"{key}Style" not in value:
            out[f"{key}Style"] = {"rgbColor": colour}
    return out


def clean(value: Any) -> Any:
    """A request's JSON as Google keeps it: nulls dropped, colours as 8-bit channels shown as
    float32 with zero channels left out (``{"red": 1, "green": 0, "blue": 0.5}`` is echoed
    ``{"red": 1, "blue": 0.49803922}``)."""
    if isinstance(value, list):
        return [clean(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, sub in value.items():
        if sub is None:
            continue
        is_colour = isinstance(sub, dict) and (key == "rgbColor" or key.endswith("Color"))
        out[key] = _colour(sub) if is_colour else clean(sub)
    return out


def _colour(colour: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for channel, level in colour.items():
        if channel in ("red", "green", "blue") and isinstance(level, int | float):
            level = _float32_text(int(level * 255 + 1e-9) / 255)
        if level:
            out[channel] = level
    return out


def _float32_text(number: float) -> float | int:
    """The shortest decimal that reads back as the same float32, as Google prints colours."""
    single = struct.unpack("f", struct.pack("f", number))[0]
    for digits in range(1, 10):
        shown = float(f"{single:.{digits}g}")
        if struct.unpack("f", struct.pack("f", shown))[0] == single:
            break
    return int(shown) if shown.is_integer() else shown


def _echo_spec(spec: Any) -> Any:
    """A spec as Google answers it: the GridRanges of its sources without a zero sheetId."""
    if isinstance(spec, dict):
        out: dict[str, Any] = {}
        for key, value in spec.items():
            if key == "sources" and isinstance(value, list):
                out[key] = [echo_grid_range(g) for g in value]
            else:
                out[key] = _echo_spec(value)
        return out
    if isinstance(spec, list):
        return [_echo_spec(v) for v in spec]
    return spec


def echo_chart(chart: dict[str, Any]) -> dict[str, Any]:
    out = {"chartId": chart["chartId"], "spec": _echo_spec(chart["spec"])}
    position = copy.deepcopy(chart["position"])
    anchor = position.get("overlayPosition", {}).get("anchorCell")
    if anchor is not None and not anchor.get("sheetId"):
        anchor.pop("sheetId", None)
    out["position"] = position
    return out
