"""What a manager writes in a rule is what it matches (issue 23, items 6-8): group caps in
their own direction, numbers in the sheet's Number format, text that looks the same, quoted
list items, domains written with their @, totals compared as they are shown."""

from __future__ import annotations

import unicodedata
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.changes import Changes
from sheetcrm.engine.config import parse_config
from sheetcrm.engine.frame import Frame
from sheetcrm.engine.lead_checks import amount_problem
from sheetcrm.engine.metric_data import read_deals
from sheetcrm.engine.rules import Condition, ConditionError, compile_condition, matched_values
from sheetcrm.engine.schema import LEADS, Kind
from sheetcrm.engine.scoring import lifecycle, score
from sheetcrm.engine.scoring_tab import ScoringRule, parse_scoring
from sheetcrm.engine.settings import Settings
from sheetcrm.engine.settings_tab import parse_settings
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.engine.validation import tidy
from sheetcrm.engine.values import match_key, parse_number
from sheets import NOW as SHEET_NOW
from sheets import template

NOW = datetime(2026, 3, 10, 12, 0)
FIELDS: dict[str, Kind | None] = {c.header: c.kind for c in LEADS.columns}
FIELDS["Budget share"] = None  # a column a manager added


def cond(field: str, op: str, value: str, decimal: str | None = None) -> Condition:
    return compile_condition(field, op, value, FIELDS, decimal=decimal)


def hits(field: str, op: str, value: str, cells: list[str], decimal: str | None = None) -> str:
    frame = Frame(pd.DataFrame({field: cells}, dtype=object), NOW, decimal=decimal)
    return "".join("T" if m else "." for m in cond(field, op, value, decimal).mask(frame))


# --- item 6: a group cap bounds its group in its own direction -------------------------------


def rule(name: str, field: str, op: str, value: str, points: float, group: str) -> ScoringRule:
    return ScoringRule(name, (cond(field, op, value),), points, group)


NEGATIVE = [
    rule("Free mail", "Email domain", "in list", "gmail.com", -30, "Neg"),
    rule("Student", "Notes", "contains", "student", -30, "Neg"),
    rule("Positive", "Industry", "equals", "SaaS", 10, ""),
]


def test_a_negative_group_cap_costs_nothing_to_a_lead_that_matched_nothing_in_it() -> None:
    data = pd.DataFrame(
        {
            "Email": ["ann@acme.com", "bob@gmail.com", "cat@gmail.com"],
            "Notes": ["", "", "student"],
            "Industry": ["SaaS", "SaaS", ""],
        },
        dtype=object,
    )
    s = Settings()
    s.group_caps["neg"] = -20.0
    got = score(Frame(data, NOW), NEGATIVE, s)
    assert got.score.tolist() == [10.0, -10.0, -20.0]  # clean, -30 bounded, -60 bounded
    assert got.reasons[0] == "+10 Industry is SaaS"
    assert got.reasons[2].endswith("Neg capped at -20")
    # a positive cap still bounds from above only
    rules = [
        rule("Big", "Amount", "at least", "100", 30, "Size"),
        rule("Penalty", "Notes", "contains", "spam", -50, "Size"),
    ]
    data = pd.DataFrame({"Amount": ["500", "500", ""], "Notes": ["", "spam", "spam"]})
    s = Settings()
    s.group_caps["size"] = 20.0
    assert score(Frame(data, NOW), rules, s).score.tolist() == [20.0, -20.0, -50.0]


# --- item 7: numbers in rule values read in the sheet's Number format -------------------------


@pytest.mark.parametrize(
    ("op", "value", "decimal", "expected"),
    [
        ("at least", "12.500", ",", 12500.0),
        ("at least", "12.500", ".", 12.5),
        ("at least", "12.500,75", ",", 12500.75),
        ("at least", "12 500,5", ",", 12500.5),
        ("at least", "1,5", ",", 1.5),
        ("at least", "12,500", ".", 12500.0),
        ("between", "1.000 and 2.000", ",", (1000.0, 2000.0)),
        ("between", "1.000 - 2.000", ",", (1000.0, 2000.0)),
        ("between", "1,5 and 2,5", ",", (1.5, 2.5)),
        ("equals", "1.000", ",", 1000.0),
        ("at least", "10%", ",", 0.1),
    ],
)
def test_rule_numbers_follow_the_number_format(
    op: str, value: str, decimal: str | None, expected: object
) -> None:
    assert cond("Amount", op, value, decimal).value == expected


