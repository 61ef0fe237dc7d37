"""`sheetcrm init` on a spreadsheet a team already keeps its leads in: adopted, not replaced.

Built like real team sheets: a `Leads` tab with a Status of its own, a French `Sheet1`, a
tab with merged header cells and a totals row, the X Education leads as a 9,240-row sheet,
and the same on the Google stand-in. After adopt + sync, every cell that was there is.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.cli import main
from sheetcrm.engine.schema import LEADS
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import Table
from sheetcrm.files.templates import blank
from sheets import NOW, SHARED, emulator, template

XED = SHARED / "data" / "xeducation-leads" / "Leads.csv"
AT = NOW.isoformat(timespec="minutes")
TEAM_SHEET = ["Name", "Email", "Company", "Phone", "Status", "Notes"]
FRENCH = ["Nom", "Prénom", "E-mail", "Téléphone", "Société", "Statut", "Notes"]


def _team_rows(n: int = 20) -> list[list[str]]:
    return [
        [f"Person {i}", f"person{i}@acme{i}.example", f"Acme {i}", f"+1 415 555 01{i:02d}", s, n]
        for i in range(n)
        for s, n in [("contacted" if i % 3 else "new", f"met at fair {i}")]
    ]


def _workbook(path: Path, title: str, header: list[str], rows: list[list[object]]) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.append(header)
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def _grid(path: Path, title: str) -> list[list[object]]:
    wb = load_workbook(path, read_only=True)
    try:
        return [list(r) for r in wb[title].iter_rows(values_only=True)]
    finally:
        wb.close()


def _kept(before: list[list[object]], after: list[list[object]], renamed: dict = {}) -> None:  # noqa: B006
    """Every cell of ``before`` is in ``after`` at the same place (a renamed header aside)."""
    assert len(after) >= len(before)
    for r, row in enumerate(before):
        for c, value in enumerate(row):
            if r == 0 and c in renamed:
                assert after[r][c] == renamed[c]
            else:
                assert after[r][c] == value, (r + 1, c + 1, value, after[r][c])


def test_the_issue_s_team_workbook_is_adopted_and_its_20_leads_stay(tmp_path, capsys):
    path = _workbook(tmp_path / "mine.xlsx", "Leads", TEAM_SHEET, _team_rows())
    before = _grid(path, "Leads")
    assert main(["init", "--sheet", str(path), "--dry-run", "--now", AT]) == 0
    dry = capsys.readouterr().out
    assert "20 leads" in dry and "rename Leads!E1 'Status' to 'Lead status'" in dry
    assert "add the tab Stages" in dry and "Dry run: nothing written." in dry
    assert _grid(path, "Leads") == before  # a dry run writes nothing
    assert main(["init", "--sheet", str(path), "--now", AT]) == 0
    assert main(["sync", "--sheet", str(path), "--now", AT]) == 0
    out = capsys.readouterr().out
    assert "20 rows read, 20 new IDs" in out
    assert "nobody on the Team tab yet" in out  # and on the Problems tab: what to fill
    after = _grid(path, "Leads")
    _kept(before, after, renamed={4: "Lead status"})
    header = after[0]
    status = header.index("Status")
    assert status >= len(TEAM_SHEET)  # the sync's own, at the right
    assert all(row[status] == "OK" for row in after[1:21])
    assert [row[4] for row in after[1:]] == [row[4] for row in before[1:]]
    problems = _grid(path, "Problems")
    assert any("nobody on the Team tab yet" in str(r[4]) for r in problems)
    wb = load_workbook(path)
    assert wb["Team"].max_row == 1  # nobody fictional
    lists = {str(v.sqref): v.formula1 for v in wb["Leads"].data_validations.dataValidation}
    stage = chr(ord("A") + header.index("Stage"))
    assert lists[f"{stage}2:{stage}1048576"] == "sheetcrm_stages"  # the Stage drop-down
    # --force keeps a whole copy first, and says where
    assert main(["init", "--sheet", str(path), "--force", "--now", AT]) == 0
    said = capsys.readouterr().out
    copy = next(Path(w) for w in said.split() if w.endswith(".xlsx") and "before-init" in w)
    assert "Kept a copy" in said and "20 leads" in said
    _kept(after, _grid(copy, "Leads"))


def test_a_french_sheet1_is_found_read_by_its_own_headers_and_kept(tmp_path, capsys):
    rows = [
        ["Martin", "Léa", "lea.martin@exemple.fr", "06 12 34 56 78", "Dupont SA", "à relancer"],
        ["Bernard", "Hugo", "pas-un-email", "", "Durand", "nouveau"],
        ["Petit", "Chloé", "", "+33 1 23 45 67 89", "", "client"],
    ]
    notes = ["", "salon", "00123"]
    contact = ["25/03/2026", "02/04/2026", ""]  # typed as text, the French way
    rows = [[*r, n, c] for r, n, c in zip(rows, notes, contact, strict=True)]
    header = [*FRENCH, "Dernier contact"]
    path = _workbook(tmp_path / "equipe.xlsx", "Sheet1", header, rows)
    wb = load_workbook(path)
    wb.create_sheet("Résumé")["A1"] = "=COUNTA(Sheet1!A2:A100)"  # a person's own formula
    wb.save(path)
    before = _grid(path, "Sheet1")
    assert main(["init", "--sheet", str(path), "--now", AT]) == 0
    out = capsys.readouterr().out
    assert "the tab 'Sheet1' (found by its headers: 7 of 8 are lead fields), 3 leads" in out
    assert "Settings: Date order DMY, as the dates on 'Sheet1' are" in out
    assert "Nom = Last name" in out and "Société = Company" in out
    assert "Statut" in out.split("kept as they are")[1]
    assert main(["sync", "--sheet", str(path), "--now", AT]) == 0
    wb = load_workbook(path)
    assert "Sheet1" not in wb.sheetnames
    assert wb["Résumé"]["A1"].value == "=COUNTA(Leads!A2:A100)"  # follows the rename
    after = _grid(path, "Leads")
    _kept(before, after)  # headers as typed: Nom, Prénom, E-mail... nothing renamed
    header = after[0]
    status = [row[header.index("Status")] for row in after[1:4]]
    assert "not a valid email" in status[1]  # "E-mail" is read as Email, and checked
    problems = _grid(path, "Problems")
    assert any(r[2] == "Leads!C3" and "not a valid email" in r[4] for r in problems)
    assert not any(str(r[2]).startswith("Leads!H") for r in problems)  # 25/03 is a date
    settings = {r[0]: r[1] for r in load_workbook(path)["Settings"].iter_rows(values_only=True)}
    assert settings["Date order"] == "DMY"
    assert header.count("Email") == 0 and header.count("Phone") == 0  # no second column


def test_merged_header_cells_and_a_totals_row_are_not_leads_and_stay_put(tmp_path, capsys):
    wb = Workbook()
    ws = wb.active
    ws.title = "Pipeline"
    ws.append(["Name", None, "Email", "Phone", "Company", "Amount"])
    ws.merge_cells("A1:B1")  # first and last name under one header cell
    for i in range(10):
        ws.append([f"First{i}", f"Last{i}", f"p{i}@firm{i}.example", "", f"Firm {i}", 1000 * i])
    ws.append(["Total", None, None, None, None, "=SUM(F2:F11)"])
    path = tmp_path / "pipeline.xlsx"
    wb.save(path)
    before = _grid(path, "Pipeline")
    assert main(["init", "--sheet", str(path), "--now", AT]) == 0
    out = capsys.readouterr().out
    assert "10 leads" in out
    assert "Leads!A12: a totals row ('Total' and figures)" in out
    assert "column B has values and no header" in out
    assert main(["sync", "--sheet", str(path), "--now", AT]) == 0
    assert "10 rows read, 10 new IDs" in capsys.readouterr().out
    after = _grid(path, "Leads")
    _kept(before, after)
    assert after[11][0] == "Total" and after[11][5] == "=SUM(F2:F11)"
    assert all(v is None for v in after[11][6:])  # no Lead ID, no Status on the totals row
    assert [r.coord for r in load_workbook(path)["Leads"].merged_cells.ranges] == ["A1:B1"]
    assert main(["sync", "--sheet", str(path), "--now", AT]) == 0
    assert "Nothing to change" in capsys.readouterr().out


def test_a_row_of_column_names_under_a_group_header_is_not_a_lead():
    tabs = blank(template())
    tabs[LEADS.name] = Table(
        list(LEADS.headers),
        [
            ["", "", "First name", "Last name", "Email"] + [""] * (len(LEADS.headers) - 5),
            ["", "", "Ann", "Lee", "ann@lee.example"] + [""] * (len(LEADS.headers) - 5),
        ],
    )
    plan = plan_sync(MemoryBackend(tabs).read(), NOW)
    assert plan.summary.rows == 1 and plan.summary.new_ids == 1


@pytest.mark.skipif(not XED.exists(), reason="../shared/data/xeducation-leads is not there")
def test_the_x_education_leads_as_a_9240_row_workbook(tmp_path, capsys):
    with XED.open(encoding="utf-8", newline="") as f:
        lines = list(csv.reader(f))
    path = _workbook(tmp_path / "xed.xlsx", "Leads", lines[0], lines[1:])
    before = _grid(path, "Leads")
    assert main(["init", "--sheet", str(path), "--now", AT]) == 0
    out = capsys.readouterr().out
    assert "Leads: the tab 'Leads' (by its name), 9240 leads." in out
    assert "Lead Source = Source" in out and "Lead Quality" in out.split("kept as they are")[1]
    assert main(["sync", "--sheet", str(path), "--now", AT]) == 0
    assert "9240 rows read, 9240 new IDs" in capsys.readouterr().out
    after = _grid(path, "Leads")
    assert len(after) == len(before) == 9241
    width = len(before[0])
    assert [r[:width] for r in after] == before
    assert after[0][width] == "Lead ID" and after[-1][width] == "L-09240"


def test_init_blank_is_an_empty_crm_that_says_what_to_fill(tmp_path, capsys):
    path = tmp_path / "crm.xlsx"
    assert main(["init", "--sheet", str(path), "--blank", "--now", AT]) == 0
    assert "no leads yet" in capsys.readouterr().out
    wb = load_workbook(path)
    assert wb["Leads"].max_row == 1 and wb["Team"].max_row == 1
    assert wb["Routing"].max_row == 1 and wb["Stages"].max_row > 1
    fallback = [r for r in wb["Settings"].iter_rows(values_only=True) if r[0] == "Fallback owner"]
    assert fallback and fallback[0][1] is None
    assert main(["sync", "--sheet", str(path), "--now", AT]) == 0
    assert any("nobody on the Team tab" in str(r[4]) for r in _grid(path, "Problems"))


def test_on_the_google_stand_in(monkeypatch, capsys):
    emu = emulator()
    monkeypatch.setenv("SHEETS_EMULATOR_HOST", emu.host)
    book = emu.store.create("equipe", sheets=("Sheet1", "Notes"))
    rows = [[*FRENCH, "Status"]] + [
        [f"N{i}", f"P{i}", f"p{i}@ex{i}.fr", f"+33 6 12 34 56 {i:02d}", f"Sté {i}", "x", "0", h]
        for i, h in zip(range(12), ["cold", "hot"] * 6, strict=True)
    ]
    book.sheet("Sheet1").set_values("A1", rows)
    book.sheet("Notes").set_values("A1", [["our own notes"]])
    sheet = book.spreadsheet_id
    assert main(["init", "--sheet", sheet, "--force", "--now", AT]) == 1
    assert "--force would write over it" in capsys.readouterr().err
    assert book.sheet("Sheet1").values() == rows  # refused: nothing written
    assert main(["init", "--sheet", sheet, "--now", AT]) == 0
    assert main(["sync", "--sheet", sheet, "--now", AT]) == 0
    assert "12 rows read, 12 new IDs" in capsys.readouterr().out
    assert book.find("Sheet1") is None
    after = book.sheet(LEADS.name).values()
    assert len(after) == len(rows)
    header = after[0]
    assert header[len(FRENCH)] == "Lead status"  # the sync's Status would overwrite it
    assert header.count("Status") == 1 and after[1][header.index("Status")] == "OK"
    assert header[len(rows[0])] == "Lead ID" and after[1][len(rows[0])] == "L-00001"
    assert [r[: len(rows[0])] for r in after[1:]] == rows[1:]
    assert book.sheet("Notes").values() == [["our own notes"]]
    assert len(book.sheet(LEADS.name).conditional_formats) == 5  # grades, Status not OK
    assert main(["init", "--sheet", sheet, "--now", AT]) == 0  # again: nothing to add
    assert "Nothing to add" in capsys.readouterr().out


def test_an_empty_workbook_made_by_excel_is_set_up(tmp_path, capsys):
    path = tmp_path / "new.xlsx"
    Workbook().save(path)  # one empty "Sheet", as a spreadsheet program makes it
    assert main(["init", "--sheet", str(path), "--blank", "--now", AT]) == 0
    assert "Created" in capsys.readouterr().out
    assert load_workbook(path).sheetnames[0] == "Leads"
