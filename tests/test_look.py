"""The Leads tab's drop-downs and highlighting (engine/look.py) on both backends, and the
Dashboard's units: the same rules on the .xlsx as on Google, every row with a problem
highlighted, kept right at sync; every Dashboard figure shows what it counts."""

from __future__ import annotations

import re
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter, range_boundaries

from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.cli import main
from sheetcrm.engine.schema import LEADS, TEAM
from sheets import NOW, emulator, google_backend, template

END = "end"  # a range down to the last row the sheet has, however many that is
XLSX_LAST_ROW = 1048576


def _xlsx_span(sqref: str) -> tuple[int, int, int | str]:
    """(column, first row, last row), 0-based column, rows from 1, of a one-column range."""
    col0, row0, col1, row1 = range_boundaries(sqref)
    assert col0 == col1, sqref
    return col0 - 1, row0, END if row1 == XLSX_LAST_ROW else row1


def _google_span(grid: dict) -> tuple[int, int, int | str]:
    assert grid["endColumnIndex"] - grid["startColumnIndex"] == 1, grid
    end = grid.get("endRowIndex")
    return grid["startColumnIndex"], grid.get("startRowIndex", 0) + 1, END if end is None else end


def _hex(colour: dict) -> str:
    return "".join(f"{round(colour.get(c, 0) * 255):02X}" for c in ("red", "green", "blue"))


def _by_header(formula: str, header: list[str]) -> str:
    """A formula with its column references named by header: $Z2 -> $[Status]2."""
    return re.sub(
        r"\$([A-Z]+)(\d+)",
        lambda m: f"$[{header[range_boundaries(m[1] + '1')[0] - 1]}]{m[2]}",
        formula,
    )


def xlsx_look(path: Path) -> tuple[set, set]:
    """The Leads drop-downs and highlighting of a workbook, named by header (a person's own
    rules on part of a column left out)."""
    wb = load_workbook(path)
    ws = wb[LEADS.name]
    header = [c.value for c in ws[1]]
    dropdowns = set()
    for dv in ws.data_validations.dataValidation:
        col, first, last = _xlsx_span(str(dv.sqref))
        source = wb.defined_names[dv.formula1].attr_text
        dropdowns.add((header[col], first, last, dv.type, source))
    highlights = set()
    for cf in ws.conditional_formatting:
        col, first, last = _xlsx_span(str(cf.sqref))
        if last != END:
            continue
        for rule in cf.rules:
            if rule.type == "cellIs":
                assert rule.operator == "equal"
                test = ("equals", rule.formula[0].strip('"'))
            else:
                test = ("formula", _by_header(rule.formula[0], header))
            fill = rule.dxf.fill.fgColor.rgb[-6:]
            highlights.add((header[col], first, last, test, fill))
    return dropdowns, highlights


def google_look(backend) -> tuple[set, set]:
    """The same, from what the Google stand-in received."""
    sheet = emulator().store[backend.id].sheet(LEADS.name)
    header = backend.read().table(LEADS.name).header
    dropdowns = set()
    for v in sheet.validations:
        col, first, last = _google_span(v["range"])
        condition = v["rule"]["condition"]
        assert condition["type"] == "ONE_OF_RANGE"
        source = condition["values"][0]["userEnteredValue"].removeprefix("=")
        dropdowns.add((header[col], first, last, "list", source))
    highlights = set()
    for rule in sheet.conditional_formats:
        (grid,) = rule["ranges"]
        col, first, last = _google_span(grid)
        condition = rule["booleanRule"]["condition"]
        value = condition["values"][0]["userEnteredValue"]
        if condition["type"] == "TEXT_EQ":
            test = ("equals", value)
        else:
            assert condition["type"] == "CUSTOM_FORMULA"
            test = ("formula", _by_header(value.removeprefix("="), header))
        colour = _hex(rule["booleanRule"]["format"]["backgroundColor"])
        highlights.add((header[col], first, last, test, colour))
    return dropdowns, highlights


def test_the_workbook_gets_the_look_google_gets(tmp_path):
    google = google_look(google_backend())
    WorkbookBackend(tmp_path / "crm.xlsx").provision(template())
    workbook = xlsx_look(tmp_path / "crm.xlsx")
    assert workbook == google
    dropdowns, highlights = workbook
    assert {d[0] for d in dropdowns} == {"Stage", "Owner"}
    assert {h[0] for h in highlights} == {"Grade", "Status"}
    assert all(d[1:3] == (2, END) for d in dropdowns)  # every lead, however many
    assert all(h[1:3] == (2, END) for h in highlights)


