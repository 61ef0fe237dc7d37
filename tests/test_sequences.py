"""The Sequences tab: steps read and checked at their cells, templates rendered in a sandbox."""

from __future__ import annotations

from datetime import datetime

import pytest

from sheetcrm.engine.config import parse_config
from sheetcrm.engine.schema import LEADS, SEQUENCES
from sheetcrm.engine.sequences_tab import (
    ACTIVE,
    DRAFT,
    ENROLMENT,
    PREVIOUS,
    MissingField,
    Step,
    parse_sequences,
    render,
)
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.files.templates import load_template

HEADERS = list(SEQUENCES.headers)
LEADS_HEADERS = list(LEADS.headers)


def tab(*rows: list[str]) -> Table:
    return Table(HEADERS, [list(r) for r in rows])


def row(
    sequence: str = "Nurture C",
    step: str = "1",
    wait: str = "3",
    after: str = "",
    subject: str = "Hi {{First name}}",
    body: str = "Hello {{First name}} of {{ Company }},\n{{Owner}}",
    status: str = "draft",
) -> list[str]:
    return [sequence, step, wait, after, subject, body, status]


def one(*cells: list[str]) -> Step:
    steps, problems = parse_sequences(tab(*cells), LEADS_HEADERS)
    assert problems == []
    (step,) = steps
    return step


def problem_of(cells: list[str]) -> tuple[str, str, str]:
    steps, problems = parse_sequences(tab(row(step="1"), cells), LEADS_HEADERS)
    assert len(steps) == 1  # the good row still stands
    (p,) = problems
    return p.cell, p.problem, p.hint


def test_a_step_is_read_typed():
    step = one(row(wait="3 business days", status="Active"))
    assert (step.sequence, step.number, step.wait_days, step.business_days) == (
        "Nurture C",
        1,
        3,
        True,
    )
    assert (step.after, step.status, step.row) == (ENROLMENT, ACTIVE, 2)
    assert step.fields == ("First name", "Company", "Owner")


def test_after_defaults_by_step_and_status_to_draft():
    steps, problems = parse_sequences(tab(row(), row(step="2", wait="", status="")), LEADS_HEADERS)
    assert problems == []
    assert [(s.after, s.wait_days, s.status) for s in steps] == [
        (ENROLMENT, 3, DRAFT),
        (PREVIOUS, 0, DRAFT),
    ]


@pytest.mark.parametrize(
    "cells, cell, words",
    [
        (row(sequence=""), "Sequences!A3", "a step of no sequence"),
        (row(step="two"), "Sequences!B3", "'two' is not a step number"),
        (row(step="1.5"), "Sequences!B3", "'1.5' is not a step number"),
        (row(step="1"), "Sequences!B3", "Nurture C has a second step 1"),
        (row(step="2", wait="3 weeks"), "Sequences!C3", "'3 weeks' is not a wait"),
        (row(step="2", after="later"), "Sequences!D3", "'later' is not when"),
        (row(step="2", status="live"), "Sequences!G3", "'live' is not a status"),
        (row(step="2", subject=""), "Sequences!E3", "an empty Subject"),
        (row(step="2", body=""), "Sequences!F3", "an empty Body"),
    ],
)
def test_each_problem_is_at_its_cell(cells, cell, words):
    where, problem, hint = problem_of(cells)
    assert where == cell
    assert words in problem
    assert hint


def test_an_unknown_field_says_did_you_mean():
    where, problem, hint = problem_of(row(step="2", body="Hi {{Frist name}}"))
    assert (where, problem) == ("Sequences!F3", "'{{Frist name}}' is not a merge field")
    assert hint == "did you mean 'First name'?"
    where, _, hint = problem_of(row(step="2", subject="{% if compny %}x{% endif %}"))
    assert where == "Sequences!E3"
    assert hint == "did you mean 'Company'?"


