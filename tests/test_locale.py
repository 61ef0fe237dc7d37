"""A Google spreadsheet in another locale: fr_FR shows 1.25 as ``1,25`` (``1,250`` with three
decimals) and 1250.5 as ``1 250,5``; with Number format and Date order left empty in
Settings, the spreadsheet's locale decides how its numbers and dates are read, and the
numbers sheetcrm writes are written the way the sheet writes them. A value typed in
Settings wins over the locale."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sheetcrm.backends.apply import sync_once
from sheetcrm.engine.config import parse_config
from sheetcrm.engine.schema import Kind
from sheetcrm.engine.settings_tab import parse_settings
from sheetcrm.engine.sheet_locale import sheet_defaults, shown_decimal
from sheetcrm.engine.table import Table
from sheetcrm.engine.validation import tidy
from sheets import NOW, emulator, google_backend, put_leads, template

NNBSP, NBSP = "\u202f", "\u00a0"  # how fr_FR groups thousands, and what people often type

SCORING = Table(
    ["Rule", "Field", "Operator", "Value", "Points", "Group"],
    [
        ["Small", "Amount", "less than", "2", "1", ""],
        ["About 1250", "Amount", "between", "1200 and 1300", "10", ""],
        ["Any amount", "Amount", "is not empty", "", "0,5", ""],
    ],
)


def _set(settings: Table, key: str, value: str) -> None:
    for row in settings.rows:
        if row[0] == key:
            row[1] = value
            return
    settings.rows.append([key, value] + [""] * (len(settings.header) - 2))


def _french_sheet(**settings: str):
    """An fr_FR, Europe/Paris spreadsheet on the stand-in, its Settings as the template's
    but Time zone and Date order left empty (and ``settings`` typed in), and four leads:
    three amounts typed as fr_FR shows them, one a number cell."""
    tabs = template()
    _set(tabs["Settings"], "Time zone", "")
    _set(tabs["Settings"], "Date order", "")
    _set(tabs["Settings"], "Max score", "")
    for key, value in settings.items():
        _set(tabs["Settings"], key, value)
    tabs["Scoring"] = SCORING
    lead = {"First name": "Anne", "Company": "Acme", "Country": "France", "Stage": "Prospecting"}
    put_leads(
        tabs,
        {**lead, "Email": "a@acme.example", "Amount": "1,250", "Next action date": "04/03/2026"},
        {**lead, "Email": "b@acme.example", "Amount": f"1{NNBSP}250,5"},
        {**lead, "Email": "c@acme.example", "Amount": f"1{NBSP}250"},
        {**lead, "Email": "d@acme.example", "Amount": ""},
    )
    backend = google_backend(provision=False)
    book = emulator().store[backend.id]
    book.props.update(locale="fr_FR", timeZone="Europe/Paris")
    backend.provision(tabs)
    # the fourth lead's amount is a number cell, as a person typing 1,25 there makes it
    backend.http.values_update(
        backend.id, "Leads!L5", params={"valueInputOption": "RAW"}, body={"values": [[1.25]]}
    )
    return backend


def _leads(backend) -> dict[str, dict[str, str]]:
    table = backend.read().table("Leads")
    return {
        row["Email"]: row for row in (dict(zip(table.header, r, strict=False)) for r in table.rows)
    }


def test_the_stand_in_shows_numbers_as_an_fr_fr_sheet_does():
    backend = _french_sheet()
    assert _leads(backend)["d@acme.example"]["Amount"] == "1,25"  # a number, shown in fr_FR


def test_an_fr_fr_sheet_is_read_by_its_locale_and_written_in_its_format():
    backend = _french_sheet()
    sync_once(backend, NOW, datetime.now(UTC))
    leads = _leads(backend)
    # 1.25 shown with three decimals is 1.25, not twelve hundred and fifty; a person's
    # cells stay as typed, the Score sheetcrm writes has the sheet's decimal comma
    scores = {email: (lead["Amount"], lead["Score"]) for email, lead in leads.items()}
    assert scores == {
        "a@acme.example": ("1,250", "1,5"),
        "b@acme.example": (f"1{NNBSP}250,5", "10,5"),
        "c@acme.example": (f"1{NBSP}250", "10,5"),
        "d@acme.example": ("1,25", "1,5"),
    }
    scored = backend.http.values_get(  # numbers, which Google shows in the sheet's locale
        backend.id, "Leads!R2:R5", params={"valueRenderOption": "UNFORMATTED_VALUE"}
    )
    assert scored["values"] == [[1.5], [10.5], [10.5], [1.5]]
    # 04/03/2026 on a French sheet is the 4th of March
    assert leads["a@acme.example"]["Status"] == "follow-up overdue since 2026-03-04"
    settings = parse_config(backend.read()).settings  # this process knows the locale now
    assert (settings.decimal, settings.dayfirst, str(settings.zone)) == (",", True, "Europe/Paris")
    # what was written reads back as written: a second sync changes nothing
    again, _ = sync_once(backend, NOW, datetime.now(UTC))
    assert again.cell_count == 0, again.describe(10)


def test_a_number_format_and_date_order_typed_in_settings_win_over_the_locale():
    backend = _french_sheet(**{"Number format": "1,234.56", "Date order": "MDY"})
    sync_once(backend, NOW, datetime.now(UTC))
    lead = _leads(backend)["a@acme.example"]
    # the comma groups thousands here: 1250 (the Score, a number, is shown as fr_FR does)
    assert lead["Score"] == "10,5"
    assert lead["Status"] == "follow-up overdue since 2026-04-03"


def test_a_lead_the_service_adds_is_stored_in_the_sheets_number_format():
    settings = parse_settings(template()["Settings"], sheet_defaults({"locale": "fr_FR"}))[0]
    settings.shown_decimal = shown_decimal({"locale": "fr_FR"})
    assert tidy(f"1{NNBSP}250,5", "Amount", Kind.MONEY, "", settings) == "1250,5"
    assert tidy("1,250", "Amount", Kind.MONEY, "", settings) == "1,25"


@pytest.mark.parametrize(
    ("properties", "defaults"),
    [
        (
            {"locale": "fr_FR", "timeZone": "Europe/Paris"},
            {"Time zone": "Europe/Paris", "Number format": "1 234,56", "Date order": "DMY"},
        ),
        ({"locale": "de_DE"}, {"Number format": "1 234,56", "Date order": "DMY"}),
        (
            {"locale": "en_US", "timeZone": "America/New_York"},
            {"Time zone": "America/New_York", "Date order": "MDY"},
        ),
        ({"locale": "en_GB"}, {"Date order": "DMY"}),  # a decimal point: auto, as always
        ({"locale": "xx_YY"}, {}),
        ({}, {}),  # a workbook: no properties, the declared defaults
    ],
)
def test_settings_defaults_come_from_the_spreadsheets_locale(properties, defaults):
    assert sheet_defaults(properties) == defaults
