"""Test helpers shared by the suites: sheets from the template, backends, a person's edits,
and the service under gunicorn as app.yaml starts it (bench/intake.py uses that too)."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
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


def put_leads(tabs: dict[str, Table], *leads: dict[str, str]) -> None:
    """Replace the Leads rows of ``tabs`` with ``leads``, each a header -> value mapping."""
    table = tabs["Leads"]
    table.rows.clear()
    for values in leads:
        row = [""] * len(table.header)
        for header, value in values.items():
            row[table.col(header)] = value
        table.rows.append(row)


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


def app_yaml_command(
    port: int, workers: int | None = None, threads: int | None = None, conf: bool = True
) -> list[str]:
    """app.yaml's entrypoint bound to ``port`` on loopback, serving this checkout's src/ from
    any folder; ``workers`` and ``threads`` in place of app.yaml's when given. ``conf=False``
    leaves out gunicorn.conf.py, and so its background process: each worker then runs the
    background work in a thread of its own (run it outside ROOT, or gunicorn reads
    ./gunicorn.conf.py all the same)."""
    given = {"--bind": f"127.0.0.1:{port}", "--pythonpath": str(ROOT / "src")}
    if workers is not None:
        given["--workers"] = str(workers)
    if threads is not None:
        given["--threads"] = str(threads)
    command = [sys.executable, "-m"]
    words = iter(shlex.split(entrypoint()))
    for word in words:
        if word == "-c" and not conf:
            next(words)
        elif word in given:
            command += [word, given[word]]
            next(words)
        else:
            command.append(word)
    return command


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


class Gunicorn:
    """The service as app.yaml runs it, on a free port, in a process group of its own: one
    signal reaches the master, its workers and its background process at once, even when
    the master is gone already."""

    def __init__(
        self,
        env: dict[str, str],
        log: Path,
        workers: int | None = None,
        threads: int | None = None,
        conf: bool = True,
    ) -> None:
        self.port = free_port()
        self.command = app_yaml_command(self.port, workers, threads, conf)
        self.env, self.log = env, log
        self.cwd = ROOT if conf else log.parent  # see app_yaml_command
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Gunicorn:
        """Starts it (again after kill(), on the same port) and waits until it serves."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        if not serving(self.port):
            self.stop()
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"gunicorn did not start; the end of {self.log}:\n{tail}")
        return self

    @property
    def pid(self) -> int:
        """The master's process id, which is also its process group's."""
        assert self.proc is not None, "not started"
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL to all of it, as when the instance dies."""
        assert self.proc is not None, "not started"
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        """SIGTERM, and SIGKILL if it is not gone within 30 s (gunicorn's graceful timeout)."""
        if self.proc is None:
            return
        with suppress(ProcessLookupError):  # the master may be gone, its children not
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def children(pid: int) -> list[int]:
    """Its child processes (Linux's /proc): each listed under the thread that started it."""
    return [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]


def background(master: int) -> list[int]:
    """The gunicorn master's ``sheetcrm background`` children."""
    return [
        pid
        for pid in children(master)
        if b"background" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    ]


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
