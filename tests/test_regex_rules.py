"""The `matches` operator against hostile input (issue 15): a pattern typed in a rule tab meets
text typed by anonymous form users, at every sync, so it runs on a linear-time engine."""

from __future__ import annotations

import time

import pytest

from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.patterns import TEXT_LIMIT
from sheetcrm.engine.schema import LEADS
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import Table
from sheets import NOW, cell, template


def with_rule(pattern: str, notes: dict[int, str]) -> dict[str, Table]:
    """The template with its 'Role address' rule testing Notes against ``pattern``, and the
    Notes of the leads at the given row indexes set."""
    tabs = {name: table.copy() for name, table in template().items()}
    scoring = tabs["Scoring"]
    row = scoring.rows[scoring.column("Rule").index("Role address")]
    row[scoring.col("Field")] = "Notes"  # type: ignore[index]
    row[scoring.col("Value")] = pattern  # type: ignore[index]
    leads = tabs[LEADS.name]
    for i, text in notes.items():
        leads.rows[i][leads.col("Notes")] = text  # type: ignore[index]
    return tabs


def role_address_row(tabs: dict[str, Table]) -> int:
    return Table.sheet_row(tabs["Scoring"].column("Rule").index("Role address"))


def test_a_catastrophic_pattern_on_a_form_answer_syncs_in_time() -> None:
    # (a+)+$ backtracks 2^30 times on this text with a backtracking engine: over a minute
    tabs = with_rule("(a+)+$", {0: "a" * 30 + "!", 1: "AAAA"})
    backend = MemoryBackend(tabs)
    started = time.perf_counter()
    snapshot = backend.read()
    plan = plan_sync(snapshot, NOW)
    apply(plan, backend, snapshot)
    assert time.perf_counter() - started < 2.0
    assert not [p for p in plan.problems if p.tab == "Scoring"]
    leads = backend.read()
    first, second = (leads.table(LEADS.name).rows[i][0] for i in (0, 1))
    assert "Notes matches" not in cell(leads, LEADS.name, first, "Score reasons")
    assert "Notes matches (a+)+$" in cell(leads, LEADS.name, second, "Score reasons")


@pytest.mark.parametrize(
    "pattern",
    [
        r"(\w)\1",  # a backreference
        r"(?P<x>a)(?P=x)",
        r"^(?!info)",  # lookarounds
        r"(?<=@)acme",
        r"acme\Z",  # Python's spelling of RE2's \z
        r"a*+",  # possessive
    ],
)
def test_a_pattern_the_engine_cannot_run_is_reported_at_its_cell(pattern: str) -> None:
    tabs = with_rule(pattern, {})
    plan = plan_sync(MemoryBackend(tabs).read(), NOW)
    found = [p for p in plan.problems if p.tab == "Scoring"]
    assert [p.cell for p in found] == [f"Scoring!D{role_address_row(tabs)}"]
    assert repr(pattern) in found[0].problem
    assert "RE2" in found[0].hint


def test_a_bad_pattern_still_says_what_is_wrong() -> None:
    plan = plan_sync(MemoryBackend(with_rule("([", {})).read(), NOW)
    (found,) = [p for p in plan.problems if p.tab == "Scoring"]
    assert "bad regular expression '(['" in found.problem
    assert "missing ]" in found.problem and "check brackets" in found.hint


def test_a_pattern_sees_the_start_of_a_long_cell_only() -> None:
    tabs = with_rule("needle", {0: "x" * TEXT_LIMIT + "needle", 1: "needle" + "x" * 10**6})
    backend = MemoryBackend(tabs)
    snapshot = backend.read()
    apply(plan_sync(snapshot, NOW), backend, snapshot)
    leads = backend.read()
    first, second = (leads.table(LEADS.name).rows[i][0] for i in (0, 1))
    assert "Notes matches" not in cell(leads, LEADS.name, first, "Score reasons")
    assert "Notes matches needle" in cell(leads, LEADS.name, second, "Score reasons")
