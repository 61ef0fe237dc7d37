"""A submission that comes under the key of an earlier, different one is stored and its lead
flagged, never dropped; the same answers again stay a quiet duplicate. Through the service,
on a real workbook and a real SQLite or PostgreSQL outbox."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, inspect, text

from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.engine.sync.keys import MESSAGE
from sheetcrm.intake import adapt
from sheetcrm.intake.outbox import Outbox
from sheetcrm.service import logs
from sheetcrm.service.web import create_app

TOKEN = "task-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def app(sheet: Path, url: str) -> Iterator[Flask]:
    app = create_app(
        {
            "SHEETCRM_SHEET": str(sheet),
            "SHEETCRM_TASK_TOKEN": TOKEN,
            "SHEETCRM_BACKGROUND": "0",
            "SHEETCRM_OUTBOX": url,
        }
    )
    yield app
    app.extensions["sheetcrm"].stop()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def leads(sheet: Path) -> list[dict[str, str]]:
    return WorkbookBackend(sheet).read().table("Leads").records()


def problems(sheet: Path) -> list[dict[str, str]]:
    return WorkbookBackend(sheet).read().table("Problems").records()


def google_forms(email: str, stamp: str, submission_id: str) -> dict[str, object]:
    """What an older sheetcrm.gs posted: the key made of the trigger's id and the row."""
    return {
        "namedValues": {
            "Timestamp": [stamp],
            "Email Address": [email],
            "Company": ["Acme"],
        },
        "submissionId": submission_id,
        "spreadsheetId": "1AbC",
        "submittedAt": "2026-03-10T14:41:08.000Z",
    }


def test_a_deleted_response_row_no_longer_drops_the_next_google_forms_answer(
    client: FlaskClient, sheet: Path
) -> None:
    """The old script keyed row 7's response "trigger:7"; once row 7 was deleted, the next
    response was row 7 again and was answered "duplicate", stored nowhere."""
    before = len(leads(sheet))
    first = client.post(
        "/hooks/google-forms", json=google_forms("li@acme.io", "3/10/2026 9:41:07", "4034:7")
    )
    second = client.post(
        "/hooks/google-forms", json=google_forms("bo@acme.io", "3/11/2026 8:02:55", "4034:7")
    )
    assert (first.status_code, second.status_code) == (202, 202), (first.json, second.json)
    assert first.json["key"] != second.json["key"]
    retry = client.post(
        "/hooks/google-forms", json=google_forms("bo@acme.io", "3/11/2026 8:02:55", "4034:7")
    )
    assert (retry.status_code, retry.json) == (
        200,
        {"status": "duplicate", "key": second.json["key"]},
    )

    assert client.post("/tasks/flush", headers=AUTH).json["appended"] == 2
    rows = leads(sheet)[before:]
    assert [r["Email"] for r in rows] == ["li@acme.io", "bo@acme.io"]


def test_a_reused_key_with_other_answers_is_stored_flagged_and_logged(
    client: FlaskClient, sheet: Path
) -> None:
    handler = logs.logger.handlers[0]
    stream = handler.stream
    buffer = io.StringIO()
    handler.setStream(buffer)
    try:
        first = client.post("/hooks/generic", json={"event_id": "evt-9", "email": "ann@acme.io"})
        other = client.post("/hooks/generic", json={"event_id": "evt-9", "email": "cat@globex.io"})
        again = client.post("/hooks/generic", json={"event_id": "evt-9", "email": "cat@globex.io"})
        same = client.post("/hooks/generic", json={"event_id": "evt-9", "email": "ann@acme.io"})
    finally:
        handler.setStream(stream)
    assert (first.status_code, first.json) == (202, {"status": "accepted", "key": "generic:evt-9"})
    assert (other.status_code, other.json) == (
        202,
        {"status": "accepted", "key": "generic:evt-9#2", "reused_key": "generic:evt-9"},
    )
    # each retry of either is a quiet duplicate of the one it repeats
    assert (again.status_code, again.json["status"], again.json["key"]) == (
        200,
        "duplicate",
        "generic:evt-9",
    )
    assert (same.status_code, same.json["status"]) == (200, "duplicate")
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    warned = [line for line in lines if line.get("kind") == "reused-key"]
    assert [(w["severity"], w["key"], w["stored_as"]) for w in warned] == [
        ("WARNING", "generic:evt-9", "generic:evt-9#2")
    ]
    assert "cat@globex.io" not in buffer.getvalue()  # keys only, no personal data

    before = len(leads(sheet))
    assert client.post("/tasks/flush", headers=AUTH).json["appended"] == 2
    for _ in range(2):  # the flag stays, sync after sync
        rows = {r["Email"]: r for r in leads(sheet)[before:]}
        assert rows["ann@acme.io"]["Submission ID"] == "generic:evt-9"
        assert MESSAGE not in rows["ann@acme.io"]["Status"]
        assert rows["cat@globex.io"]["Submission ID"] == "generic:evt-9#2"
        assert MESSAGE in rows["cat@globex.io"]["Status"]
        listed = [p for p in problems(sheet) if MESSAGE in p["Problem"]]
        assert len(listed) == 1 and listed[0]["Hint"]
        assert client.post("/tasks/sync", headers=AUTH).status_code == 200


OLD_TABLE = """CREATE TABLE submissions (
    key VARCHAR(255) PRIMARY KEY, source VARCHAR(40) NOT NULL, body TEXT NOT NULL,
    state VARCHAR(10) NOT NULL, received_at FLOAT NOT NULL, attempts INTEGER NOT NULL,
    next_try_at FLOAT NOT NULL, claimed_by VARCHAR(100), claimed_until FLOAT,
    last_error TEXT, lead_id VARCHAR(40), done_at FLOAT)"""


def test_an_outbox_made_before_digests_gets_them_when_opened(url: str) -> None:
    stored = adapt("generic", {"event_id": "e1", "email": "ann@acme.io"})
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(OLD_TABLE))
        conn.execute(
            text(
                "INSERT INTO submissions (key, source, body, state, received_at, attempts, "
                "next_try_at) VALUES ('generic:e1', 'generic', :body, 'done', 1, 0, 1)"
            ),
            {"body": stored.to_json()},
        )
    outbox = Outbox(url)
    try:
        with engine.connect() as conn:
            assert "digest" in {c["name"] for c in inspect(conn).get_columns("submissions")}
        # the row stored before has no digest: its body tells a retry from another answer
        retried = adapt("generic", {"event_id": "e1", "email": "ann@acme.io", "submitted_at": "x"})
        assert outbox.put(retried.key(), "generic", retried.to_json(), 2.0) is None
        other = adapt("generic", {"event_id": "e1", "email": "bo@acme.io"})
        assert outbox.put(other.key(), "generic", other.to_json(), 3.0) == "generic:e1#2"
    finally:
        outbox.close()
        engine.dispose()
    Outbox(url).close()  # opened again: nothing left to add
