"""The frame's columns kept in the sync's memo (issue 21): a column whose cells are all what
they were is not derived again, and one that changed anywhere, or is read with other settings,
is."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.frame import EMAIL_DOMAIN, Frame
from sheetcrm.engine.schema import HISTORY, LEADS
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.validation import Memo
from sheets import NOW, put_leads, template

CELLS = st.sampled_from(
    ["", " ", "1,5", "1.5", "03/04/2026", "2026-04-03", "a@Acme.example", "x@b.example", None]
)
SHARED_MEMO = Memo()  # one memo through every example, as the service keeps one


@given(
    st.lists(CELLS, min_size=3, max_size=3),
    st.lists(CELLS, min_size=3, max_size=3),
    st.booleans(),
    st.sampled_from([None, ",", "."]),
    st.sampled_from(["UTC", "Europe/Paris"]),
)
def test_a_frame_through_a_kept_memo_reads_as_a_fresh_one(amounts, emails, dayfirst, mark, zone):
    data = pd.DataFrame(
        {"Amount": pd.Series(amounts, dtype=object), "Email": pd.Series(emails, dtype=object)}
    )
    now = datetime(2026, 4, 5, 12, tzinfo=ZoneInfo(zone))
    kept = Frame(data, now, dayfirst, mark, SHARED_MEMO)
    fresh = Frame(data, now, dayfirst, mark)
    for field in ("Amount", "Email", EMAIL_DOMAIN, "Missing"):
        assert kept.text(field).tolist() == fresh.text(field).tolist()
        np.testing.assert_array_equal(kept.numbers(field), fresh.numbers(field))
        np.testing.assert_array_equal(kept.instants(field), fresh.instants(field))
        assert list(kept.blank(field)) == list(fresh.blank(field))


def test_a_column_is_derived_once_while_its_cells_stay_and_again_when_one_changes():
    memo = Memo()
    cells = pd.DataFrame({"Stage": pd.Series(["New", "Won", "New"], dtype=object)})
    first = Frame(cells, NOW, memo=memo).values("Stage")
    same = pd.DataFrame({"Stage": pd.Series(["New", "Won", "New"], dtype=object)})
    assert Frame(same, NOW, memo=memo).values("Stage") is first
    moved = pd.DataFrame({"Stage": pd.Series(["Won", "New", "New"], dtype=object)})
    assert Frame(moved, NOW, memo=memo).text("Stage").tolist() == ["Won", "New", "New"]
    other = Frame(moved, NOW, dayfirst=False, memo=memo).values("Stage")
    assert other is not Frame(moved, NOW, memo=memo).values("Stage")


def test_a_stage_edited_between_two_syncs_with_one_memo_is_seen():
    tabs = template()
    put_leads(tabs, *({"Email": f"{i}@acme.example", "Stage": "Proposal"} for i in range(3)))
    backend, memo = MemoryBackend(tabs), Memo()
    snapshot = backend.read()
    apply(plan_sync(snapshot, NOW, memo), backend, snapshot)

    def edit(tabs):
        leads = tabs[LEADS.name]
        leads.rows[1][leads.col("Stage")] = "Won"

    backend.human(edit)
    plan = plan_sync(backend.read(), NOW, memo)
    field = HISTORY.headers.index("Field")
    assert [row[1] for _, row, _ in plan.history if row[field] == "Stage"] == ["L-00002"]


def test_a_lead_id_past_int64_typed_between_two_syncs_with_one_memo_is_read():
    # the memo kept the last sync's ID numbers in int64: the one typed since takes a Python
    # int, which that array cannot hold (it crashed every sync of the service's memo)
    tabs = template()
    put_leads(tabs, *({"Email": f"{i}@acme.example"} for i in range(3)))
    backend, memo = MemoryBackend(tabs), Memo()
    snapshot = backend.read()
    apply(plan_sync(snapshot, NOW, memo), backend, snapshot)

    def edit(tabs):
        leads = tabs[LEADS.name]
        leads.rows[1][leads.col("Lead ID")] = "L-99999999999999999999"
        leads.rows[2][leads.col("Lead ID")] = ""  # numbered after it

    backend.human(edit)
    snapshot = backend.read()
    apply(plan_sync(snapshot, NOW, memo), backend, snapshot)
    ids = backend.read().table(LEADS.name).column("Lead ID")
    assert ids == ["L-00001", "L-99999999999999999999", "L-100000000000000000000"]


def test_a_distinct_text_already_folded_is_held_once():
    # the memo keeps each column's folded and loose texts between syncs: a copy of every
    # e-mail for each was 14 MB at 100,000 leads (issue 21)
    text = "".join(["jane", "@example.com"])
    data = pd.DataFrame({"Email": pd.Series([text, "Bob@Example.com "], dtype=object)})
    values = Frame(data, NOW).values("Email")
    assert values.folded[0] is text and values.loose[0] is text
    assert values.folded.tolist() == ["jane@example.com", "bob@example.com"]
    assert values.loose.tolist() == ["jane@example.com", "bob@example.com"]
    # every text already folded and stripped: one array of them serves all three
    folded = pd.DataFrame({"Email": pd.Series([text, "bob@example.com"], dtype=object)})
    values = Frame(folded, NOW).values("Email")
    assert values.folded is values.text and values.loose is values.text
    assert values.text.tolist() == ["jane@example.com", "bob@example.com"]


def test_a_column_of_few_texts_is_coded_in_a_byte_a_row():
    # the memo keeps every column's codes between syncs: 8 bytes a row for Stage was 0.8 MB
    # a column at 100,000 leads (issue 21)
    emails = [f"lead{i}@acme.example" for i in range(200)]
    data = pd.DataFrame(
        {
            "Stage": pd.Series(["New", "Won"] * 100, dtype=object),
            "Email": pd.Series(emails, dtype=object),
        }
    )
    frame = Frame(data, NOW, memo=Memo())
    assert frame.values("Stage").codes.itemsize == 1
    assert frame.values("Email").codes.itemsize == 2
    assert frame.values(EMAIL_DOMAIN).codes.itemsize == 1
    assert frame.text("Stage").tolist() == ["New", "Won"] * 100
    assert frame.text(EMAIL_DOMAIN).tolist() == ["acme.example"] * 200
