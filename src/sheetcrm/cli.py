"""The command line: each command opens the sheet, makes one library call, reports.

Library errors become a clean message with a hint and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from sheetcrm import __version__
from sheetcrm.backends import open_backend
from sheetcrm.backends.apply import apply, sync_once
from sheetcrm.backends.holders import new_holder
from sheetcrm.backends.setup import set_up
from sheetcrm.backends.sheets_address import spreadsheet_id
from sheetcrm.cli_nurture import add_nurture_commands
from sheetcrm.cli_rules import add_rules_commands
from sheetcrm.cli_service import (
    add_outbox_commands,
    cmd_background,
    cmd_serve,
    outbox_waiting,
    sync_notices,
)
from sheetcrm.engine.changes import Changes
from sheetcrm.engine.config import parse_config
from sheetcrm.engine.importer import map_columns, plan_import
from sheetcrm.engine.schema import HISTORY, LEADS, PROBLEMS, SETTINGS
from sheetcrm.engine.settings_tab import parse_settings
from sheetcrm.engine.sync import local_now, plan_sync
from sheetcrm.engine.tab_headers import canonical_table
from sheetcrm.engine.table import Table
from sheetcrm.errors import SheetCRMError
from sheetcrm.files.demo_history import stage_moves
from sheetcrm.files.exports import read_table
from sheetcrm.files.memo_cache import load_memo, save_memo
from sheetcrm.files.templates import available_templates, blank, load_template

DEMO_FILE = "sheetcrm-demo.xlsx"


def _now(text: str | None) -> datetime:
    """``--now`` is the sheet's local time; without it, the real clock (UTC, made local later)."""
    if not text:
        return datetime.now(UTC)
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise SheetCRMError(
            f"--now {text!r} is not a date and time", "write it like 2026-01-31T09:00"
        ) from exc


def _template(name: str, fixed: str | None) -> dict[str, Table]:
    """The template's tabs, its date tokens rendered in the template's own time zone (its
    Settings), as the sync will stamp them: "{now-2h}" is two hours before this sync."""
    if fixed:
        return load_template(name, now=_now(fixed).replace(tzinfo=None))
    settings = load_template(name)[SETTINGS.name]
    zone = parse_settings(canonical_table(settings, SETTINGS))[0].zone  # b2b-fr: "Clé"
    local = datetime.now(UTC).astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
    return load_template(name, now=local)


def _where(location: str) -> str:
    """What names a sheet's memo: its Google ID, or a workbook's absolute path."""
    return location if spreadsheet_id(location) else str(Path(location).resolve())


def cmd_init(args: argparse.Namespace) -> int:
    backend = open_backend(args.sheet)
    template = _template(args.template, args.now)
    tabs = blank(template) if args.blank else template
    for line in set_up(
        backend,
        tabs,
        blank(template),
        _now(args.now),
        datetime.now(UTC),
        force=args.force,
        dry_run=args.dry_run,
    ):
        print(line)
    if not args.dry_run:
        print(f"Next: sheetcrm sync --sheet {args.sheet}")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    backend = open_backend(args.sheet)
    memo = load_memo(_where(args.sheet))
    if args.dry_run:
        plan = plan_sync(backend.read(), _now(args.now), memo)
        for line in plan.describe(args.limit):
            print(line)
        print(
            f"Dry run: {plan.summary.line()}; {plan.cell_count} cells would change, "
            "nothing written."
        )
        return 0
    notices, where = sync_notices(args)
    try:
        told = outbox_waiting(notices)  # what the service's outbox holds that the sheet refused
        now, holder = _now(args.now), new_holder()
        plan, report = sync_once(backend, now, datetime.now(UTC), memo, holder, notices, (), told)
    finally:
        if notices is not None:
            notices.db.close()
    save_memo(_where(args.sheet), memo)
    print(f"Synced {args.sheet}: {plan.summary.line()}.")
    if plan.notifications:
        count = len(plan.notifications)
        print(
            f"{count} notifications stored in the outbox ({where}): the service sends them."
            if notices is not None
            else f"{count} notifications planned and not sent: {where}; `sheetcrm serve` "
            "makes the outbox and sends those of later syncs (docs/alerts.md)."
        )
    written = f"{report.cells} cells written, {report.appended} rows appended"
    if report.replaced:
        tabs = "1 tab" if len(report.replaced) == 1 else f"{len(report.replaced)} tabs"
        written += f", {tabs} rewritten ({', '.join(report.replaced)})"
    if report.conflicts > report.moved:
        # Who changed them cannot be told: the sheet keeps no author per cell, and another
        # sync's write and a person's edit can fall in the same moments.
        written += (
            f"; {report.conflicts - report.moved} cells left alone because they changed since "
            "this sync read them (a person's edit or another sync's write; the next sync "
            "picks them up)"
        )
    if report.moved:
        written += (
            f"; {report.moved} cells landed on another lead while the sheet changed (a sort, "
            "or rows inserted or deleted) and were put back on their leads (see History)"
        )
    if report.unrepaired:
        written += f"; could not put right: {', '.join(report.unrepaired[:5])}; sync again"
    print(written if report.written else "Nothing to change: the sheet is up to date.")
    if report.leftovers:
        copies = "copy" if len(report.leftovers) == 1 else "copies"
        print(
            f"Removed {len(report.leftovers)} temporary {copies} of the workbook left by saves "
            f"that were interrupted: {', '.join(report.leftovers)}"
        )
    if plan.summary.drafts:
        print(
            f"Draft rules, not applied: {', '.join(plan.summary.drafts)}; what they would "
            "change: the Preview tab, or `sheetcrm rules preview`."
        )
    for banner in plan.banners:  # a rule tab applied as it was last valid, or not at all
        print(f"{banner.problem}.")
    _show_problems(plan.problems, plan.summary.problems)
    return 0