def test_a_syntax_error_names_its_line():
    where, problem, _ = problem_of(row(step="2", body="Hello\n\n{% if %}\n"))
    assert where == "Sequences!F3"
    assert problem.startswith("template error on line 3:")


def test_a_column_missing_is_one_problem_and_no_steps():
    steps, problems = parse_sequences(Table(["Sequence", "Step", "Subject"], []), LEADS_HEADERS)
    assert steps == []
    assert [p.problem for p in problems] == ["the Sequences tab has no 'Body' column"]
    assert parse_sequences(None, LEADS_HEADERS) == ([], [])


def test_render_merges_by_header_and_owner_fields():
    step = one(row(subject="For {{company}}", body="{{First name}}\n{{Owner email}}"))
    assert step.fields == ("Company", "First name", "Owner email")
    values = {"First name": "Ana", "Company": "Acme", "Owner email": "sofia@example.com"}
    assert render(step, values) == ("For Acme", "Ana\nsofia@example.com")


def test_a_missing_field_makes_the_lead_wait_never_bonjour_comma():
    step = one(row())
    assert render(step, {"Company": "Acme", "Owner": "Sofia"}) == MissingField("First name")
    assert render(step, {"First name": "  ", "Company": "Acme", "Owner": "Sofia"}) == (
        MissingField("First name")
    )


def test_owner_signature_is_empty_until_the_team_tab_has_one():
    step = one(row(body="{{Owner}}\n{{Owner signature}}"))
    assert render(step, {"First name": "Ana", "Owner": "Sofia"}) == ("Hi Ana", "Sofia\n")


def test_lead_text_is_data_only():
    step = one(row(subject="{{Company}}", body="{{Company}} / {{First name}}"))
    hostile = {"Company": "{{7*7}}", "First name": "{{ ''.__class__ }}", "Owner": "x"}
    assert render(step, hostile) == ("{{7*7}}", "{{7*7}} / {{ ''.__class__ }}")


def test_a_subject_never_carries_a_line_break():
    step = one(row())
    subject, body = render(step, {"First name": "Ana\r\nBcc: all@example.com", "Owner": "S",
                                  "Company": "Acme"})  # fmt: skip
    assert subject == "Hi Ana Bcc: all@example.com"
    assert "\r\n" in body  # the body is the lead's text as it is


def test_the_sandbox_refuses_a_managers_attribute_hunt_at_the_cell():
    where, problem, _ = problem_of(row(step="2", body="{{ ''.__class__.__mro__ }}"))
    assert where == "Sequences!F3"
    assert problem.startswith("the template cannot be rendered: access to attribute '__class__'")


@pytest.mark.parametrize("name, sequence", [("b2b-en", "Nurture C"), ("b2b-fr", "Relance C")])
def test_the_templates_carry_a_draft_sequence_of_three_steps(name, sequence):
    tabs = load_template(name, now=datetime(2026, 3, 10, 14, 30))
    config = parse_config(Snapshot(tabs))
    assert [p for p in config.problems if p.tab == "Sequences"] == []
    assert [(s.sequence, s.number, s.status) for s in config.sequences] == [
        (sequence, n, DRAFT) for n in (1, 2, 3)
    ]
    lead = {"First name": "Ana", "Company": "Acme", "Owner": "Sofia", "Owner email": "s@x.io"}
    for step in config.sequences:
        subject, body = render(step, lead)  # type: ignore[misc]
        assert "Ana" in body and "{{" not in subject + body


def test_a_bad_step_is_a_problem_on_the_problems_list_and_the_rest_stands():
    tabs = load_template(now=datetime(2026, 3, 10, 14, 30))
    tabs["Sequences"].rows[1][5] = "Hi {{Compny}}"
    config = parse_config(Snapshot(tabs))
    (p,) = [p for p in config.problems if p.tab == "Sequences"]
    assert (p.cell, p.hint) == ("Sequences!F3", "did you mean 'Company'?")
    assert [s.number for s in config.sequences] == [1, 3]
