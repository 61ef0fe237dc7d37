"""What a save through openpyxl would destroy, found before any write.

openpyxl saves a workbook by rewriting the whole file from what it understood of it, so
anything it does not model is gone after the first save. The package is therefore inspected
before a write: any part openpyxl does not write back refuses it, naming what and where,
rather than lose a person's chart or pivot table. A workbook open in a spreadsheet program
is refused too.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Callable, Collection
from pathlib import Path
from xml.etree import ElementTree as ET

from sheetcrm.backends.xlsx_parts import sheet_owners
from sheetcrm.errors import BackendError, SheetLockedError, UnsafeWorkbookError

# What openpyxl reads and writes back, or rebuilds with nothing a person made lost, by content
# type ([Content_Types].xml); any other part is refused, named. Checked against openpyxl 3.1
# reader/excel.py and writer/excel.py.
_ML = "application/vnd.openxmlformats-officedocument.spreadsheetml."
_OFFICE = "application/vnd.openxmlformats-officedocument."
_KEPT = frozenset(
    {
        _ML + "sheet.main+xml",
        _ML + "worksheet+xml",
        _ML + "chartsheet+xml",
        _ML + "styles+xml",
        _ML + "sharedStrings+xml",
        _ML + "comments+xml",  # notes; their VML boxes are checked apart
        _ML + "table+xml",
        _ML + "externalLink+xml",
        _ML + "calcChain+xml",  # dropped, and rebuilt by Excel
        _ML + "printerSettings",  # the printer driver's blob; the page setup is in the sheet
        _OFFICE + "theme+xml",
        _OFFICE + "extended-properties+xml",  # rewritten: the saving application's name
        _OFFICE + "custom-properties+xml",
        "application/vnd.openxmlformats-package.core-properties+xml",
    }
)
_CHART_PARTS = frozenset(  # re-serialised from openpyxl's model: styles and extensions go
    {
        _OFFICE + "drawingml.chart+xml",
        _OFFICE + "drawingml.chartshapes+xml",
        _OFFICE + "themeOverride+xml",
        "application/vnd.ms-office.chartstyle+xml",
        "application/vnd.ms-office.chartcolorstyle+xml",
    }
)
_DRAWING = _OFFICE + "drawing+xml"
_VML = _OFFICE + "vmlDrawing"
# What a refused part is, for the message, by part name; anything else is named as it is.
_NAMED_PARTS = (
    ("xl/vbaProject", "macros (VBA)"),
    ("xl/media/", "a picture"),
    ("xl/diagrams/", "a SmartArt graphic"),
    ("xl/pivotTables/", "a pivot table"),
    ("xl/pivotCache/", "a pivot table's data cache"),
    ("xl/slicers/", "a slicer"),
    ("xl/slicerCaches/", "a slicer"),
    ("xl/timelines/", "a timeline"),
    ("xl/timelineCaches/", "a timeline"),
    ("xl/embeddings/", "an embedded object"),
    ("xl/ctrlProps/", "a form control"),
    ("xl/activeX/", "an ActiveX control"),
    ("xl/threadedComments/", "threaded comments"),
    ("xl/persons/", "the people of threaded comments"),
    ("xl/connections.xml", "a data connection"),
    ("xl/queryTables/", "a query table"),
    ("xl/model/", "a data model (Power Pivot)"),
    ("xl/metadata.xml", "dynamic array formulas or data types"),
    ("xl/richData/", "pictures in cells or data types"),
    ("xl/webextensions/", "an add-in"),
    ("customXml/", "custom XML data"),
)
_SHAPES = {"sp", "grpSp", "cxnSp", "contentPart"}  # drawing anchors openpyxl does not write back
_REDRAWABLE = {"a chart", "a shape or text box"}  # lost without harm on a tab that is redrawn
_UNLOCK_HINT = "close it in Excel/LibreOffice, then run the sync again"


def check_unlocked(path: Path) -> None:
    """Refuse when a spreadsheet program has the file open (its lock file is beside it)."""
    for name in (f"~${path.name}", f".~lock.{path.name}#"):
        lock = path.with_name(name)
        if lock.exists():
            raise SheetLockedError(
                f"{path.name} is open in a spreadsheet program (lock file {lock}); "
                "nothing was written",
                f"{_UNLOCK_HINT} (if no program has it open, delete the lock file)",
            )


def check_safe(path: Path, redrawn: Collection[str]) -> None:
    """Refuse when the package holds parts a save would destroy (see :func:`risky_content`)."""
    try:
        found = risky_content(path, redrawn)
    except (zipfile.BadZipFile, KeyError, ET.ParseError) as exc:
        raise BackendError(f"{path} is not a readable .xlsx workbook ({exc})") from exc
    if found:
        raise UnsafeWorkbookError(
            f"{path} holds {', '.join(found)}, which saving with openpyxl would "
            "destroy; nothing was written",
            "move it to another workbook (or keep it in a copy that sheetcrm does not sync)",
        )


def check_kept(path: Path, lost: list[str]) -> None:
    """Refuse when :func:`~sheetcrm.backends.xlsx_package.load` warned that openpyxl would
    drop something."""
    if not lost:
        return
    raise UnsafeWorkbookError(
        f"{path} holds content openpyxl cannot keep ({'; '.join(lost)}); nothing was written",
        "remove it, or keep it in a copy of the workbook that sheetcrm does not sync"
        + (
            "; a drop-down listing another tab survives when it lists a named range"
            if any("Data Validation" in w for w in lost)
            else ""
        ),
    )


def risky_content(path: str | os.PathLike[str], redrawn: Collection[str] = ()) -> list[str]:
    """What in the workbook at ``path`` a save through openpyxl would destroy, with where it
    is and its parts ("a chart on tab 'Leads' (xl/charts/chart1.xml)"); empty when the
    workbook is safe to write. Anything openpyxl does not keep counts, known or not. Charts
    and shapes on the ``redrawn`` tabs do not: the caller draws those again itself."""
    found: dict[str, list[str]] = {}
    with zipfile.ZipFile(path) as zf:
        owners = sheet_owners(zf)
        content_type = _content_types(zf)
        for name in zf.namelist():
            what = _lost(zf, name, content_type(name))
            if what is None:
                continue
            tab = owners.get(name)
            if tab in redrawn and what in _REDRAWABLE:
                continue
            where = f"{what} on tab {tab!r}" if tab else f"{what} in the workbook"
            found.setdefault(where, []).append(name)
    return sorted(f"{where} ({', '.join(parts)})" for where, parts in found.items())


def _lost(zf: zipfile.ZipFile, name: str, content_type: str) -> str | None:
    """What part ``name`` holds that a save would lose, or None when openpyxl keeps it."""
    if name.endswith(("/", ".rels")) or name == "[Content_Types].xml":
        return None  # folders; relationships and the type list are rebuilt from the parts
    if content_type in _CHART_PARTS:
        return "a chart"
    if content_type == _DRAWING:
        tags = {el.tag.rpartition("}")[2] for el in ET.fromstring(zf.read(name)).iter()}
        return "a shape or text box" if tags & _SHAPES else None  # charts, pictures: own parts
    if content_type == _VML:
        # openpyxl writes back the boxes of notes; buttons, check boxes and header pictures go.
        # (VML is often not well-formed XML, hence no parser.)
        data = zf.read(name)
        kinds = set(re.findall(rb'ObjectType="([^"]*)"', data))
        return None if kinds <= {b"Note"} and b"imagedata" not in data else "a form control"
    if content_type in _KEPT or name.startswith("docProps/thumbnail."):
        return None  # the thumbnail: redrawn by the next program that saves
    named = next((what for prefix, what in _NAMED_PARTS if name.startswith(prefix)), None)
    if named is None and content_type.startswith("image/"):
        named = "a picture"
    return named or "content openpyxl does not keep"


def _content_types(zf: zipfile.ZipFile) -> Callable[[str], str]:
    """A part's content type, from [Content_Types].xml ("" when it declares none)."""
    defaults: dict[str, str] = {}
    overrides: dict[str, str] = {}
    for el in ET.fromstring(zf.read("[Content_Types].xml")):
        kind = el.tag.rpartition("}")[2]
        if kind == "Default":
            defaults[el.get("Extension", "").lower()] = el.get("ContentType", "")
        elif kind == "Override":
            overrides[el.get("PartName", "").lstrip("/")] = el.get("ContentType", "")

    def content_type(name: str) -> str:
        return overrides.get(name) or defaults.get(name.rpartition(".")[2].lower(), "")

    return content_type
