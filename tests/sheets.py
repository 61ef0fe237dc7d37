"""Test helpers shared by the suites: sheets from the template, backends, a person's edits,
and app.yaml's own gunicorn command."""

from __future__ import annotations

import shlex
import socket
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import requests

from sheetcrm.backends.base import SheetBackend
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.changes import Changes
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.files.templates import load_template

NOW = datetime(2026, 11, 23, 10, 0)  # the sheet's local time (America/New_York in the template)
SHARED = Path(__file__).resolve().parents[2] / "shared"
ROOT = Path(__file__).resolve().parents[1]  # the repository: app.yaml, gunicorn.conf.py


def template(now: datetime = NOW) -> dict[str, Table]:
    return load_template("b2b-en", now=now)


def make_backend(kind: str, tmp_path: Path, tabs: dict[str, Table] | None = None) -> SheetBackend:
    tabs = template() if tabs is None else tabs
    if kind == "memory":
        return MemoryBackend(tabs)
    if kind == "google":
        return google_backend(tabs)
    if kind == "workbook":
        from sheetcrm.backends.workbook import WorkbookBackend

        backend = WorkbookBackend(tmp_path / "crm.xlsx")
        backend.provision(tabs)
        return backend
    raise ValueError(kind)


def human_edit(backend: SheetBackend, tab: str, edit: Callable[[Table], None]) -> None:
    """A person changes ``tab`` in the spreadsheet, between two of the service's requests."""
    snapshot = backend.read()
    table = snapshot.table(tab).copy()
    edit(table)
    backend.write(Changes(snapshot.version, replace={tab: table}))


def cell(snapshot: Snapshot, tab: str, lead_id: str, column: str) -> str:
    table = snapshot.table(tab)
    ids = table.column("Lead ID")
    return table.rows[ids.index(lead_id)][table.col(column)]


def free_port() -> int:
    """A loopback port nothing listens on (a server started next may take it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def entrypoint() -> str:
    """app.yaml's entrypoint, as written there."""
    line = next(
        x for x in (ROOT / "app.yaml").read_text().splitlines() if x.startswith("entrypoint:")
    )
    return line.split(":", 1)[1].strip()


def app_yaml_command(port: int) -> list[str]:
    """app.yaml's entrypoint bound to ``port`` on loopback, for ``cwd=ROOT``: its
    gunicorn.conf.py, and so its background process, included."""
    command = entrypoint().replace("--bind :$PORT", f"--bind 127.0.0.1:{port}")
    return [sys.executable, "-m", *shlex.split(command)]


def serving(port: int, seconds: float = 30) -> bool:
    """Whether the service on ``port`` answers /healthz within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return True
        except requests.RequestException:
            time.sleep(0.1)
    return False


_EMULATOR = None


def emulator():
    """One local Sheets API stand-in for the whole test run, without quotas or faults."""
    global _EMULATOR
    if _EMULATOR is None:
        from sheetcrm.emulator import Emulator

        _EMULATOR = Emulator(quota_per_minute=None).start()
    return _EMULATOR


def google_backend(tabs: dict[str, Table] | None = None, provision: bool = True):
    """A new spreadsheet on the stand-in, as a GoogleBackend (retries without sleeping)."""
    from google.auth.credentials import AnonymousCredentials

    from sheetcrm.backends.google import GoogleBackend
    from sheetcrm.backends.sheets_http import SheetsHTTP

    emu = emulator()
    book = emu.store.create("crm", sheets=("Sheet1",))
    http = SheetsHTTP(AnonymousCredentials(), emulator_host=emu.host, sleep=lambda _: None)
    url = f"https://docs.google.com/spreadsheets/d/{book.spreadsheet_id}/edit"
    backend = GoogleBackend(url, http=http)
    if provision:
        backend.provision(template() if tabs is None else tabs)
    return backend
