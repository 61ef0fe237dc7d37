"""The follow-up KPIs on real leads: the X Education leads (../shared/data/xeducation-leads),
their "Last Activity" and "Last Notable Activity" turned into Activities rows (what kind of
touch each is, and its outcome), checked against the plain per-row computation of
test_followup_kpis.py. The dataset has no dates: they are derived from each lead's number,
the same way for both sides, so only the touches and their kinds are real."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime, timedelta

import pandas as pd
import pytest

from sheets import SHARED
from test_followup_kpis import COLUMNS, NOW, activities, figures, plain, run

XEDU = SHARED / "data" / "xeducation-leads" / "Leads.csv"
pytestmark = pytest.mark.skipif(
    not XEDU.exists(),
    reason="../shared/data/xeducation-leads (the public X Education leads) is not beside "
    "the repository",
)
TOUCHES = {
    # what the marketing tool logged -> the Activities Type and Outcome it stands for
    "Had a Phone Conversation": ("call", "reached"),
    "Unreachable": ("call", "no answer"),
    "Approached upfront": ("call", "reached"),
    "Visited Booth in Tradeshow": ("meeting", "reached"),
    "Email Opened": ("email", ""),
    "Email Link Clicked": ("email", ""),
    "Email Received": ("email", "reached"),
    "View in browser link Clicked": ("email", ""),
    "Email Bounced": ("email", "no answer"),
    "Email Marked Spam": ("email", "not interested"),
    "Unsubscribed": ("email", "not interested"),
    "Resubscribed to emails": ("email", ""),
    "SMS Sent": ("other", ""),
    "Olark Chat Conversation": ("other", "reached"),
    "Page Visited on Website": ("note", ""),
    "Form Submitted on Website": ("note", ""),
    "Converted to Lead": ("note", ""),
}
""""Modified" (a record edited) and an empty cell are no touch."""
START = datetime(2026, 10, 1)


def at(when: datetime) -> str:
    return f"{when:%Y-%m-%d %H:%M}"


def derive() -> tuple[pd.DataFrame, list[list[str]], Counter[str]]:
    with XEDU.open(newline="", encoding="utf-8") as f:
        raw = list(csv.DictReader(f))
    leads, rows, skipped = [], [], Counter[str]()
    for i, r in enumerate(raw):
        number = int(r["Lead Number"])
        created = START + timedelta(hours=(i * 7) % (53 * 24))
        owner = f"Agent {r['Lead Origin'] or 'none'}"
        closed = ""
        if r["Converted"] == "1":
            closed = min(created + timedelta(days=number % 20 + 1), NOW - timedelta(hours=1))
        stage = "Won" if closed else "New"
        leads.append(
            [f"XE-{number}", stage, at(created), "", at(closed) if closed else "", owner, ""]
        )
        first = created + timedelta(hours=number % 48)
        for when, column in (
            (first, "Last Activity"),
            (first + timedelta(days=1), "Last Notable Activity"),
        ):
            kind = TOUCHES.get(r[column])
            if kind is None:
                skipped[r[column]] += 1
            elif column == "Last Activity" or r[column] != r["Last Activity"]:
                rows.append([at(when), f"XE-{number}", *kind, owner])
    return pd.DataFrame(leads, columns=COLUMNS, dtype=object), rows, skipped


def test_every_activity_word_of_the_dataset_is_mapped_or_known_to_be_no_touch() -> None:
    _data, rows, skipped = derive()
    assert set(skipped) <= {"Modified", ""}
    assert len(rows) > 9000  # a touch for nearly every one of the 9,240 leads


def test_the_kpis_on_the_x_education_leads_match_a_per_row_computation() -> None:
    data, rows, _ = derive()
    found = figures(run(data, activities(rows), sla=24, days=7))
    expected = plain(data, rows, 24, 7)
    for name, value in expected.items():
        assert found[name][0] == pytest.approx(value), name
    # the real mix shows through: most calls logged are phone conversations
    calls = [r for r in rows if r[2] == "call"]
    assert 0 < found["Calls reached"][1] < 1 and len(calls) > 100
