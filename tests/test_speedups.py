"""The vectorised steps of a sync give what the plain per-row code they replaced gave:
each is checked against that simple version, kept here as the reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.history import HistoryFrame
from sheetcrm.engine.schema import LEADS, ROUTING, service_columns
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.sync.begin import lead_rows
from sheetcrm.engine.sync.ids import next_ids
from sheetcrm.engine.sync.status import join_notes
from sheetcrm.engine.table import Table
from sheetcrm.engine.validation import Memo
from sheets import NOW, cell, put_leads, template


def _sync(tabs: dict[str, Table], *leads: dict[str, str]) -> MemoryBackend:
    put_leads(tabs, *leads)
    backend = MemoryBackend(tabs)
    snapshot = backend.read()
    apply(plan_sync(snapshot, NOW), backend, snapshot)
    return backend


def test_routing_tests_the_scores_of_the_same_sync():
    tabs = template()
    tabs[ROUTING.name] = Table(
        ROUTING.headers[:6], [["1", "Score", "at least", "20", "Avery Chen", ""]]
    )
    backend = _sync(
        tabs,
        {"Email": "a@acme.example", "Company": "Acme", "Industry": "SaaS"},
        # another company: a duplicate would go to its original's owner
        {"Email": "b@globex.example", "Company": "Globex", "Industry": "Retail"},
    )
    snap = backend.read()
    assert cell(snap, LEADS.name, "L-00001", "Owner") == "Avery Chen"
    assert cell(snap, LEADS.name, "L-00002", "Owner") == "Jordan Lee"  # the fallback


def test_first_touch_is_due_from_the_assignment_of_the_same_sync():
    # created three days ago, assigned now: due in 24 hours, not overdue since two days
    backend = _sync(
        template(),
        {"Email": "a@acme.example", "Stage": "Prospecting", "Created at": "2026-11-20 09:00"},
    )
    snap = backend.read()
    assert cell(snap, LEADS.name, "L-00001", "Assigned at") == "2026-11-23 10:00"
    assert cell(snap, LEADS.name, "L-00001", "Status") == "OK"


def _joined_row_by_row(n, notes):
    said: dict[int, list[str]] = {}
    for rows, texts in notes:
        for r, text in zip(rows, texts, strict=True):
            said.setdefault(int(r), []).append(str(text))
    return ["; ".join(said[r]) if r in said else None for r in range(n)]


@given(
    st.integers(1, 6).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(
                st.lists(st.tuples(st.integers(0, n - 1), st.sampled_from(["a", "b c", ""]))),
                max_size=4,
            ),
        )
    )
)
def test_notes_join_as_row_by_row(case):
    n, steps = case
    notes = [
        (np.array([r for r, _ in s], dtype=np.int64), np.array([t for _, t in s], dtype=object))
        for s in steps
    ]
    joined, said = join_notes(n, notes)
    assert [j if s else None for j, s in zip(joined, said, strict=True)] == _joined_row_by_row(
        n, notes
    )


def test_leads_whose_status_says_the_same_share_one_text():
    # tens of thousands of leads say the same two things: a string each was 12 MB at
    # 100,000 leads (issue 21)
    notes = [
        (np.arange(4), np.array(["stale", "stale", "late", "stale"], dtype=object)),
        (np.arange(3), np.array(["over capacity"] * 3, dtype=object)),
    ]
    joined, said = join_notes(4, notes)
    assert joined.tolist() == [
        "stale; over capacity",
        "stale; over capacity",
        "late; over capacity",
        "stale",
    ]
    assert joined[0] is joined[1]
    assert said.all()


def _lead_rows_row_by_row(data: pd.DataFrame, service: list[str]) -> list[int]:
    person = [c for c in data.columns if c not in service]
    cells = data[[*person, "Lead ID"]].to_numpy(dtype=object)
    return [r for r, row in enumerate(cells) if any(str(v).strip() for v in row)]


@given(st.lists(st.lists(st.sampled_from(["", " ", "x", " y ", "\t"]), min_size=3, max_size=3)))
def test_lead_rows_as_row_by_row(rows):
    service = service_columns()
    data = pd.DataFrame(rows or None, columns=["Lead ID", "Email", "Notes"], dtype=object)
    assert list(lead_rows(data, service)) == _lead_rows_row_by_row(data, service)


def _ids_row_by_row(ids: list[str], history: list[str], counter: int):
    numbers = [int(i[2:]) for i in (*ids, *history) if i.startswith("L-") and i[2:].isdigit()]
    counter = max(counter, max(numbers, default=0) + 1)
    ids, fresh, taken = list(ids), [False] * len(ids), set()
    for i, lead_id in enumerate(ids):
        if not lead_id or lead_id in taken:
            ids[i], fresh[i] = f"L-{counter:05d}", True
            counter += 1
        taken.add(ids[i])
    return ids, fresh, counter


SOME_IDS = st.sampled_from(["", "L-00001", "L-00002", "L-7", "L-\u0663", "X-1", "L-", "L-00100"])


@given(st.lists(SOME_IDS), st.lists(SOME_IDS, max_size=3), st.integers(1, 120))
def test_ids_as_row_by_row(ids, history, counter):
    data = pd.DataFrame({"Lead ID": pd.Series(ids, dtype=object)})
    state = Table(["Key", "Value"], [["Next lead ID", str(counter)]])
    got, fresh, next_id = next_ids(
        data, state, HistoryFrame(Table(["Lead ID"], [[h] for h in history]))
    )
    assert (got, list(fresh), next_id) == _ids_row_by_row(ids, history, counter)


SHARED_MEMO = Memo()  # one memo through every example, as the service keeps one: it must
# never serve an example the numbers of the IDs of another


@given(st.lists(SOME_IDS, min_size=3, max_size=3), st.lists(SOME_IDS, max_size=3))
def test_ids_through_a_kept_memo_as_row_by_row(ids, history):
    data = pd.DataFrame({"Lead ID": pd.Series(ids, dtype=object)})
    state = Table(["Key", "Value"], [["Next lead ID", "1"]])
    got, fresh, next_id = next_ids(
        data, state, HistoryFrame(Table(["Lead ID"], [[h] for h in history])), SHARED_MEMO
    )
    assert (got, list(fresh), next_id) == _ids_row_by_row(ids, history, 1)


def test_only_leads_whose_stage_really_changed_get_history():
    backend = _sync(
        template(),
        *({"Email": f"{i}@acme.example", "Stage": "Proposal"} for i in range(4)),
    )
    retyped = ["  proposal ", "Won", "", "Proposal"]  # same, changed, cleared, untouched

    def edit(tabs):
        leads = tabs[LEADS.name]
        for row, stage in zip(leads.rows, retyped, strict=True):
            row[leads.col("Stage")] = stage

    backend.human(edit)
    snapshot = backend.read()
    plan = plan_sync(snapshot, NOW)
    stage_rows = sorted((row[1], row[6]) for _, row, _ in plan.history if row[2] == "Stage")
    assert stage_rows == [
        ("L-00002", "stage changed in the sheet"),
        ("L-00003", "stage cleared in the sheet"),
    ]


def test_plan_sync_leaves_the_garbage_collector_as_it_found_it():
    import gc

    snapshot = MemoryBackend(template()).read()
    try:
        plan_sync(snapshot, NOW)
        assert gc.isenabled()
        gc.disable()
        plan_sync(snapshot, NOW)
        assert not gc.isenabled()
    finally:
        gc.enable()
