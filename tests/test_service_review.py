"""What a review of the intake service found, each pinned by a test: lone surrogates, 405s
without Allow, keys too long for the outbox, secrets that silently turned verification off,
a group commit that reported an interrupted write as a replay, and a background worker
that died for good on the first unexpected error."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import SQLAlchemyError

from sheetcrm.backends import open_backend
from sheetcrm.backends.base import SheetBackend
from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.errors import ConfigError
from sheetcrm.intake.adapters import SOURCES, adapt
from sheetcrm.intake.outbox import DONE, Outbox
from sheetcrm.intake.submission import Answer, Submission
from sheetcrm.service.service_config import ServiceConfig
from sheetcrm.service.tasks import Service
from sheetcrm.service.web import create_app
from sheets import template

TOKEN = "review-task-token-16"


@pytest.fixture(scope="module")
def blank_sheet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "crm.xlsx"
    WorkbookBackend(path).provision(template())
    return path


@pytest.fixture
def sheet(blank_sheet: Path, tmp_path: Path) -> Path:
    path = tmp_path / "crm.xlsx"
    shutil.copy(blank_sheet, path)
    return path


@pytest.fixture
def app(sheet: Path) -> Iterator[Flask]:
    app = create_app({"SHEETCRM_SHEET": str(sheet), "SHEETCRM_BACKGROUND": "0"})
    yield app
    app.extensions["sheetcrm"].stop()


# --- lone surrogates: valid JSON, not encodable text ----------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '{"email": "ann\\ud800@acme.io"}',
        '{"event_id": "\\udfff", "email": "ann@acme.io"}',
        '{"\\ud83d": "x", "email": "ann@acme.io"}',
        '{"email": "ann@acme.io", "form": "\\ud800"}',
    ],
)
def test_a_lone_surrogate_in_json_is_not_a_500(app: Flask, body: str) -> None:
    client = app.test_client()
    answer = client.post("/hooks/generic", data=body, content_type="application/json")
    assert answer.status_code == 202, answer.get_data(as_text=True)
    # what is stored is text that any database and any sheet can take
    [entry] = app.extensions["sheetcrm"].outbox.entries()
    entry.body.encode("utf-8")
    entry.key.encode("utf-8")


# --- 405 ------------------------------------------------------------------------------------


def test_a_405_names_the_allowed_methods(app: Flask) -> None:
    answer = app.test_client().get("/hooks/generic")
    assert answer.status_code == 405 and answer.json["error"]
    assert "POST" in answer.headers["Allow"]


# --- idempotency keys fit the outbox's key column (String(255): PostgreSQL enforces it) ------


@settings(max_examples=60, derandomize=True, database=None)
@given(
    event_id=st.text(min_size=1, max_size=20) | st.text(min_size=240, max_size=600),
    source=st.sampled_from(SOURCES),
)
def test_every_key_fits_the_outbox(event_id: str, source: str) -> None:
    submission = Submission(source, event_id.strip() or "x", (Answer("email", "Email", "a@b.co"),))
    key = submission.key()
    assert len(key) <= 255 and key.startswith(f"{source}:")
    assert key == Submission(source, submission.event_id, ()).key()  # still the event's own


def test_a_long_event_id_still_deduplicates(app: Flask) -> None:
    client = app.test_client()
    lead = {"event_id": "e" * 300, "email": "ann@acme.io"}
    first = client.post("/hooks/generic", json=lead)
    assert first.status_code == 202 and len(first.json["key"]) <= 255
    assert client.post("/hooks/generic", json=lead).json == {
        "status": "duplicate",
        "key": first.json["key"],
    }
    other = client.post("/hooks/generic", json={**lead, "event_id": "e" * 299 + "f"})
    assert other.status_code == 202 and other.json["key"] != first.json["key"]
    assert adapt("generic", lead).key() == first.json["key"]


# --- secrets: a set variable never turns verification off -----------------------------------


def test_an_empty_secret_refuses_posts_instead_of_accepting_them(sheet: Path) -> None:
    app = create_app(
        {"SHEETCRM_SHEET": str(sheet), "SHEETCRM_BACKGROUND": "0", "SHEETCRM_SECRET_TALLY": ""}
    )
    try:
        answer = app.test_client().post("/hooks/tally", json={"data": {"fields": []}})
        assert answer.status_code == 401 and "SHEETCRM_SECRET_TALLY" in answer.json["error"]
    finally:
        app.extensions["sheetcrm"].stop()


@pytest.mark.parametrize("token", ["change-me", "short-token-15c", "  change-me  "])
def test_a_placeholder_or_short_task_token_is_refused_at_start_up(token: str) -> None:
    with pytest.raises(ConfigError, match="SHEETCRM_TASK_TOKEN") as caught:
        ServiceConfig.from_env({"SHEETCRM_SHEET": "crm.xlsx", "SHEETCRM_TASK_TOKEN": token})
    assert "token_urlsafe" in caught.value.hint


def test_a_task_token_of_16_characters_or_none_at_all_is_accepted() -> None:
    for token in ["", "sixteen-chars-ok"]:
        env = {"SHEETCRM_SHEET": "crm.xlsx", "SHEETCRM_TASK_TOKEN": token}
        assert ServiceConfig.from_env(env).task_token == token


def test_a_secret_for_no_known_source_is_a_config_error(sheet: Path) -> None:
    with pytest.raises(ConfigError, match="SHEETCRM_SECRET_TYPEFROM") as caught:
        ServiceConfig.from_env({"SHEETCRM_SHEET": str(sheet), "SHEETCRM_SECRET_TYPEFROM": "s3cret"})
    assert "SHEETCRM_SECRET_TYPEFORM" in caught.value.hint
    assert "s3cret" not in str(caught.value)


# --- the outbox's group commit --------------------------------------------------------------


def test_a_shared_commit_cut_short_is_never_answered_as_a_replay(tmp_path: Path) -> None:
    """A gunicorn worker timeout raises SystemExit wherever the thread is. If that thread
    was writing a batch for others, they must hear of a failure, never "already stored"."""
    outbox = Outbox(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    group = outbox._group
    real_insert = group._write
    calls = 0

    def insert(batch: list) -> list[bool]:
        nonlocal calls
        calls += 1
        if calls == 1:  # hold the first commit until two more callers wait behind it
            deadline = time.monotonic() + 5
            while len(group._queue) < 2 and time.monotonic() < deadline:
                time.sleep(0.005)
            return real_insert(batch)
        raise SystemExit(1)  # the second commit, for both waiters, is cut short

    group._write = insert
    answers: dict[str, object] = {}

    def post(key: str) -> None:
        try:
            answers[key] = outbox.put(key, "generic", "{}", 1.0)
        except BaseException as exc:
            answers[key] = exc

    first = threading.Thread(target=post, args=("k0",))
    first.start()
    while calls == 0:
        time.sleep(0.001)
    others = [threading.Thread(target=post, args=(f"k{i}",)) for i in (1, 2)]
    for t in others:
        t.start()
    for t in [first, *others]:
        t.join(10)
    assert answers["k0"] == "k0"
    for key in ("k1", "k2"):
        assert answers[key] is not None, "an unstored submission answered as a replay"
        assert isinstance(answers[key], BaseException)
    # whichever thread ran the cut-short commit sees its own SystemExit; the other a
    # database error, which the web layer answers 503 "send it again"
    kinds = sorted(type(answers[k]).__name__ for k in ("k1", "k2"))
    assert kinds[1] == "SystemExit" and isinstance(
        next(a for a in answers.values() if not isinstance(a, str | SystemExit)), SQLAlchemyError
    )
    assert {e.key for e in outbox.entries()} == {"k0"}
    outbox.close()


# --- the background worker survives what it did not expect ---------------------------------


def test_the_background_worker_survives_an_unexpected_error(sheet: Path, tmp_path: Path) -> None:
    failures = 2

    def flaky(location: str) -> SheetBackend:
        nonlocal failures
        if failures:
            failures -= 1
            raise RuntimeError("a bug in a backend, or an error it did not wrap")
        return open_backend(location)

    config = ServiceConfig(
        sheet=str(sheet),
        outbox_url=f"sqlite:///{tmp_path / 'outbox.sqlite3'}",
        flush_every=0.05,
    )
    svc = Service(config, opener=flaky, clock=lambda: datetime.now(UTC))
    svc.outbox.put(
        "generic:evt-1",
        "generic",
        adapt("generic", {"event_id": "evt-1", "email": "ann@acme.io"}).to_json(),
        time.time(),
    )
    svc.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not svc.outbox.entries(DONE):
            time.sleep(0.05)
        assert svc.status()["background"] is True
        assert [e.key for e in svc.outbox.entries(DONE)] == ["generic:evt-1"]
    finally:
        svc.stop()


# --- the outbox's database gone: a documented 503, never a 500 -----------------------------


def test_an_unreachable_outbox_is_a_documented_503(sheet: Path, tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from sheetcrm.service.openapi import openapi

    app = create_app(
        {"SHEETCRM_SHEET": str(sheet), "SHEETCRM_BACKGROUND": "0", "SHEETCRM_TASK_TOKEN": TOKEN}
    )
    svc = app.extensions["sheetcrm"]
    svc.outbox.db.engine.dispose()
    svc.outbox.db.engine = create_engine(f"sqlite:///{tmp_path / 'gone' / 'outbox.sqlite3'}")
    client = app.test_client()
    paths = openapi()["paths"]
    for method, url, path in [
        ("POST", "/hooks/generic", "/hooks/{source}"),
        ("GET", "/status", "/status"),
        ("POST", "/tasks/flush", "/tasks/flush"),
        ("POST", "/tasks/sync", "/tasks/sync"),
    ]:
        answer = client.open(
            url,
            method=method,
            json={"email": "ann@acme.io"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert answer.status_code == 503, (url, answer.status_code, answer.get_data(as_text=True))
        assert str(answer.status_code) in paths[path][method.lower()]["responses"]
        assert answer.json["error"] and answer.headers["Retry-After"]
    svc.stop()


# --- claims that run out during a long flush: two flushers, one row -------------------------


def test_a_claim_that_runs_out_mid_flush_adds_no_second_row(sheet: Path, tmp_path: Path) -> None:
    """Flusher A is slow: its claim runs out before it writes, flusher B takes the same
    submission over and appends it. A's write then finds the sheet changed, reads it again,
    finds the key, and only marks the submission done."""
    from sheetcrm.intake.flusher import flush

    outbox = Outbox(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    lead = adapt("generic", {"event_id": "evt-1", "email": "ann@acme.io"})
    outbox.put(lead.key(), "generic", lead.to_json(), time.time())
    start = datetime.now(UTC)
    later = datetime.fromtimestamp(start.timestamp() + 600, UTC)  # A's claim has run out

    class Slow(WorkbookBackend):
        overtaken = False

        def write(self, changes):  # type: ignore[no-untyped-def]
            if not Slow.overtaken:
                Slow.overtaken = True
                b = flush(outbox, WorkbookBackend(sheet), lambda: later, "B")
                assert (b.claimed, b.appended) == (1, 1)
            return super().write(changes)

    rows_before = len(WorkbookBackend(sheet).read().table("Leads").records())
    a = flush(outbox, Slow(sheet), lambda: start, "A")
    assert (a.claimed, a.appended, a.already, a.error) == (1, 0, 1, "")
    rows = WorkbookBackend(sheet).read().table("Leads").records()
    assert len(rows) == rows_before + 1
    [entry] = outbox.entries()
    assert entry.state == DONE and entry.lead_id == rows[-1]["Lead ID"]
    outbox.close()