@pytest.mark.parametrize(
    ("op", "value"),
    [
        ("at least", "12.500"),
        ("between", "1.000 and 2.000"),
        ("equals", "1.000"),
        ("at most", "-1.500"),
    ],
)
def test_auto_reports_a_number_it_would_only_guess_at(op: str, value: str) -> None:
    with pytest.raises(ConditionError) as err:
        cond("Amount", op, value)
    assert err.value.column == "Value"
    assert "could be" in err.value.problem
    assert "Number format" in err.value.hint
    # what auto reads without a guess, it reads as lead amounts are read
    assert cond("Amount", "at least", "12,500").value == 12500.0
    assert cond("Amount", "at least", "0.125").value == 0.125  # a leading 0: a decimal
    assert cond("Amount", "at least", "1234.500").value == 1234.5  # no thousands group


def test_lead_amounts_and_rule_values_are_read_alike() -> None:
    cells = ["12.500", "9.999,99", "12 500,00", "800"]
    assert hits("Amount", "at least", "12.500", cells, ",") == "T.T."
    assert hits("Amount", "between", "1.000 and 10.000", cells, ",") == ".T.."


def test_a_rule_percentage_is_the_number_a_cell_showing_a_percentage_holds() -> None:
    # "10%" is 0.1: what a cell showing 10% holds (Google sends "10%", a workbook 0.1);
    # a column of plain 10s means 10, and is compared with a rule value of 10.
    cells = ["12%", "0,12", "8%", "12", "12,5%"]
    assert hits("Budget share", "at least", "10%", cells, ",") == "TT.TT"
    assert hits("Budget share", "at least", "10", cells, ",") == "...T."
    assert cond("Budget share", "at least", "10%").describe() == "Budget share is at least 10%"


def sheet(scoring: list[list[str]], settings: list[list[str]]) -> Snapshot:
    return Snapshot(
        {
            "Leads": Table(["Email", "Amount", "Company"], []),
            "Settings": Table(["Key", "Value"], settings),
            "Scoring": Table(["Rule", "Field", "Operator", "Value", "Points"], scoring),
            "Stages": Table(["Stage", "Type"], [["New", "open"]]),
        }
    )


def test_an_ambiguous_rule_number_is_a_problem_at_its_cell() -> None:
    config = parse_config(
        sheet(
            [
                ["Big", "Amount", "at least", "12.500", "10"],
                ["Bigger", "Amount", "at least", "20000", "1.000"],
                ["Named", "Company", "equals", "Acme", "5"],
            ],
            [],
        )
    )
    cells = {(p.tab, p.cell): p for p in config.problems}
    assert ("Scoring", "Scoring!D2") in cells and ("Scoring", "Scoring!E3") in cells
    assert "12.5 or 12500" in cells[("Scoring", "Scoring!D2")].problem
    assert "1 or 1000 points" in cells[("Scoring", "Scoring!E3")].problem
    assert len([p for p in config.problems if p.tab == "Scoring"]) == 2  # not row 4


def test_points_and_caps_follow_the_number_format() -> None:
    config = parse_config(
        sheet(
            [["Big", "Amount", "at least", "12.500", "1.000"]],
            [["Number format", "1.234,56"], ["Group cap: Size", "1.500"]],
        )
    )
    assert [p for p in config.problems if p.tab in ("Scoring", "Settings")] == []
    assert config.scoring[0].points == 1000.0
    assert config.scoring[0].conditions[0].value == 12500.0
    assert config.settings.group_caps == {"size": 1500.0}


def test_an_ambiguous_group_cap_is_reported() -> None:
    _, frozen, problems = parse_settings(Table(["Key", "Value"], [["Group cap: Size", "1.500"]]))
    assert [(p.cell, "could be" in p.problem) for p in problems] == [("Settings!B2", True)]
    assert "scoring" in frozen


@pytest.mark.parametrize(
    ("text", "mark"),
    [("1,234.56", "."), ("1.234,56", ","), ("1 234,56", ","), ("decimal comma", ","), ("", None)],
)
def test_the_number_format_setting(text: str, mark: str | None) -> None:
    settings, _, problems = parse_settings(Table(["Key", "Value"], [["Number format", text]]))
    assert problems == [] and settings.decimal == mark


def test_an_unknown_number_format_freezes_what_reads_numbers() -> None:
    _, frozen, problems = parse_settings(Table(["Key", "Value"], [["Number format", "german"]]))
    assert problems[0].cell == "Settings!B2" and "1.234,56" in problems[0].hint
    assert "scoring" in frozen and "validation" in frozen


