"""The service through Flask's test client, on a real workbook and a real SQLite outbox."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.cli import main
from sheetcrm.engine.table import Table
from sheetcrm.errors import ConfigError
from sheetcrm.intake.outbox import DEAD, PENDING
from sheetcrm.intake.outbox_db import submissions
from sheetcrm.service import logs
from sheetcrm.service.tasks import Service
from sheetcrm.service.web import create_app
from sheets import human_edit

TOKEN = "task-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LEAD = {
    "event_id": "evt-1",
    "email": "Ann.Lee@Acme.io",
    "first_name": "Ann",
    "last_name": "Lee",
    "company": "Acme",
    "industry": "SaaS",
    "message": "Call me about pricing",
    "utm_campaign": "spring",
}


def make_app(sheet: Path, **env: str) -> Flask:
    return create_app(
        {
            "SHEETCRM_SHEET": str(sheet),
            "SHEETCRM_TASK_TOKEN": TOKEN,
            "SHEETCRM_BACKGROUND": "0",
            **env,
        }
    )


@pytest.fixture
def app(sheet: Path) -> Flask:
    app = make_app(sheet, SHEETCRM_SECRET_TYPEFORM="typeform-secret")
    yield app
    service(app).stop()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def service(app: Flask) -> Service:
    return app.extensions["sheetcrm"]


def leads(sheet: Path) -> list[dict[str, str]]:
    return WorkbookBackend(sheet).read().table("Leads").records()


def test_a_submission_is_stored_then_appended_once(client: FlaskClient, sheet: Path) -> None:
    before = len(leads(sheet))
    answer = client.post("/hooks/generic", json=LEAD)
    assert answer.status_code == 202, answer.json
    assert answer.json == {"status": "accepted", "key": "generic:evt-1"}
    replay = client.post("/hooks/generic", json=LEAD)
    assert (replay.status_code, replay.json["status"]) == (200, "duplicate")
    assert client.get("/status", headers=AUTH).json["outbox"]["pending"] == 1
    assert len(leads(sheet)) == before  # nothing written before a flush

    flushed = client.post("/tasks/flush", headers=AUTH)
    assert flushed.status_code == 200, flushed.json
    assert (flushed.json["appended"], flushed.json["claimed"]) == (1, 1)
    rows = leads(sheet)
    assert len(rows) == before + 1
    row = rows[-1]
    assert row["Submission ID"] == "generic:evt-1"
    assert row["Email"] == "ann.lee@acme.io"  # stored normalised: the service made this row
    assert (row["First name"], row["Company"], row["Industry"]) == ("Ann", "Acme", "SaaS")
    assert row["Lead ID"].startswith("L-") and row["Owner"] and row["Score"]
    assert "+20 Industry is SaaS" in row["Score reasons"]
    assert "Call me about pricing" in row["Notes"]
    assert flushed.json["lead_ids"] == [row["Lead ID"]]

    # nothing left to do, and a replay after the append adds nothing either
    assert client.post("/tasks/flush", headers=AUTH).json["claimed"] == 0
    assert client.post("/hooks/generic", json=LEAD).status_code == 200
    client.post("/tasks/flush", headers=AUTH)
    assert len(leads(sheet)) == before + 1
    status = client.get("/status", headers=AUTH).json
    assert status["outbox"] == {
        "pending": 0,
        "done": 1,
        "dead": 0,
        "erased": 0,
        "oldest_pending_seconds": None,
        "in_backoff": 0,
        "next_try_at": None,
        "next_try_in_seconds": None,
    }
    assert status["last_flush"]["ok"] is True


def test_a_crash_between_append_and_mark_does_not_duplicate(
    app: Flask, client: FlaskClient, sheet: Path
) -> None:
    client.post("/hooks/generic", json=LEAD)
    client.post("/tasks/flush", headers=AUTH)
    before = len(leads(sheet))
    # as if the process died after the sheet's append, before the outbox heard of it
    with service(app).outbox.db.engine.begin() as conn:
        conn.execute(update(submissions).values(state=PENDING, lead_id=None))
    again = client.post("/tasks/flush", headers=AUTH).json
    assert (again["appended"], again["already"]) == (0, 1)
    assert len(leads(sheet)) == before
    [entry] = service(app).outbox.entries()
    assert entry.lead_id == leads(sheet)[-1]["Lead ID"]


def test_form_posts_are_accepted(client: FlaskClient, sheet: Path) -> None:
    answer = client.post(
        "/hooks/generic",
        data={"email": "bo@example.org", "interests": ["CRM", "Billing"], "first_name": "Bo"},
    )
    assert answer.status_code == 202, answer.json
    client.post("/tasks/flush", headers=AUTH)
    row = leads(sheet)[-1]
    assert row["Email"] == "bo@example.org"
    assert "CRM, Billing" in row["Notes"]


MULTIPART = "multipart/form-data; boundary=xyz"
BROKEN_MULTIPART = [
    b"email=bo@example.org",  # no boundary anywhere: a urlencoded body sent as multipart
    b'--xyz\r\nContent-Disposition: form-data; name="email"\r\n\r\nbo@example.org',  # no end
    b"--xyz\r\nno headers\r\n--xyz--\r\n",
]


@pytest.mark.parametrize("body", BROKEN_MULTIPART)
def test_a_broken_multipart_post_is_called_malformed(client: FlaskClient, body: bytes) -> None:
    """Not "the post has no answers": the answers may well be there, in a body cut short or
    mislabelled, and the sender should look at how it encodes them."""
    answer = client.post("/hooks/generic", data=body, content_type=MULTIPART)
    assert answer.status_code == 400, answer.json
    assert "malformed" in answer.json["error"], answer.json
    assert "multipart" in answer.json["error"] + answer.json["hint"]


def test_a_multipart_post_without_a_boundary_is_called_malformed(client: FlaskClient) -> None:
    body = b'--xyz\r\nContent-Disposition: form-data; name="email"\r\n\r\nbo@x.org\r\n--xyz--\r\n'
    answer = client.post("/hooks/generic", data=body, content_type="multipart/form-data")
    assert answer.status_code == 400 and "malformed" in answer.json["error"], answer.json


def test_a_whole_multipart_post_is_accepted(client: FlaskClient) -> None:
    body = b'--xyz\r\nContent-Disposition: form-data; name="email"\r\n\r\nbo@x.org\r\n--xyz--\r\n'
    answer = client.post("/hooks/generic", data=body, content_type=MULTIPART)
    assert answer.status_code == 202, answer.json


@pytest.mark.parametrize(
    ("path", "kwargs", "status", "says"),
    [
        ("/hooks/nosuch", {"json": LEAD}, 404, "no webhook for 'nosuch'"),
        ("/hooks/generic", {"data": "x", "content_type": "text/plain"}, 415, "content type"),
        ("/hooks/generic", {"data": "{nope", "content_type": "application/json"}, 400, "JSON"),
        ("/hooks/generic", {"data": b"\xff\xfe", "content_type": "application/json"}, 400, "JSON"),
        ("/hooks/generic", {"data": "", "content_type": "application/json"}, 400, "no body"),
        ("/hooks/generic", {"json": []}, 422, ""),
        ("/hooks/generic", {"json": 7}, 422, ""),
        (
            "/hooks/generic",
            {"data": '{"Amount": 1e999}', "content_type": "application/json"},
            422,
            "1e999",
        ),
        (
            "/hooks/generic",
            {"data": '{"Amount": NaN}', "content_type": "application/json"},
            422,
            "NaN",
        ),
        ("/hooks/typeform", {"json": {"x": 1}}, 401, ""),  # a secret is set: unsigned
        (
            "/hooks/generic",
            {"data": "[" * 5000 + "]" * 5000, "content_type": "application/json"},
            400,
            "JSON",
        ),
        (
            "/hooks/generic",
            {"data": "x" * 2_000_000, "content_type": "application/json"},
            413,
            "bytes",
        ),
    ],
)
def test_bad_requests_get_a_clear_json_4xx(
    client: FlaskClient, path: str, kwargs: dict, status: int, says: str
) -> None:
    answer = client.post(path, **kwargs)
    assert answer.status_code == status, answer.get_data(as_text=True)[:300]
    assert answer.is_json and answer.json["error"]
    assert says in answer.json["error"] + answer.json.get("hint", "")
    assert service(client.application).outbox.stats(0)["pending"] == 0


def test_wrong_methods_and_paths_answer_json(client: FlaskClient) -> None:
    for answer, status in (
        (client.get("/hooks/generic"), 405),
        (client.get("/nowhere"), 404),
        (client.delete("/tasks/sync", headers=AUTH), 405),
    ):
        assert answer.status_code == status and answer.json["error"]


def typeform_signature(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def test_a_signed_typeform_post_is_verified(client: FlaskClient) -> None:
    body = json.dumps(
        {
            "event_id": "01TF",
            "form_response": {
                "token": "tok-1",
                "definition": {"title": "Contact", "fields": [{"id": "f1", "title": "Email"}]},
                "answers": [{"type": "email", "email": "a@b.co", "field": {"id": "f1"}}],
            },
        }
    ).encode()
    headers = {"Content-Type": "application/json"}
    wrong = client.post(
        "/hooks/typeform",
        data=body,
        headers={**headers, "Typeform-Signature": typeform_signature("other", body)},
    )
    assert wrong.status_code == 401 and wrong.json["error"]
    tampered = body.replace(b"a@b.co", b"x@b.co")
    assert (
        client.post(
            "/hooks/typeform",
            data=tampered,
            headers={**headers, "Typeform-Signature": typeform_signature("typeform-secret", body)},
        ).status_code
        == 401
    )
    right = client.post(
        "/hooks/typeform",
        data=body,
        headers={**headers, "Typeform-Signature": typeform_signature("typeform-secret", body)},
    )
    assert right.status_code == 202, right.json


def test_an_outbox_that_cannot_open_is_a_clear_error(tmp_path: Path, sheet: Path) -> None:
    with pytest.raises(ConfigError, match="cannot open the outbox") as caught:
        make_app(sheet, SHEETCRM_OUTBOX=f"sqlite:///{tmp_path / 'no' / 'such' / 'box.db'}")
    assert "SHEETCRM_OUTBOX" in caught.value.hint


def test_task_endpoints_need_the_token(sheet: Path) -> None:
    app = make_app(sheet)
    client = app.test_client()
    for path in ("/tasks/sync", "/tasks/flush", "/status"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get(path, headers={"X-Appengine-Cron": "true"}).status_code == 401
    assert client.get("/healthz").json == {"ok": True}
    service(app).stop()
    # without a token the endpoints are off; App Engine's cron header counts only there
    off = make_app(sheet, SHEETCRM_TASK_TOKEN="")
    assert off.test_client().post("/tasks/sync").status_code == 403
    service(off).stop()
    gae = make_app(  # a SQLite outbox on App Engine only as a trial (test_environment.py)
        sheet, SHEETCRM_TASK_TOKEN="", GAE_APPLICATION="s~crm", SHEETCRM_ALLOW_SQLITE_OUTBOX="1"
    )
    assert gae.test_client().get("/tasks/flush", headers={"X-Appengine-Cron": "true"}).json["ok"]
    service(gae).stop()


def test_sync_task_and_status(client: FlaskClient) -> None:
    answer = client.post("/tasks/sync", headers=AUTH)
    assert answer.status_code == 200, answer.json
    assert answer.json["ok"] and answer.json["summary"]["rows"] > 0
    status = client.get("/status", headers=AUTH).json
    assert status["last_sync"]["ok"] and status["last_sync"]["summary"]["rows"] > 0
    assert status["sync_every_minutes"] == 15
    assert status["last_errors"] == []


def test_the_sync_schedule_follows_the_settings_tab(client: FlaskClient, sheet: Path) -> None:
    def every_five(table: Table) -> None:
        row = next(r for r in table.rows if r[0] == "Sync every minutes")
        row[1] = "5"

    human_edit(WorkbookBackend(sheet), "Settings", every_five)
    assert client.post("/tasks/sync", headers=AUTH).json["ok"]
    assert client.get("/status", headers=AUTH).json["sync_every_minutes"] == 5


def test_an_unreachable_sheet_keeps_submissions_waiting(tmp_path: Path, sheet: Path) -> None:
    app = make_app(
        tmp_path / "missing" / "crm.xlsx",
        SHEETCRM_OUTBOX=f"sqlite:///{tmp_path / 'outbox.sqlite3'}",
    )
    client = app.test_client()
    assert client.post("/hooks/generic", json=LEAD).status_code == 202
    answer = client.post("/tasks/flush", headers=AUTH)
    assert answer.status_code == 503 and answer.json["error"]
    [entry] = service(app).outbox.entries()
    assert (entry.state, entry.attempts) == (PENDING, 1) and entry.last_error
    status = client.get("/status", headers=AUTH).json
    assert status["outbox"]["pending"] == 1
    assert status["last_errors"][0]["kind"] == "flush"
    service(app).stop()


def test_a_poison_submission_is_dead_listed_and_retried(
    app: Flask, client: FlaskClient, sheet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outbox = service(app).outbox
    outbox.put("generic:broken", "generic", "{not json", 1.0)
    client.post("/hooks/generic", json=LEAD)
    report = client.post("/tasks/flush", headers=AUTH).json
    assert (report["dead"], report["appended"]) == (1, 1)  # the good one is not held up
    [dead] = outbox.entries(DEAD)
    assert dead.key == "generic:broken" and "cannot be read" in dead.last_error

    url = outbox.db.url
    assert main(["outbox", "list", "--sheet", str(sheet), "--outbox", url, "--state", "dead"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["key"] for e in listed] == ["generic:broken"]
    assert main(["outbox", "retry", "--sheet", str(sheet), "--outbox", url, "--all"]) == 0
    assert "1 dead submissions are pending again" in capsys.readouterr().out
    assert outbox.stats(2.0)["pending"] == 1
    assert main(["outbox", "retry", "--sheet", str(sheet), "--outbox", url]) == 1


def test_logs_are_json_lines_without_personal_data(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = logs.logger.handlers[0]
    stream = handler.stream
    import io

    buffer = io.StringIO()
    handler.setStream(buffer)
    try:
        client.post("/hooks/generic", json=LEAD)
        client.post("/tasks/flush", headers=AUTH)
        client.post("/tasks/sync", headers=AUTH)
    finally:
        handler.setStream(stream)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    kinds = [line.get("kind") for line in lines]
    assert kinds.count("request") == 3 and "flush" in kinds and "sync" in kinds
    hook = next(line for line in lines if line.get("path") == "/hooks/generic")
    assert (hook["status"], hook["source"], hook["key"]) == (202, "generic", "generic:evt-1")
    text = buffer.getvalue().casefold()
    for personal in ("ann.lee", "acme", "pricing", TOKEN.casefold()):
        assert personal not in text
    assert all(line["severity"] in {"INFO", "WARNING"} for line in lines)
    assert logging.getLogger("sheetcrm").propagate is False


def test_a_form_that_cannot_set_headers_sends_its_token_in_the_url(sheet: Path) -> None:
    app = make_app(sheet, SHEETCRM_SECRET_JOTFORM="jot-token")
    client = app.test_client()
    raw = json.dumps({"q3_email": "jo@example.org", "q4_name": {"first": "Jo", "last": "Li"}})
    form = {"submissionID": "5501", "formTitle": "Contact", "rawRequest": raw}
    assert client.post("/hooks/jotform", data=form).status_code == 401
    assert client.post("/hooks/jotform?token=wrong", data=form).status_code == 401
    answer = client.post("/hooks/jotform?token=jot-token", data=form)
    assert (answer.status_code, answer.json["key"]) == (202, "jotform:5501")
    # any wrong credential refuses, whichever good one comes with it, in either form
    for headers in [{"Authorization": "Bearer jot-token"}, {"X-Sheetcrm-Token": "jot-token"}]:
        assert (
            client.post("/hooks/jotform?token=wrong", data=form, headers=headers).status_code == 401
        )
    for headers in [{"Authorization": "Bearer wrong"}, {"X-Sheetcrm-Token": "wrong"}]:
        assert (
            client.post("/hooks/jotform?token=jot-token", data=form, headers=headers).status_code
            == 401
        )
    good = {"X-Sheetcrm-Token": "jot-token"}
    assert client.post("/hooks/jotform?token=jot-token", data=form, headers=good).status_code == 200
    service(app).stop()
