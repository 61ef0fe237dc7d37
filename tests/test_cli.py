"""The commands a new user types, on real files."""

from __future__ import annotations

import csv

import pytest
from openpyxl import load_workbook

from sheetcrm.cli import main


@pytest.fixture
def sheet(tmp_path):
    path = tmp_path / "crm.xlsx"
    assert main(["init", "--sheet", str(path), "--now", "2026-11-23T10:00"]) == 0
    return path


def test_init_provisions_every_tab(sheet, capsys):
    wb = load_workbook(sheet)
    assert wb.sheetnames[:15] == [
        "Leads",
        "Stages",
        "Scoring",
        "Routing",
        "Team",
        "Alerts",
        "Settings",
        "Forms",
        "Targets",
        "Sequences",
        "Enrolment",
        "Activities",
        "History",
        "Notifications",
        "Problems",
    ]
    leads = wb["Leads"]
    assert leads.freeze_panes == "A2"
    assert leads["A1"].font.b
    assert leads.max_row == 51


def test_init_never_overwrites(sheet, capsys):
    saved = sheet.read_bytes()
    assert main(["init", "--sheet", str(sheet)]) == 0
    assert "Nothing to add: the spreadsheet is set up already." in capsys.readouterr().out
    assert sheet.read_bytes() == saved
    assert main(["init", "--sheet", str(sheet), "--force"]) == 0
    assert "Kept a copy of" in capsys.readouterr().out
    (copy,) = sheet.parent.glob("crm.before-init-*.xlsx")
    assert copy.read_bytes() == saved


def test_sync_then_resync(sheet, capsys):
    capsys.readouterr()
    assert main(["sync", "--sheet", str(sheet), "--now", "2026-11-23T10:00"]) == 0
    out = capsys.readouterr().out
    assert "50 rows read, 50 new IDs" in out
    assert "30 routed" in out
    assert "Leads!E7" in out  # the invalid email, by cell
    mtime = sheet.stat().st_mtime_ns
    assert main(["sync", "--sheet", str(sheet), "--now", "2026-11-23T10:00"]) == 0
    assert "Nothing to change" in capsys.readouterr().out
    assert sheet.stat().st_mtime_ns == mtime


def test_dry_run_writes_nothing(sheet, capsys):
    mtime = sheet.stat().st_mtime_ns
    assert main(["sync", "--sheet", str(sheet), "--dry-run", "--now", "2026-11-23T10:00"]) == 0
    out = capsys.readouterr().out
    assert "Lead ID: '' → 'L-00001'" in out
    assert "nothing written" in out
    assert sheet.stat().st_mtime_ns == mtime


def test_now_fixes_the_clock(sheet):
    main(["sync", "--sheet", str(sheet), "--now", "2026-01-31T09:00"])
    wb = load_workbook(sheet)
    ws = wb["History"]
    stamps = {ws.cell(r, 1).value for r in range(2, ws.max_row + 1)}
    assert {str(s) for s in stamps} == {"2026-01-31 09:00:00"}