_PROBLEM = re.compile(r'AND\(LEN\(\$([A-Z]+)(\d+)\)>0,\$\1\2<>"([^"]*)"\)')


def _highlighted(ws, row: int, col: int) -> list[str]:
    """The fill colours the workbook's rules give cell (row, col), 1-based: each rule's
    range and formula evaluated the way Excel does, relative to the range's first cell."""
    colours = []
    for cf in ws.conditional_formatting:
        for cells in cf.sqref.ranges:
            col0, row0, col1, row1 = cells.bounds
            if not (col0 <= col <= col1 and row0 <= row <= row1):
                continue
            for rule in cf.rules:
                value = ws.cell(row, col).value
                if rule.type == "cellIs":
                    hit = str(value or "").casefold() == rule.formula[0].strip('"').casefold()
                else:
                    found = _PROBLEM.fullmatch(rule.formula[0])
                    assert found, f"no evaluator for {rule.formula[0]}"
                    letter, first, ok = found.groups()
                    ref = ws[f"{letter}{row - row0 + int(first)}"].value
                    text = "" if ref is None else str(ref)
                    hit = len(text) > 0 and text.casefold() != ok.casefold()
                if hit:
                    colours.append(rule.dxf.fill.fgColor.rgb[-6:])
    return colours


def test_every_row_of_the_demo_with_a_problem_is_highlighted(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--now", "2026-11-23T10:00"]) == 0
    ws = load_workbook(tmp_path / "sheetcrm-demo.xlsx")[LEADS.name]
    header = [c.value for c in ws[1]]
    status = header.index("Status") + 1
    problems = ok = 0
    for row in range(2, ws.max_row + 1):
        said = ws.cell(row, status).value
        if said == "OK":
            assert _highlighted(ws, row, status) == [], row
            ok += 1
        elif said:
            assert _highlighted(ws, row, status), f"row {row}: {said}"
            problems += 1
    assert problems >= 10 and ok >= 10  # the demo has both
    grade = header.index("Grade") + 1
    grades = [ws.cell(r, grade).value for r in range(2, ws.max_row + 1)]
    assert {"A", "B", "C", "D"} & set(grades)
    for r, g in enumerate(grades, start=2):
        assert len(_highlighted(ws, r, grade)) == (1 if g in ("A", "B", "C", "D") else 0), r


def _dropdown_sources(path: Path) -> dict[str, tuple[str, str]]:
    """Leads column header -> (the range its validation covers, the cells it lists)."""
    wb = load_workbook(path)
    ws = wb[LEADS.name]
    header = [c.value for c in ws[1]]
    found = {}
    for dv in ws.data_validations.dataValidation:
        col, first, last = _xlsx_span(str(dv.sqref))
        found[header[col]] = (f"{first}:{last}", wb.defined_names[dv.formula1].attr_text)
    return found


def test_the_owner_drop_down_follows_the_team_tab(tmp_path):
    backend = WorkbookBackend(tmp_path / "crm.xlsx")
    backend.provision(template())
    sync_once(backend, NOW, NOW)
    assert _dropdown_sources(backend.path)["Owner"] == ("2:end", "'Team'!$A$2:$A$1000")

    # A person puts Email first and Name second, in a program that leaves the workbook's
    # names alone: nothing else changes, and only the moved column says the sync must write.
    wb = load_workbook(backend.path)
    team = wb[TEAM.name]
    for row in team.iter_rows(max_col=2):
        row[0].value, row[1].value = row[1].value, row[0].value
    wb.save(backend.path)
    _, report = sync_once(backend, NOW, NOW)
    assert report.written
    assert _dropdown_sources(backend.path)["Owner"] == ("2:end", "'Team'!$B$2:$B$1000")
    _, again = sync_once(backend, NOW, NOW)
    assert not again.written  # put right once, then nothing more to write


def test_a_workbook_without_the_look_gets_it_at_its_next_sync(tmp_path):
    """A workbook provisioned before the look existed, or with a Status column the sync
    adds: the rules are written, for the columns where they are."""
    tabs = template()
    leads = tabs[LEADS.name]
    gone = leads.col("Status")
    leads.header.pop(gone)
    for row in leads.rows:
        row.pop(gone)
    path = tmp_path / "crm.xlsx"
    WorkbookBackend(path).provision(tabs)
    wb = load_workbook(path)
    ws = wb[LEADS.name]
    ws.conditional_formatting._cf_rules.clear()
    ws.data_validations.dataValidation = []
    wb.save(path)
    sync_once(WorkbookBackend(path), NOW, NOW)
    workbook = xlsx_look(path)
    assert workbook == google_look(google_backend())
    wb = load_workbook(path)
    header = [c.value for c in wb[LEADS.name][1]]
    assert header[-1] == "Status"  # added at the right, and highlighted there
    letter = get_column_letter(len(header))
    formulas = [r.formula[0] for cf in wb[LEADS.name].conditional_formatting for r in cf.rules]
    assert f'AND(LEN(${letter}2)>0,${letter}2<>"OK")' in formulas


def test_a_persons_own_rules_are_kept(tmp_path):
    from openpyxl.formatting.rule import CellIsRule
    from openpyxl.styles import PatternFill

    path = tmp_path / "crm.xlsx"
    WorkbookBackend(path).provision(template())
    wb = load_workbook(path)
    wb[LEADS.name].conditional_formatting.add(
        "L2:L100", CellIsRule(operator="greaterThan", formula=["5000"], fill=PatternFill("solid"))
    )
    wb[LEADS.name].conditional_formatting._cf_rules.popitem(last=False)  # one of ours gone
    wb.save(path)
    sync_once(WorkbookBackend(path), NOW, NOW)
    ws = load_workbook(path)[LEADS.name]
    kinds = sorted((str(cf.sqref), r.type) for cf in ws.conditional_formatting for r in cf.rules)
    assert ("L2:L100", "cellIs") in kinds
    assert len(kinds) == 1 + 5  # the person's, and ours once each
    assert xlsx_look(path)[1] == google_look(google_backend())[1]


# --- the Dashboard's units -------------------------------------------------------------

_UNIT = re.compile(r'%|"[^"]*[^\d\s"][^"]*"')  # a percent sign, or quoted words: "$", " hours"


def test_every_dashboard_figure_shows_its_unit_in_the_workbook(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--now", "2026-11-23T10:00"]) == 0
    ws = load_workbook(tmp_path / "sheetcrm-demo.xlsx")["Dashboard"]
    figures = 0
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, int | float) and not isinstance(cell.value, bool):
                assert _UNIT.search(cell.number_format), (cell.coordinate, cell.number_format)
                figures += 1
    assert figures > 20
    speed = next(r for r in ws.iter_rows() if r[0].value == "Speed to first touch, median")
    assert speed[2].number_format == '0.0" hours"'
    new = next(r for r in ws.iter_rows() if r[0].value == "New leads")
    assert new[2].number_format == '[=1]0" lead";#,##0" leads"'


def test_every_dashboard_figure_shows_its_unit_on_google():
    backend = google_backend()
    sync_once(backend, NOW, NOW)
    dash = emulator().store[backend.id].sheet("Dashboard")
    patterns: dict[tuple[int, int], str] = {}
    for entry in dash.formats:  # in the order they were set: later ones win
        grid = entry["range"]
        number = entry.get("cell", {}).get("userEnteredFormat", {}).get("numberFormat")
        for r in range(grid.get("startRowIndex", 0), grid.get("endRowIndex", dash.row_count)):
            for c in range(grid.get("startColumnIndex", 0), grid.get("endColumnIndex", 26)):
                if number:
                    patterns[(r, c)] = number["pattern"]
                else:
                    patterns.pop((r, c), None)
    figures = 0
    for r, row in enumerate(dash.values()):
        for c, _ in enumerate(row):
            value = dash.cell(r, c)
            value = getattr(value, "value", value)
            if r > 0 and isinstance(value, int | float) and not isinstance(value, bool):
                assert _UNIT.search(patterns.get((r, c), "")), (r, c, patterns.get((r, c)))
                figures += 1
    assert figures > 20


# --- the fixed words: Operator, Strategy, Type, When, Channel, Active, Settings values -------


def xlsx_words(path: Path) -> set:
    """Every fixed-word drop-down of a workbook: (tab, header, first row, last row, words),
    with the Settings key for a one-cell list; and that none of them refuses a value."""
    wb = load_workbook(path)
    lists = set()
    for ws in wb.worksheets:
        header = [c.value for c in ws[1]]
        for dv in ws.data_validations.dataValidation:
            if not dv.formula1.startswith('"'):
                continue  # a list from another tab (Leads' Stage, Owner)
            assert dv.type == "list" and not dv.showErrorMessage, (ws.title, dv.formula1)
            assert len(dv.formula1) <= 255  # what Excel takes in a list
            col, first, last = _xlsx_span(str(dv.sqref))
            key = ws.cell(first, 1).value if last != END else None
            words = tuple(dv.formula1.strip('"').split(","))
            lists.add((ws.title, header[col], key, first, last, words))
    return lists


def google_words(backend) -> set:
    book = emulator().store[backend.id]
    lists = set()
    for sheet in book.sheets:
        header = backend.read().table(sheet.title).header
        for v in sheet.validations:
            rule = v["rule"]
            if rule["condition"]["type"] != "ONE_OF_LIST":
                continue
            assert rule.get("strict") is False and rule["showCustomUi"] is True, rule
            col, first, last = _google_span(v["range"])
            key = backend.read().table(sheet.title).rows[first - 2][0] if last != END else None
            words = tuple(value["userEnteredValue"] for value in rule["condition"]["values"])
            lists.add((sheet.title, header[col], key, first, last, words))
    return lists


def test_fixed_words_are_offered_alike_on_both_backends_and_never_enforced(tmp_path):
    google = google_words(google_backend())
    WorkbookBackend(tmp_path / "crm.xlsx").provision(template())
    workbook = xlsx_words(tmp_path / "crm.xlsx")
    assert workbook == google
    by_place = {
        (tab, header, key): (first, last, words)
        for tab, header, key, first, last, words in workbook
    }
    for tab in ("Scoring", "Routing", "Alerts"):
        first, last, words = by_place[(tab, "Operator", None)]
        assert (first, last) == (2, END)
        assert {"equals", "contains", "in list", "at least", "between"} <= set(words)
    assert by_place[("Routing", "Strategy", None)][2] == ("round robin", "weighted", "least loaded")
    assert by_place[("Stages", "Type", None)][2] == ("open", "won", "lost")
    assert "lead assigned" in by_place[("Alerts", "When", None)][2]
    assert by_place[("Alerts", "Channel", None)][2] == ("email",)
    assert by_place[("Team", "Active", None)][2] == ("yes", "no")
    # on Settings, the Value cell of each setting that takes fixed words, and only that cell
    first, last, words = by_place[("Settings", "Value", "Date order")]
    assert first == last and words == ("DMY", "MDY")
    assert by_place[("Settings", "Value", "Reassign after SLA")][2] == ("yes", "no")
    assert not any(key == "Time zone" for _, _, key in by_place)


def test_a_word_typed_otherwise_is_kept_and_read_by_the_sync(tmp_path):
    # the list is not strict: "in range" (an alias) stays, and the sync reads it
    tabs = template()
    scoring = tabs["Scoring"]
    row = next(r for r in scoring.rows if r[scoring.col("Operator")] == "between")
    row[scoring.col("Operator")] = "in range"
    backend = WorkbookBackend(tmp_path / "crm.xlsx")
    backend.provision(tabs)
    plan, _ = sync_once(backend, NOW, NOW)
    assert not [p for p in plan.problems if p.tab == "Scoring"], plan.problems
    assert "in range" in backend.read().table("Scoring").column("Operator")


def test_a_settings_list_follows_its_row_when_rows_move(tmp_path):
    path = tmp_path / "crm.xlsx"
    backend = WorkbookBackend(path)
    backend.provision(template())
    snapshot = backend.read()
    settings = snapshot.table("Settings").copy()
    settings.rows.insert(0, settings.rows.pop(settings.column("Key").index("Date order")))
    from sheetcrm.engine.changes import Changes

    backend.write(Changes(snapshot.version, replace={"Settings": settings}))
    lists = {(key, first) for tab, _, key, first, _, _ in xlsx_words(path) if tab == "Settings"}
    assert ("Date order", 2) in lists
    assert not any(key == "Time zone" for key, _ in lists)  # where Date order was: no list
