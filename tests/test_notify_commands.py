"""Notifications at the command line: `sheetcrm sync` stores them in the service's outbox
when there is one (and says so when there is none), `outbox list` shows them without their
text, `outbox retry` brings back dead ones."""

from __future__ import annotations

import json
from pathlib import Path

from sheetcrm.cli import main
from sheetcrm.intake.outbox import Outbox
from sheetcrm.notify.message import DeliveryError, Message
from sheetcrm.notify.outbox import DEAD, PENDING, NotificationOutbox
from sheetcrm.notify.sender import Sender

NOW = ["--now", "2026-11-23T10:00"]


def _fail(message: Message) -> None:
    raise DeliveryError("550 mailbox unavailable", permanent=True)


def test_a_sync_without_an_outbox_says_its_notifications_are_not_sent(tmp_path, capsys):
    sheet = tmp_path / "crm.xlsx"
    assert main(["init", "--sheet", str(sheet), *NOW]) == 0
    capsys.readouterr()
    assert main(["sync", "--sheet", str(sheet), *NOW]) == 0
    out = capsys.readouterr().out
    assert "notifications planned and not sent: there is no outbox at" in out
    assert not (tmp_path / "crm.outbox.sqlite3").exists()  # none made that nobody sends from


def test_a_sync_stores_them_in_the_outbox_beside_the_workbook(tmp_path: Path, capsys):
    sheet = tmp_path / "crm.xlsx"
    assert main(["init", "--sheet", str(sheet), *NOW]) == 0
    url = f"sqlite:///{tmp_path / 'crm.outbox.sqlite3'}"
    Outbox(url).close()  # the service's, as `sheetcrm serve` makes it
    capsys.readouterr()
    assert main(["sync", "--sheet", str(sheet), *NOW]) == 0
    assert "notifications stored in the outbox" in capsys.readouterr().out
    outbox = Outbox(url)
    box = NotificationOutbox(outbox.db)
    pending = box.entries(PENDING)
    assert pending and {e.event for e in pending} >= {"lead assigned"}
    sender = Sender(outbox.db, _fail, "w1")
    while sender.run_once().claimed:  # a round claims 50 at most
        pass
    assert len(box.entries(DEAD)) == len(pending)

    kind = ["--kind", "notifications", "--limit", "1000"]
    assert main(["outbox", "list", "--sheet", str(sheet), *kind]) == 0
    captured = capsys.readouterr()
    listed = [json.loads(line) for line in captured.out.splitlines()]
    assert {x["kind"] for x in listed} == {"notification"}
    assert {x["state"] for x in listed} == {DEAD}
    assert all("text" not in x and x["last_error"] == "550 mailbox unavailable" for x in listed)
    assert f"{len(pending)} dead" in captured.err

    assert main(["outbox", "retry", "--sheet", str(sheet), listed[0]["key"]]) == 0
    assert "1 dead notifications are pending again" in capsys.readouterr().out
    assert [e.key for e in box.entries(PENDING)] == [listed[0]["key"]]
    outbox.close()
