"""Reading CSV files as people's tools write them: RFC 4180 quoting, Excel in French (";",
cp1252), Excel's "Unicode text" (UTF-16, tabs), and lines that do not fit their header."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from sheetcrm.cli import main
from sheetcrm.engine.importer import Export, map_columns, plan_import
from sheetcrm.engine.schema import LEADS
from sheetcrm.engine.settings import Settings
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.errors import ImportFileError
from sheetcrm.files.exports import read_table
from sheets import NOW

HEADER = ["First name", "Email", "Notes", "Company", "Country"]


def write(path: Path, rows: list[list[str]], encoding: str = "utf-8", **fmt: str) -> Path:
    """A file as Python's csv writer (Excel's own dialect) writes it."""
    with path.open("w", newline="", encoding=encoding) as f:
        csv.writer(f, **fmt).writerows(rows)  # type: ignore[arg-type]
    return path


def imported(source: Export):
    snapshot = Snapshot({LEADS.name: Table(list(LEADS.headers))}, "v1")
    mapping = map_columns(source.header, list(LEADS.headers), [])
    return plan_import(snapshot, source, mapping, Settings(), NOW)


# --- quoting -------------------------------------------------------------------------------


def test_a_doubled_quote_inside_a_quoted_field_is_one_quote(tmp_path: Path) -> None:
    row = ["Al", "al@acme.com", 'Wants 27" screens, two of them', "Acme Corp", "Germany"]
    source = read_table(
        write(tmp_path / "rfc.csv", [HEADER, row, ["Bo", "bo@acme.com"] + [""] * 3])
    )
    assert source.rows[0] == row
    assert source.misfits == []
    assert imported(source).appends[0] == dict(zip(HEADER, row, strict=True))


# --- lines that do not fit their header -----------------------------------------------------

RAGGED = (
    "First name,Email,Company,Country\r\n"
    "Ann,ann@acme.com,Acme,France\r\n"
    'Cy,cy@smith.com,"Smith, Inc.",Canada\r\n'
    'Di,di@x.com,"two\r\nlines",Peru\r\n'
    "Al,al@smith.com,Smith, Inc.,Canada\r\n"
    "Bo,bo@acme.com,Acme\r\n"
    "Ed,ed@acme.com,Acme,Spain\r\n"
)


def test_a_line_with_more_or_fewer_values_than_the_header_is_refused_at_its_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(RAGGED.encode())
    source = read_table(path)
    # nothing shifted into the wrong column, nothing dropped without a word
    assert [r[0] for r in source.rows] == ["Ann", "Cy", "Di", "Ed"]
    assert source.rows[1][2] == "Smith, Inc." and source.rows[2][2] == "two\r\nlines"
    assert [(m.line, m.values) for m in source.misfits] == [(6, 5), (7, 3)]
    assert source.misfits[0].text == "Al,al@smith.com,Smith, Inc.,Canada"
    plan = imported(source)
    assert [r["First name"] for r in plan.appends] == ["Ann", "Cy", "Di", "Ed"]
    first, second = plan.refused
    assert first.cell == "export.csv line 6"
    assert first.problem == "5 values under a header of 4 columns"
    assert '"," inside a value' in first.hint and "quotes" in first.hint
    assert second.problem == "3 values under a header of 4 columns"
    # the sheet says it too, for the people who never see the terminal: History is kept
    # (Problems is rewritten by each sync)
    at, lead_id, field, before, after, _by, why = plan.history[0][1]
    assert (at, lead_id, field, after) == ("2026-11-23 10:00", "", "", "")
    assert before == "Al,al@smith.com,Smith, Inc.,Canada"
    assert why.startswith("not imported: export.csv line 6 has 5 values under a header of 4")


def test_the_cli_says_which_lines_it_refused_and_the_sheet_keeps_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "crm.xlsx"
    assert main(["init", "--sheet", str(sheet), "--now", "2026-11-23T10:00"]) == 0
    path = tmp_path / "export.csv"
    path.write_bytes(RAGGED.encode())
    capsys.readouterr()
    assert main(["import", str(path), "--sheet", str(sheet), "--now", "2026-11-23T10:00"]) == 0
    out = capsys.readouterr().out
    assert "2 lines not imported" in out
    assert "export.csv line 6: 5 values under a header of 4 columns" in out
    assert "Appended 4 rows" in out
    wb = load_workbook(sheet)
    history = [[c.value for c in row] for row in wb["History"].iter_rows(min_row=2)]
    refused = [row for row in history if (row[6] or "").startswith("not imported")]
    assert [row[3] for row in refused] == [
        "Al,al@smith.com,Smith, Inc.,Canada",
        "Bo,bo@acme.com,Acme",
    ]
    leads = wb["Leads"]
    header = [c.value for c in leads[1]]
    last = {h: c.value for h, c in zip(header, leads[leads.max_row], strict=False)}
    assert (last["First name"], last["Company"], last["Country"]) == ("Ed", "Acme", "Spain")


# --- what Excel writes ---------------------------------------------------------------------


def test_a_french_excel_csv_semicolons_cp1252_and_a_note_on_two_lines(tmp_path: Path) -> None:
    # Excel in French saves "CSV (séparateur: point-virgule)" in the ANSI code page, CRLF
    # between lines and a bare LF for a line break inside a cell
    rows = [
        ["Prénom", "Nom", "E-mail", "Société", "Pays", "Notes"],
        [
            "Amélie",
            "Dupré",
            "amelie@exemple.fr",
            "Café Crème",
            "France",
            "Rappeler lundi\nDevis: 1 234,50 €; «urgent»",
        ],
        ["Zoé", "Faure", "zoe@exemple.fr", "Société Générale", "France", ""],
    ]
    path = write(tmp_path / "contacts.csv", rows, "cp1252", delimiter=";", lineterminator="\r\n")
    source = read_table(path)
    assert source.header == rows[0] and source.rows == rows[1:] and source.misfits == []
    plan = imported(source)
    assert plan.appends[0]["Email"] == "amelie@exemple.fr"
    assert plan.appends[0]["Notes"] == "Rappeler lundi\nDevis: 1 234,50 €; «urgent»"


def test_excel_unicode_text_utf16_with_tabs(tmp_path: Path) -> None:
    rows = [
        ["First name", "Email", "Company", "Notes"],
        ["Jürgen", "j@beispiel.de", "Müller GmbH", 'Says "hi",\nthen 日本語'],
        ["Åsa", "asa@exempel.se", "Ström AB", ""],
    ]
    path = write(tmp_path / "contacts.txt", rows, "utf-16", delimiter="\t", lineterminator="\r\n")
    assert path.read_bytes()[:2] == b"\xff\xfe"  # the byte-order mark Excel writes too
    source = read_table(path)
    assert source.header == rows[0] and source.rows == rows[1:]
    assert imported(source).appends[1]["Company"] == "Ström AB"


def test_utf16_without_its_byte_order_mark_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "contacts.txt"
    path.write_bytes("Email\tCompany\r\na@b.example\tAcme\r\n".encode("utf-16-le"))
    with pytest.raises(ImportFileError) as refused:
        read_table(path)
    assert "UTF-16" in refused.value.message and "UTF-8" in refused.value.hint


# --- any text survives the trip ------------------------------------------------------------

# no "€": in cp1252, "é€€" is also valid UTF-8 (for another character): no reader can tell
text = st.text(alphabet=st.sampled_from("ab Zé\"',;\t\n\r|"), max_size=12)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(st.from_regex(r"Z[a-z]{0,5}", fullmatch=True), text, text), min_size=1, max_size=6
    ),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]),
)
def test_what_pythons_csv_writer_writes_is_read_back_as_it_was(
    tmp_path: Path, rows: list[tuple[str, str, str]], delimiter: str, encoding: str
) -> None:
    header = ["First name", "Notes", "Industry"]
    path = write(tmp_path / "any.csv", [header, *map(list, rows)], encoding, delimiter=delimiter)
    source = read_table(path)
    assert source.header == header
    assert source.rows == [list(r) for r in rows]
    assert source.misfits == []
    plan = imported(source)
    assert [r["Notes"] for r in plan.appends] == [notes.strip() for _, notes, _ in rows]
