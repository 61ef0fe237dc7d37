"""Canonical cell text and the parsers for what people type (sheetcrm.engine.values)."""

from __future__ import annotations

import math
from datetime import date, datetime, time

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sheetcrm.engine.dates import parse_date, parse_dates
from sheetcrm.engine.values import (
    format_cell,
    format_datetime,
    format_number,
    is_blank,
    parse_bool,
    parse_number,
    parse_numbers,
)

# --- numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0.0),
        ("42", 42.0),
        ("-5", -5.0),
        ("+5", 5.0),
        ("  7  ", 7.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        # thousands separators, US/UK style
        ("1,200", 1200.0),
        ("12,500", 12500.0),
        ("1,234,567", 1234567.0),
        ("1,234.50", 1234.5),
        ("45,000.00", 45000.0),
        # thousands separators, continental style
        ("1.234,50", 1234.5),
        ("1.234.567,89", 1234567.89),
        ("18 000", 18000.0),
        ("1 234,5", 1234.5),
        ("1\u00a0234", 1234.0),  # no-break space, as French locales format it
        ("1\u202f234,5", 1234.5),  # narrow no-break space
        ("1'000", 1000.0),  # Swiss
        # a lone comma not followed by exactly three digits is a decimal comma
        ("1,5", 1.5),
        ("12,25", 12.25),
        ("0,125", 0.125),
        # currency
        ("$48,000", 48000.0),
        ("$1,200", 1200.0),
        ("€ 1.234,50", 1234.5),
        ("£99", 99.0),
        ("USD 300", 300.0),
        ("300 eur", 300.0),
        ("$-5", -5.0),
        # accounting negatives
        ("(300)", -300.0),
        ("(1,200)", -1200.0),
        ("($1,200.50)", -1200.5),
        # percent
        ("12%", 0.12),
        ("12 %", 0.12),
        ("12,5%", 0.125),
        ("100%", 1.0),
        ("(12%)", -0.12),
    ],
)
def test_parse_number(text: str, expected: float) -> None:
    assert parse_number(text) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "12abc",
        "1.5.6",
        "--3",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "1e999",
        "%",
        "()",
        "$",
    ],
)
def test_parse_number_junk_is_none(text: str) -> None:
    assert parse_number(text) is None


def test_parse_numbers_is_vectorised_with_nan_for_junk() -> None:
    result = parse_numbers(["12,500", "junk", "", "(3)", "12,500"])
    assert result.dtype == float
    assert result.iloc[0] == 12500.0
    assert math.isnan(result.iloc[1])
    assert math.isnan(result.iloc[2])
    assert result.iloc[3] == -3.0
    assert result.iloc[4] == 12500.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "0"),
        (3.0, "3"),
        (-3.0, "-3"),
        (2.5, "2.5"),
        (1 / 3, "0.3333333333"),
        (12500.0, "12500"),
        (float("nan"), ""),
        (1e20, "1e+20"),
    ],
)
def test_format_number(value: float, expected: str) -> None:
    assert format_number(value) == expected


# --- dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "dayfirst", "expected"),
    [
        # ISO is ISO whatever the date order
        ("2026-01-31", True, datetime(2026, 1, 31)),
        ("2026-01-31", False, datetime(2026, 1, 31)),
        ("2026-01-31 09:15", True, datetime(2026, 1, 31, 9, 15)),
        ("2026-01-31T09:15:30", False, datetime(2026, 1, 31, 9, 15, 30)),
        (" 2026-02-03 ", False, datetime(2026, 2, 3)),
        ("2026/01/31", True, datetime(2026, 1, 31)),
        # numeric day/month: the Settings date order decides
        ("03/04/2026", True, datetime(2026, 4, 3)),
        ("03/04/2026", False, datetime(2026, 3, 4)),
        ("03-04-26", True, datetime(2026, 4, 3)),
        ("03-04-26", False, datetime(2026, 3, 4)),
        ("31.01.2026", True, datetime(2026, 1, 31)),
        # unambiguous either way
        ("31/01/2026", False, datetime(2026, 1, 31)),
        ("01/31/2026", True, datetime(2026, 1, 31)),
        ("03/04/2026 14:30", False, datetime(2026, 3, 4, 14, 30)),
        # month names
        ("3 April 2026", False, datetime(2026, 4, 3)),
        ("April 3, 2026", True, datetime(2026, 4, 3)),
        ("Jan 5 2026 3pm", True, datetime(2026, 1, 5, 15, 0)),
        ("5 janvier 2026", True, None),  # dateutil reads English month names only
    ],
)
def test_parse_date(text: str, dayfirst: bool, expected: datetime | None) -> None:
    assert parse_date(text, dayfirst) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hello",
        "yesterday",
        "March",
        "46053",  # a spreadsheet serial day is not guessed at
        "12",
        "2026",
        "13/13/2026",
        "2026-02-30",
        "2026-01-31 25:00",
        "Q1 2026",
        "12/2026",
    ],
)
def test_parse_date_junk_is_none(text: str) -> None:
    assert parse_date(text) is None
    assert parse_date(text, dayfirst=False) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # an offset is converted to the sheet's zone (UTC unless given: tests/test_dates.py)
        ("2026-01-31T09:15:00+02:00", datetime(2026, 1, 31, 7, 15)),
        ("2026-01-31T09:15:00Z", datetime(2026, 1, 31, 9, 15)),
        # a zone word is not guessed at, and does not make dateutil warn
        ("2026-01-31 09:15 EST", None),
        ("2026-01-31 09:15 XYZ", None),
    ],
)
def test_parse_date_is_always_naive(text: str, expected: datetime | None) -> None:
    parsed = parse_date(text)
    assert parsed == expected
    assert parsed is None or parsed.tzinfo is None