@given(st.integers(0, 10**9), st.sampled_from([".", ","]))
def test_any_grouped_number_reads_back_in_its_format(n: int, mark: str) -> None:
    group = "," if mark == "." else "."
    text = f"{n:,}".replace(",", group)
    assert parse_number(text, mark) == n
    assert parse_number(f"{text}{mark}5", mark) == n + 0.5


# --- item 8: text that looks the same matches -------------------------------------------------

SOCIETE = "Société Générale"
NFD = unicodedata.normalize("NFD", SOCIETE)


@pytest.mark.parametrize(
    ("op", "value", "cells", "expected"),
    [
        ("equals", SOCIETE, [NFD, "Société  Générale", "Société\u00a0Générale", "SG"], "TTT."),
        ("equals", NFD, [SOCIETE, "societe generale", "Societe Generales"], "TT."),
        ("equals", "Etude", ["Étude", "étude", "ETUDE", "Études"], "TTT."),
        ("equals", "Étude", ["Etude", unicodedata.normalize("NFD", "Étude")], "TT"),
        ("contains", "generale", [SOCIETE, NFD, "Générali"], "TT."),
        ("starts with", "societe  gen", [NFD, "La Société Générale"], "T."),
        ("ends with", "GÉNÉRALE", [NFD.replace(" ", "\u202f"), "Générale SA"], "T."),
        ("in list", f"{NFD}, Etude", [SOCIETE, "Étude", "Total"], "TT."),
        ("not in list", "Etude", ["Étude", "Total"], ".T"),
        ("not equals", "Etude", ["Étude", "Total"], ".T"),
        ("equals", "Acme", ["Ac\u200bme", "Acme\ufeff"], "TT"),  # invisible characters
    ],
)
def test_text_operators_ignore_accents_case_and_spacing(
    op: str, value: str, cells: list[str], expected: str
) -> None:
    assert hits("Company", op, value, cells) == expected


@pytest.mark.parametrize(
    ("value", "cells", "expected"),
    [
        ('"Acme, Inc.", Globex', ["Acme, Inc.", "Globex", '"Acme', "Acme", " Inc."], "TT..."),
        ("“Acme, Inc.”; Initech", ["Acme, Inc.", "Initech", "Acme"], "TT."),
        ('"The ""Best"" Co", Acme "Best" Ltd', ['The "Best" Co', 'Acme "Best" Ltd'], "TT"),
    ],
)
def test_a_list_item_in_quotes_may_hold_a_comma(
    value: str, cells: list[str], expected: str
) -> None:
    assert hits("Company", "in list", value, cells) == expected


def test_a_quote_that_does_not_close_is_a_problem_at_the_value() -> None:
    with pytest.raises(ConditionError) as err:
        cond("Company", "in list", '"Acme, Inc., Globex')
    assert err.value.column == "Value"
    assert (
        err.value.problem == """the quoted item '"Acme, Inc., Globex' does not end with its quote"""
    )
    assert '"Acme, Inc."' in err.value.hint


@pytest.mark.parametrize(
    ("value", "expected"),
    [("@gmail.com", "TT.."), ("@gmail.com, @acme.com", "TTT."), ('"@gmail.com"', "TT..")],
)
def test_email_domain_in_list_accepts_the_at_sign(value: str, expected: str) -> None:
    cells = ["ann@gmail.com", "bob@GMAIL.com", "cat@mail.acme.com", "dan@notgmail.com"]
    assert hits("Email", "email domain in list", value, cells) == expected


def test_a_match_is_explained_in_the_rules_own_spelling() -> None:
    frame = Frame(pd.DataFrame({"Company": [NFD, "Etude"]}, dtype=object), NOW)
    c = cond("Company", "in list", "Société Générale, Étude")
    assert matched_values(c, frame).tolist() == ["Société Générale", "Étude"]


WORDS = st.sampled_from(["Société", "Générale", "Étude", "Crème", "brûlée", "Zürich", "Ærø"])


