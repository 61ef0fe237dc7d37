"""The operator registry, conditions compiled to masks, their descriptions and their errors."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from sheetcrm.engine.frame import EMAIL_DOMAIN, Frame
from sheetcrm.engine.hints import suggest
from sheetcrm.engine.operators import OPERATORS, Operator, find_operator
from sheetcrm.engine.rules import (
    Condition,
    ConditionError,
    compile_condition,
    matched_values,
    split_list,
)
from sheetcrm.engine.schema import LEADS, Kind

NOW = datetime(2026, 3, 10, 12, 0)

# Six Leads-like rows, every cell a string as a backend reads it.
LEADS_ROWS = pd.DataFrame(
    {
        "Industry": ["SaaS", " saas ", "Retail", "", "Select", "Software"],
        "Company": ["Acme Inc", "Beta LLC", "", "acme corp", "Gamma", "Delta Partners"],
        "Amount": ["12,500", "$48,000", "", "abc", "9,999.99", "(500)"],
        "Email": [
            "ann@gmail.com",
            "bob@mail.acme.com",
            "cat@ACME.com",
            "",
            "not-an-email",
            "dan@notacme.com",
        ],
        "Created at": [
            "2026-03-09 10:00",  # yesterday
            "2026-03-01",  # 9 days ago
            "2026-01-15",  # 54 days ago
            "",
            "junk",
            "2026-03-11",  # tomorrow
        ],
        "Budget": ["5", "12", "", "x", "7.5", "100"],  # not a schema column
    }
)
FIELDS: dict[str, Kind | None] = {
    h: (c.kind if (c := LEADS.column(h)) else None) for h in LEADS_ROWS.columns
}


def frame(data: pd.DataFrame = LEADS_ROWS, now: datetime = NOW, dayfirst: bool = True) -> Frame:
    return Frame(data, now, dayfirst)


def compile_(field: str, op: str, value: str = "", dayfirst: bool = True) -> Condition:
    return compile_condition(field, op, value, FIELDS, dayfirst)


def mask(field: str, op: str, value: str = "") -> list[bool]:
    return compile_(field, op, value).mask(frame()).tolist()


def bits(text: str) -> list[bool]:
    """``"TT.F.."`` -> [True, True, False, False, False, False]; '.' and 'F' are False."""
    return [c == "T" for c in text]


# operator name, one of its aliases, field, value, expected mask over LEADS_ROWS
TABLE = [
    ("equals", "is", "Industry", "SaaS", "TT...."),
    ("equals", "=", "Industry", "software", ".....T"),
    ("equals", "equal to", "Amount", "12500", "T....."),  # a number on a money column
    ("equals", "==", "Created at", "2026-03-09", "T....."),  # a date matches the whole day
    ("not equals", "!=", "Industry", "SaaS", "..TTTT"),  # blank and "Select" included
    ("not equals", "is not", "Amount", "$12,500", ".TTTTT"),
    ("contains", "has", "Company", "acme", "T..T.."),
    ("not contains", "does not contain", "Company", "acme", ".TT.TT"),
    ("starts with", "begins with", "Company", "ACME", "T..T.."),
    ("ends with", "ends with", "Company", "llc", ".T...."),
    ("in list", "is one of", "Industry", "SaaS, Software", "TT...T"),
    ("in list", "in", "Industry", "retail; software", "..T..T"),
    ("not in list", "not in", "Industry", "SaaS, Software", "..TTT."),
    ("greater than", ">", "Amount", "12500", ".T...."),
    ("greater than", "over", "Amount", "10,000", "TT...."),
    ("at least", ">=", "Amount", "12,500", "TT...."),
    ("at least", "min", "Amount", "$9,999.99", "TT..T."),
    ("less than", "<", "Amount", "10000", "....TT"),
    ("less than", "below", "Amount", "0", ".....T"),  # (500) is -500
    ("at most", "<=", "Amount", "12,500", "T...TT"),
    ("at most", "max", "Amount", "9999.99", "....TT"),
    ("between", "in range", "Amount", "10,000 and 50,000", "TT...."),
    ("between", "between", "Amount", "12500 to 0", "T...T."),  # reversed bounds
    ("is empty", "blank", "Industry", "", "...TT."),
    ("is empty", "missing", "Company", "", "..T..."),
    ("is not empty", "present", "Industry", "", "TTT..T"),
    ("is not empty", "not blank", "Company", "", "TT.TTT"),
    ("matches", "regex", "Company", r"^(acme|beta)\b", "TT.T.."),
    ("matches", "matches regex", "Email", r"@(mail\.)?acme\.com$", ".TT..."),
    ("before", "is before", "Created at", "2026-03-01", "..T..."),
    ("before", "is before", "Created at", "2026-03-02", ".TT..."),
    ("after", "is after", "Created at", "2026-03-01", "T....T"),
    ("after", "is after", "Created at", "2026-03-09 10:00", ".....T"),
    ("within last N days", "within last", "Created at", "7", "T....."),  # not tomorrow
    ("within last N days", "within the last n days", "Created at", "60 days", "TTT..."),
    ("more than N days ago", "older than", "Created at", "7", ".TT..."),
    ("more than N days ago", "older than n days", "Created at", "30", "..T..."),
    ("email domain in list", "domain in list", "Email", "acme.com", ".TT..."),
    ("email domain in list", "email domain is", "Email", "gmail.com, notacme.com", "T....T"),
]


@pytest.mark.parametrize(("name", "alias", "field", "value", "expected"), TABLE)
def test_operator_masks(name: str, alias: str, field: str, value: str, expected: str) -> None:
    assert mask(field, name, value) == bits(expected)
    assert mask(field, alias, value) == bits(expected)
    assert mask(field, f"  {alias.upper()}  ", value) == bits(expected)  # case, spaces


def test_the_table_covers_every_operator_by_name_and_alias() -> None:
    by_name = {op.name: op for op in OPERATORS}
    assert {row[0] for row in TABLE} == set(by_name)
    for name, alias, *_ in TABLE:
        assert alias == name or alias in by_name[name].aliases
    # and every operator is tested under at least one alias that is not its name
    assert {row[0] for row in TABLE if row[1] != row[0]} == set(by_name) - {"ends with"}


@pytest.mark.parametrize("op", OPERATORS, ids=lambda o: o.name)
def test_every_word_finds_its_operator(op: Operator) -> None:
    assert find_operator(op.name) is op
    for alias in op.aliases:
        assert find_operator(alias) is op
    assert find_operator(op.name.upper().replace(" ", "   ")) is op


def test_no_alias_is_claimed_by_two_operators() -> None:
    words = [w.casefold() for op in OPERATORS for w in (op.name, *op.aliases)]
    assert len(words) == len(set(words))


def test_negated_operators_are_flagged_and_include_blank_cells() -> None:
    negated = {op.name for op in OPERATORS if op.negated}
    assert negated == {"not equals", "not contains", "not in list"}
    blank_rows = [3, 4]  # "" and "Select"
    for name, value in [("not equals", "SaaS"), ("not contains", "a"), ("not in list", "x, y")]:
        hits = mask("Industry", name, value)
        assert [hits[i] for i in blank_rows] == [True, True], name


def test_select_and_dashes_are_empty() -> None:
    data = pd.DataFrame({"Industry": ["Select", "-", "N/A", "none", " ", "Selected", "0"]})
    got = compile_("Industry", "is empty").mask(Frame(data, NOW)).tolist()
    assert got == [True, True, True, True, True, False, False]


def test_an_empty_frame_gives_an_empty_mask() -> None:
    empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in LEADS_ROWS.columns})
    for name, _alias, field, value, _ in TABLE:
        assert compile_(field, name, value).mask(Frame(empty, NOW)).shape == (0,)


def test_a_column_missing_from_the_frame_reads_as_blank() -> None:
    data = pd.DataFrame({"Company": ["Acme", "Beta"]})
    assert compile_("Industry", "is empty").mask(Frame(data, NOW)).tolist() == [True, True]
    assert compile_("Industry", "equals", "SaaS").mask(Frame(data, NOW)).tolist() == [
        False,
        False,
    ]


def test_dates_are_read_in_the_frames_date_order() -> None:
    data = pd.DataFrame({"Created at": ["03/04/2026"]})  # 3 April or March 4
    before = compile_("Created at", "before", "2026-03-10")
    assert before.mask(Frame(data, NOW, dayfirst=True)).tolist() == [False]
    assert before.mask(Frame(data, NOW, dayfirst=False)).tolist() == [True]


def test_a_rule_value_is_read_in_the_given_date_order() -> None:
    assert compile_("Created at", "before", "03/04/2026", dayfirst=True).value == datetime(
        2026, 4, 3
    )
    assert compile_("Created at", "before", "03/04/2026", dayfirst=False).value == datetime(
        2026, 3, 4
    )


def test_within_days_counts_calendar_days_from_the_frames_now() -> None:
    within = compile_("Created at", "within last N days", "1")
    # yesterday 10:00 is within the last day all of today, whatever the hour
    assert within.mask(frame(now=datetime(2026, 3, 10, 9, 0))).tolist() == bits("T.....")
    assert within.mask(frame(now=datetime(2026, 3, 10, 23, 0))).tolist() == bits("T.....")
    assert within.mask(frame(now=datetime(2026, 3, 11, 0, 1))).tolist() == bits(".....T")
    older = compile_("Created at", "more than N days ago", "0")
    assert older.mask(frame(now=datetime(2026, 3, 12))).tolist() == bits("TTT..T")


def test_extra_columns_accept_numeric_comparisons_by_coercion() -> None:
    assert FIELDS["Budget"] is None
    assert mask("Budget", "greater than", "10") == bits(".T...T")
    assert mask("Budget", "at least", "7.5") == bits(".T..TT")
    assert mask("Budget", "between", "5 and 12") == bits("TT..T.")
    assert mask("Budget", "equals", "12") == bits(".T....")  # compared as text
    assert mask("Budget", "contains", "1") == bits(".T...T")


def test_email_domain_is_a_derived_field() -> None:
    assert mask("Email domain", "equals", "gmail.com") == bits("T.....")
    assert mask("email DOMAIN", "in list", "acme.com, mail.acme.com") == bits(".TT...")
    assert mask(EMAIL_DOMAIN, "is empty") == bits("...TT.")  # no email, or no @ in it


def test_email_domain_in_list_matches_subdomains_only_at_a_dot() -> None:
    data = pd.DataFrame(
        {
            "Email": [
                "a@acme.com",
                "b@eu.mail.acme.com",
                "c@notacme.com",
                "d@acme.com.evil",
                "acme.com",
            ]
        }
    )
    got = compile_("Email", "email domain in list", "ACME.com").mask(Frame(data, NOW))
    assert got.tolist() == [True, True, False, False, False]


def test_matches_is_a_case_insensitive_search() -> None:
    condition = compile_("Company", "matches", "CORP")
    assert condition.mask(frame()).tolist() == bits("...T..")


# --- compiling -----------------------------------------------------------------------------


def test_field_names_are_matched_like_headers() -> None:
    assert compile_("  industry ", "equals", "SaaS").field == "Industry"
    assert compile_("CREATED   AT", "is empty").field == "Created at"
    # a schema alias of a Leads column finds the column ("E-mail" is Email)
    assert compile_condition("E-mail", "is empty", "", {"Email": Kind.EMAIL}).field == "Email"
    assert compile_condition("deal value", "at least", "5", {"Amount": Kind.MONEY}).field == (
        "Amount"
    )


@pytest.mark.parametrize(
    ("field", "op", "value", "expected"),
    [
        ("Industry", "equals", " SaaS ", "SaaS"),
        (
            "Industry",
            "in list",
            "SaaS, Software;Retail\nMedia, ",
            ("SaaS", "Software", "Retail", "Media"),
        ),
        ("Amount", "at least", "$10,000", 10000.0),
        ("Amount", "equals", "12,500", 12500.0),
        ("Amount", "equals", "big", "big"),
        ("Amount", "between", "50,000 and 10,000", (10000.0, 50000.0)),
        ("Amount", "between", "10, 50", (10.0, 50.0)),
        ("Amount", "between", "10..50", (10.0, 50.0)),
        ("Amount", "between", "1,5 and 2,5", (1.5, 2.5)),
        ("Created at", "equals", "2026-03-09", datetime(2026, 3, 9)),
        ("Created at", "within last N days", "14 days", 14),
        ("Created at", "within last N days", "1 day", 1),
        ("Created at", "before", "31 January 2026", datetime(2026, 1, 31)),
        ("Company", "is empty", "ignored", None),
    ],
)
def test_values_are_parsed_for_their_operator(
    field: str, op: str, value: str, expected: object
) -> None:
    assert compile_(field, op, value).value == expected


@pytest.mark.parametrize(
    ("field", "op", "value", "column", "problem", "hint"),
    [
        (
            "Industy",
            "equals",
            "SaaS",
            "Field",
            "unknown field 'Industy'",
            "did you mean 'Industry'?",
        ),
        ("Emial domain", "equals", "x", "Field", "unknown field", "did you mean 'Email domain'?"),
        (
            "Industry",
            "equls",
            "SaaS",
            "Operator",
            "unknown operator 'equls'",
            "did you mean 'equals'?",
        ),
        ("Industry", "", "SaaS", "Operator", "unknown operator ''", "use one of: equals, "),
        (
            "Company",
            "greater than",
            "5",
            "Operator",
            "'greater than' compares numbers, but Company holds text",
            "like 'equals', 'contains' or 'in list'",
        ),
        (
            "Created at",
            "at least",
            "2026-01-01",
            "Operator",
            "'at least' compares numbers, but Created at holds datetime",
            "pick an operator for dates, like 'before', 'after' or 'within last N days'",
        ),
        (
            "Amount",
            "before",
            "2026-01-01",
            "Operator",
            "'before' compares dates, but Amount holds money",
            "pick an operator for numbers, like 'at least', 'at most' or 'between'",
        ),
        (
            "Created at",
            "email domain in list",
            "x.com",
            "Operator",
            "'email domain in list' compares emails",
            "pick an operator for dates",
        ),
        (
            "Amount",
            "at least",
            "lots",
            "Value",
            "'lots' is not a number",
            "'at least' needs a number",
        ),
        (
            "Amount",
            "at least",
            "",
            "Value",
            "'at least' needs a value",
            "'at least' needs a number",
        ),
        ("Industry", "equals", "  ", "Value", "'equals' needs a value", "'equals' needs a text"),
        ("Company", "matches", "([", "Value", "bad regular expression '(['", "check brackets"),
        (
            "Amount",
            "between",
            "5",
            "Value",
            "'5' is not a range of two numbers",
            "two numbers, like '10 and 50'",
        ),
        ("Amount", "between", "5 and x", "Value", "is not a range of two numbers", "two numbers"),
        ("Amount", "between", "1 and 2 and 3", "Value", "is not a range", "two numbers"),
        ("Created at", "before", "soon", "Value", "'soon' is not a date", "like 2026-01-31"),
        ("Created at", "within last N days", "-1", "Value", "not a whole number of days", "days"),
        ("Created at", "within last N days", "1.5", "Value", "not a whole number of days", "days"),
        ("Budget", "at least", "2026-01-01", "Value", "is not a number", "needs a number"),
    ],
)
def test_condition_errors_name_the_cell_and_hint(
    field: str, op: str, value: str, column: str, problem: str, hint: str
) -> None:
    with pytest.raises(ConditionError) as err:
        compile_(field, op, value)
    assert err.value.column == column
    assert problem in err.value.problem
    assert hint in err.value.hint
    assert isinstance(err.value, ValueError)


# --- describing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "op", "value", "matched", "expected"),
    [
        ("Industry", "equals", "SaaS", "", "Industry is SaaS"),
        ("Industry", "equals", "SaaS", "SaaS", "Industry is SaaS"),
        ("Industry", "in list", "SaaS, Software", "", "Industry is SaaS, Software"),
        ("Industry", "in list", "SaaS, Software", "Software", "Industry is Software"),
        ("Industry", "not equals", "SaaS", "", "Industry is not SaaS"),
        ("Industry", "not in list", "SaaS,Software", "", "Industry is not one of SaaS, Software"),
        ("Company", "contains", "acme", "", "Company contains acme"),
        ("Company", "not contains", "acme", "", "Company does not contain acme"),
        ("Company", "starts with", "Ac", "", "Company starts with Ac"),
        ("Company", "ends with", "Inc", "", "Company ends with Inc"),
        ("Company", "is empty", "", "", "Company is empty"),
        ("Company", "is not empty", "", "", "Company is filled in"),
        ("Company", "matches", "^acme", "", "Company matches ^acme"),
        ("Amount", "at least", "10000", "", "Amount is at least 10,000"),
        ("Amount", "greater than", "1500.5", "", "Amount is over 1,500.50"),
        ("Amount", "less than", "$100", "", "Amount is under 100"),
        ("Amount", "at most", "100", "", "Amount is at most 100"),
        ("Amount", "between", "50000 and 1000000", "", "Amount is between 50,000 and 1,000,000"),
        ("Created at", "before", "2026-03-01", "", "Created at is before 2026-03-01"),
        ("Created at", "after", "2026-03-01 09:30", "", "Created at is after 2026-03-01 09:30"),
        ("Created at", "within last N days", "7", "", "Created at is within the last 7 days"),
        ("Created at", "more than N days ago", "30", "", "Created at is more than 30 days ago"),
        ("Email", "email domain in list", "gmail.com", "", "Email domain is gmail.com"),
        (
            "Email",
            "email domain in list",
            "gmail.com, yahoo.com",
            "",
            "Email domain is gmail.com, yahoo.com",
        ),
        ("Email", "email domain in list", "gmail.com", "gmail.com", "Email domain is gmail.com"),
        ("Email domain", "equals", "gmail.com", "", "Email domain is gmail.com"),
    ],
)
def test_describe(field: str, op: str, value: str, matched: str, expected: str) -> None:
    assert compile_(field, op, value).describe(matched) == expected


def test_matched_values_use_the_rules_own_spelling() -> None:
    fr = frame()
    listed = compile_("Industry", "in list", "SAAS, Software")
    assert matched_values(listed, fr).tolist() == ["SAAS", "SAAS", "", "", "", "Software"]
    domain = compile_("Email", "email domain in list", "acme.com")
    assert matched_values(domain, fr).tolist() == [
        "gmail.com",
        "mail.acme.com",
        "acme.com",
        "",
        "",
        "notacme.com",
    ]
    number = compile_("Amount", "equals", "12,500")
    assert matched_values(number, fr).tolist() == ["12500"] * 6


def test_lists_values_only_for_listing_operators() -> None:
    listing = {op.name for op in OPERATORS if Condition("x", op, None, "").lists_values}
    assert listing == {"equals", "in list", "email domain in list"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a, b", ("a", "b")),
        ("a;b\nc", ("a", "b", "c")),
        (" , a ,, ", ("a",)),
        ("", ()),
    ],
)
def test_split_list(text: str, expected: tuple[str, ...]) -> None:
    assert split_list(text) == expected


def test_suggest_keeps_the_choices_spelling_or_lists_them() -> None:
    assert suggest("INDUSTY", ["Industry", "Company"]) == "did you mean 'Industry'?"
    assert suggest("zzz", ["Industry", "Company"]) == "use one of: Industry, Company"
    many = [f"c{i}" for i in range(30)]
    assert suggest("qqqqqq", many).endswith("c23, ...")


def test_frame_typed_views() -> None:
    fr = frame()
    np.testing.assert_array_equal(
        fr.numbers("Amount"), np.array([12500.0, 48000.0, np.nan, np.nan, 9999.99, -500.0])
    )
    assert fr.text("Industry").tolist() == ["SaaS", "saas", "Retail", "", "Select", "Software"]
    assert fr.blank("Industry").tolist() == [False, False, False, True, True, False]
    assert fr.text(EMAIL_DOMAIN).tolist() == [
        "gmail.com",
        "mail.acme.com",
        "acme.com",
        "",
        "",
        "notacme.com",
    ]
    dates = fr.dates("Created at")
    assert dates[0] == np.datetime64("2026-03-09T10:00")
    assert np.isnat(dates[3]) and np.isnat(dates[4])


@pytest.mark.parametrize("text", ["10-50", "10 - 50", "$10-$50", "10,000-50,000"])
def test_between_accepts_a_hyphenated_range(text: str) -> None:
    low, high = compile_("Amount", "between", text).value
    assert (low, high) in ((10.0, 50.0), (10000.0, 50000.0))
