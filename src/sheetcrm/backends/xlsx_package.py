"""The ``.xlsx`` file on disk: opening it, what a save through openpyxl would destroy, and
replacing it in one step.

openpyxl saves a workbook by rewriting the whole file from what it understood of it, so
anything it does not model is gone after the first save. The package is therefore inspected
before a write: any part openpyxl does not write back refuses it, naming what and where,
rather than lose a person's chart or pivot table. openpyxl also saves formulas without the
result they showed; the results are put back into the saved tabs. Saves go to a temporary
file that replaces the workbook only once complete, and only if nobody saved the workbook in
the meantime.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from lxml import etree
from openpyxl import Workbook, load_workbook
from openpyxl.utils.cell import coordinate_to_tuple, get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.writer.excel import ExcelWriter

from sheetcrm.backends.base import StaleSnapshotError
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
_BENIGN_WARNINGS = ("Workbook contains no",)  # openpyxl supplies default styles: nothing lost
_UNREADABLE = (
    zipfile.BadZipFile,
    InvalidFileException,
    KeyError,
    ValueError,
    OSError,
    ET.ParseError,
)
_UNLOCK_HINT = "close it in Excel/LibreOffice, then run the sync again"


def version(path: Path) -> str:
    """A token that changes whenever the file may have: size, modification time, inode."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise _missing(path) from None
    # The inode changes when Excel or LibreOffice saves (they replace the file), which
    # catches a save within the filesystem's mtime granularity that kept the size.
    return f"{st.st_mtime_ns}-{st.st_size}-{st.st_ino}"


# --- opening -----------------------------------------------------------------------------


def load(path: Path) -> tuple[Workbook, list[str]]:
    """The whole workbook, formulas as formulas, and what openpyxl warned it would not keep
    if saved: a reason to refuse a later save rather than noise for the user."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wb = _open(path, read_only=False, data_only=False)
    lost = [str(w.message) for w in caught if not str(w.message).startswith(_BENIGN_WARNINGS)]
    return wb, lost


def formula_results(
    path: Path, cells: dict[str, list[tuple[int, int]]]
) -> dict[str, dict[tuple[int, int], object]]:
    """What Excel last showed for the formulas at ``cells`` (0-based row and column, by tab):
    their cached results, streamed from the file rather than built into a second workbook."""
    results: dict[str, dict[tuple[int, int], object]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # load() already recorded what a save would lose
        wb = _open(path, read_only=True, data_only=True)
        try:
            for title, positions in cells.items():
                rows = list(
                    wb[title].iter_rows(
                        max_row=max(r for r, _ in positions) + 1,
                        max_col=max(c for _, c in positions) + 1,
                        values_only=True,
                    )
                )
                results[title] = {(r, c): rows[r][c] for r, c in positions}
        except _UNREADABLE as exc:
            raise _unreadable(path, exc) from exc
        finally:
            wb.close()
    return results


def _open(path: Path, *, read_only: bool, data_only: bool) -> Workbook:
    try:
        return load_workbook(path, read_only=read_only, data_only=data_only)
    except FileNotFoundError:
        raise _missing(path) from None
    except PermissionError as exc:
        raise BackendError(f"cannot open {path}: permission denied") from exc
    except _UNREADABLE as exc:
        raise _unreadable(path, exc) from exc


def _missing(path: Path) -> BackendError:
    return BackendError(
        f"no workbook at {path}", f"run `sheetcrm init --sheet {path}` to create one"
    )


def _unreadable(path: Path, exc: Exception) -> BackendError:
    return BackendError(
        f"{path} is not a readable .xlsx workbook ({exc})",
        "open it in Excel or LibreOffice and save it again as .xlsx",
    )


# --- before a save -----------------------------------------------------------------------


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
    """Refuse when :func:`load` warned that openpyxl would drop something."""
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
        owners = _sheet_owners(zf)
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


def _relations(zf: zipfile.ZipFile, part: str) -> list[tuple[str, str, str]]:
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


def _sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Each tab's name -> its part ("Leads" -> "xl/worksheets/sheet1.xml")."""
    book = next(
        (t for _, kind, t in _relations(zf, "") if kind.endswith("/officeDocument")),
        "xl/workbook.xml",
    )
    targets = {rid: t for rid, _, t in _relations(zf, book)}
    parts: dict[str, str] = {}
    for sheet in ET.fromstring(zf.read(book)).iter():
        if sheet.tag.endswith("}sheet"):
            rid = next((v for k, v in sheet.attrib.items() if k.endswith("}id")), "")
            parts[sheet.get("name", "")] = targets.get(rid, "")
    return parts


