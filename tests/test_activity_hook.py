"""/hooks/activity through Flask's test client, on a real workbook and a real SQLite outbox:
a touch posted twice is one Activities row, a bad body is refused with what is wrong, an
unsigned post is refused when a secret is set, and the next sync reads the row. The flusher
against the Sheets stand-in and a workbook: a touch appended before a failure or a crash
(its key in Activities' Submission ID) is marked done, never appended again; a tab from
before that column gets it, and its typed rows still count."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from sheetcrm.backends.base import SheetBackend
from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.cli import main
from sheetcrm.emulator.faults import DROP_AFTER
from sheetcrm.engine.schema import ACTIVITIES
from sheetcrm.engine.table import Table
from sheetcrm.intake.activity import ACTIVITY, activity_row
from sheetcrm.intake.flusher import flush
from sheetcrm.intake.outbox import DONE, PENDING, Outbox
from sheetcrm.service.tasks import Service
from sheets import emulator, google_backend, template
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


CLOCK = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
KEY = f"{ACTIVITY}:call-77"


@pytest.fixture
def outbox(tmp_path: Path):
    box = Outbox(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    yield box
    box.close()


def _post(outbox: Outbox) -> None:
    """TOUCH, stored as /hooks/activity stores it."""
    body = json.dumps(activity_row(TOUCH), sort_keys=True)
    assert outbox.put(KEY, ACTIVITY, body, CLOCK.timestamp() - 60) == KEY


def _keys(backend: SheetBackend) -> Counter:
    """Submission ID of each Activities row; "" for the typed ones."""
    return Counter(r.get("Submission ID", "") for r in backend.read().table("Activities").records())


def test_a_touch_appended_before_a_failure_is_one_row_and_marked_done_next(
    outbox: Outbox,
) -> None:
    """The write appending to Activities lands, its answer is lost and every retry fails: the
    batch goes back to wait, and the next flush finds the touch's key in Submission ID
    instead of appending it again."""
    backend = google_backend()
    typed = _keys(backend)[""]
    _post(outbox)
    emu = emulator()
    # the rows and the lease's release go in one values.batchUpdate, right after the write's
    # check (a values read by columns): what is injected there is what the write gets. (It
    # was injected at the write itself, so the read that checked it got the faults: a flush
    # that writes only new rows reads nothing after its write, and the test failed open.)
    emu.before_request(
        lambda _store: emu.inject(DROP_AFTER, *[503] * 8),
        when=lambda i: i.endpoint == "values.batchGet" and "COLUMNS" in str(i.args),
    )
    failed = flush(outbox, backend, lambda: CLOCK, "w1")
    emu.limits.clear_injected()  # the retries it did not need
    assert failed.error and failed.waiting == 1
    assert [e.state for e in outbox.entries()] == [PENDING]
    assert _keys(backend) == Counter({"": typed, KEY: 1})  # it did happen, once

    later = datetime.fromtimestamp(outbox.entries()[0].next_try_at + 1, UTC)
    again = flush(outbox, backend, lambda: later, "w2")
    assert (again.activities, again.already, again.error) == (0, 1, "")
    assert _keys(backend) == Counter({"": typed, KEY: 1})  # one row, not two
    assert [e.state for e in outbox.entries()] == [DONE]


def test_a_crash_before_the_mark_on_a_workbook_is_one_row(tmp_path: Path, outbox: Outbox) -> None:
    """A flusher killed between its write and the outbox's mark leaves the touch appended
    and still pending: a second outbox holding the same touch is that state, exactly."""
    path = tmp_path / "crm.xlsx"
    WorkbookBackend(path).provision(template())
    _post(outbox)
    assert flush(outbox, WorkbookBackend(path), lambda: CLOCK, "w1").activities == 1
    killed = Outbox(f"sqlite:///{tmp_path / 'killed.sqlite3'}")
    try:
        _post(killed)
        again = flush(killed, WorkbookBackend(path), lambda: CLOCK, "w2")
        assert (again.activities, again.already, again.error) == (0, 1, "")
        assert [e.state for e in killed.entries()] == [DONE]
    finally:
        killed.close()
    assert _keys(WorkbookBackend(path))[KEY] == 1


def _old_sheet(path: Path) -> None:
    """The template as it was before Activities had Submission ID: the typed rows only."""
    tabs = template()
    act = tabs["Activities"]
    keep = [i for i, h in enumerate(act.header) if ACTIVITIES.column(h).header != "Submission ID"]
    tabs["Activities"] = Table(
        [act.header[i] for i in keep], [[r[i] for i in keep] for r in act.rows]
    )
    WorkbookBackend(path).provision(tabs)


def test_a_sheet_from_before_gets_the_column_and_its_typed_rows_still_count(
    tmp_path: Path, outbox: Outbox
) -> None:
    path = tmp_path / "crm.xlsx"
    _old_sheet(path)
    before = WorkbookBackend(path).read().table("Activities")
    assert "Submission ID" not in before.header
    assert main(["sync", "--sheet", str(path), "--now", "2026-11-25T10:00"]) == 0
    after = WorkbookBackend(path).read()
    act = after.table("Activities")
    assert act.header == [*before.header, "Submission ID"]  # at the right
    assert act.rows == [[*r, ""] for r in before.rows]  # nothing typed moved or rewritten
    assert any(r["Last contact"] for r in after.table("Leads").records())  # still read
    # a second sync has nothing to add
    assert main(["sync", "--sheet", str(path), "--now", "2026-11-25T10:00"]) == 0
    assert WorkbookBackend(path).read().table("Activities").header == act.header
    # and the flusher keys its touch there
    _post(outbox)
    assert flush(outbox, WorkbookBackend(path), lambda: CLOCK, "w1").activities == 1
    assert _keys(WorkbookBackend(path))[KEY] == 1


def test_a_flush_onto_a_tab_from_before_adds_the_column(tmp_path: Path, outbox: Outbox) -> None:
    path = tmp_path / "crm.xlsx"
    _old_sheet(path)
    typed = len(WorkbookBackend(path).read().table("Activities").rows)
    _post(outbox)
    assert flush(outbox, WorkbookBackend(path), lambda: CLOCK, "w1").activities == 1
    assert _keys(WorkbookBackend(path)) == Counter({"": typed, KEY: 1})


def test_the_sync_ignores_what_submission_id_holds(tmp_path: Path) -> None:
    """A key, or anything a person types there, is no problem and changes nothing the row
    counts for."""
    path = tmp_path / "crm.xlsx"
    tabs = template()
    act = tabs["Activities"]
    col = act.col("Submission ID")
    rows = [list(r) for r in act.rows]
    rows[0][col] = "not a key at all"
    tabs["Activities"] = Table(act.header, rows)
    WorkbookBackend(path).provision(tabs)
    plain = tmp_path / "plain.xlsx"
    WorkbookBackend(plain).provision(template())
    for sheet in (path, plain):
        assert main(["sync", "--sheet", str(sheet), "--now", "2026-11-25T10:00"]) == 0
    ours, theirs = WorkbookBackend(path).read(), WorkbookBackend(plain).read()
    assert ours.table("Leads").rows == theirs.table("Leads").rows
    problems = [r["Cell"] for r in ours.table("Problems").records() if r["Tab"] == "Activities"]
    assert problems == [
        r["Cell"] for r in theirs.table("Problems").records() if r["Tab"] == "Activities"
    ]