@given(
    st.lists(WORDS, min_size=1, max_size=4),
    st.sampled_from(["NFC", "NFD", "NFKC", "NFKD"]),
    st.lists(st.sampled_from([" ", "  ", "\u00a0", "\u202f", "\t", " \u00a0"]), min_size=4),
    st.booleans(),
)
def test_any_spelling_of_a_value_matches_the_rule_written_in_another(
    words: list[str], form: str, spaces: list[str], upper: bool
) -> None:
    rule_text = " ".join(words)
    typed = "".join(w + spaces[i % len(spaces)] for i, w in enumerate(words)).strip()
    typed = unicodedata.normalize(form, typed.upper() if upper else typed)
    assert match_key(typed) == match_key(rule_text)
    assert hits("Company", "equals", rule_text, [typed, "other"]) == "T."
    assert hits("Company", "in list", f'"{typed}", x', [rule_text]) == "T"


# --- item 8: totals compared as they are shown -------------------------------------------------


def test_a_total_that_shows_40_grades_and_qualifies_as_40() -> None:
    rules = [
        rule("a", "Company", "is not empty", "", 0.3, ""),
        rule("b", "Company", "is not empty", "", 31.9, ""),
        rule("c", "Company", "is not empty", "", 7.8, ""),
    ]
    data = pd.DataFrame({"Company": ["Acme"]}, dtype=object)
    s = Settings()
    got = score(Frame(data, NOW), rules, s)
    assert got.score.tolist() == [40.0]
    assert got.grade.tolist() == ["B"]
    stage = np.zeros(1, dtype=int)
    assert lifecycle(got.score, pd.Series(["Lead"]), stage, s).tolist() == ["MQL"]


def test_scoring_tab_points_read_in_the_number_format() -> None:
    table = Table(
        ["Rule", "Field", "Operator", "Value", "Points"],
        [
            ["Big", "Amount", "at least", "10", "2,5"],
            ["Bigger", "Amount", "at least", "20", "1.000"],
        ],
    )
    rules, tab = parse_scoring(table, FIELDS, True, Settings().zone, ",")
    assert tab.problems == [] and [r.points for r in rules] == [2.5, 1000.0]


def test_lead_amounts_are_read_in_the_number_format_everywhere() -> None:
    settings, _, _ = parse_settings(Table(["Key", "Value"], [["Number format", "1.234,56"]]))
    assert tidy("12.500", "Amount", Kind.MONEY, "", settings) == "12500"
    said = amount_problem("12.500", 1000, settings.decimal)
    assert said.endswith("over the largest amount, 1000")
    deals = read_deals(pd.DataFrame({"Amount": ["12.500", "1.234,5", "7"]}), [], decimal=",")
    assert deals.amount.tolist() == [12500.0, 1234.5, 7.0]


# --- end to end: what the sheet shows ----------------------------------------------------------


def test_a_sync_matches_a_decomposed_name_and_reports_an_ambiguous_number_at_its_cell() -> None:
    backend = MemoryBackend(template())
    first = backend.read()
    apply(plan_sync(first, SHEET_NOW), backend, first)

    def edit(snapshot: Snapshot) -> None:
        leads, scoring = snapshot.table("Leads").copy(), snapshot.table("Scoring").copy()
        leads.rows[0][leads.col("Company")] = unicodedata.normalize("NFD", "Société  Générale")
        scoring.rows.append(
            ["SG", "Company", "in list", '"Societe Generale, Paris", Société Générale', "7", ""]
        )
        backend.write(Changes(snapshot.version, replace={"Leads": leads, "Scoring": scoring}))

    edit(backend.read())
    snapshot = backend.read()
    apply(plan_sync(snapshot, SHEET_NOW), backend, snapshot)
    after = backend.read()
    leads = after.table("Leads")
    assert "+7 Company is Société Générale" in leads.rows[0][leads.col("Score reasons")]

    scoring = after.table("Scoring").copy()
    row = next(i for i, r in enumerate(scoring.rows) if r[0] == "Budget 10k+")
    scoring.rows[row][scoring.col("Value")] = "12.500"
    backend.write(Changes(after.version, replace={"Scoring": scoring}))
    snapshot = backend.read()
    apply(plan_sync(snapshot, SHEET_NOW), backend, snapshot)
    problems = backend.read().table("Problems")
    said = [dict(zip(problems.header, r, strict=False)) for r in problems.rows]
    cell = f"Scoring!D{row + 2}"
    # the banner (the tab is applied as last valid), then the problem itself
    found = [p for p in said if p["Cell"] == cell and "could be 12.5 or 12500" in p["Problem"]]
    assert found, said
    assert "Number format" in found[0]["Hint"]
    # the tab keeps working on its last valid version: the lead keeps its points
    leads = backend.read().table("Leads")
    assert "+7 Company is Société Générale" in leads.rows[0][leads.col("Score reasons")]