def _sheet_owners(zf: zipfile.ZipFile) -> dict[str, str]:
    """Every part reachable from a tab (drawings, charts, pictures...) -> that tab's name."""
    owners: dict[str, str] = {}
    for tab, part in _sheet_parts(zf).items():
        stack = [part]
        while stack:
            part = stack.pop()
            if part in zf.NameToInfo and part not in owners:
                owners[part] = tab
                stack += [t for _, _, t in _relations(zf, part)]
    return owners


# --- saving ------------------------------------------------------------------------------


def save(wb: Workbook, path: Path, *, expect: str | None, results: Results | None = None) -> None:
    """Replace the file with ``wb`` in one step, if it is still at version ``expect``.

    ``results``: what formulas showed (see :func:`cached_results`), put back into the saved
    tabs, which openpyxl writes without them."""
    tmp: Path | None = None
    try:
        mode = path.stat().st_mode & 0o777 if path.exists() else _new_file_mode()
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=".sheetcrm-", suffix=".xlsx", delete=False
        ) as fh:
            tmp = Path(fh.name)
            if results:
                saved = io.BytesIO()
                _write(wb, saved)
                _put_results(saved, fh, results, path)
            else:
                _write(wb, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # a temp file is private; the workbook keeps its own mode
        with _one_writer(path):  # compare and replace as one step, between any two writers
            if expect is not None and version(path) != expect:
                raise StaleSnapshotError(
                    f"{path} changed while sheetcrm was writing; nothing was written",
                    "run the sync again",
                )
            os.replace(tmp, path)
    except OSError as exc:
        raise BackendError(
            f"cannot save {path}: {exc}",
            "check that the folder exists and is writable and no program holds the file",
        ) from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)  # a no-op once it has replaced the workbook


