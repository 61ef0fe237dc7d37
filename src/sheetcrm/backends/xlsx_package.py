"""The ``.xlsx`` file on disk: its version, and opening it with openpyxl.

A read loads the whole workbook, formulas as formulas, and records what openpyxl warned it
would not keep if it saved it: :mod:`sheetcrm.backends.xlsx_safety` refuses such a save.
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from sheetcrm.errors import BackendError

_BENIGN_WARNINGS = ("Workbook contains no",)  # openpyxl supplies default styles: nothing lost
UNREADABLE = (
    zipfile.BadZipFile,
    InvalidFileException,
    KeyError,
    ValueError,
    OSError,
    ET.ParseError,
)


def version(path: Path) -> str:
    """A token that changes whenever the file may have: size, modification time, inode."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise _missing(path) from None
    # The inode changes when Excel or LibreOffice saves (they replace the file), which
    # catches a save within the filesystem's mtime granularity that kept the size.
    return f"{st.st_mtime_ns}-{st.st_size}-{st.st_ino}"


def load(path: Path) -> tuple[Workbook, list[str]]:
    """The whole workbook, formulas as formulas, and what openpyxl warned it would not keep
    if saved: a reason to refuse a later save rather than noise for the user."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wb = open_workbook(path, read_only=False, data_only=False)
    lost = [str(w.message) for w in caught if not str(w.message).startswith(_BENIGN_WARNINGS)]
    return wb, lost


def open_workbook(path: Path, *, read_only: bool, data_only: bool) -> Workbook:
    try:
        return load_workbook(path, read_only=read_only, data_only=data_only)
    except FileNotFoundError:
        raise _missing(path) from None
    except PermissionError as exc:
        raise BackendError(f"cannot open {path}: permission denied") from exc
    except UNREADABLE as exc:
        raise unreadable(path, exc) from exc


def _missing(path: Path) -> BackendError:
    return BackendError(
        f"no workbook at {path}", f"run `sheetcrm init --sheet {path}` to create one"
    )


def unreadable(path: Path, exc: Exception) -> BackendError:
    return BackendError(
        f"{path} is not a readable .xlsx workbook ({exc})",
        "open it in Excel or LibreOffice and save it again as .xlsx",
    )
