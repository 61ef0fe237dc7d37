"""/hooks/activity through Flask's test client, on a real workbook and a real SQLite outbox:
a touch posted twice is one Activities row, a bad body is refused with what is wrong, an
unsigned post is refused when a secret is set, and the next sync reads the row."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.cli import main
from sheetcrm.service.tasks import Service
from sheets import template
from test_web import AUTH, make_app

SECRET = "activity-secret-for-tests"
TOUCH = {
    "event_id": "call-77",
    "at": "2026-11-24 09:30",
    "email": "camille.dubois@atelierlumen.example",
    "type": "call",
    "outcome": "reached",
    "by": "Sofia Marin",
    "notes": "Wants pricing",
    "next_action_date": "2026-11-30",
}


_app = make_app  # test_web's: the sheet, the task token, no background process


@pytest.fixture
def sheet(tmp_path: Path) -> Path:
    WorkbookBackend(tmp_path / "crm.xlsx").provision(template())
    return tmp_path / "crm.xlsx"


@pytest.fixture
def client(sheet: Path):
    app = _app(sheet)
    yield app.test_client()
    svc: Service = app.extensions["sheetcrm"]
    svc.stop()


def _activities(path: Path) -> list[dict[str, str]]:
    return WorkbookBackend(path).read().table("Activities").records()


def test_a_touch_posted_twice_is_one_activities_row(client: FlaskClient, sheet: Path) -> None:
    before = len(_activities(sheet))
    answer = client.post("/hooks/activity", json=TOUCH)
    assert answer.status_code == 202, answer.json
    assert answer.json == {"status": "accepted", "key": "activity:call-77"}
    again = client.post("/hooks/activity", json=TOUCH)
    assert (again.status_code, again.json["status"]) == (200, "duplicate")
    flushed = client.post("/tasks/flush", headers=AUTH)
    assert flushed.status_code == 200, flushed.json
    assert (flushed.json["claimed"], flushed.json["activities"]) == (1, 1)
    rows = _activities(sheet)
    assert len(rows) == before + 1
    row = rows[-1]
    assert (row["At"], row["Lead ID"], row["Type"], row["Outcome"]) == (
        "2026-11-24 09:30",
        "camille.dubois@atelierlumen.example",
        "call",
        "reached",
    )
    assert (row["By"], row["Notes"], row["Next action date"]) == (
        "Sofia Marin",
        "Wants pricing",
        "2026-11-30",
    )
    # posted again after the flush: still one row
    assert client.post("/hooks/activity", json=TOUCH).status_code == 200
    client.post("/tasks/flush", headers=AUTH)
    assert len(_activities(sheet)) == before + 1
    # and the sync reads it like a typed row: the template's touches are a day older
    assert main(["sync", "--sheet", str(sheet), "--now", "2026-11-25T10:00"]) == 0
    leads = WorkbookBackend(sheet).read().table("Leads").records()
    camille = next(r for r in leads if r["Email"] == "camille.dubois@atelierlumen.example")
    assert camille["Last contact"] == "2026-11-24"


def test_a_touch_without_an_event_id_is_keyed_by_its_body(client: FlaskClient) -> None:
    touch = {k: v for k, v in TOUCH.items() if k != "event_id"}
    first = client.post("/hooks/activity", json=touch)
    assert first.status_code == 202 and first.json["key"].startswith("activity:")
    assert client.post("/hooks/activity", json=touch).json["status"] == "duplicate"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ([1, 2], "the body is not a JSON object"),
        ({"email": "a@b.example"}, "the touch has no 'at'"),
        ({"at": "2026-11-23 09:30"}, "names no lead"),
        ({"at": "yesterday-ish", "lead_id": "L-00001"}, "'at' is not a date"),
        ({"at": "2026-11-23", "lead_id": "L-00001", "next_action_date": "soon"}, "not a date"),
        ({"at": "2026-11-23", "lead_id": {"id": 1}}, "'lead_id' must be text"),
    ],
)
def test_a_bad_body_is_refused_with_what_is_wrong(client: FlaskClient, body, says: str) -> None:
    answer = client.post("/hooks/activity", json=body)
    assert answer.status_code == 400, answer.json
    assert says in answer.json["error"] and answer.json["hint"]


def test_unsigned_touches_are_refused_when_a_secret_is_set(sheet: Path) -> None:
    app = _app(sheet, SHEETCRM_SECRET_ACTIVITY=SECRET)
    try:
        client = app.test_client()
        assert client.post("/hooks/activity", json=TOUCH).status_code == 401
        wrong = client.post("/hooks/activity", json=TOUCH, headers={"X-Sheetcrm-Token": "no"})
        assert wrong.status_code == 401 and SECRET not in json.dumps(wrong.json)
        body = json.dumps(TOUCH).encode()
        signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        signed = client.post(
            "/hooks/activity",
            data=body,
            headers={"Content-Type": "application/json", "X-Signature": f"sha256={signature}"},
        )
        assert signed.status_code == 202, signed.json
    finally:
        app.extensions["sheetcrm"].stop()
