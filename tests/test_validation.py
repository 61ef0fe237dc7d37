"""Normalising and checking lead rows (sheetcrm.engine.validation), and finding duplicates
(sheetcrm.engine.duplicates)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sheetcrm.engine.duplicates import company_domains, find_duplicates
from sheetcrm.engine.lead_checks import Checked, check_rows
from sheetcrm.engine.row_memo import per_row, whole
from sheetcrm.engine.validation import (
    Memo,
    country_region,
    normalise_email,
    normalise_phone,
)

# --- email ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jane@example.com", "jane@example.com"),
        ("Jane@Example.COM", "jane@example.com"),
        ("Jane.Doe@GMAIL.com", "jane.doe@gmail.com"),
        ("  jane@example.com  ", "jane@example.com"),
        (" Tom.Reyes@Brightpath.example ", "tom.reyes@brightpath.example"),
        ("mailto:Jane@Example.com", "jane@example.com"),
        ("MAILTO:x@y.com", "x@y.com"),
        ("<jane@example.com>", "jane@example.com"),
        ("jane+crm@example.co.uk", "jane+crm@example.co.uk"),
    ],
)
def test_normalise_email(text: str, expected: str) -> None:
    assert normalise_email(text) == (expected, "")


@pytest.mark.parametrize("text", ["", "   ", "Select", "n/a", "-", "mailto:"])
def test_a_blank_email_is_no_email_and_no_problem(text: str) -> None:
    assert normalise_email(text) == ("", "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("jane@", "'jane@' is not a valid email: There must be something after the @-sign."),
        (
            "jane.example.com",
            "'jane.example.com' is not a valid email: An email address must have an @-sign.",
        ),
        (
            "a@b",
            "'a@b' is not a valid email: The part after the @-sign is not valid. "
            "It should have a period.",
        ),
        (" jane@exa mple.com ", "'jane@exa mple.com' is not a valid email"),
        ("jane@@example.com", "'jane@@example.com' is not a valid email"),
    ],
)
def test_an_invalid_email_says_why(text: str, message: str) -> None:
    normalised, problem = normalise_email(text)
    assert normalised == ""
    assert problem.startswith(message)


def test_the_memo_remembers_each_text() -> None:
    memo = Memo()
    assert normalise_email("A@B.com", memo) == ("a@b.com", "")
    assert memo.email("A@B.com") == ("a@b.com", "")
    memo.keep_email("A@B.com", ("from the memo", ""))
    assert normalise_email("A@B.com", memo) == ("from the memo", "")
    assert normalise_phone("+44 20 7946 0958", "US", memo) == ("+442079460958", "")
    assert memo.phone("+44 20 7946 0958", "US") == ("+442079460958", "")
    assert memo.phone("+44 20 7946 0958", "GB") is None  # read in another region: not known
    assert memo.size() == 2


def test_the_memo_holds_a_text_that_is_its_own_result_once() -> None:
    # the service keeps the memo for its lifetime, an entry per lead: an address that
    # normalises to itself is held as the very text read, a problem as the pair
    memo = Memo()
    text = "".join(["jane", "@example.com"])  # a string of its own, as a read makes
    assert normalise_email(text, memo) == (text, "")
    assert memo.emails[text] is text
    assert normalise_email("Jane@Example.com", memo) == ("jane@example.com", "")
    assert memo.emails["Jane@Example.com"] == "jane@example.com"
    bad = normalise_email("jane@@example.com", memo)
    assert bad[1] and memo.emails["jane@@example.com"] == bad
    assert normalise_phone("+14155550132", "US", memo) == ("+14155550132", "")
    assert memo.phones == {"US": {"+14155550132": "+14155550132"}}


def test_a_contact_already_normalised_comes_back_as_the_very_text_read() -> None:
    # the row memo keeps each lead's result between syncs: a copy per lead would be 7 MB
    # of e-mails at 100,000 leads (issue 21)
    email = "".join(["jane", "@example.com"])
    assert normalise_email(email)[0] is email
    phone = "".join(["+1415", "5550132"])
    assert normalise_phone(phone, "US")[0] is phone
    assert normalise_phone("(415) 555-0132", "US")[0] == phone


# --- phone ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("(415) 555-0132", "US", "+14155550132"),
        ("415.555.0132", "US", "+14155550132"),
        ("+1 (617) 555-0124", "US", "+16175550124"),
        ("+1 (617) 555-0124", "GB", "+16175550124"),  # + wins over the region
        ("06 12 34 56 78", "FR", "+33612345678"),  # French national format
        ("+33 6 12 98 20 11", "US", "+33612982011"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("+44 20 7946 0958", "FR", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        (" 0049 30 901820 ", "DE", "+4930901820"),
    ],
)
def test_normalise_phone(text: str, region: str, expected: str) -> None:
    assert normalise_phone(text, region) == (expected, "")


@pytest.mark.parametrize(
    ("text", "region", "problem"),
    [
        ("06 12 34 56 78", "US", "'06 12 34 56 78' is not a valid phone number for US"),
        ("12345", "US", "'12345' is not a valid phone number for US"),
        ("555-0132", "US", "'555-0132' is not a valid phone number for US"),
        ("+1 555", "US", "'+1 555' is not a valid phone number"),
        (
            "abc",
            "US",
            "'abc' is not a phone number (The string supplied did not seem to be a phone number)",
        ),
        (
            "+999 1234",
            "US",
            "'+999 1234' is not a phone number (Could not interpret numbers after plus-sign)",
        ),
    ],
)
def test_a_bad_phone_says_why(text: str, region: str, problem: str) -> None:
    assert normalise_phone(text, region) == ("", problem)


def test_a_number_with_plus_does_not_blame_the_region() -> None:
    assert not normalise_phone("+1 555", "US")[1].endswith("for US")


@pytest.mark.parametrize("text", ["", "  ", "Select", "N/A"])
def test_a_blank_phone_is_no_phone_and_no_problem(text: str) -> None:
    assert normalise_phone(text, "US") == ("", "")


# --- countries -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "region"),
    [
        ("France", "FR"),
        (" france ", "FR"),
        ("FR", "FR"),
        ("fra", "FR"),
        ("UK", "GB"),
        ("United Kingdom", "GB"),
        ("england", "GB"),
        ("usa", "US"),
        ("USA", "US"),
        ("United States", "US"),
        ("u.s.", "US"),
        ("Germany", "DE"),
        ("the Netherlands", "NL"),
        ("South Korea", "KR"),
        ("Select", ""),
        ("", ""),
        ("n/a", ""),
        ("Atlantis", ""),
        ("Deutschland", ""),  # endonyms are not looked up
    ],
)
def test_country_region(country: str, region: str) -> None:
    assert country_region(country) == region


# --- check_rows ----------------------------------------------------------------------------

ROWS = pd.DataFrame(
    {
        "Email": ["a@x.com", "bad@", "", "", "Select", "B@Y.com", ""],
        "Phone": ["", "", "(415) 555-0132", "", "", "12345", "06 12 34 56 78"],
        "Country": ["", "", "", "", "France", "UK", "France"],
        "Next action date": ["2026-01-31", "soon", "", "", "", "", "31/12/2026"],
        "Last contact": ["", "", "13/31/2026", "", "", "", ""],
        "Created at": ["", "", "", "x", "", "", "2026-03-10 09:00"],
        "Amount": ["12,500", "", "lots", "n/a", "$5", "-", "(300)"],
        "Company": ["Acme", "", "", "Beta", "", "", "Gamma"],
    }
)


def problems(
    required: tuple[tuple[str, ...], ...] = (("Email", "Phone"),),
    data: pd.DataFrame = ROWS,
    dayfirst: bool = True,
) -> list[tuple[list[int], str, list[str]]]:
    checked = check_rows(data, "US", dayfirst, required)
    return [(rows.tolist(), column, messages) for rows, column, messages, _ in checked.problems]


def test_check_rows_normalises_contacts_in_each_rows_country() -> None:
    checked = check_rows(ROWS, "US", True, (("Email", "Phone"),))
    assert checked.email.tolist() == ["a@x.com", "", "", "", "", "b@y.com", ""]
    # row 6 is in France: its 06 number is French; row 5 is in the UK: 12345 is not valid
    assert checked.phone.tolist() == ["", "", "+14155550132", "", "", "", "+33612345678"]
    assert checked.email.index.equals(ROWS.index)


def test_check_rows_lists_every_problem_by_row_and_column() -> None:
    assert problems() == [
        (
            [1],
            "Email",
            ["'bad@' is not a valid email: There must be something after the @-sign."],
        ),
        ([5], "Phone", ["'12345' is not a valid phone number for GB"]),
        ([1], "Next action date", ["'soon' is not a date"]),
        ([2], "Last contact", ["'13/31/2026' is not a date"]),
        ([3], "Created at", ["'x' is not a date"]),
        ([2, 6], "Amount", ["'lots' is not an amount", "'(300)' is a negative amount"]),
        ([3, 4], "Email", ["missing Email or Phone", "missing Email or Phone"]),
    ]


def test_check_rows_hints() -> None:
    checked = check_rows(ROWS, "US", True, (("Email", "Phone"),))
    hints = {column: hint for _, column, _, hint in checked.problems}
    assert hints["Amount"] == (
        "type the deal's value, a number from 0 up to Settings' Largest amount, "
        "like 12500 or 12,500.00"
    )
    assert hints["Created at"] == "type a date like 2026-01-31"
    assert hints["Phone"].startswith("type it with the country code, like +44 20 7946 0958")
    assert "US" in hints["Phone"]  # the default region is named
    assert hints["Email"] == "every lead needs Email or Phone (Settings: Required fields)"


@pytest.mark.parametrize("dayfirst", [True, False])
def test_unambiguous_dates_are_read_in_either_order(dayfirst: bool) -> None:
    got = problems(dayfirst=dayfirst)
    dated = [(rows, column) for rows, column, _ in got if column not in ("Email", "Amount")]
    # 31/12/2026 (row 6) is a date whatever the order; 13/31/2026 (row 2) never is
    assert ([2], "Last contact") in dated
    assert all(6 not in rows for rows, _ in dated)


def test_required_groups_each_need_one_filled_column() -> None:
    got = problems((("Email", "Phone"), ("Company",)))
    assert got[-1] == ([1, 2, 4, 5], "Company", ["missing Company"] * 4)
    assert got[-2] == ([3, 4], "Email", ["missing Email or Phone"] * 2)


def test_required_fields_are_found_like_headers() -> None:
    # Settings' Required fields are typed by people: case, spacing and aliases do not matter.
    got = problems((("email", "PHONE  NUMBER"),))
    assert got[-1] == ([3, 4], "Email", ["missing Email or Phone"] * 2)
    assert problems((("company",),))[-1] == ([1, 2, 4, 5], "Company", ["missing Company"] * 4)


def test_a_required_column_the_sheet_lacks_is_missing_everywhere() -> None:
    got = problems((("Budget",),))
    assert got[-1] == (list(range(7)), "Budget", ["missing Budget"] * 7)


def test_no_required_fields_no_required_problems() -> None:
    assert all("missing" not in m[0] for _, _, m in problems(()))


def test_a_sheet_without_the_checked_columns_has_no_problems() -> None:
    data = pd.DataFrame({"Notes": ["hello", ""]})
    checked = check_rows(data, "US", True, ())
    assert checked.problems == []
    assert checked.email.tolist() == ["", ""]


def test_check_rows_on_no_rows() -> None:
    data = pd.DataFrame({c: pd.Series([], dtype=object) for c in ROWS.columns})
    checked = check_rows(data, "US", True, (("Email", "Phone"),))
    assert checked.problems == []
    assert len(checked.email) == 0


def _said(checked: Checked) -> tuple[list[str], list[str], list[tuple[object, ...]]]:
    return (
        checked.email.tolist(),
        checked.phone.tolist(),
        [
            (rows.tolist(), column, list(messages), hint)
            for rows, column, messages, hint in checked.problems
        ],
    )


def _edited(change: str) -> pd.DataFrame:
    data = ROWS.copy()
    if change == "cells":
        data.loc[0, "Email"] = "bad@@"  # now a problem
        data.loc[1, "Email"] = "fixed@x.com"  # no longer one
        data.loc[6, "Country"] = "UK"  # its French 06 number read in the UK
        data.loc[3, "Next action date"] = "tomorrow"
    elif change == "sorted":
        data = data.sort_values("Company", kind="stable").reset_index(drop=True)
    elif change == "inserted":
        row = pd.DataFrame({c: ["n/a" if c == "Phone" else ""] for c in ROWS.columns})
        data = pd.concat([data.iloc[:2], row, data.iloc[2:]], ignore_index=True)
    return data


@pytest.mark.parametrize("change", ["none", "cells", "sorted", "inserted"])
def test_a_memo_kept_across_syncs_checks_as_a_fresh_one(change: str) -> None:
    memo = Memo()
    required = (("Email", "Phone"), ("Company",))
    check_rows(ROWS, "US", True, required, memo)
    data = _edited(change)
    again = check_rows(data, "US", True, required, memo)
    assert _said(again) == _said(check_rows(data, "US", True, required))
    # and a third sync, on the memo's updated cells, still agrees
    assert _said(check_rows(data, "US", True, required, memo)) == _said(again)


def test_a_memo_checks_only_the_cells_that_changed() -> None:
    memo, seen = Memo(), []

    def each(cells: np.ndarray, regions: np.ndarray) -> tuple[np.ndarray]:
        seen.append(cells.tolist())
        return (np.array([f"{c}/{r}" for c, r in zip(cells, regions, strict=True)], object),)

    cells = np.array(["a", "b", "c"], dtype=object)
    regions = np.array(["FR", "FR", "FR"], dtype=object)
    assert per_row(memo, "x", (), (cells, regions), each)[0].tolist() == ["a/FR", "b/FR", "c/FR"]
    edited = np.array(["a", "B", "c"], dtype=object)
    moved = np.array(["FR", "FR", "GB"], dtype=object)
    assert per_row(memo, "x", (), (edited, moved), each)[0].tolist() == ["a/FR", "B/FR", "c/GB"]
    assert seen[1] == ["B", "c"]  # the row whose text changed, and the one whose region did
    assert per_row(memo, "x", (), (edited, moved), each)[0].tolist() == ["a/FR", "B/FR", "c/GB"]
    assert len(seen) == 2  # nothing changed: nothing checked
    per_row(memo, "x", ("other settings",), (edited, moved), each)
    assert seen[2] == ["a", "B", "c"]  # other settings: every row again
    per_row(memo, "x", ("other settings",), (edited[:2], moved[:2]), each)
    assert seen[3] == ["a", "B"]  # another number of rows: every row again
    memo.speak("fr")
    assert memo.columns == {}  # its messages were worded in the other language


def test_a_memo_remakes_a_whole_result_when_any_cell_changed() -> None:
    memo, made = Memo(), []

    def make(rank: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray]:
        made.append(keys.tolist())
        return (find_duplicates(rank, [pd.Series(keys)]),)

    rank, keys = np.array([3, 1, 2]), np.array(["a", "b", "a"], dtype=object)
    assert whole(memo, "d", (), (rank, keys), make)[0].tolist() == [2, -1, -1]
    assert whole(memo, "d", (), (rank, keys.copy()), make)[0].tolist() == [2, -1, -1]
    assert len(made) == 1  # the same cells: the same duplicates, not found again
    edited = np.array(["a", "b", "b"], dtype=object)
    assert whole(memo, "d", (), (rank, edited), make)[0].tolist() == [-1, -1, 1]
    assert whole(memo, "d", (), (np.array([1, 3, 2]), keys), make)[0].tolist() == [-1, -1, 0]
    assert whole(memo, "d", ("phone",), (np.array([1, 3, 2]), keys), make)[0].tolist() == [
        -1,
        -1,
        0,
    ]
    assert whole(memo, "d", (), (rank[:2], keys[:2]), make)[0].tolist() == [-1, -1]
    assert len(made) == 5


# --- duplicates ----------------------------------------------------------------------------


def keys(*columns: list[str]) -> list[pd.Series]:
    return [pd.Series(c, dtype=object) for c in columns]


def test_duplicates_point_to_the_earliest_row_sharing_a_key() -> None:
    email = ["a", "b", "a", "c", "a"]
    assert find_duplicates(np.arange(5), keys(email)).tolist() == [-1, -1, 0, -1, 0]


def test_duplicates_follow_chains_of_different_keys() -> None:
    # 0 and 1 share an email, 1 and 2 a phone, 2 and 3 a company domain; 4 shares nothing
    email = ["e1", "e1", "", "", ""]
    phone = ["", "p1", "p1", "", ""]
    domain = ["", "", "d", "d", ""]
    assert find_duplicates(np.arange(5), keys(email, phone, domain)).tolist() == [
        -1,
        0,
        0,
        0,
        -1,
    ]


def test_the_earliest_is_by_rank_not_by_position() -> None:
    email = ["e1", "e1", "", "", ""]
    phone = ["", "p1", "p1", "", ""]
    domain = ["", "", "d", "d", ""]
    rank = np.array([40, 30, 20, 10, 0])  # the last row is the oldest lead
    assert find_duplicates(rank, keys(email, phone, domain)).tolist() == [3, 3, 3, -1, -1]


def test_a_long_chain_is_followed_to_its_end() -> None:
    n = 30
    a = [f"k{i // 2}" for i in range(n)]  # 0-1, 2-3, ...
    b = ["x"] + [f"j{(i + 1) // 2}" for i in range(1, n)]  # 1-2, 3-4, ...
    assert find_duplicates(np.arange(n), keys(a, b)).tolist() == [-1] + [0] * (n - 1)


def test_empty_keys_never_match() -> None:
    assert find_duplicates(np.arange(4), keys(["", "", "", ""])).tolist() == [-1] * 4
    assert find_duplicates(np.arange(3), keys(["", "a", ""], ["", "", ""])).tolist() == [
        -1,
        -1,
        -1,
    ]


def test_no_rows_no_duplicates() -> None:
    assert find_duplicates(np.arange(0), keys([])).tolist() == []


def test_company_domains_skip_free_mail() -> None:
    email = pd.Series(["a@acme.com", "b@gmail.com", "", "c@corp.io", "d@yahoo.co.uk", "bad"])
    assert company_domains(email).tolist() == ["acme.com", "", "", "corp.io", "", "bad"]
    assert company_domains(email, ["corp.io"]).tolist() == ["acme.com", "", "", "", "", "bad"]


def test_company_domains_of_no_rows() -> None:
    assert company_domains(pd.Series([], dtype=object)).tolist() == []


def test_the_memo_cache_keeps_results_and_problems(tmp_path, monkeypatch) -> None:
    from sheetcrm.files.memo_cache import load_memo, save_memo

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    memo = Memo()
    for text in ("a@b.com", "A@B.com", "jane@@example.com"):
        normalise_email(text, memo)
    for text, region in (("(415) 555-0132", "US"), ("020 7946 0958", "GB"), ("12", "US")):
        normalise_phone(text, region, memo)
    save_memo("sheet", memo)
    again = load_memo("sheet")
    assert again.emails == memo.emails and again.phones == memo.phones
    assert again.email("jane@@example.com") == normalise_email("jane@@example.com")
    assert again.phone("12", "US") == normalise_phone("12", "US")
    assert again.phone("020 7946 0958", "GB") == ("+442079460958", "")
