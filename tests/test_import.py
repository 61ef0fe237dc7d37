"""``sheetcrm import`` below the CLI: reading export files, mapping columns, planning rows."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from sheetcrm.engine.importer import Export, map_columns, plan_import
from sheetcrm.engine.schema import LEADS
from sheetcrm.engine.settings import Settings
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.engine.values import MAX_CELL, clamp
from sheetcrm.errors import ImportFileError
from sheetcrm.files import exports
from sheetcrm.files.exports import read_table
from sheets import NOW


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def imported(source: Export, maps: tuple[str, ...] = (), add_columns: bool = False):
    """What the import would append to an empty Leads tab, and the mapping it used."""
    snapshot = Snapshot({LEADS.name: Table(list(LEADS.headers))}, "v1")
    mapping = map_columns(source.header, list(LEADS.headers), list(maps), add_columns)
    return plan_import(snapshot, source, mapping, Settings(), NOW), mapping


# --- reading the file ----------------------------------------------------------------------


def test_a_field_longer_than_csvs_default_limit_is_read_and_cut_to_a_cell(
    tmp_path: Path,
) -> None:
    long = "word " * 40_000  # 200,000 characters: over the csv module's 131,072
    path = write_csv(tmp_path / "long.csv", [["Email", "Notes"], ["a@example.com", long]])
    source = read_table(path)
    assert source.rows == [["a@example.com", long]]
    plan, _ = imported(source)
    notes = plan.appends[0]["Notes"]
    assert notes == clamp(long.strip()) and len(notes) == MAX_CELL  # as the sync cuts text


def test_a_field_beyond_the_limit_is_a_clean_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "FIELD_LIMIT", 1_000)
    rows = [["Email", "Notes"], ["a@example.com", "fine"], ["b@example.com", "x" * 1_001]]
    path = write_csv(tmp_path / "export.csv", rows)
    before = csv.field_size_limit()
    with pytest.raises(ImportFileError, match=r"cannot read export\.csv, line 3: field larger"):
        read_table(path)
    assert csv.field_size_limit() == before  # the process's own limit is left as it was


# --- mapping columns -----------------------------------------------------------------------


def test_duplicate_headers_import_the_first_column(tmp_path: Path) -> None:
    source = Export(["Email", "Company", "Email"], [["first@example.com", "Acme", "second@x.com"]])
    plan, mapping = imported(source)
    assert plan.appends[0]["Email"] == "first@example.com"
    assert mapping.pairs == [("Email", "Email"), ("Company", "Company")]
    assert mapping.unmapped == ["Email (column 3)"]


def test_a_header_added_as_a_column_is_added_once() -> None:
    source = Export(["Colour", "Colour"], [["blue", "red"]])
    plan, mapping = imported(source, add_columns=True)
    assert (mapping.added, mapping.unmapped) == (["Colour"], ["Colour (column 2)"])
    assert plan.new_columns == ["Colour"] and plan.appends == [{"Colour": "blue"}]


@pytest.mark.parametrize(
    ("header", "winner"),
    [
        (["email", "Email"], "Email"),  # exact before case-insensitive
        (["Lead Source", "Source"], "Source"),  # exact before an alias
        (["E-mail", "email"], "E-mail"),  # neither exact: the first, left to right
    ],
)
def test_an_exact_header_match_comes_first(header: list[str], winner: str) -> None:
    source = Export(header, [[f"{h}@example.com" for h in ("a", "b")]])
    plan, mapping = imported(source)
    assert [src for src, _ in mapping.pairs] == [winner]
    assert mapping.unmapped == [h for h in header if h != winner]
    row = source.rows[0][header.index(winner)]
    assert row in plan.appends[0].values()


def test_a_map_wins_over_an_exact_header() -> None:
    source = Export(["Email", "Work email"], [["home@example.com", "work@example.com"]])
    plan, mapping = imported(source, ("Work email=Email",))
    assert mapping.pairs == [("Work email", "Email")]
    assert plan.appends[0]["Email"] == "work@example.com"


def test_two_maps_filling_one_column_are_refused() -> None:
    source = Export(["Work email", "Home email"], [["w@example.com", "h@example.com"]])
    with pytest.raises(ImportFileError) as refused:
        imported(source, ("Work email=Email", "Home email=email"))
    assert refused.value.message == (
        "--map 'Work email=Email' and --map 'Home email=email' both fill Email"
    )
    assert refused.value.hint == "keep one of them"


# --- why nothing is imported ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "because"),
    [
        (Export(["Email"]), "the file has no rows under its header"),
        (Export(["Colour"], [["blue"]]), "no column of the file matches a Leads column"),
        (Export(["Email", "Colour"], [["", "blue"]]), "its rows are empty in every column"),
    ],
)
def test_the_plan_says_why_it_imports_nothing(source: Export, because: str) -> None:
    plan, _ = imported(source)
    assert not plan.appends
    assert plan.empty_because.startswith(because)


def test_a_plan_that_imports_says_nothing_about_it() -> None:
    plan, _ = imported(Export(["Email", "Company"], [["a@example.com", ""]]))
    assert plan.appends == [{"Email": "a@example.com", "Company": ""}]
    assert plan.empty_because == ""
