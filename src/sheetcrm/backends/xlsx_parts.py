"""The parts of an ``.xlsx`` package and how they link: which part is which tab's, and every
part a tab reaches (its drawings, charts, pictures). Read from the zip, not through openpyxl."""

from __future__ import annotations

import posixpath
import zipfile
from xml.etree import ElementTree as ET


def relations(zf: zipfile.ZipFile, part: str) -> list[tuple[str, str, str]]:
    """(Id, Type, target part) of ``part``'s internal relationships."""
    folder, base = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", base + ".rels")
    if rels not in zf.NameToInfo:
        return []
    found = []
    for rel in ET.fromstring(zf.read(rels)):
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External":
            continue
        path = target[1:] if target.startswith("/") else posixpath.join(folder, target)
        found.append((rel.get("Id", ""), rel.get("Type", ""), posixpath.normpath(path)))
    return found


def sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Each tab's name -> its part ("Leads" -> "xl/worksheets/sheet1.xml")."""
    book = workbook_part(zf)
    targets = {rid: t for rid, _, t in relations(zf, book)}
    parts: dict[str, str] = {}
    for sheet in ET.fromstring(zf.read(book)).iter():
        if sheet.tag.endswith("}sheet"):
            rid = next((v for k, v in sheet.attrib.items() if k.endswith("}id")), "")
            parts[sheet.get("name", "")] = targets.get(rid, "")
    return parts


def sheet_owners(zf: zipfile.ZipFile) -> dict[str, str]:
    """Every part reachable from a tab (drawings, charts, pictures...) -> that tab's name."""
    owners: dict[str, str] = {}
    for tab, part in sheet_parts(zf).items():
        stack = [part]
        while stack:
            part = stack.pop()
            if part in zf.NameToInfo and part not in owners:
                owners[part] = tab
                stack += [t for _, _, t in relations(zf, part)]
    return owners


def workbook_part(zf: zipfile.ZipFile) -> str:
    """The workbook's own part ("xl/workbook.xml")."""
    return next(
        (t for _, kind, t in relations(zf, "") if kind.endswith("/officeDocument")),
        "xl/workbook.xml",
    )


def styles_part(zf: zipfile.ZipFile) -> str | None:
    """The part holding the cell styles ("xl/styles.xml"), if there is one."""
    book = workbook_part(zf)
    return next((t for _, kind, t in relations(zf, book) if kind.endswith("/styles")), None)
