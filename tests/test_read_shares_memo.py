"""A re-sync's read shares the memo's texts (issue 21): a cell the last sync read or wrote (a
Lead ID, an e-mail, a phone) is read as the very string the memo keeps, not an equal one
beside it; and the rows a read makes are as long as they are, with no room to grow."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sheetcrm.backends.apply import sync_once
from sheetcrm.engine.schema import LEADS
from sheetcrm.engine.sync import STEPS, begin, plan_sync
from sheetcrm.engine.table import shared_texts
from sheetcrm.engine.validation import Memo
from sheets import NOW, make_backend, put_leads, template

LEADS_ROWS = [
    {"Email": f"lead{i}@acme.example", "Phone": f"+33 6 12 34 56 {i:02d}", "Company": "Acme"}
    for i in range(20)
]


def _tabs():
    tabs = template()
    put_leads(tabs, *LEADS_ROWS)
    return tabs


def _held(memo: Memo) -> dict[int, str]:
    return {id(text): text for text in memo.texts().values()}


def test_the_memo_gives_every_text_it_keeps_keyed_by_its_content():
    memo = Memo()
    plan_sync(make_backend("memory", None, _tabs()).read(), NOW, memo)
    texts = memo.texts()
    assert all(key == text for key, text in texts.items())
    for lead in LEADS_ROWS:
        assert lead["Email"] in texts
        kept = memo.emails[lead["Email"]]
        assert (kept if isinstance(kept, str) else kept[0]) in texts
    ids = [c for c in memo.columns["frame Lead ID"][1] if c]
    assert len(ids) == len(LEADS_ROWS) and all(i in texts for i in ids)


@pytest.mark.parametrize("kind", ["google", "workbook"])
def test_a_re_sync_reads_the_memos_strings_and_plans_as_without_them(kind, tmp_path: Path):
    backend, memo = make_backend(kind, tmp_path, _tabs()), Memo()
    sync_once(backend, NOW, NOW, memo)  # the first sync writes IDs and normalised phones
    held = _held(memo)
    again = backend.read(memo.texts())
    leads = again.table(LEADS.name)
    for column in ("Lead ID", "Email", "Phone"):
        cells = leads.column(column)
        assert all(cells) and all(id(c) in held for c in cells), column
    # the same plan as a read that shares nothing, and as a memo that never saw the sheet
    alone = backend.read()
    assert not any(id(c) in held for c in alone.table(LEADS.name).column("Lead ID"))
    shared = plan_sync(again, NOW, memo).describe(10**6)
    assert shared == plan_sync(alone, NOW, Memo()).describe(10**6)


def test_a_read_row_has_no_room_to_grow():
    rows = shared_texts([[f"cell {i}" for i in range(42)], ["a"] * 7, (c for c in "abc")], {})
    assert [sys.getsizeof(r) for r in rows] == [sys.getsizeof(list(tuple(r))) for r in rows]
    assert rows[0] == [f"cell {i}" for i in range(42)] and rows[2] == ["a", "b", "c"]


def test_a_re_sync_keeps_the_status_it_read_where_it_says_the_same():
    # a lead with problems gets a Status joined anew each sync: the read's string is kept
    tabs = _tabs()
    put_leads(tabs, *LEADS_ROWS, {"Email": "not an address", "Phone": "12", "Stage": "Nope"})
    backend, memo = make_backend("memory", None, tabs), Memo()
    sync_once(backend, NOW, NOW, memo)
    again = backend.read()
    read = again.table(LEADS.name).column("Status")
    assert any(text != "OK" for text in read)
    state = begin(again, NOW, memo, True)
    for name, step in STEPS:
        state = step(state)
        if name == "status":
            break
    made = state.data["Status"].to_numpy(dtype=object)
    assert list(made) == read
    assert all(m is r for m, r in zip(made, read, strict=True))


def test_a_flush_reads_the_memos_strings_too(tmp_path: Path):
    """The background process flushes with the memo its syncs keep: the flush's read of the
    whole sheet shares the memo's texts as a re-sync's does (issue 21: a flush into 100,000
    leads was the process's peak)."""
    import time
    from datetime import UTC, datetime

    from sheetcrm.intake.adapters import adapt
    from sheetcrm.intake.flusher import flush
    from sheetcrm.intake.outbox import Outbox

    backend, memo = make_backend("google", tmp_path, _tabs()), Memo()
    sync_once(backend, NOW, NOW, memo)
    held = _held(memo)
    read = backend.read
    shared: list[int] = []

    def reading(texts=None):  # the backend's own read, and what of it is the memo's
        got = read(texts)
        shared.extend(id(c) in held for c in got.table(LEADS.name).column("Email"))
        return got

    backend.read = reading  # type: ignore[method-assign]
    outbox = Outbox(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    submission = adapt("generic", {"event_id": "web-1", "email": "web.one@acme.example"})
    outbox.put(submission.key(), "generic", submission.to_json(), time.time())
    try:
        report = flush(outbox, backend, lambda: datetime.now(UTC), "worker", memo=memo)
    finally:
        outbox.close()
    assert report.appended == 1 and not report.error
    assert sum(shared) >= len(LEADS_ROWS)  # every lead's e-mail, as the memo holds it


def test_a_flush_s_plan_shares_the_read_s_rows_and_leaves_them_as_read():
    """plan_intake plans the sheet with the new rows under it from the read's own rows (a
    copy of each was ~40 MB at 100,000 leads): the plan must leave them as they were read,
    for the write is resolved against them."""
    import copy
    from datetime import UTC, datetime

    from sheetcrm.intake.batch import Arrival, plan_intake

    backend, memo = make_backend("memory", None, _tabs()), Memo()
    sync_once(backend, NOW, NOW, memo)
    snapshot = backend.read()
    leads = snapshot.table(LEADS.name)
    before = copy.deepcopy(leads.rows)
    received = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    record = {"Email": "lead3@acme.example", "Company": "Acme"}  # a duplicate of a lead
    intake = plan_intake(snapshot, [Arrival("k1", record, received)], NOW, memo)
    assert len(intake.plan.appends) == 1 and intake.lead_ids["k1"]
    assert leads.rows == before
