"""The Enrolment tab: rows read per sequence, each problem at its cell with a hint."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sheetcrm.engine.enrolment_tab import ACTIVITY_OUTCOME, parse_enrolment
from sheetcrm.engine.rule_tab import leads_fields
from sheetcrm.engine.schema import ENROLMENT, LEADS
from sheetcrm.engine.table import Table

FIELDS = leads_fields(Table(list(LEADS.headers), []))
UTC = ZoneInfo("UTC")


def parse(*rows: list[str]):
    return parse_enrolment(
        Table(list(ENROLMENT.headers), [list(r) for r in rows]), FIELDS, ["Nurture C"], True, UTC
    )


def test_enrol_rows_are_anded_and_exit_rows_stand_alone():
    rules, problems = parse(
        ["Nurture C", "enrol if", "Grade", "in list", "C, D"],
        ["nurture c", "Enrol if", "Lifecycle", "equals", "Lead"],
        ["Nurture C", "exit if", "Activity outcome", "in list", "replied, meeting booked"],
        ["Nurture C", "sortir si", "Étape", "égal à", "Meeting"],
    )
    assert problems == []
    rule = rules["nurture c"]
    assert [c.field for c in rule.enrol] == ["Grade", "Lifecycle"] and not rule.broken
    assert [(e.row, e.condition.field, e.on_activity) for e in rule.exits] == [
        (4, ACTIVITY_OUTCOME, True),
        (5, "Stage", False),
    ]


def test_each_problem_is_at_its_cell_with_a_hint():
    rules, problems = parse(
        ["Nurture X", "enrol if", "Grade", "equals", "C"],
        ["Nurture C", "maybe", "Grade", "equals", "C"],
        ["Nurture C", "enrol if", "Activity type", "equals", "call"],
        ["Nurture C", "exit if", "Gradd", "equals", "C"],
    )
    said = [(p.cell, p.problem, p.hint) for p in problems]
    assert said[0][:2] == ("Enrolment!A2", "'Nurture X' is not a sequence of the Sequences tab")
    assert "Nurture C" in said[0][2]
    assert said[1][:2] == ("Enrolment!B3", "'maybe' is not enrol if or exit if")
    assert said[2][:2] == ("Enrolment!C4", "Activity type can only end a sequence")
    assert said[3][0] == "Enrolment!C5" and "Grade" in said[3][2]
    # a sequence with a bad row that may have been an enrol row enrols nobody automatically
    assert rules["nurture c"].broken and rules["nurture c"].exits == []


def test_no_tab_is_no_rules_and_no_problem():
    assert parse_enrolment(None, FIELDS, ["Nurture C"], True, UTC) == ({}, [])
