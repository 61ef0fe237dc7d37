"""`sheetcrm outbox` list, retry, purge and erase, on a real SQLite file and a real
PostgreSQL, and the service's side of it: /tasks/flush saying what waits in backoff, the
retention applied by the service itself, SHEETCRM_OUTBOX_RETENTION_DAYS."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, inspect, update

from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.cli import main
from sheetcrm.errors import ConfigError
from sheetcrm.intake.outbox import DONE, ERASED, PENDING, Outbox
from sheetcrm.intake.outbox_db import submissions
from sheetcrm.intake.retention import DAY
from sheetcrm.service.service_config import ServiceConfig
from sheetcrm.service.tasks import PURGE_SECONDS
from sheetcrm.service.web import create_app
from sheets import template

GOOGLE_ID = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"
TOKEN = "task-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def _no_outbox_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHEETCRM_OUTBOX", raising=False)
    monkeypatch.delenv("SHEETCRM_OUTBOX_RETENTION_DAYS", raising=False)


def store(url: str, posts: dict[str, str], now: float) -> Outbox:
    """An outbox holding ``posts`` (key -> the person's address), all pending."""
    box = Outbox(url)
    for key, address in posts.items():
        body = {"source": "generic", "answers": [["email", "Email", address]]}
        box.put(key, "generic", json.dumps(body), now)
    return box


COMMANDS = [
    ["list"],
    ["retry", "--all"],
    ["retry", "--now"],
    ["purge"],
    ["purge", "--dry-run"],
    ["erase", "--email", "ann@acme.io"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_google_sheets_outbox_elsewhere_is_refused_not_created(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """From another folder than the service's: no '0 pending', and no empty outbox left."""
    monkeypatch.chdir(tmp_path)
    assert main(["outbox", *command, "--sheet", GOOGLE_ID]) == 1
    err = capsys.readouterr().err
    looked = tmp_path / "sheetcrm-outbox.sqlite3"
    assert f"error: there is no outbox at {looked} (for a Google Sheet" in err
    assert "in the folder the command runs in" in err and "--outbox" in err
    assert "0 pending" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_workbooks_outbox_is_looked_for_beside_it(tmp_path: Path, capsys) -> None:
    sheet = tmp_path / "crm.xlsx"
    assert main(["outbox", "list", "--sheet", str(sheet)]) == 1
    err = capsys.readouterr().err
    assert f"there is no outbox at {tmp_path / 'crm.outbox.sqlite3'}" in err
    assert "crm.xlsx -> crm.outbox.sqlite3" in err


def test_the_outbox_variable_and_option_are_named_when_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    missing = tmp_path / "gone.sqlite3"
    monkeypatch.setenv("SHEETCRM_OUTBOX", f"sqlite:///{missing}")
    assert main(["outbox", "list", "--sheet", GOOGLE_ID]) == 1
    assert f"no outbox at {missing} (it is SHEETCRM_OUTBOX)" in capsys.readouterr().err
    given = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    assert main(["outbox", "list", "--sheet", GOOGLE_ID, "--outbox", given]) == 1
    assert "(it was given with --outbox)" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_postgresql_database_without_an_outbox_is_refused(postgres_url: str, capsys) -> None:
    assert main(["outbox", "list", "--sheet", GOOGLE_ID, "--outbox", postgres_url]) == 1
    err = capsys.readouterr().err
    assert "holds no outbox (no table submissions)" in err and "it was given with --outbox" in err
    box = Outbox(postgres_url, create=True)
    box.close()
    assert main(["outbox", "list", "--sheet", GOOGLE_ID, "--outbox", postgres_url]) == 0


def test_list_says_how_many_wait_in_backoff_and_retry_now_makes_them_due(url: str, capsys) -> None:
    now = time.time()
    box = store(url, {"k1": "a@x.io", "k2": "b@x.io", "k3": "c@x.io"}, now)
    box.claim("w", now, 3)
    box.later(["k1", "k2"], "Google Sheets' request quota is used up", now)
    box.dead("k3", "the mapping fails on it")
    assert main(["outbox", "list", "--sheet", GOOGLE_ID, "--outbox", url]) == 0
    out, err = capsys.readouterr()
    listed = {e["key"]: e for e in map(json.loads, out.splitlines())}
    assert listed["k1"]["next_try_at"] and listed["k3"]["next_try_at"] is None
    assert "2 pending (2 waiting out a backoff, the next try at " in err
    assert "sheetcrm outbox retry --now" in err

    assert main(["outbox", "retry", "--sheet", GOOGLE_ID, "--outbox", url, "--now"]) == 0
    assert "2 pending ones waiting out a backoff are due now" in capsys.readouterr().out
    assert {e.key for e in box.claim("w", time.time() + 0.5, 10)} == {"k1", "k2"}
    assert box.entries(DONE) == [] and {e.state for e in box.entries()} == {PENDING, "dead"}
    assert main(["outbox", "retry", "--sheet", GOOGLE_ID, "--outbox", url, "--all"]) == 0
    assert "1 dead submissions are pending again" in capsys.readouterr().out
    box.close()


def test_purge_and_erase_commands(url: str, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    now = time.time()
    box = store(url, {"old": "a@x.io", "new": "b@x.io", "ann": "Ann@Acme.io"}, now - 90 * DAY)
    box.claim("w", now, 3)
    box.done({"old": "L-00001", "ann": "L-00003"}, now - 40 * DAY)
    box.done({"new": "L-00002"}, now - 10 * DAY)
    args = ["--sheet", GOOGLE_ID, "--outbox", url]

    assert main(["outbox", "erase", *args, "--email", "ann@acme.io", "--dry-run"]) == 0
    assert "Dry run: 1 submissions hold ann@acme.io; nothing erased." in capsys.readouterr().out
    assert main(["outbox", "erase", *args, "--email", "ann@acme.io"]) == 0
    out = capsys.readouterr().out
    assert "Erased 1 submissions holding ann@acme.io" in out
    assert "delete the Leads rows L-00003" in out and "sheetcrm never deletes a row" in out

    monkeypatch.setenv("SHEETCRM_OUTBOX_RETENTION_DAYS", "5")
    assert main(["outbox", "purge", *args, "--dry-run"]) == 0
    assert "Dry run: 2 submissions done more than 5 days ago" in capsys.readouterr().out
    assert main(["outbox", "purge", *args, "--days", "30"]) == 0  # "ann" is erased already
    assert "Erased the answers of 1 submissions done more than 30 days ago" in (
        capsys.readouterr().out
    )
    bodies = {e.key: e.body for e in box.entries()}
    assert (bodies["old"], bodies["ann"]) == ("", "") and bodies["new"]
    box.close()


def test_the_retention_setting(tmp_path: Path) -> None:
    env = {"SHEETCRM_SHEET": str(tmp_path / "crm.xlsx")}
    assert ServiceConfig.from_env(env).retention_days == 30
    config = ServiceConfig.from_env({**env, "SHEETCRM_OUTBOX_RETENTION_DAYS": "7"})
    assert config.retention_days == 7
    with pytest.raises(ConfigError, match="SHEETCRM_OUTBOX_RETENTION_DAYS='a month'"):
        ServiceConfig.from_env({**env, "SHEETCRM_OUTBOX_RETENTION_DAYS": "a month"})


def make_app(tmp_path: Path, **env: str) -> Flask:
    sheet = tmp_path / "crm.xlsx"
    WorkbookBackend(sheet).provision(template())
    return create_app(
        {
            "SHEETCRM_SHEET": str(sheet),
            "SHEETCRM_TASK_TOKEN": TOKEN,
            "SHEETCRM_BACKGROUND": "0",
            **env,
        }
    )


def backdate(box: Outbox, days: float) -> None:
    with box.db.begin() as conn:
        conn.execute(update(submissions).values(done_at=submissions.c.done_at - days * DAY))


def test_flush_says_what_waits_in_backoff(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    svc = app.extensions["sheetcrm"]
    client = app.test_client()
    assert client.post("/hooks/generic", json={"email": "a@x.io", "event_id": "e1"}).status_code
    svc.outbox.claim("w", time.time(), 10)
    svc.outbox.later(["generic:e1"], "Google Sheets' request quota is used up", time.time())
    answer = client.post("/tasks/flush", headers=AUTH).json
    assert (answer["ok"], answer["claimed"]) == (True, 0)
    assert (answer["outbox"]["pending"], answer["outbox"]["in_backoff"]) == (1, 1)
    assert answer["outbox"]["next_try_at"] and 0 < answer["outbox"]["next_try_in_seconds"] <= 5
    assert answer["note"].startswith("1 pending submissions wait out a backoff; the next try is")
    assert client.get("/status", headers=AUTH).json["outbox"]["in_backoff"] == 1
    svc.stop()


def test_the_service_applies_the_retention_once_an_hour(tmp_path: Path) -> None:
    app = make_app(tmp_path, SHEETCRM_OUTBOX_RETENTION_DAYS="2")
    svc = app.extensions["sheetcrm"]
    client = app.test_client()
    for i in range(2):
        client.post("/hooks/generic", json={"email": f"p{i}@x.io", "event_id": f"e{i}"})
    svc.outbox.claim("w", time.time(), 10)
    svc.outbox.done({"generic:e0": "L-00001"}, time.time())
    backdate(svc.outbox, 3)
    assert client.post("/tasks/flush", headers=AUTH).json["ok"]
    bodies = {e.key: e.body for e in svc.outbox.entries()}
    assert bodies["generic:e0"] == "" and bodies["generic:e1"]

    svc.outbox.done({"generic:e1": "L-00002"}, time.time() - 3 * DAY)
    client.post("/tasks/flush", headers=AUTH)
    assert svc.outbox.entries(DONE)[1].body  # not before the hour is out: cheap
    svc._next_purge -= PURGE_SECONDS  # an hour later
    client.post("/tasks/flush", headers=AUTH)
    assert {e.body for e in svc.outbox.entries()} == {""}
    # a vendor retrying the old post: still a duplicate, no second lead
    again = client.post("/hooks/generic", json={"email": "p0@x.io", "event_id": "e0"})
    assert (again.status_code, again.json["status"]) == (200, "duplicate")
    svc.stop()


def test_the_background_work_applies_the_retention(tmp_path: Path) -> None:
    app = make_app(tmp_path, SHEETCRM_OUTBOX_RETENTION_DAYS="1")
    svc = app.extensions["sheetcrm"]
    svc.outbox.put("generic:old", "generic", json.dumps({"answers": []}), 0.0)
    svc.outbox.claim("w", 1.0, 1)
    svc.outbox.done({"generic:old": "L-00001"}, 1.0)
    svc.start()
    deadline = time.monotonic() + 20
    while svc.outbox.entries()[0].body and time.monotonic() < deadline:
        time.sleep(0.1)
    assert svc.outbox.entries()[0].body == ""
    svc.stop()


def test_an_erased_waiting_submission_is_never_appended(tmp_path: Path, capsys) -> None:
    app = make_app(tmp_path)
    svc = app.extensions["sheetcrm"]
    client = app.test_client()
    client.post("/hooks/generic", json={"email": "Ann@Acme.io", "event_id": "e1"})
    outbox = svc.outbox.db.url
    assert (
        main(
            ["outbox", "erase", "--sheet", GOOGLE_ID, "--outbox", outbox, "--email", "ann@acme.io"]
        )
        == 0
    )
    assert "1 of them were not in the sheet yet and never will be" in capsys.readouterr().out
    assert client.post("/tasks/flush", headers=AUTH).json["claimed"] == 0
    assert [e.state for e in svc.outbox.entries()] == [ERASED]
    rows = WorkbookBackend(tmp_path / "crm.xlsx").read().table("Leads").records()
    assert not any("acme" in json.dumps(r).lower() for r in rows)
    svc.stop()


def test_opening_an_outbox_to_read_creates_nothing(url: str) -> None:
    from sheetcrm.intake.outbox_db import NoOutboxError

    with pytest.raises(NoOutboxError):
        Outbox(url, create=False)
    if url.startswith("sqlite"):
        assert not Path(url.removeprefix("sqlite:///")).exists()
    else:
        engine = create_engine(url)
        with engine.connect() as conn:
            assert not inspect(conn).has_table("submissions")
        engine.dispose()
    Outbox(url).close()
    Outbox(url, create=False).close()
