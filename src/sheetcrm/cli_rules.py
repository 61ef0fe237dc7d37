"""``sheetcrm rules preview``: what the draft rules (Status: draft on Scoring and Routing)
would change if published, as the sync's Preview tab shows it; writes nothing."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sheetcrm.backends import open_backend
from sheetcrm.engine.sync import plan_sync


def cmd_rules_preview(args: argparse.Namespace) -> int:
    backend = open_backend(args.sheet)
    plan = plan_sync(backend.read(), args.clock(args.now))
    if plan.preview is None:  # the sheet cannot be synced at all: say why
        for problem in plan.problems[:8]:
            print(f"{problem.cell}: {problem.problem}")
        return 0
    for row in [plan.preview.header, *plan.preview.rows]:
        cells = [c for c in row if c != ""]
        print("  ".join(cells) if cells else "")
    return 0


def add_rules_commands(
    sub: Any,
    sheet_arg: Callable[[argparse.ArgumentParser], None],
    now_arg: Callable[[argparse.ArgumentParser], None],
    clock: Callable[[str | None], datetime],
) -> None:
    """``clock``: what ``--now`` says (the CLI's reading of it), else the real clock."""
    rules = sub.add_parser("rules", help="the Scoring and Routing rules: preview the drafts")
    box = rules.add_subparsers(dest="rules_command", metavar="COMMAND")
    rules.set_defaults(run=None, parser=rules)
    p = box.add_parser(
        "preview",
        help="what the draft rules would change if published; writes nothing",
        description="Runs the scoring and routing a second time with the rule rows whose "
        "Status is draft, and prints how many leads would change Score, Grade, Lifecycle or "
        "Owner, the biggest changes with the draft rules behind them, and the rule Score's "
        "AUC live and with the drafts (the sync writes the same on the Preview tab).",
    )
    sheet_arg(p)
    now_arg(p)
    p.set_defaults(run=cmd_rules_preview, clock=clock)