def _show_problems(problems: list, total: int, limit: int = 8, heading: str = "") -> None:
    if not total:
        return
    print(
        heading
        or f"{total} problems (the first {min(total, 1000)} are on the {PROBLEMS.name} tab, "
        "and each row's Status says what is wrong with it):"
    )
    for p in problems[:limit]:
        lead = f" ({p.lead})" if p.lead else ""
        print(f"  {p.cell}{lead}: {p.problem}" + (f" — {p.hint}" if p.hint else ""))
    if total > limit:
        print(f"  ... and {total - limit} more")


def cmd_import(args: argparse.Namespace) -> int:
    source = read_table(args.file)
    backend = open_backend(args.sheet)
    snapshot = backend.read()
    config = parse_config(snapshot)
    mapping = map_columns(
        source.header, snapshot.table(LEADS.name).header, args.map or [], args.add_columns
    )
    plan = plan_import(
        snapshot, source, mapping, config.settings, local_now(_now(args.now), config)
    )
    for src, dst in mapping.pairs:
        print(f"  {src} -> {dst}" + (" (new column)" if src.strip() in mapping.added else ""))
    if mapping.unmapped:
        print(f"Not imported (no matching Leads column): {', '.join(mapping.unmapped)}")
        print('  map one with --map "column=Leads header", or add them all with --add-columns')
    _show_problems(plan.refused, len(plan.refused), heading=plan.refusal)
    if plan.appends or plan.history:
        apply(plan, backend, snapshot)
    if not plan.appends:
        print(f"Nothing to import: {plan.empty_because}.")
        return 0
    print(f"Appended {len(plan.appends)} rows to {LEADS.name} in {args.sheet}.")
    if args.no_sync:
        return 0
    sync_plan, _ = sync_once(backend, _now(args.now), datetime.now(UTC))
    print(f"Synced: {sync_plan.summary.line()}.")
    _show_problems(sync_plan.problems, sync_plan.summary.problems)
    return 0


# Each line starts with the tabs it names (tests/test_cli.py checks they are in the demo)
DEMO_GUIDE = """
Open {path} in Excel or LibreOffice and look at:
  Leads          Score and Score reasons (why each lead scored what it did), Grade, Win
                 probability, Lifecycle, Owner (routed by the Routing tab), Status (problems,
                 stale deals, follow-ups due), Duplicate of
  History        every owner assignment and stage change, with the reason and who made it
  Activities     calls, e-mails and meetings logged against a lead (type one in)
  Problems       what is wrong and where (tab, cell, lead, hint)
  Dashboard, Funnel, By owner, By source, Forecast: the figures, rewritten at each sync
  Scoring check  how well the Score and the Win probability tell won from lost
  Sequences, Enrolment, Nurture: nurture e-mails (the examples are drafts: no mail is sent)
  Scoring, Routing, Team, Stages, Settings: the rules, in plain words. Change one, then:
    sheetcrm sync --sheet {path}
  Preview        what a rule marked draft on Scoring or Routing would change, before it does"""


