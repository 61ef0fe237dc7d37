"""The ``.xlsx`` file on disk: opening it, what a save through openpyxl would destroy, and
replacing it in one step.

openpyxl saves a workbook by rewriting the whole file from what it understood of it, so
anything it does not model is gone after the first save. The package is therefore inspected
before a write, which is refused, naming what and where, rather than lose a person's chart
or pivot table. Saves go to a temporary file that replaces the workbook only once complete,
and only if nobody saved the workbook in the meantime.
"""

from __future__ import annotations

import gc
import os
import posixpath
import tempfile
import warnings
import zipfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from xml.etree import ElementTree as ET

from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from sheetcrm.backends.base import StaleSnapshotError
from sheetcrm.errors import BackendError, SheetLockedError, UnsafeWorkbookError

# Parts of an .xlsx package that openpyxl drops or rebuilds lossily on save, found by part
# name (checked against openpyxl 3.1 reader/excel.py and reader/drawings.py).
_RISKY_PARTS = (
    ("xl/vbaProject", "macros (VBA)"),  # dropped unless loaded with keep_vba
    ("xl/media/", "a picture"),  # dropped without Pillow; even with it, crop and alt text go
    ("xl/charts/chart", "a chart"),  # re-serialised from openpyxl's model: styles, extensions go
    ("xl/diagrams/", "a SmartArt graphic"),  # not read at all
    ("xl/pivotTables/", "a pivot table"),  # kept in openpyxl's model only; extensions go
    ("xl/pivotCache/", "a pivot table's data cache"),
    ("xl/slicers/", "a slicer"),  # workbook and sheet extensions: not read
    ("xl/slicerCaches/", "a slicer"),
    ("xl/timelines/", "a timeline"),
    ("xl/timelineCaches/", "a timeline"),
    ("xl/embeddings/", "an embedded object"),  # OLE objects: not read
    ("xl/ctrlProps/", "a form control"),  # legacy drawings are dropped without VBA
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
    is ("a chart on tab 'Leads'"); empty when the workbook is safe to write. Charts and
    shapes on the ``redrawn`` tabs do not count: the caller draws those again itself."""
    found: list[str] = []
    with zipfile.ZipFile(path) as zf:
        owners = _sheet_owners(zf)
        for name in zf.namelist():
            if name.endswith(".rels"):
                continue
            what = next((w for prefix, w in _RISKY_PARTS if name.startswith(prefix)), None)
            if what is None and name.startswith("xl/drawings/drawing"):
                tags = {el.tag.rpartition("}")[2] for el in ET.fromstring(zf.read(name)).iter()}
                what = "a shape or text box" if tags & _SHAPES else None
            if what is None:
                continue
            tab = owners.get(name)
            if tab in redrawn and what in _REDRAWABLE:
                continue
            found.append(f"{what} on tab {tab!r}" if tab else f"{what} in the workbook")
    return sorted(set(found))


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


def _sheet_owners(zf: zipfile.ZipFile) -> dict[str, str]:
    """Every part reachable from a tab (drawings, charts, pictures...) -> that tab's name."""
    book = next(
        (t for _, kind, t in _relations(zf, "") if kind.endswith("/officeDocument")),
        "xl/workbook.xml",
    )
    targets = {rid: t for rid, _, t in _relations(zf, book)}
    owners: dict[str, str] = {}
    for sheet in ET.fromstring(zf.read(book)).iter():
        if not sheet.tag.endswith("}sheet"):
            continue
        rid = next((v for k, v in sheet.attrib.items() if k.endswith("}id")), "")
        stack = [targets.get(rid, "")]
        while stack:
            part = stack.pop()
            if part in zf.NameToInfo and part not in owners:
                owners[part] = sheet.get("name", "")
                stack += [t for _, _, t in _relations(zf, part)]
    return owners


# --- saving ------------------------------------------------------------------------------


def save(wb: Workbook, path: Path, *, expect: str | None) -> None:
    """Replace the file with ``wb`` in one step, if it is still at version ``expect``."""
    tmp: Path | None = None
    try:
        mode = path.stat().st_mode & 0o777 if path.exists() else _new_file_mode()
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=".sheetcrm-", suffix=".xlsx", delete=False
        ) as fh:
            tmp = Path(fh.name)
            wb.save(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # a temp file is private; the workbook keeps its own mode
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


def _new_file_mode() -> int:
    """What a plain ``open()`` would give a new file; reading the umask means setting it
    (briefly), acceptable for a command that provisions once."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# --- bulk work --------------------------------------------------------------------------


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while openpyxl builds, walks or writes hundreds of
    thousands of cells: each pass would visit every one of them again, for a third of the
    time of a read at 10,000 leads. The price: a workbook dropped earlier is freed only at
    the next full collection after this, not during it. Usable as a decorator."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