def test_one_cell_with_an_offset_does_not_blank_the_other_dates_of_its_column() -> None:
    result = parse_dates(["2026-01-31T09:15:00+02:00", "2026-01-01", "junk"])
    assert result.iloc[0] == pd.Timestamp("2026-01-31 07:15")
    assert result.iloc[1] == pd.Timestamp("2026-01-01")
    assert pd.isna(result.iloc[2])


def test_parse_dates_follows_the_date_order() -> None:
    assert parse_dates(["03/04/2026"], dayfirst=True).iloc[0] == pd.Timestamp("2026-04-03")
    assert parse_dates(["03/04/2026"], dayfirst=False).iloc[0] == pd.Timestamp("2026-03-04")


@given(st.text())
def test_parsers_never_raise_nor_warn(text: str) -> None:
    # filterwarnings = error: a warning (dateutil's UnknownTimezoneWarning) fails this too.
    for dayfirst in (True, False):
        parsed = parse_date(text, dayfirst)
        assert parsed is None or parsed.tzinfo is None
    number = parse_number(text)
    assert number is None or math.isfinite(number)
    assert parse_bool(text) in (True, False, None)


# --- canonical text ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 1, 31), "2026-01-31"),
        (datetime(2026, 1, 31, 9, 0), "2026-01-31 09:00"),
        (datetime(2026, 1, 31, 0, 30), "2026-01-31 00:30"),
        (datetime(2026, 1, 31, 9, 0, 5), "2026-01-31 09:00:05"),
        (datetime(2026, 1, 31, 23, 59, 59), "2026-01-31 23:59:59"),
        # microseconds are never shown, so they do not bring in ":00" seconds either
        (datetime(2026, 1, 31, 9, 0, 0, 500), "2026-01-31 09:00"),
        (datetime(2026, 1, 31, 0, 0, 0, 500), "2026-01-31"),
        (datetime(2026, 1, 31, 9, 0, 5, 500), "2026-01-31 09:00:05"),
        (date(2026, 1, 31), "2026-01-31"),
    ],
)
def test_format_datetime(value: datetime | date, expected: str) -> None:
    assert format_datetime(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (True, "TRUE"),
        (False, "FALSE"),
        (0, "0"),
        (12, "12"),
        (3.0, "3"),
        (2.5, "2.5"),
        (float("nan"), ""),
        (datetime(2026, 3, 10), "2026-03-10"),
        (datetime(2026, 3, 10, 14, 30), "2026-03-10 14:30"),
        (datetime(2026, 3, 10, 14, 30, 7), "2026-03-10 14:30:07"),
        (date(2026, 3, 10), "2026-03-10"),
        (time(9, 30), "09:30"),
        (time(9, 30, 5), "09:30:05"),
        ("0612345678", "0612345678"),
        ("=1+1", "=1+1"),
    ],
)
def test_format_cell(value: object, expected: str) -> None:
    assert format_cell(value) == expected


@pytest.mark.parametrize(
    "text",
    ["2026-03-10", "2026-03-10 14:30", "2026-03-10 14:30:07", "2026-12-31 00:01"],
)
def test_canonical_text_reads_back_as_itself(text: str) -> None:
    parsed = parse_date(text)
    assert parsed is not None
    assert format_cell(parsed) == text


@given(st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(2200, 12, 31)))
def test_a_written_datetime_reads_back_equal(value: datetime) -> None:
    value = value.replace(microsecond=0)
    text = format_datetime(value)
    assert parse_date(text) == value
    assert parse_date(text, dayfirst=False) == value
    assert format_datetime(parse_date(text) or datetime.min) == text


# --- booleans and blanks -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", True),
        (" Yes ", True),
        ("Y", True),
        ("TRUE", True),
        ("1", True),
        ("x", True),
        ("✓", True),
        ("active", True),
        ("oui", True),
        ("no", False),
        ("N", False),
        ("FALSE", False),
        ("0", False),
        ("", False),
        ("off", False),
        ("nein", False),
        ("maybe", None),
        ("2", None),
    ],
)
def test_parse_bool(text: str, expected: bool | None) -> None:
    assert parse_bool(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("  ", True),
        ("-", True),
        ("N/A", True),
        ("Select", True),
        (" none ", True),
        ("null", True),
        ("0", False),
        ("No", False),
        ("Selected", False),
    ],
)
def test_is_blank(text: str, expected: bool) -> None:
    assert is_blank(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("−10", -10.0), ("1.234.567", 1234567.0), ("−1.234,5", -1234.5)],
)
def test_parse_number_reads_what_reasons_and_europe_write(text: str, expected: float) -> None:
    assert parse_number(text) == expected


@pytest.mark.parametrize("text", ["Jan 5", "5pm", "31 Jan", "Tuesday 3"])
def test_a_date_without_a_year_is_not_guessed(text: str) -> None:
    assert parse_date(text) is None
