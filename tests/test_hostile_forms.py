"""Hostile form posts (issue 15, item 4): a public form fills only intake columns, amounts are
finite and bounded, JSON's non-numbers are refused aloud, and the metric tabs stay finite."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.forms_tab import FormMapping, FormRule
from sheetcrm.engine.metric_grid import OUT_OF_RANGE, _text
from sheetcrm.engine.schema import LEADS, METRIC_TABS
from sheetcrm.engine.settings import Settings, find_setting
from sheetcrm.engine.table import Table
from sheetcrm.engine.values import parse_number
from sheetcrm.errors import IntakeError
from sheetcrm.intake import Answer, Submission, adapt
from sheetcrm.intake.fields import lead_record
from sheetcrm.intake.flusher import flush
from sheetcrm.intake.outbox import Outbox
from sheetcrm.intake.payload import loads
from sheets import NOW, human_edit, template

HOSTILE = {
    "Stage": "Won",
    "Owner": "Mallory",
    "Lead ID": "L-EVIL",
    "Status": "OK",
    "Score": "100",
    "Created at": "2001-01-01",
    "Closed at": "2001-01-01",
    "Expected close": "2026-12-01",
    "Next action date": "2020-01-01",
    "Last contact": "2026-11-01",
    "Duplicate of": "L-1",
    "Lifecycle": "Customer",
}


def record(answers: dict[str, str], mapping: FormMapping | None = None) -> dict[str, str]:
    submission = Submission(
        "generic", "evt", tuple(Answer(k, k, v) for k, v in answers.items()), "Contact"
    )
    return lead_record(submission, mapping or FormMapping(), Settings(), LEADS.headers)


# --- which columns a form fills --------------------------------------------------------------


@pytest.mark.parametrize(("key", "value"), HOSTILE.items())
def test_a_form_never_sets_stage_owner_dates_or_service_columns(key: str, value: str) -> None:
    row = record({"email": "eve@evil.example", key: value})
    assert key not in row or key == "Submission ID"
    assert f"{key}: {value}" in row["Notes"].splitlines()  # not lost: a line of Notes


def test_intake_columns_are_still_filled() -> None:
    row = record(
        {
            "email": "ana@example.com",
            "phone": "+33 6 12 34 56 78",
            "first name": "Ana",
            "last name": "Lima",
            "company": "Acme",
            "country": "France",
            "industry": "SaaS",
            "lead source": "Referral",
            "amount": "12,500",
            "message": "Call me",
        }
    )
    assert row["Amount"] == "12500"
    assert row["Source"] == "Referral"
    assert row["Notes"] == "Call me"
    assert {"Email", "Phone", "First name", "Last name", "Company", "Country", "Industry"} <= set(
        row
    )


def test_the_forms_tab_may_map_a_field_to_stage_or_a_date() -> None:
    """The manager's choice: an explicit Forms row is obeyed."""
    mapping = FormMapping(
        (FormRule("pipeline step", "Stage"), FormRule("callback", "Next action date"))
    )
    row = record(
        {"email": "a@b.example", "pipeline step": "New", "callback": "2026-12-01"}, mapping
    )
    assert row["Stage"] == "New"
    assert row["Next action date"] == "2026-12-01"


# --- amounts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["+33 6 12 34 56 78", "+1 415 555 0132", "+44 20 7946 0958"])
def test_a_phone_number_is_not_an_amount(text: str) -> None:
    assert parse_number(text) is None


@pytest.mark.parametrize(
    ("text", "value"), [("1 234 567", 1234567.0), ("+1234", 1234.0), ("12 500,50", 12500.5)]
)
def test_numbers_with_spaces_or_a_sign_still_read(text: str, value: float) -> None:
    assert parse_number(text) == value


def test_largest_amount_is_a_setting() -> None:
    setting = find_setting("Largest amount")
    assert setting is not None and setting.help
    assert Settings()["Largest amount"] == 1e12
    with pytest.raises(ValueError, match="below 0"):
        setting.parse("-1")


def _sync_with_amounts(amounts: list[str], settings: dict[str, str] | None = None) -> Table:
    tabs = template()
    leads = tabs[LEADS.name]
    for row, amount in zip(leads.rows, amounts, strict=False):
        row[leads.col("Amount")] = amount
    for row in tabs["Settings"].rows:
        row[1] = (settings or {}).get(row[0], row[1])
    backend = MemoryBackend(tabs)
    sync_once(backend, NOW, NOW)
    return backend.read().table(LEADS.name)


@pytest.mark.parametrize(
    ("amount", "said"),
    [
        ("1e308", "over the largest amount"),
        ("-500", "negative"),
        ("+33 6 12 34 56 78", "not an amount"),
        ("2000000000000", "over the largest amount"),
    ],
)
def test_an_amount_out_of_bounds_is_a_cell_problem(amount: str, said: str) -> None:
    leads = _sync_with_amounts([amount])
    status = leads.rows[0][leads.col("Status")]
    assert "Amount" in status and said in status, status


