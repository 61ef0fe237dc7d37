"""Saving a workbook: the file is replaced in one step, and only if nobody saved it since.

Saves go to a temporary file that replaces the workbook only once complete, and only if it is
still at the version that was read; formulas' results are put back into the saved tabs. A save
killed half-way leaves that temporary file, a copy of every lead: :func:`remove_leftovers`
takes away the ones no save is writing any more.
"""

from __future__ import annotations

import io
import os
import re
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter

from sheetcrm.backends.base import StaleSnapshotError
from sheetcrm.backends.xlsx_formulas import Results, put_results
from sheetcrm.backends.xlsx_package import version
from sheetcrm.errors import BackendError


def save(wb: Workbook, path: Path, *, expect: str | None, results: Results | None = None) -> None:
    """Replace the file with ``wb`` in one step, if it is still at version ``expect``.

    ``results``: what formulas showed (see :func:`~sheetcrm.backends.xlsx_formulas.cached_results`),
    put back into the saved tabs, which openpyxl writes without them."""

    def write(fh: IO[bytes]) -> None:
        if results:
            saved = io.BytesIO()
            _write(wb, saved)
            put_results(saved, fh, results, path)
        else:
            _write(wb, fh)

    save_package(path, write, expect=expect)


def save_package(path: Path, write: Callable[[IO[bytes]], None], *, expect: str | None) -> None:
    """Replace the file with what ``write`` writes into a temporary file beside it, in one
    step, if the file is still at version ``expect``; whatever ``write`` raises leaves the
    file as it was (and no temporary file)."""
    tmp: Path | None = None
    try:
        mode = path.stat().st_mode & 0o777 if path.exists() else _new_file_mode()
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, delete=False
        ) as fh:
            tmp = Path(fh.name)
            _mark_live(fh)
            write(fh)
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


TEMP_PREFIX, TEMP_SUFFIX = ".sheetcrm-", ".xlsx"
# Exactly what tempfile.NamedTemporaryFile names them: never a file sheetcrm did not make.
_TEMP_NAME = re.compile(r"\.sheetcrm-[a-z0-9_]{8}\.xlsx")
LEFTOVER_SECONDS = 3600.0
"""How old (last written) a temporary file must be before it counts as left over. The lock
a live save holds on its temporary file is what keeps it safe; the age covers the moments
the lock is not held (between creating the file and locking it, and between closing it and
replacing the workbook) and file systems without locks. An hour: far longer than any save,
and a leftover costs only disk space meanwhile."""


def remove_leftovers(path: Path, now: float) -> list[str]:
    """Remove the temporary files of saves that were killed half-way beside workbook
    ``path``: sheetcrm's by name, last written more than :data:`LEFTOVER_SECONDS` before
    ``now`` (a Unix time), and not locked by a save still writing. Their names, for saying so."""
    removed = []
    try:
        candidates = sorted(path.parent.iterdir())
    except OSError:
        return []  # the save itself says what is wrong with the folder
    for leftover in candidates:
        if not _TEMP_NAME.fullmatch(leftover.name):
            continue
        try:
            with open(leftover, "rb") as held:
                if now - os.fstat(held.fileno()).st_mtime < LEFTOVER_SECONDS:
                    continue
                if not _free(held):
                    continue  # a save is writing it right now, however long it takes
                leftover.unlink()
        except OSError:
            continue  # gone already, or not ours to remove: leave it
        removed.append(leftover.name)
    return removed


def _mark_live(fh: IO[bytes]) -> None:
    """Lock the temporary file while it is written, so that :func:`remove_leftovers` in
    another process leaves it alone; closing it lets go, and so does the process dying."""
    if sys.platform != "win32":  # Windows keeps an open file from being removed anyway
        import fcntl

        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)


def _free(held: IO[bytes]) -> bool:
    """Whether no save holds ``held``'s lock (taken and kept until ``held`` is closed)."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        return True
    import fcntl

    try:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


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