def cmd_demo(args: argparse.Namespace) -> int:
    path = Path(args.sheet)
    existed = path.exists()
    if existed and path.name != DEMO_FILE and not args.force:
        raise SheetCRMError(
            f"{path} already exists",
            "pick another file for the demo, or add --force to replace it (after a copy)",
        )
    backend = open_backend(str(path))
    if existed and path.name != DEMO_FILE:  # --force: a file of the person's, kept first
        print(f"Kept a copy of {path} as it was: {backend.keep_copy(datetime.now(UTC), 0)}")
    now = _now(args.now)
    tabs = _template("b2b-en", args.now)
    backend.provision(tabs, force=True)
    plan, _ = sync_once(backend, now, datetime.now(UTC))
    snapshot = backend.read()
    config = parse_config(snapshot)
    # the sample deals' past stage moves, once they have IDs: the Funnel then has a story
    moves = stage_moves(
        snapshot.table(LEADS.name), config.stages, local_now(now, config).replace(tzinfo=None)
    )
    backend.write(Changes(snapshot.version, appends={HISTORY.name: moves}))
    sync_once(backend, now, datetime.now(UTC))
    print(
        f"{'Replaced' if existed else 'Created'} {path} with 50 sample leads, and synced it "
        f"at {local_now(now, config):%Y-%m-%d %H:%M}."
    )
    print(f"  {plan.summary.line()}.")
    print(DEMO_GUIDE.format(path=path))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sheetcrm", description="A spreadsheet turned into a lead-management system."
    )
    parser.add_argument(
        "--version", action="version", version=f"sheetcrm {__version__}", help="say the version"
    )
    # not required: a bare `sheetcrm` (or `sheetcrm outbox`) prints its help, see main()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.set_defaults(run=None, parser=parser)

    def sheet_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--sheet", required=True, help="a local .xlsx path, or a Google Sheets URL or ID"
        )

    def outbox_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--outbox",
            help="the outbox database URL (SHEETCRM_OUTBOX; default: a SQLite file beside "
            "the workbook)",
        )

    def now_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--now",
            help="fix the clock, in the sheet's time zone: 2026-01-31T09:00 (a time its clocks "
            "skip is refused; an offset, +01:00, picks one pass of the hour they repeat)",
        )

    p = sub.add_parser(
        "init",
        help="set a sheet up: a new one from a template, or adopt one that holds leads",
        description="On a new or empty sheet: the template's tabs. On a sheet that holds "
        "data: adopt it (find the leads tab, read its headers, add the missing columns at the "
        "right and the missing tabs); nothing a person typed is moved, rewritten or deleted.",
    )
    sheet_arg(p)
    p.add_argument(
        "--template",
        default="b2b-en",
        choices=available_templates(),
        help="the template a new sheet starts from (b2b-en)",
    )
    p.add_argument(
        "--blank",
        action="store_true",
        help="no sample leads, team or fallback owner: a real, empty CRM (`demo` has samples)",
    )
    p.add_argument("--dry-run", action="store_true", help="say what would be added; write nothing")
    p.add_argument(
        "--force",
        action="store_true",
        help="start a workbook over from the template, after keeping a copy of it (refused on "
        "a Google Sheet that holds data)",
    )
    now_arg(p)
    p.set_defaults(run=cmd_init)

    p = sub.add_parser("sync", help="validate, score, route and stamp; write back")
    sheet_arg(p)
    p.add_argument("--dry-run", action="store_true", help="print the changes, write nothing")
    p.add_argument("--limit", type=int, default=500, help="most lines --dry-run prints")
    outbox_arg(p)
    now_arg(p)
    p.set_defaults(run=cmd_sync)

    p = sub.add_parser("import", help="append a CSV or XLSX export to Leads, then sync")
    p.add_argument("file", help="the .csv or .xlsx file to import")
    sheet_arg(p)
    p.add_argument(
        "--map",
        action="append",
        metavar="'COLUMN=LEADS HEADER'",
        help="map a column of the file to a Leads header; repeatable",
    )
    p.add_argument(
        "--add-columns",
        action="store_true",
        help="add the file's unmatched columns to Leads instead of skipping them",
    )
    p.add_argument("--no-sync", action="store_true", help="append only; do not sync")
    now_arg(p)
    p.set_defaults(run=cmd_import)

    p = sub.add_parser("demo", help="create a sample sheet, sync it, and say where to look")
    p.add_argument("--sheet", default=DEMO_FILE, help=f"where to write it ({DEMO_FILE})")
    p.add_argument("--force", action="store_true", help="replace that file if it exists")
    now_arg(p)
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser("serve", help="run the web-form intake and scheduled syncs")
    sheet_arg(p)
    p.add_argument("--port", type=int, default=8080, help="the port to listen on (8080)")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (127.0.0.1)")
    outbox_arg(p)
    p.set_defaults(run=cmd_serve)

    p = sub.add_parser(
        "background",
        help="flush web-form submissions and run the scheduled syncs, without serving HTTP",
        description="What `serve` does in a background thread, as a process of its own: "
        "gunicorn.conf.py keeps one running beside gunicorn's workers. Settings come from "
        "the SHEETCRM_* environment variables, as for the web service. SIGTERM stops it.",
    )
    p.add_argument(
        "--sheet", help="a local .xlsx path, or a Google Sheets URL or ID (SHEETCRM_SHEET)"
    )
    outbox_arg(p)
    p.add_argument("--exit-with", type=int, metavar="PID", help="stop when process PID has gone")
    p.set_defaults(run=cmd_background)

    add_outbox_commands(sub, sheet_arg, outbox_arg)
    add_nurture_commands(sub, sheet_arg, now_arg, _now)
    add_rules_commands(sub, sheet_arg, now_arg, _now)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.run is None:  # `sheetcrm` alone, or `sheetcrm outbox`: what there is to do
        args.parser.print_help()
        return 0
    try:
        status = int(args.run(args))
        sys.stdout.flush()  # here, so that a closed pipe is caught below, not at exit
        return status
    except BrokenPipeError:
        # `sheetcrm sync | head`: the reader has what it wanted. Python's documented way:
        # point stdout at devnull so the flush at exit does not fail again, and stop.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except SheetCRMError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 1
    except OSError as exc:  # permissions, a full disk, a vanished folder: say which file
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        print("hint: check the path and that you may write there", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