@contextmanager
def _one_writer(path: Path) -> Iterator[None]:
    """An exclusive lock held across the version check and the replace: two syncs or
    flushes (threads or processes) that both checked the old version would otherwise both
    replace the file, and the first one's rows would be lost. The lock is on the workbook
    file itself, so nothing is left beside it: every writer that expects the current
    version locks the current file; one that locked a file already replaced finds a newer
    version and writes nothing."""
    if not path.exists():  # a first save: nothing to compare with
        yield
        return
    with open(path, "rb") as held:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            msvcrt.locking(held.fileno(), msvcrt.LK_LOCK, 1)
            try:
                yield
            finally:
                held.seek(0)
                msvcrt.locking(held.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(held.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(held.fileno(), fcntl.LOCK_UN)


def _write(wb: Workbook, out: IO[bytes]) -> None:
    """``wb.save(out)``, but the zip is closed even when openpyxl fails half-way (a full
    disk): left open, it would try to finish itself into a deleted file, much later."""
    wb.properties.modified = datetime.now(UTC).replace(tzinfo=None)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).write_data()


def _new_file_mode() -> int:
    """What a plain ``open()`` would give a new file; reading the umask means setting it
    (briefly), acceptable for a command that provisions once."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# --- what formulas show ------------------------------------------------------------------

Results = dict[str, dict[tuple[int, int], tuple[str, str]]]
"""By tab, by (row, column) from 1: a formula's cached result as stored, (type, text)."""

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RESULT_TYPES = frozenset({"n", "str", "b", "e"})  # number, text, TRUE/FALSE, #N/A and kin
# A formula cell as openpyxl writes it (lxml's writer, or the standard library's): no type,
# an optional style, the formula, an empty value.
_NO_RESULT = re.compile(
    rb'<c r="([A-Z]{1,3}[0-9]{1,7})"((?: s="[0-9]+")?)>'
    rb"(<f\b[^>]*(?:/>|>[^<]*</f>))<v(?:\s*/>|></v>)</c>"
)


def cached_results(path: Path, cells: dict[str, set[tuple[int, int]]]) -> Results:
    """What the formulas at ``cells`` (by tab, (row, column) from 1) showed when the file was
    last calculated: streamed from the tabs' XML a row at a time."""
    found: Results = {}
    try:
        with zipfile.ZipFile(path) as zf:
            parts = _sheet_parts(zf)
            for title, wanted in cells.items():
                part = parts.get(title, "")
                if part in zf.NameToInfo:
                    with zf.open(part) as stream:
                        found[title] = _results_in(stream, wanted)
    except (*_UNREADABLE, etree.XMLSyntaxError) as exc:
        raise _unreadable(path, exc) from exc
    return found


def _results_in(
    stream: IO[bytes], wanted: set[tuple[int, int]]
) -> dict[tuple[int, int], tuple[str, str]]:
    results: dict[tuple[int, int], tuple[str, str]] = {}
    formulas = []  # the cells of the current row holding one: a row's end completes them
    # Only formulas and rows come back to Python, not every cell: lxml walks those itself.
    for _, el in etree.iterparse(stream, events=("end",), tag=(_MAIN + "f", _MAIN + "row")):
        if el.tag == _MAIN + "f":
            formulas.append(el.getparent())
            continue
        for cell in formulas:
            ref, kind, value = cell.get("r"), cell.get("t", "n"), cell.find(_MAIN + "v")
            if ref and kind in _RESULT_TYPES and value is not None and value.text is not None:
                key = coordinate_to_tuple(ref)
                if key in wanted:
                    results[key] = (kind, value.text)
        formulas.clear()
        el.clear()  # and the rows before it: memory stays that of one row
        while el.getprevious() is not None:
            del el.getparent()[0]
    return results


def _put_results(saved: io.BytesIO, out: IO[bytes], results: Results, path: Path) -> None:
    """Copy the package openpyxl saved into ``out``, results put back into its tabs' XML."""
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        tabs = {part: title for title, part in _sheet_parts(src).items() if results.get(title)}
        for info in src.infolist():
            data = src.read(info)
            if info.filename in tabs:
                title = tabs[info.filename]
                data, missed = _with_results(data, results[title])
                if missed:
                    where = ", ".join(a1 for a1 in missed[:5])
                    raise BackendError(
                        f"{path}: sheetcrm could not keep what the formulas at {title}!{where} "
                        "show; nothing was written",
                        "report this; meanwhile, keep formulas out of the synced tabs",
                    )
            dst.writestr(info, data)


def _with_results(
    xml: bytes, results: dict[tuple[int, int], tuple[str, str]]
) -> tuple[bytes, list[str]]:
    """``xml`` (a tab as openpyxl wrote it) with ``results`` in its formula cells, and the
    cells that were not found as formulas without a value (none, unless openpyxl changed)."""
    placed: set[tuple[int, int]] = set()

    def put(match: re.Match[bytes]) -> bytes:
        key = coordinate_to_tuple(match[1].decode())
        if key not in results:
            return match[0]
        placed.add(key)
        kind, text = results[key]
        typed = b"" if kind == "n" else b' t="' + kind.encode() + b'"'
        value = escape(text).encode()
        return b'<c r="%s"%s%s>%s<v>%s</v></c>' % (match[1], match[2], typed, match[3], value)

    xml = _NO_RESULT.sub(put, xml)
    missed = [f"{get_column_letter(c)}{r}" for r, c in sorted(results) if (r, c) not in placed]
    return xml, missed