def test_the_largest_amount_comes_from_settings() -> None:
    leads = _sync_with_amounts(["5000", "50"], {"Largest amount": "1000"})
    assert "over the largest amount" in leads.rows[0][leads.col("Status")]
    assert "Amount" not in leads.rows[1][leads.col("Status")]


# --- JSON numbers no cell can hold -----------------------------------------------------------


@pytest.mark.parametrize("body", ['{"Amount": 1e999}', '{"Amount": NaN}', '{"x": -Infinity}'])
def test_json_non_numbers_are_refused_aloud(body: str) -> None:
    with pytest.raises(IntakeError) as caught:
        loads(body)
    assert caught.value.status == 422
    assert "number" in caught.value.message


def test_jotform_raw_request_non_numbers_are_refused_aloud() -> None:
    with pytest.raises(IntakeError, match="number"):
        adapt("jotform", {"submissionID": "1", "rawRequest": '{"q3_amount": 1e999}'})


def test_ordinary_json_numbers_still_read() -> None:
    assert loads('{"a": 1.5, "b": 2, "c": 1e3}') == {"a": 1.5, "b": 2, "c": 1000.0}


# --- metric tabs -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [math.inf, -math.inf, float("1e308") * 10])
@pytest.mark.parametrize("kind", ["money", "count", ""])
def test_a_figure_out_of_range_is_never_inf(value: float, kind: str) -> None:
    assert _text(value, kind) == OUT_OF_RANGE


def _metric_texts(backend: MemoryBackend) -> list[str]:
    snapshot = backend.read()
    return [
        cell
        for spec in METRIC_TABS
        for row in [snapshot.table(spec.name).header, *snapshot.table(spec.name).rows]
        for cell in row
    ]


def _set(name: str, value: str) -> Callable[[Table], None]:
    def edit(table: Table) -> None:
        [row] = [r for r in table.rows if r[0] == name]
        row[1] = value

    return edit


def _win(amounts: list[str]) -> Callable[[Table], None]:
    def edit(table: Table) -> None:
        for row, amount in zip(table.rows, amounts, strict=False):
            row[table.col("Stage")] = "Won"
            row[table.col("Closed at")] = "2026-11-20"
            row[table.col("Amount")] = amount

    return edit


def _dashboard(backend: MemoryBackend) -> dict[str, str]:
    dash = backend.read().table("Dashboard")
    return {row[0]: row[1] for row in dash.rows if len(row) > 1}


def test_metric_tabs_stay_finite_when_typed_amounts_overflow() -> None:
    # a manager may raise Largest amount that far; the sums then overflow a float
    backend = MemoryBackend(template())
    human_edit(backend, "Settings", _set("Largest amount", "1.7e308"))
    human_edit(backend, LEADS.name, _win(["1.7e308"] * 3))
    sync_once(backend, NOW, NOW)
    texts = _metric_texts(backend)
    assert not [t for t in texts if t.casefold() in ("inf", "-inf", "nan")]
    assert OUT_OF_RANGE in texts  # the won value: three of them overflow a float


def test_an_amount_flagged_on_its_cell_is_left_out_of_the_metrics() -> None:
    """One typo, or one form post of 1e308, must not become the quarter's won value."""
    plain, flagged = MemoryBackend(template()), MemoryBackend(template())
    human_edit(plain, LEADS.name, _win(["1000", "2000", ""]))
    human_edit(flagged, LEADS.name, _win(["1000", "2000", "1e308"]))
    for backend in (plain, flagged):
        sync_once(backend, NOW, NOW)
    leads = flagged.read().table(LEADS.name)
    assert "over the largest amount" in leads.rows[2][leads.col("Status")]
    assert _dashboard(flagged) == _dashboard(plain)
    assert not [t for t in _metric_texts(flagged) if "e+" in t or len(t) > 60]


# --- the web-form path, end to end -----------------------------------------------------------


def test_a_posted_won_deal_is_a_new_lead_with_its_answers_in_notes(tmp_path: Path) -> None:
    outbox = Outbox(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    try:
        submission = adapt(
            "generic",
            {"event_id": "evil-1", "email": "eve@evil.example", "Amount": "1e308", **HOSTILE},
        )
        outbox.put(submission.key(), "generic", submission.to_json(), NOW.timestamp())
        backend = MemoryBackend(template())
        clock = lambda: datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # noqa: E731
        report = flush(outbox, backend, clock, "w1")
        assert (report.appended, report.error) == (1, "")
        sync_once(backend, NOW, NOW)
    finally:
        outbox.close()
    leads = backend.read().table(LEADS.name)
    [row] = [r for r in leads.rows if r[leads.col("Email")] == "eve@evil.example"]
    cell = dict(zip(leads.header, row, strict=False))
    assert cell["Stage"] != "Won"
    assert cell["Owner"] != "Mallory"
    assert cell["Lead ID"] != "L-EVIL" and cell["Closed at"] == ""
    assert cell["Next action date"] == cell["Expected close"] == ""
    assert "Stage: Won" in cell["Notes"] and "Owner: Mallory" in cell["Notes"]
    assert "over the largest amount" in cell["Status"]
    assert not [t for t in _metric_texts(backend) if t.casefold() in ("inf", "nan")]
