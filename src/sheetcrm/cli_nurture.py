"""``sheetcrm nurture preview``: the nurture e-mails due now, rendered as they would go out,
drafts included (marked: never sent). Plans a sync and writes nothing."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime

from sheetcrm.backends import open_backend
from sheetcrm.engine.notifications import Preview
from sheetcrm.engine.sync import plan_sync


def add_nurture_commands(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    sheet_arg: Callable[[argparse.ArgumentParser], None],
    now_arg: Callable[[argparse.ArgumentParser], None],
    now: Callable[[str | None], datetime],
) -> None:
    nurture = sub.add_parser("nurture", help="nurture sequences: preview the e-mails due")
    nurture.set_defaults(run=None, parser=nurture)
    commands = nurture.add_subparsers(dest="nurture_command", metavar="COMMAND")
    p = commands.add_parser(
        "preview",
        help="print the nurture e-mails due now (To, Subject, Body; drafts marked); writes nothing",
    )
    sheet_arg(p)
    p.add_argument("--limit", type=int, default=50, help="most e-mails printed (50)")
    now_arg(p)
    p.set_defaults(run=lambda args: cmd_preview(args, now))


def cmd_preview(args: argparse.Namespace, now: Callable[[str | None], datetime]) -> int:
    plan = plan_sync(open_backend(args.sheet).read(), now(args.now))
    previews = plan.previews
    for preview in previews[: args.limit]:
        print(show(preview))
    more = len(previews) - args.limit
    tail = f" ({more} more not printed: --limit)" if more > 0 else ""
    print(f"{len(previews)} nurture e-mails due{tail}; nothing written, nothing sent.")
    return 0


def show(preview: Preview) -> str:
    """One e-mail as a person reads it: who, when, what; a draft says it is never sent."""
    status = (
        "draft: previewed, never sent"
        if preview.status in ("draft", "brouillon")
        else preview.status
    )
    lines = [
        f"--- {preview.lead_id} · {preview.sequence} step {preview.step} · due "
        f"{preview.due_at} · {status}",
        f"To: {preview.to}",
        f"Subject: {preview.subject}",
        "",
        preview.body,
    ]
    return "\n".join(lines)
