"""The real parts of the alerts' fault runs (tests/test_alerts_faults.py): an SMTP server on
loopback that counts every Message-ID it accepts and can be slow, down, or answer 4xx/5xx; an
HTTP receiver for a json:// chat channel; a workbook whose Alerts tab tells each lead's owner
and a chat channel; and ``sheetcrm background`` as a process of its own."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, Envelope, Session
from aiosmtpd.smtp import SMTP as SMTPServer

from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.engine.changes import Changes
from sheetcrm.engine.schema import ALERTS, LEADS, NOTIFICATIONS, TEAM
from sheetcrm.engine.table import Table
from sheetcrm.intake.outbox_db import OutboxDB
from sheetcrm.notify.outbox import PENDING, NotificationOutbox, Record
from sheetcrm.notify.sender import Sender
from sheets import ROOT, free_port, put_leads, template

CHANNEL = "sales-wins"
RULES = [
    ["lead assigned", "", "", "", "", "owner", "email", "A new lead is yours"],
    ["deal won", "", "", "", "", "", CHANNEL, "Big win!"],
]
MESSAGE_ID = re.compile(rb"^Message-ID:\s*<([^>]*)@sheetcrm>", re.MULTILINE | re.IGNORECASE)


class Mailbox:
    """aiosmtpd's handler: keeps the key of every message it accepts, in order, duplicates
    included (a receiver's dedupe is the set of them). ``pause`` seconds per message (a kill
    lands mid-send), ``refuse`` a recipient with 550, ``busy`` answers 451 to each message's
    first tries, ``stall`` takes longer than the sender's timeout and then accepts (as a slow
    server that did queue the message does)."""

    def __init__(self, pause: float = 0.0) -> None:
        self.pause = pause
        self.refuse = ""
        self.busy = 0
        self.stall = 0.0
        self.quit = ""  # what it answers to QUIT, after the message: "" the usual 221
        self.keys: list[str] = []
        self.received: list[tuple[list[str], bytes]] = []  # (envelope recipients, message)
        self.tries: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, _: Any
    ) -> str:
        if self.refuse and address == self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        found = MESSAGE_ID.search(content)
        key = found[1].decode() if found else ""
        with self.lock:
            self.tries[key] += 1
            tries = self.tries[key]
        if tries <= self.busy:
            return "451 4.3.0 local problem, try again later"
        await asyncio.sleep(self.stall or self.pause)
        with self.lock:
            self.keys.append(key)
            self.received.append((list(envelope.rcpt_tos), content))
        return "250 OK queued"

    async def handle_QUIT(self, server: SMTPServer, session: Session, envelope: Envelope) -> Any:
        return self.quit or MISSING

    def duplicates(self) -> int:
        """Raw copies accepted beyond the first of each key."""
        return len(self.keys) - len(set(self.keys))


class SMTPServerOnLoopback:
    """A real SMTP server that can be stopped and started again on the same port."""

    def __init__(self, box: Mailbox) -> None:
        self.box, self.port = box, free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.box, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def env(self, timeout: str = "2") -> dict[str, str]:
        return {
            "SHEETCRM_SMTP_HOST": "127.0.0.1",
            "SHEETCRM_SMTP_PORT": str(self.port),
            "SHEETCRM_SMTP_SECURITY": "none",
            "SHEETCRM_SMTP_FROM": "Sheet CRM <crm@example.com>",
            "SHEETCRM_SMTP_TIMEOUT": timeout,
        }


@contextmanager
def smtp_server(box: Mailbox) -> Iterator[SMTPServerOnLoopback]:
    server = SMTPServerOnLoopback(box)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class ChatReceiver(BaseHTTPRequestHandler):
    """A JSON webhook: keeps every post's message."""

    posts: list[str]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.posts.append(str(body.get("message", "")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


@contextmanager
def chat_receiver() -> Iterator[tuple[list[str], str]]:
    """The posts, and the channel's variable's value (a json:// URL)."""
    posts: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Hook", (ChatReceiver,), {"posts": posts}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield posts, f"json://127.0.0.1:{server.server_port}/hook"
    finally:
        server.shutdown()
        server.server_close()


def workbook(path: Path, leads: int) -> WorkbookBackend:
    """A b2b workbook with ``leads`` new leads that routing gives to owners (no daily
    capacity, no hourly cap: every lead gets its own e-mail), and the two Alerts rules."""
    tabs = template()
    tabs[ALERTS.name] = Table(list(ALERTS.headers), [list(r) for r in RULES])
    team = tabs[TEAM.name]
    for row in team.rows:
        row[team.col("Daily capacity")] = ""
    settings = tabs["Settings"]
    for row in settings.rows:
        if row[0] == "Alerts per person per hour":
            row[1] = "0"  # an empty cell is the default, 20
    put_leads(
        tabs, *({"Email": f"p{i}@firm{i}.example", "Country": "France"} for i in range(leads))
    )
    backend = WorkbookBackend(path)
    backend.provision(tabs)
    return backend


def win(path: Path, rows: range) -> None:
    """A person marks the deals of ``rows`` (0-based Leads rows) won, in the file."""
    backend = WorkbookBackend(path)
    snapshot = backend.read()
    table = snapshot.table(LEADS.name).copy()
    for r in rows:
        table.rows[r][table.col("Stage")] = "Won"
    backend.write(Changes(snapshot.version, replace={LEADS.name: table}))


def owners_set(path: Path) -> bool:
    table = WorkbookBackend(path).read().table(LEADS.name)
    return all(table.column("Owner"))


def logged(path: Path) -> list[tuple[str, str]]:
    """The Notifications tab: (Key, Outcome) of each row."""
    table = WorkbookBackend(path).read().table(NOTIFICATIONS.name)
    return list(zip(table.column("Key"), table.column("Outcome"), strict=True))


def background(sheet: Path, outbox: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``sheetcrm background`` as gunicorn.conf.py keeps it: a process of its own."""
    full = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SHEETCRM_")},
        "PYTHONPATH": str(ROOT / "src"),
        **env,
    }
    command = [sys.executable, "-m", "sheetcrm", "background", "--sheet", str(sheet)]
    with log.open("ab") as out:
        return subprocess.Popen([*command, "--outbox", outbox], env=full, stdout=out, stderr=out)


# --- the sender in the test's process, its clock moved ---------------------------------------


class Clock:
    def __init__(self) -> None:
        self.at = time.time()

    def __call__(self) -> float:
        return self.at


def stored(db: OutboxDB) -> list[Record]:
    return NotificationOutbox(db).entries(limit=100_000)


def rounds(sender: Sender, clock: Clock, until: Callable[[], bool], hours: float = 2) -> None:
    """Send rounds, the clock moved to the next try each time, for at most ``hours``."""
    end = clock.at + hours * 3600
    while not until() and clock.at < end:
        sender.run_once()
        due = [e.next_try_at for e in stored(sender.db) if e.state == PENDING]
        clock.at = max(clock.at, min(due, default=clock.at)) + 0.001