def test_demo_tells_where_to_look(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "sheetcrm-demo.xlsx" in out and "Score reasons" in out
    assert (tmp_path / "sheetcrm-demo.xlsx").exists()
    assert main(["demo"]) == 0  # running it again just makes a fresh demo


def test_demo_guide_names_only_tabs_and_columns_the_demo_has(tmp_path, capsys):
    from sheetcrm.cli import DEMO_GUIDE

    path = tmp_path / "sheetcrm-demo.xlsx"
    assert main(["demo", "--sheet", str(path)]) == 0
    book = load_workbook(path, read_only=True)
    named = set()
    for line in DEMO_GUIDE.splitlines()[2:]:
        if line.startswith("   "):  # a line's continuation, or the command
            continue
        head = line.strip().split("  ")[0].split(":")[0]
        named |= {t.strip() for t in head.split(",")}
    assert {"Leads", "Activities", "Funnel", "Nurture", "Scoring check", "Preview"} <= named
    assert named <= set(book.sheetnames), named - set(book.sheetnames)
    header = [c.value for c in next(book["Leads"].iter_rows(max_row=1))]
    for column in ("Score reasons", "Grade", "Win probability", "Owner", "Duplicate of"):
        assert column in header and column in capsys.readouterr().out + DEMO_GUIDE


def test_import_maps_columns_and_reports_the_rest(sheet, tmp_path, capsys):
    export = tmp_path / "export.csv"
    with export.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(["E-mail", "company ", "Tel", "Deal", "Favourite colour"])
        w.writerow(["Ann.Lee@Acme.EXAMPLE ", "Acme", "+44 20 7946 0011", "1.234,50", "blue"])
        w.writerow(["bob@", "Bob Co", "(415) 555-0199", "$2,000", "red"])
    capsys.readouterr()
    code = main(
        [
            "import",
            str(export),
            "--sheet",
            str(sheet),
            "--map",
            "Tel=Phone",
            "--map",
            "Deal=Amount",
            "--now",
            "2026-11-23T10:00",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "Not imported (no matching Leads column): Favourite colour" in out
    assert "Appended 2 rows" in out
    wb = load_workbook(sheet)
    ws = wb["Leads"]
    header = [c.value for c in ws[1]]
    last = {h: c.value for h, c in zip(header, ws[ws.max_row], strict=False)}
    first = {h: c.value for h, c in zip(header, ws[ws.max_row - 1], strict=False)}
    assert first["Email"] == "ann.lee@acme.example"
    assert first["Phone"] == "+442079460011"
    assert first["Amount"] == 1234.5
    assert first["Lead ID"] == "L-00051"
    assert last["Email"] == "bob@"  # kept as typed, and flagged
    assert "not a valid email" in last["Status"]


def test_import_bad_map_is_a_clean_error(sheet, tmp_path, capsys):
    export = tmp_path / "e.csv"
    export.write_text("a,b\n1,2\n")
    assert main(["import", str(export), "--sheet", str(sheet), "--map", "zzz=Email"]) == 1
    err = capsys.readouterr().err
    assert "the file has no column 'zzz'" in err and "a, b" in err


def test_locked_workbook_is_not_clobbered(sheet, capsys):
    lock = sheet.parent / f".~lock.{sheet.name}#"
    lock.write_text("someone,at,their,desk")
    before = sheet.read_bytes()
    assert main(["sync", "--sheet", str(sheet)]) == 1
    assert "hint:" in capsys.readouterr().err
    assert sheet.read_bytes() == before


def test_missing_workbook_says_how_to_create_one(tmp_path, capsys):
    assert main(["sync", "--sheet", str(tmp_path / "nope.xlsx")]) == 1
    assert "sheetcrm init" in capsys.readouterr().err


def test_import_xlsx_keeps_text_and_reads_real_dates(sheet, tmp_path, capsys):
    from datetime import datetime

    from openpyxl import Workbook

    export = tmp_path / "export.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.append(["Email", "Phone", "Zip", "Created", "Deal value"])
    ws.append(["zoe@zed.example", "0612345678", "00123", datetime(2026, 2, 3, 9, 30), 4200])
    wb.save(export)
    assert (
        main(
            [
                "import",
                str(export),
                "--sheet",
                str(sheet),
                "--add-columns",
                "--map",
                "Created=Created at",
                "--now",
                "2026-11-23T10:00",
            ]
        )
        == 0
    )
    leads = load_workbook(sheet)["Leads"]
    header = [c.value for c in leads[1]]
    row = {h: c.value for h, c in zip(header, leads[leads.max_row], strict=False)}
    assert row["Zip"] == "00123"  # never a number
    assert row["Phone"] == "0612345678"  # US default region cannot read it: kept, and flagged
    assert str(row["Created at"]) == "2026-02-03 09:30:00"
    assert row["Amount"] == 4200
    assert "Phone:" in row["Status"]


def test_an_impossible_path_is_a_clean_error(tmp_path, capsys):
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("a file, not a folder")
    code = main(["init", "--sheet", str(not_a_folder / "crm.xlsx")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: ") and "notes.txt" in err


def test_demo_never_replaces_someone_elses_workbook(sheet, capsys):
    before = sheet.read_bytes()
    assert main(["demo", "--sheet", str(sheet)]) == 1
    assert "--force" in capsys.readouterr().err
    assert sheet.read_bytes() == before
    assert main(["demo", "--sheet", str(sheet), "--force"]) == 0
    assert "Kept a copy of" in capsys.readouterr().out
    (copy,) = sheet.parent.glob("crm.before-init-*.xlsx")
    assert copy.read_bytes() == before


def test_template_dates_are_rendered_in_the_sheets_time_zone(tmp_path):
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    path = tmp_path / "crm.xlsx"
    assert main(["init", "--sheet", str(path)]) == 0
    leads = load_workbook(path)["Leads"]
    header = [c.value for c in leads[1]]
    created = leads.cell(2, header.index("Created at") + 1).value  # {now-2h} in the template
    local = datetime.now(UTC).astimezone(ZoneInfo("America/New_York")).replace(tzinfo=None)
    assert abs(local - timedelta(hours=2) - created) < timedelta(minutes=5)


def test_the_cli_remembers_parsed_contacts_between_runs(sheet, capsys):
    from sheetcrm.files.memo_cache import load_memo, memo_file

    assert main(["sync", "--sheet", str(sheet), "--now", "2026-11-23T10:00"]) == 0
    first = capsys.readouterr().out
    memo = load_memo(str(sheet.resolve()))
    assert memo.email("priya.shah@northwind.example") == ("priya.shah@northwind.example", "")
    assert any("(415) 555-0132" in texts for texts in memo.phones.values())
    memo_file(str(sheet.resolve())).write_text("{not json", encoding="utf-8")  # a damaged cache
    assert main(["sync", "--sheet", str(sheet), "--now", "2026-11-23T10:00"]) == 0
    assert "Nothing to change" in capsys.readouterr().out and "50 new IDs" in first


def test_output_cut_short_by_a_closed_pipe_exits_quietly(tmp_path):
    """``sheetcrm sync ... | head``: once head has its lines and closes the pipe, the command
    stops without "error: Broken pipe" or a traceback on stderr."""
    import subprocess
    import sys
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src"
    command = [sys.executable, "-m", "sheetcrm", "init", "--sheet", str(tmp_path / "crm.xlsx")]
    env = {"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # head, done reading before anything was written
    with proc.stderr:
        stderr = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert stderr == ""
    assert (tmp_path / "crm.xlsx").exists()  # the work itself was done


def test_a_sync_that_ran_beside_another_does_not_blame_a_person(sheet, capsys, monkeypatch):
    """Two syncs at once on a workbook: the second finds the first's cells where it read
    empty ones. Nothing in the workbook says who wrote a cell, so the line names both."""
    from datetime import UTC, datetime

    from sheetcrm.backends.apply import sync_once
    from sheetcrm.backends.workbook import WorkbookBackend

    read = WorkbookBackend.read
    others = []

    def read_then_another_sync_runs(self, texts=None):
        snapshot = read(self, texts)
        if not others:
            others.append("the other sync")  # once: its own read comes back here
            now = datetime(2026, 11, 23, 10, 0)
            sync_once(WorkbookBackend(self.path), now, datetime.now(UTC))
        return snapshot

    capsys.readouterr()
    monkeypatch.setattr(WorkbookBackend, "read", read_then_another_sync_runs)
    assert main(["sync", "--sheet", str(sheet), "--now", "2026-11-23T10:00"]) == 0
    out = capsys.readouterr().out
    assert others and "cells left alone" in out
    assert "someone edited them" not in out
    assert "another sync" in out


def test_version_says_the_packages_version(capsys):
    from sheetcrm import __version__

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"sheetcrm {__version__}"


@pytest.mark.parametrize(
    ("argv", "names"),
    [([], ["init", "sync", "import", "serve", "outbox"]), (["outbox"], ["list", "retry", "erase"])],
)
def test_a_command_without_what_to_do_prints_its_help(argv, names, capsys):
    # exit 0, as `pip` or `docker` alone do: asking for nothing is how a newcomer asks what
    # there is (a usage error, a wrong option, still exits 2, as argparse does)
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: sheetcrm")
    assert all(f"    {name} " in out for name in names), out
    with pytest.raises(SystemExit) as done:
        main(["--no-such-option"])
    assert done.value.code == 2


def _parsers(parser, path=("sheetcrm",)):
    """Every parser of the command line, with the words that reach it."""
    import argparse

    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, (*path, name))


def test_every_option_and_argument_has_a_help_text():
    import argparse

    from sheetcrm.cli import build_parser

    walked = list(_parsers(build_parser()))
    assert len(walked) > 10  # the walk reached the outbox's actions too
    missing = [
        f"{' '.join(path)} {action.dest}"
        for path, parser in walked
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction)
        and (not action.help or action.help == argparse.SUPPRESS)
    ]
    assert missing == []


def test_the_readme_says_how_to_reach_sheetcrm_and_sets_the_task_token_for_serve():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "source .venv/bin/activate" in readme and ".venv/bin/sheetcrm" in readme
    block = readme[: readme.index("sheetcrm serve --sheet")].rsplit("```sh", 1)[1]
    assert "export SHEETCRM_TASK_TOKEN=" in block  # set before the service starts
