"""Web submissions the service holds and the sheet does not show: a banner on Problems.

A manager never sees the service's log. When the sheet keeps refusing the web leads (a
spreadsheet at Google's 10-million-cell cap refused every flush, issue 21), or some can never
become rows as they are, the sync says so at the top of Problems: how many, since when, why,
and what to do. Submissions refused only briefly (a quota, another sync's turn) are not news.
Pure: the service counts them (intake/waiting.py), the sync words them in the sheet's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sheetcrm.engine.catalog import N_, _
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.schema import LEADS
from sheetcrm.engine.values import format_datetime

NOTICE_AFTER = timedelta(minutes=10)
"""How long a refused submission waits before the sheet is told: a few flushes' backoff."""

CELL_CAP = "above the limit of"  # Google's words for its cell cap, the stand-in's too
LONGEST_REASON = 300  # characters of the sheet's own error shown
# the banners' words, which a later write also tells them apart by (is_waiting_banner)
WAITS = N_("web submissions wait outside the sheet: %(why)s")
ASIDE = N_("web submissions set aside: they cannot become leads as they are")


@dataclass(frozen=True)
class Waiting:
    refused: int  # pending and refused; 0 until one is refused again and the oldest is
    # NOTICE_AFTER old (intake/waiting.py)
    since: datetime | None  # when the oldest of them was received (aware)
    error: str  # why its last try failed, as the service logged it
    dead: int  # set aside: they cannot become rows as they are


def waiting_banners(waiting: Waiting | None, zone: tzinfo) -> list[Problem]:
    """The rows at the top of Problems for ``waiting``; ``zone``: the sheet's time zone,
    for the time the oldest was received."""
    if waiting is None:
        return []
    rows = []
    if waiting.refused and waiting.since is not None:
        since = format_datetime(waiting.since.astimezone(zone).replace(second=0, microsecond=0))
        why, fix = reason(waiting.error, _("the service tries again every few minutes"))
        rows.append(
            Problem(
                LEADS.name,
                LEADS.name,
                _(WAITS) % {"why": why},
                _(
                    "%(n)d waiting since %(since)s, none lost: each is added once the sheet "
                    "takes it; %(fix)s"
                )
                % {"n": waiting.refused, "since": since, "fix": fix},
            )
        )
    if waiting.dead:
        rows.append(
            Problem(
                LEADS.name,
                LEADS.name,
                _(ASIDE),
                _(
                    "%(n)d set aside; whoever runs the service lists them with `sheetcrm "
                    "outbox list --state dead` and adds them with `sheetcrm outbox retry` "
                    "once fixed"
                )
                % {"n": waiting.dead},
            )
        )
    return rows


def is_waiting_banner(problem: str) -> bool:
    """Whether ``problem`` (the Problem cell of a row) is one of :func:`waiting_banners`'s,
    in the language spoken now."""
    return problem.startswith(_(WAITS) % {"why": ""}) or problem == _(ASIDE)


def reason(error: str, otherwise: str) -> tuple[str, str]:
    """Why the sheet refused a write, in a manager's words, and what to do (``otherwise``
    where there is nothing for them to do but wait)."""
    if CELL_CAP in error:
        return _("the spreadsheet is at Google's limit of 10 million cells"), _(
            "make room: move closed leads to another spreadsheet, or delete tabs, rows "
            "or columns no one uses"
        )
    return " ".join(error.split())[:LONGEST_REASON], otherwise
