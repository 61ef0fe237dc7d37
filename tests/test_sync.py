"""The sync's promises, on every backend: idempotent, only service cells written, rows matched
by Lead ID under concurrent edits, text never turned into formulas, IDs never reused."""

from __future__ import annotations

import random

import pytest

from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.schema import FILLED_FROM_ACTIVITIES, LEADS, service_columns
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import Table
from sheets import NOW, cell, human_edit, make_backend

BACKENDS = ["memory", "workbook", "google"]
# the activities step may fill these two person columns (docs/activities.md)
SERVICE = {*service_columns(), *FILLED_FROM_ACTIVITIES}


def sync(backend, now=NOW):
    snapshot = backend.read()
    plan = plan_sync(snapshot, now)
    return plan, apply(plan, backend, snapshot)


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    return make_backend(request.param, tmp_path)


def test_second_sync_writes_nothing(backend):
    _, report = sync(backend)
    assert report.written and report.cells > 100
    version = backend.version()
    plan2, report2 = sync(backend)
    assert not plan2, plan2.describe(10)
    assert not report2.written
    assert backend.version() == version  # the file is not even rewritten


def test_only_service_cells_change(backend):
    before = backend.read().table(LEADS.name).copy()
    sync(backend)
    after = backend.read().table(LEADS.name)
    assert after.header == before.header
    assert len(after.rows) == len(before.rows)
    for old, new in zip(before.rows, after.rows, strict=True):
        for header, a, b in zip(before.header, old, new, strict=True):
            if header not in SERVICE:
                assert a == b, (header, a, b)


def test_person_sorts_between_read_and_write(backend):
    sync(backend)  # everyone has an ID now
    # a person moves a lead to a new stage, the service reads...
    human_edit(backend, LEADS.name, lambda t: _set(t, "L-00003", "Stage", "Qualified"))
    snapshot = backend.read()
    plan = plan_sync(snapshot, NOW.replace(hour=11))
    assert any(w.column == "Stage changed at" for w in plan.writes)
    # ...and before it writes, someone sorts the tab by company, descending
    human_edit(
        backend, LEADS.name, lambda t: t.rows.sort(key=lambda r: r[t.col("Company")], reverse=True)
    )
    report = apply(plan, backend, snapshot)
    assert report.written and report.conflicts == 0
    after = backend.read()
    assert cell(after, LEADS.name, "L-00003", "Stage changed at") == "2026-11-23 11:00"
    others = [r for r in after.table(LEADS.name).rows if r[0] != "L-00003"]
    col = after.table(LEADS.name).col("Stage changed at")
    assert all(r[col] != "2026-11-23 11:00" for r in others)


def test_person_inserts_rows_and_edits_a_service_cell_meanwhile(backend):
    snapshot = backend.read()
    plan = plan_sync(snapshot, NOW)  # first sync: gives IDs to rows that have none

    def edit(t: Table) -> None:
        t.rows.insert(0, ["" for _ in t.header])  # a blank row at the top
        t.rows[0][t.col("Email")] = "new.person@fresh.example"
        t.rows.insert(10, ["" for _ in t.header])
        t.rows[5][t.col("Owner")] = "Maya Patel"  # a person assigns a lead themselves

    human_edit(backend, LEADS.name, edit)
    mine = backend.read().table(LEADS.name).rows[5]
    report = apply(plan, backend, snapshot)
    assert report.conflicts >= 1  # the Owner the service wanted for that row was not forced
    leads = backend.read().table(LEADS.name)
    assert leads.rows[0][leads.col("Email")] == "new.person@fresh.example"
    assert leads.rows[0][leads.col("Lead ID")] == ""  # not yet synced: left alone
    assert leads.rows[10] == [""] * len(leads.header)
    row = leads.rows[5]
    assert row[leads.col("Owner")] == "Maya Patel"
    person_cols = [i for i, h in enumerate(leads.header) if h not in SERVICE]
    assert [row[i] for i in person_cols] == [mine[i] for i in person_cols]
    # each lead got the values computed for it: Score reasons match its own Industry
    ids = [r[0] for r in leads.rows if r[0]]
    assert len(ids) == len(set(ids)) == 50


def test_formula_like_text_stays_text(backend):
    def edit(t: Table) -> None:
        t.rows[0][t.col("Notes")] = '=HYPERLINK("http://evil.example","click")'
        t.rows[1][t.col("Company")] = "+33 Conseil"
        t.rows[2][t.col("Industry")] = "@SUM(1)"

    human_edit(backend, LEADS.name, edit)
    sync(backend)
    leads = backend.read().table(LEADS.name)
    assert leads.rows[0][leads.col("Notes")] == '=HYPERLINK("http://evil.example","click")'
    assert leads.rows[1][leads.col("Company")] == "+33 Conseil"
    assert "Industry is @SUM(1)" not in leads.rows[2][leads.col("Score reasons")]


