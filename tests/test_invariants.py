"""Hypothesis over what people type: whatever lands in the person-owned cells of Leads and the
rule tabs, a sync never raises, never changes a person's cell, and a second sync writes nothing;
whatever an anonymous form posts, it fills intake columns only and the metric tabs stay finite."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.config import parse_config
from sheetcrm.engine.plan import resolve
from sheetcrm.engine.schema import FILLED_FROM_ACTIVITIES, LEADS, METRIC_TABS, service_columns
from sheetcrm.engine.sync import plan_sync
from sheetcrm.errors import IntakeError
from sheetcrm.intake.adapters import adapt
from sheetcrm.intake.batch import Arrival, plan_intake
from sheetcrm.intake.fields import DETAILS_COLUMN, INTAKE, lead_record
from sheets import NOW, template

# the activities step may fill these two person columns (docs/activities.md)
SERVICE = {*service_columns(), *FILLED_FROM_ACTIVITIES}
BASE = template()
LEAD_HEADERS = BASE[LEADS.name].header
PERSON_COLS = [i for i, h in enumerate(LEAD_HEADERS) if h not in SERVICE]

# what people paste: unicode, formulas, numbers in every format, dates, blanks, placeholders
cell_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "Select",
            "n/a",
            "=1+1",
            "+33 6 12 34 56 78",
            "1e308",
            "1.7e308",
            "-1e308",
            "1e999",
            "NaN",
            "-5",
            "@x",
            "12,500",
            "1.234,50",
            "$48,000",
            "31/01/2026",
            "2026-13-45",
            "Won",
            "won ",
            "Lost",
            "Jordan Lee",
            "nobody",
            "L-00001",
            "🙂",
            "a@b",
            "x" * 300,
        ]
    ),
)
edit = st.tuples(
    st.integers(0, len(BASE[LEADS.name].rows) - 1), st.sampled_from(PERSON_COLS), cell_text
)
rule_edit = st.tuples(
    st.sampled_from(["Scoring", "Routing", "Team", "Stages", "Settings"]),
    st.integers(0, 30),
    st.integers(0, 6),
    cell_text,
)


def _sync(backend: MemoryBackend):
    snapshot = backend.read()
    plan = plan_sync(snapshot, NOW)
    apply(plan, backend, snapshot)
    return plan


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(edit, max_size=12), st.lists(rule_edit, max_size=4))
def test_any_typing_keeps_the_sync_safe_and_idempotent(edits, rule_edits):
    tabs = {name: table.copy() for name, table in BASE.items()}
    for row, col, text in edits:
        tabs[LEADS.name].rows[row][col] = text
    for tab, row, col, text in rule_edits:
        table = tabs[tab]
        if row < len(table.rows) and col < len(table.header):
            table.rows[row][col] = text
    backend = MemoryBackend(tabs)
    before = [[r[i] for i in PERSON_COLS] for r in tabs[LEADS.name].rows]
    _sync(backend)
    after = [[r[i] for i in PERSON_COLS] for r in backend.tabs[LEADS.name].rows]
    assert after == before
    again = plan_sync(backend.read(), NOW)
    assert not again.writes, again.describe(5)
    assert not again.history


# Patterns that take a backtracking engine exponential time on a run of letters that fails at
# its end, and the texts that trigger them, as a form user could send (issue 15). The runs stay
# short enough that a backtracking engine takes seconds, not hours, so that a failure shows.
nested_pattern = st.builds(
    "({}{}){}{}".format,
    st.sampled_from(["a", "a|aa", r"\w", "[a-z]", ".", r"a\s?"]),
    st.sampled_from(["+", "*", "{1,}"]),
    st.sampled_from(["+", "*", "{2,}"]),
    st.sampled_from(["$", "!", "b", "", "@x"]),
)
hostile_text = st.builds(
    "{}{}{}".format,
    st.sampled_from(["", "x", "Hello "]),
    st.integers(20, 26).map(lambda n: "a" * n),
    st.sampled_from(["!", "", "@", " 1", "\u00e9"]),
)
TYPED_BY_FORMS = ["Notes", "Company", "First name", "Email"]
SYNC_SECONDS = 2.0  # a sync of the template takes about 0.1 s


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.sampled_from(TYPED_BY_FORMS), nested_pattern), min_size=1, max_size=3),
    st.lists(
        st.tuples(st.integers(0, len(BASE[LEADS.name].rows) - 1), hostile_text),
        min_size=1,
        max_size=4,
    ),
)
def test_no_pattern_and_no_text_slow_a_sync_down(rules, texts):
    tabs = {name: table.copy() for name, table in BASE.items()}
    for field, pattern in rules:
        tabs["Scoring"].rows.append(["Fuzz", field, "matches", pattern, "5", ""])
    leads = tabs[LEADS.name]
    for i, (row, text) in enumerate(texts):
        leads.rows[row][LEAD_HEADERS.index(TYPED_BY_FORMS[i % len(TYPED_BY_FORMS)])] = text
    backend = MemoryBackend(tabs)
    for _ in range(2):
        started = time.perf_counter()
        plan = _sync(backend)
        assert time.perf_counter() - started < SYNC_SECONDS, (rules, texts)
    assert not plan.writes, plan.describe(5)


def _no_inf_nor_nan(backend: MemoryBackend) -> None:
    snapshot = backend.read()
    for spec in METRIC_TABS:
        table = snapshot.table(spec.name)
        for row in [table.header, *table.rows]:
            assert not {c.strip().casefold() for c in row} & {"inf", "-inf", "nan"}, row


amount_text = st.one_of(
    st.sampled_from(["1e308", "1.7e308", "-1e308", "1e999", "-5", "+33 6 12 34 56 78"]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(amount_text, min_size=1, max_size=6))
def test_won_deals_of_any_amount_keep_the_metric_tabs_finite(amounts):
    tabs = {name: table.copy() for name, table in BASE.items()}
    leads = tabs[LEADS.name]
    for row, amount in zip(leads.rows, amounts, strict=False):
        row[leads.col("Stage")] = "Won"
        row[leads.col("Amount")] = amount
    backend = MemoryBackend(tabs)
    _sync(backend)
    _no_inf_nor_nan(backend)


# Keys a hostile post tries: the columns that steer the pipeline and the metrics, under their
# headers and aliases, beside ordinary ones.
STEERING = sorted(
    {*SERVICE, "Stage", "Deal stage", "Owner", "Lead owner", "Expected close"}
    | {"Close date", "Next action date", "Last contact", "Created at", "Closed at", "Lead ID"}
)
form_key_text = st.one_of(
    st.sampled_from([*STEERING, "email", "company", "amount", "message", "utm_source"]),
    st.text(max_size=12),
)
form_value = st.one_of(
    cell_text,
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 5e-324, 10**30]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(form_key_text, form_value, min_size=1, max_size=8))
def test_any_form_post_fills_intake_columns_only_and_metrics_stay_finite(post):
    try:
        submission = adapt("generic", {"event_id": "fuzz", "email": "a@fuzz.example", **post})
    except IntakeError:
        return
    snapshot = MemoryBackend(template()).read()
    config = parse_config(snapshot)
    record = lead_record(submission, config.forms, config.settings, LEAD_HEADERS)
    # the template's Forms tab, and what the vendor says of the post (a form id, an IP):
    # Form details, where intake/fields.py puts it (a post keyed "form id" found this)
    assert set(record) <= INTAKE | {"Submission ID", DETAILS_COLUMN}, record
    intake = plan_intake(snapshot, [Arrival(submission.key(), record, NOW)], NOW)
    [row] = intake.plan.appends
    stages = {s.name: s.type for s in config.stages}
    assert stages.get(row.get("Stage", ""), "open") == "open", row
    backend = MemoryBackend(template())
    backend.write(resolve(intake.plan, backend.read()).changes)
    _sync(backend)
    _no_inf_nor_nan(backend)
