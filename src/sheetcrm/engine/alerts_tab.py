"""The Alerts tab -> alert rules: one rule per row, When something happens to a lead (and its
optional condition holds), tell Send to on Channel. A row with a problem is left out and
said at its cell; the other rows still apply, as a missed alert must not stop a sync."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from sheetcrm.engine.catalog import _
from sheetcrm.engine.hints import suggest
from sheetcrm.engine.rule_tab import RuleTab, read_conditions
from sheetcrm.engine.rules import Condition
from sheetcrm.engine.schema import ALERTS, Kind
from sheetcrm.engine.stages_tab import Stage
from sheetcrm.engine.table import Table, norm_header
from sheetcrm.engine.team_tab import Member

EVENTS = (
    "lead assigned",
    "lifecycle reaches MQL",
    "lifecycle reaches SQL",
    "stage entered",
    "deal won",
    "deal lost",
    "follow-up overdue",
    "deal stale",
    "first-touch SLA missed",
)
OWNER = "owner"
MANAGER = "manager"  # the owner's manager, from the Team tab's Manager column
EMAIL = "email"
_OWNER_WORDS = {"owner", "the owner", "lead owner", "the lead's owner", "lead's owner"}
_MANAGER_WORDS = {"manager", "owner's manager", "the owner's manager", "the manager"}
_EMAIL_WORDS = {"email", "e-mail", "mail"}


@dataclass(frozen=True)
class AlertRule:
    row: int  # the rule's row on the Alerts tab, as the sheet numbers it
    event: str  # one of EVENTS
    stage: str  # for "stage entered": the stage's name, "" for any
    conditions: tuple[Condition, ...]
    send_to: (
        str  # OWNER, MANAGER, an e-mail address, a Team person's or team's name, or "" (channel)
    )
    recipients: tuple[str, ...]  # e-mail addresses a Team name stands for
    channel: str  # EMAIL or a chat channel's name
    message: str


def parse_alerts(
    table: Table | None,
    fields: dict[str, Kind | None],
    stages: list[Stage] | None,
    team: list[Member],
    dayfirst: bool,
    zone: tzinfo,
    decimal: str | None = None,
) -> tuple[list[AlertRule], RuleTab]:
    """The Alerts rules; a sheet from before the tab existed simply has none. ``stages``
    None: the Stages tab cannot be read, so a stage named is taken as written."""
    if table is None:
        return [], RuleTab(ALERTS, Table([]), [])
    tab = RuleTab(ALERTS, table, ["When", "Send to"])
    events = {norm_header(e): e for e in EVENTS}
    stage_names = {norm_header(s.name): s.name for s in stages or ()}
    rules = []
    for i, cells in list(tab.rows()):
        row, before = Table.sheet_row(i), len(tab.problems)
        event = events.get(norm_header(cells["When"]))
        if event is None:
            tab.problem(
                row,
                "When",
                _("%(text)r is not an event an alert can follow") % {"text": cells["When"]}
                if cells["When"]
                else _("the rule says not When to alert"),
                suggest(cells["When"], list(EVENTS)),
            )
        stage = ""
        if cells["Stage"]:
            unread = stages is None
            stage = cells["Stage"] if unread else stage_names.get(norm_header(cells["Stage"]), "")
            if event != "stage entered":
                tab.problem(
                    row, "Stage", _("only a 'stage entered' rule names a stage"), _("clear Stage")
                )
            elif not stage:
                tab.problem(
                    row,
                    "Stage",
                    _("%(text)r is not a stage on the Stages tab") % {"text": cells["Stage"]},
                    suggest(cells["Stage"], list(stage_names.values())),
                )
        conditions = read_conditions(tab, [(i, cells)], fields, dayfirst, zone, decimal=decimal)
        channel = EMAIL if norm_header(cells["Channel"]) in _EMAIL_WORDS | {""} else ""
        channel = channel or cells["Channel"]
        send_to, recipients = _recipient(tab, row, cells["Send to"], channel, team)
        if len(tab.problems) == before:
            rules.append(
                AlertRule(
                    row,
                    event or "",
                    stage,
                    conditions,
                    send_to,
                    recipients,
                    channel,
                    cells["Message"],
                )
            )
    return rules, tab


def _recipient(
    tab: RuleTab, row: int, text: str, channel: str, team: list[Member]
) -> tuple[str, tuple[str, ...]]:
    if not text:
        if channel != EMAIL:
            return "", ()  # the chat channel itself is who is told
        tab.problem(row, "Send to", _("an e-mail alert says not whom to send to"), _send_hint())
        return "", ()
    key = norm_header(text)
    if key in _OWNER_WORDS:
        return OWNER, ()
    if key in _MANAGER_WORDS:
        return MANAGER, ()
    if "@" in text and " " not in text:
        return text, (text,)
    person = [m for m in team if norm_header(m.name) == key]
    members = person or [m for m in team if norm_header(m.team) == key and m.active]
    if members:
        return text, tuple(m.email for m in members if m.email)
    tab.problem(
        row,
        "Send to",
        _("%(name)r is not on the Team tab") % {"name": text},
        suggest(
            text,
            sorted({"owner", "manager", *(m.name for m in team), *(m.team for m in team)} - {""}),
        )
        or _send_hint(),
    )
    return "", ()


def _send_hint() -> str:
    return _(
        "write owner, manager (the owner's), a Name or Team from the Team tab, or an e-mail address"
    )