def test_ids_are_never_reused(backend):
    sync(backend)
    last = "L-00050"
    human_edit(backend, LEADS.name, lambda t: t.rows.pop())  # delete the newest lead
    human_edit(
        backend,
        LEADS.name,
        lambda t: t.rows.append(
            [("someone@else.example" if h == "Email" else "") for h in t.header]
        ),
    )
    sync(backend)
    leads = backend.read().table(LEADS.name)
    assert last not in leads.column("Lead ID")
    assert leads.column("Lead ID")[-1] == "L-00051"


def test_a_lead_id_too_long_for_a_64_bit_number_is_kept_and_ranked(backend):
    """A person may type any Lead ID; one of 21 digits once stopped the sync (OverflowError
    ranking the IDs). It is kept as typed, and the copy of it below gets the next number."""
    sync(backend)
    huge = "L-" + "9" * 21
    human_edit(backend, LEADS.name, lambda t: _set(t, "L-00007", "Lead ID", huge))
    human_edit(backend, LEADS.name, lambda t: t.rows.append(list(t.rows[6])))
    sync(backend)
    ids = backend.read().table(LEADS.name).column("Lead ID")
    assert ids[6] == huge and ids[-1] == f"L-{10**21}"
    assert len(set(ids)) == len(ids) == 51
    sync(backend)  # and again, with the memo's numbers for these IDs
    assert backend.read().table(LEADS.name).column("Lead ID") == ids


def test_copied_row_gets_its_own_id(backend):
    sync(backend)
    human_edit(backend, LEADS.name, lambda t: t.rows.append(list(t.rows[4])))
    sync(backend)
    ids = backend.read().table(LEADS.name).column("Lead ID")
    assert len(set(ids)) == len(ids) == 51


def test_stage_change_is_stamped_with_history(backend):
    sync(backend)
    human_edit(backend, LEADS.name, lambda t: _set(t, "L-00043", "Stage", "Won"))
    sync(backend, NOW.replace(hour=15, minute=30))
    after = backend.read()
    assert cell(after, LEADS.name, "L-00043", "Closed at") == "2026-11-23 15:30"
    assert cell(after, LEADS.name, "L-00043", "Stage changed at") == "2026-11-23 15:30"
    history = after.table("History").records()
    last = [h for h in history if h["Lead ID"] == "L-00043" and h["Field"] == "Stage"][-1]
    assert (last["From"], last["To"], last["At"]) == ("Negotiation", "Won", "2026-11-23 15:30")


def _set(table: Table, lead_id: str, column: str, value: str) -> None:
    row = table.column("Lead ID").index(lead_id)
    table.rows[row][table.col(column)] = value


@pytest.mark.parametrize("seed", range(5))
def test_random_human_edits_never_land_on_the_wrong_lead(seed):
    """Sync, edit at random between read and write, sync: each lead's service cells are the
    ones a fresh sync computes for that lead, and no person's cell was changed."""
    rng = random.Random(seed)
    backend = make_backend("memory", None)
    sync(backend)
    snapshot = backend.read()
    human_edit(backend, LEADS.name, lambda t: _set(t, "L-00002", "Industry", "Fintech"))
    snapshot = backend.read()
    plan = plan_sync(snapshot, NOW)

    def chaos(b: MemoryBackend) -> None:
        def edit(tabs):
            t = tabs[LEADS.name]
            rng.shuffle(t.rows)
            for _ in range(3):
                t.rows.insert(rng.randrange(len(t.rows)), [""] * len(t.header))

        b.human(edit)

    assert isinstance(backend, MemoryBackend)
    backend.before_write = chaos
    people = {
        r[0]: [
            v for h, v in zip(backend.tabs[LEADS.name].header, r, strict=True) if h not in SERVICE
        ]
        for r in backend.tabs[LEADS.name].rows
    }
    apply(plan, backend, snapshot)
    leads = backend.tabs[LEADS.name]
    reasons = leads.col("Score reasons")
    row = next(r for r in leads.rows if r[0] == "L-00002")
    assert "Industry is Fintech" in row[reasons]
    for r in leads.rows:
        if r[0]:
            assert [v for h, v in zip(leads.header, r, strict=True) if h not in SERVICE] == people[
                r[0]
            ]
    fresh = plan_sync(backend.read(), NOW)
    assert not fresh.writes, fresh.describe(5)


def test_a_sheet_with_no_leads_syncs(tmp_path):
    tabs = make_backend("memory", tmp_path).read().tabs
    tabs[LEADS.name].rows.clear()
    backend = MemoryBackend(tabs)
    plan, _ = sync(backend)
    assert plan.summary.rows == 0 and not plan.writes
