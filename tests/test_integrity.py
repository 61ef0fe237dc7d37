"""Issue 22, "Integrity": nothing is cut, moved or reassigned without the sheet saying so.

Text too long for a cell is cut to the backend's own limit and reported; a problem names its
lead, not only a cell a sort will move; an owner a person changed is on History and restarts
the first-touch clock; and the small ones (Expected close checked as a date, invisible
characters in web-form contacts, a sync report that says what it rewrote)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.cli import main
from sheetcrm.engine.importer import Export, map_columns, plan_import
from sheetcrm.engine.schema import HISTORY, LEADS, PROBLEMS
from sheetcrm.engine.settings import Settings
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.engine.values import MAX_CELL, clamp, cut_from
from sheetcrm.intake import adapt
from sheetcrm.intake.batch import Arrival, plan_intake
from sheetcrm.intake.flusher import flush
from sheetcrm.intake.outbox import Outbox
from sheets import NOW, cell, google_backend, human_edit, make_backend, template

GOOGLE_CELL = 50_000
LONG = "word " * 12_000  # 60,000 characters: more than any cell holds


def _lead(table: Table, **values: str) -> None:
    row = [""] * len(table.header)
    for header, value in values.items():
        row[table.col(header.replace("_", " "))] = value
    table.rows.append(row)


def _tabs(*leads: dict[str, str]) -> dict[str, Table]:
    tabs = template()
    tabs[LEADS.name].rows.clear()
    for values in leads:
        _lead(tabs[LEADS.name], **values)
    return tabs


def _sync(backend, now: datetime = NOW):
    snapshot = backend.read()
    plan = plan_sync(snapshot, now)
    return plan, apply(plan, backend, snapshot)


def _problems(backend) -> list[dict[str, str]]:
    return backend.read().table(PROBLEMS.name).records()


# --- 6: text too long for a cell -------------------------------------------------------------


@pytest.mark.parametrize("length", [MAX_CELL + 1, MAX_CELL + 9_999, 10**6, 10**7 + 1])
@pytest.mark.parametrize("limit", [MAX_CELL, GOOGLE_CELL])
def test_cut_text_says_how_much_was_cut(length: int, limit: int) -> None:
    text = "y" * length
    cut = clamp(text, limit)
    if length <= limit:
        assert cut == text and cut_from(cut) == 0
        return
    kept = cut.partition("…")[0]
    assert len(cut) == limit and text.startswith(kept)
    assert cut_from(cut) == length - len(kept)
    assert cut_from(kept) == 0 and clamp(cut, limit) == cut


@pytest.mark.parametrize(("kind", "limit"), [("workbook", MAX_CELL), ("google", GOOGLE_CELL)])
def test_an_imported_note_is_cut_to_the_backends_cell_and_reported(
    kind: str, limit: int, tmp_path: Path
) -> None:
    backend = make_backend(kind, tmp_path, _tabs())
    source = Export(["Email", "Notes"], [["long@acme.example", LONG]])
    snapshot = backend.read()
    mapping = map_columns(source.header, snapshot.table(LEADS.name).header, [])
    plan = plan_import(snapshot, source, mapping, Settings(), NOW)
    apply(plan, backend, snapshot)
    _sync(backend)
    read = backend.read()
    notes = cell(read, LEADS.name, "L-00001", "Notes")
    assert len(notes) == limit  # as much as the cell holds, not Excel's limit on Google
    cut = len(LONG.strip()) - len(notes.partition("…")[0])
    assert notes.endswith(f"… [{cut:,} characters cut]")
    status = cell(read, LEADS.name, "L-00001", "Status")
    assert status == f"Notes: the full text did not fit in one cell: {cut:,} characters were cut"
    [problem] = [p for p in _problems(backend) if "did not fit" in p["Problem"]]
    assert problem["Lead"] == "L-00001"
    assert problem["Cell"] == f"Leads!{_letter(read, 'Notes')}2"
    assert "keep long notes in a document and link it" in problem["Hint"]
    plan, _ = _sync(backend)  # and the report is stable: nothing to rewrite
    assert not plan, plan.describe(10)


def test_a_web_form_note_is_cut_to_the_cell_the_sheet_has_and_reported() -> None:
    tabs = _tabs()
    for limit in (MAX_CELL, GOOGLE_CELL):
        snapshot = Snapshot(dict(tabs), "v1", cell_limit=limit)
        record = {"Email": "form@acme.example", "Notes": LONG, "Source": "Web"}
        received = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
        intake = plan_intake(snapshot, [Arrival("k1", record, received)], NOW)
        [row] = intake.plan.appends
        assert len(row["Notes"]) == limit
        cut = len(LONG) - len(row["Notes"].partition("…")[0])
        assert row["Status"] == (
            f"Notes: the full text did not fit in one cell: {cut:,} characters were cut"
        )


def test_google_snapshot_knows_its_cell() -> None:
    assert google_backend(_tabs()).read().cell_limit == GOOGLE_CELL
    assert MemoryBackend(_tabs()).read().cell_limit == MAX_CELL


def _letter(snapshot: Snapshot, column: str) -> str:
    return chr(ord("A") + snapshot.table(LEADS.name).col(column))


# --- 7: a problem names its lead -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "workbook", "google"])
def test_the_problems_tab_names_the_lead_and_an_old_tab_is_rewritten(
    kind: str, tmp_path: Path
) -> None:
    tabs = _tabs(
        {"Email": "fine@acme.example", "Company": "Acme"},
        {"Email": "not-an-address", "Company": "Bolt"},
    )
    tabs[PROBLEMS.name] = Table(["At", "Tab", "Cell", "Problem", "Hint"])  # before issue 22
    backend = make_backend(kind, tmp_path, tabs)
    _sync(backend)
    problems = backend.read().table(PROBLEMS.name)
    assert problems.header == ["At", "Tab", "Cell", "Lead", "Problem", "Hint"]
    [bad] = [p for p in problems.records() if "not a valid email" in p["Problem"]]
    assert bad["Lead"] == "L-00002" and bad["Cell"] == "Leads!E3"
    # a person sorts: the Lead still names the right one, and the problem keeps its At
    human_edit(backend, LEADS.name, lambda t: t.rows.reverse())
    _sync(backend, NOW + timedelta(hours=1))
    [moved] = [p for p in _problems(backend) if "not a valid email" in p["Problem"]]
    assert moved["Lead"] == "L-00002" and moved["Cell"] == "Leads!E2"
    assert moved["At"] == bad["At"]


def test_the_template_and_the_cli_name_the_lead(tmp_path: Path, capsys) -> None:
    path = tmp_path / "crm.xlsx"
    assert main(["init", "--sheet", str(path), "--now", "2026-11-23T10:00"]) == 0
    assert main(["sync", "--sheet", str(path), "--now", "2026-11-23T10:00"]) == 0
    out = capsys.readouterr().out
    assert "Leads!E7 (L-00006):" in out


# --- 8: an owner a person changed ------------------------------------------------------------


def test_an_owner_changed_in_the_sheet_is_logged_and_restarts_the_first_touch_clock() -> None:
    backend = MemoryBackend(_tabs({"Email": "a@acme.example", "Company": "Acme", "Stage": ""}))
    _sync(backend)
    before = backend.read()
    first = cell(before, LEADS.name, "L-00001", "Owner")
    assert first and cell(before, LEADS.name, "L-00001", "Assigned at") == "2026-11-23 10:00"
    other = "Avery Chen" if first != "Avery Chen" else "Maya Patel"

    def reassign(tabs: dict[str, Table]) -> None:
        leads = tabs[LEADS.name]
        leads.rows[0][leads.col("Owner")] = other

    backend.human(reassign)
    later = NOW + timedelta(hours=20)  # the SLA (24 h) from the routing is not over yet
    _sync(backend, later)
    after = backend.read()
    assert cell(after, LEADS.name, "L-00001", "Owner") == other  # the person's choice is kept
    assert cell(after, LEADS.name, "L-00001", "Assigned at") == "2026-11-24 06:00"
    history = after.table(HISTORY.name).records()
    owners = [h for h in history if h["Field"] == "Owner"]
    assert [(h["From"], h["To"], h["By"]) for h in owners] == [
        ("", first, "sheetcrm"),
        (first, other, "sheet"),
    ]
    assert owners[-1]["At"] == "2026-11-24 06:00" and owners[-1]["Lead ID"] == "L-00001"
    # 30 h after routing, 10 h after the reassignment: not overdue, the clock restarted
    _sync(backend, NOW + timedelta(hours=30))
    assert cell(backend.read(), LEADS.name, "L-00001", "Status") == "OK"
    _sync(backend, later + timedelta(hours=25))
    status = cell(backend.read(), LEADS.name, "L-00001", "Status")
    assert status == "overdue: first touch was due 2026-11-25 06:00"
    # logged once: nothing more to say while the owner stays
    assert len([h for h in backend.read().table(HISTORY.name).records() if h["By"] == "sheet"]) == 1


def test_a_stage_a_person_moved_is_by_the_sheet_too() -> None:
    backend = MemoryBackend(_tabs({"Email": "a@acme.example", "Stage": "Prospecting"}))
    _sync(backend)

    def move(tabs: dict[str, Table]) -> None:
        leads = tabs[LEADS.name]
        leads.rows[0][leads.col("Stage")] = "Qualified"

    backend.human(move)
    _sync(backend, NOW + timedelta(hours=1))
    stages = [h for h in backend.read().table(HISTORY.name).records() if h["Field"] == "Stage"]
    assert [(h["To"], h["By"]) for h in stages] == [
        ("Prospecting", "sheetcrm"),
        ("Qualified", "sheet"),
    ]


def test_retyping_the_same_owner_differently_is_no_reassignment() -> None:
    backend = MemoryBackend(_tabs({"Email": "a@acme.example", "Company": "Acme"}))
    _sync(backend)
    owner = cell(backend.read(), LEADS.name, "L-00001", "Owner")

    def retype(tabs: dict[str, Table]) -> None:
        leads = tabs[LEADS.name]
        leads.rows[0][leads.col("Owner")] = f" {owner.upper()} "

    backend.human(retype)
    plan, _ = _sync(backend, NOW + timedelta(hours=1))
    assert not [h for _, h, _ in plan.history if h[2] == "Owner"]


# --- 10: the small ones ----------------------------------------------------------------------


def test_expected_close_is_checked_as_a_date() -> None:
    backend = MemoryBackend(
        _tabs({"Email": "a@acme.example", "Company": "Acme", "Expected close": "next quarter"})
    )
    _sync(backend)
    status = cell(backend.read(), LEADS.name, "L-00001", "Status")
    assert "Expected close: 'next quarter' is not a date" in status


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"])
def test_invisible_characters_in_a_web_form_contact_are_dropped(invisible: str) -> None:
    from sheetcrm.engine.forms_tab import FormMapping
    from sheetcrm.intake.fields import lead_record

    submission = adapt(
        "generic",
        {
            "event_id": "e1",
            "email": f"{invisible}Jane.Doe@acme{invisible}.example",
            "phone": f"+1 415 555 01{invisible}32",
        },
    )
    row = lead_record(submission, FormMapping(), Settings(), LEADS.headers)
    assert row["Email"] == "jane.doe@acme.example"
    assert row["Phone"] == "+14155550132"


def test_a_sync_after_a_flush_says_which_tabs_it_rewrote(tmp_path: Path, capsys) -> None:
    path = tmp_path / "crm.xlsx"
    assert main(["init", "--sheet", str(path), "--now", "2026-11-23T10:00"]) == 0
    assert main(["sync", "--sheet", str(path), "--now", "2026-11-23T10:00"]) == 0
    outbox = Outbox(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    submission = adapt("generic", {"event_id": "e1", "email": "new@lead.example"})
    clock = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    outbox.put(submission.key(), "generic", submission.to_json(), clock.timestamp())
    from sheetcrm.backends.workbook import WorkbookBackend

    assert flush(outbox, WorkbookBackend(path), lambda: clock, "w1").appended == 1
    outbox.close()
    capsys.readouterr()
    assert main(["sync", "--sheet", str(path), "--now", "2026-11-23T15:00"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == (
        "0 cells written, 0 rows appended, 8 tabs rewritten "
        "(Dashboard, Funnel, By owner, By source, Forecast, Nurture, Scoring check, Preview)"
    )


def test_the_service_sync_says_which_tabs_it_rewrote(tmp_path: Path) -> None:
    from sheetcrm.backends.workbook import WorkbookBackend
    from sheetcrm.service.web import create_app

    path = tmp_path / "crm.xlsx"
    WorkbookBackend(path).provision(template())
    env = {
        "SHEETCRM_SHEET": str(path),
        "SHEETCRM_TASK_TOKEN": "integrity-task-token",
        "SHEETCRM_BACKGROUND": "0",
    }
    app = create_app(env)
    client, auth = app.test_client(), {"Authorization": "Bearer integrity-task-token"}
    try:
        assert client.post("/tasks/sync", headers=auth).json["ok"]
        lead = {"event_id": "e1", "email": "new@lead.example"}
        assert client.post("/hooks/generic", json=lead).status_code == 202
        assert client.post("/tasks/flush", headers=auth).json["appended"] == 1
        summary = client.post("/tasks/sync", headers=auth).json["summary"]
        assert "Dashboard" in summary["tabs_rewritten"]
    finally:
        app.extensions["sheetcrm"].stop()
