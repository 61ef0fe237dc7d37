"""Step ``alerts``: the notifications the Alerts rules ask for, from what this very sync
changed: owners it assigned, stage changes and lifecycle steps it stamped, and flags (follow-up
overdue, stale, first touch missed) the Status did not show before. Nothing is sent here;
an event of an earlier sync is not seen again, so a re-sync with nothing new plans nothing.
"""

from __future__ import annotations

from array import array

import numpy as np
import pandas as pd

from sheetcrm.engine.alert_messages import AlertMessages
from sheetcrm.engine.alerts_tab import MANAGER, OWNER, AlertRule
from sheetcrm.engine.catalog import N_, _, current
from sheetcrm.engine.notifications import one_line
from sheetcrm.engine.problems import FIRST_TOUCH, FOLLOW_UP, STALE, Flag
from sheetcrm.engine.scoring import LIFECYCLE
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.table import Table, norm_header


class Happened:
    """One event's occurrences, in order, as columns: each one's lead row, when, what
    happened, and the stage's name or "". A first sync has 100,000s of them (owners
    assigned, lifecycle steps, flags): a tuple and an int each held 28 MB through the step."""

    def __init__(self) -> None:
        self.rows = array("q")
        self.whens: list[str] = []
        self.whats: list[str] = []
        self.stages: list[str] = []

    def add(self, row: int, when: str, what: str, stage: str = "") -> None:
        self.rows.append(row)
        self.whens.append(when)
        self.whats.append(what)
        self.stages.append(stage)

    def extend(self, rows: np.ndarray, whens: list[str], whats: list[str]) -> None:
        """Events of no stage at ``rows``, one when and what each."""
        self.rows.extend(rows.tolist())
        self.whens += whens
        self.whats += whats
        self.stages += [""] * len(rows)


Events = dict[str, Happened]

_FLAGS = (  # (the flag's kind, event): by kind, as the flag's words are the sheet's language
    (FOLLOW_UP, "follow-up overdue"),
    (STALE, "deal stale"),
    (FIRST_TOUCH, "first-touch SLA missed"),
)


_DEALS = {"won": N_("deal won: %(stage)s"), "lost": N_("deal lost: %(stage)s")}


def plan_alerts(state: SyncState) -> SyncState:
    rules = state.config.alerts
    if not rules:
        return state  # the common case costs nothing per lead
    events = _events(state)
    owners = state.data["Owner"].to_numpy(dtype=object) if "Owner" in state.data else None
    team = state.config.team
    emails = {norm_header(m.name): m.email for m in team}
    managers = {norm_header(m.name): m.manager for m in team if m.manager}
    names = LeadNames(state)
    for rule in rules:
        happened = events.get(rule.event, Happened())
        rows = np.asarray(happened.rows, dtype=np.int64)
        picked = np.ones(len(rows), dtype=bool)
        if rule.stage:
            stage = norm_header(rule.stage)
            picked = np.array([norm_header(s) == stage for s in happened.stages], dtype=bool)
        if not picked.any():
            continue
        holds = np.ones(len(state.data), dtype=bool)
        for condition in rule.conditions:
            holds &= condition.mask(state.view)
        messages: AlertMessages | None = None
        told: dict[str, list[str]] = {}  # by owner: whom the rule tells of their leads
        for i in np.flatnonzero(picked & holds[rows]).tolist():
            row = happened.rows[i]
            owner = str(owners[row]).strip() if owners is not None else ""
            if (recipients := told.get(owner)) is None:
                # no manager: nobody to tell
                to = managers.get(norm_header(owner), "") if rule.send_to == MANAGER else owner
                recipients = told[owner] = _recipients(rule, to, emails)
            if not recipients:
                continue
            if messages is None:
                words = _Wording(rule)
                messages = AlertMessages(
                    rule.row, rule.event, rule.channel, rule.message, words, current()
                )
            lead_id, at, name = state.ids[row], leads_row(state, row), names[row]
            what, when, stage = happened.whats[i], happened.whens[i], happened.stages[i]
            for recipient in recipients:
                messages.add(lead_id, at, when, what, stage, name, owner, recipient)
        if messages is not None:
            state.plan.notifications.add(messages)
    return state


class _Wording:
    """The texts of one rule's messages, each looked up in the catalogue once per sync, not
    once per lead: a first sync tells 100,000 owners of their new leads."""

    def __init__(self, rule: AlertRule) -> None:
        self.text = _("%(what)s (lead %(id)s, Leads row %(row)s; Alerts row %(rule)s)")
        self._named, self._a_stage = _(": %(name)s"), _("a stage")  # as named() says it
        if rule.event == "lead assigned":
            self._subject = (
                _("New lead %(id)s is yours%(name)s")
                if rule.send_to == OWNER
                else _("Lead %(id)s assigned to %(owner)s%(name)s")
            )
        else:
            self._subject = _(_SUBJECTS[rule.event])

    def subject(self, lead_id: str, name: str, owner: str, stage: str) -> str:
        named = self._named % {"name": name} if name else ""
        said = {"id": lead_id, "name": named, "owner": owner, "stage": stage or self._a_stage}
        return one_line(self._subject % said, 150)


def _recipients(rule: AlertRule, owner: str, emails: dict[str, str]) -> list[str]:
    if rule.send_to not in (OWNER, MANAGER):
        return list(rule.recipients) if rule.recipients else [rule.send_to]
    if not owner:
        return []  # nobody to tell: the lead has no owner
    if rule.channel == "email":
        return [emails.get(norm_header(owner)) or owner]
    return [owner]  # named in the chat channel


def leads_row(state: SyncState, row: int) -> int:
    """Lead ``row``'s row on Leads as the sheet numbers it: what a message links to."""
    return Table.sheet_row(int(state.positions[row]))


_SUBJECTS = {  # event -> subject, from the lead's ID (id), ": name" (name) and stage
    "lifecycle reaches MQL": N_("Lead %(id)s is now an MQL%(name)s"),
    "lifecycle reaches SQL": N_("Lead %(id)s is now an SQL%(name)s"),
    "stage entered": N_("Lead %(id)s entered %(stage)s%(name)s"),
    "deal won": N_("Deal won: %(id)s%(name)s"),
    "deal lost": N_("Deal lost: %(id)s%(name)s"),
    "follow-up overdue": N_("Follow-up overdue on %(id)s%(name)s"),
    "deal stale": N_("Deal stalled: %(id)s%(name)s"),
    "first-touch SLA missed": N_("First touch overdue on %(id)s%(name)s"),
}


def named(name: str) -> str:
    """A lead's name as a subject ends with it: ": Acme", or nothing without a name."""
    return _(": %(name)s") % {"name": name} if name else ""


class LeadNames:
    """Each lead's name for a message: its Company, else its person's name, else its Email,
    on one line; looked up only for the leads a message is about."""

    def __init__(self, state: SyncState) -> None:
        data = state.data
        self._columns = [
            data[c].to_numpy(dtype=object) if c in data else None
            for c in ("Company", "First name", "Last name", "Email")
        ]

    def __getitem__(self, row: int) -> str:
        company, first, last, email = [
            str(c[row]).strip() if c is not None else "" for c in self._columns
        ]
        return one_line(company or f"{first} {last}".strip() or email, 80)


def _events(state: SyncState) -> Events:
    events: Events = {}
    stamp = state.stamp
    # one text per owner and per pair of stages, shared by every event that says it: a
    # first sync assigns 100,000 leads to a handful of owners
    assigned: dict[str, str] = {}
    moved: dict[tuple[str, str], str] = {}
    for row, entry, stamp_column in state.plan.history:
        field, after = entry[2], entry[4]
        if field == "Owner" and after:
            if (what := assigned.get(after)) is None:
                what = assigned[after] = _("assigned to %(owner)s") % {"owner": after}
            events.setdefault("lead assigned", Happened()).add(row, stamp, what)
        elif field == "Stage" and after and stamp_column == "Stage changed at":
            if (what := moved.get((entry[3], after))) is None:
                what = moved[entry[3], after] = _("stage %(before)s → %(after)s") % {
                    "before": entry[3] or _("(none)"),
                    "after": after,
                }
            events.setdefault("stage entered", Happened()).add(row, stamp, what, after)
            stage = state.config.stage(after)
            if stage is not None and stage.type in ("won", "lost"):
                event = f"deal {stage.type}"
                said = _(_DEALS[stage.type]) % {"stage": after}
                events.setdefault(event, Happened()).add(row, stamp, said, after)
    # a re-sync that changed no Lifecycle cell has no lead reach a step: one compare in C,
    # not two columns ranked
    if "Lifecycle" in state.read and not np.array_equal(
        state.read["Lifecycle"].to_numpy(), state.data["Lifecycle"].to_numpy()
    ):
        rank = {name.casefold(): i for i, name in enumerate(LIFECYCLE)}

        def ranks(values: object) -> np.ndarray:
            # each distinct Lifecycle text ranked once: a column of a handful of words
            codes, texts = pd.factorize(np.asarray(values, dtype=object))
            per_text = [rank.get(str(t).strip().casefold(), -1) for t in texts]
            return np.array([*per_text, -1], dtype=np.int64)[codes]  # -1: a missing cell

        was, now = ranks(state.read["Lifecycle"]), ranks(state.data["Lifecycle"])
        for level in ("MQL", "SQL"):
            at = LIFECYCLE.index(level)
            reached = np.flatnonzero((was < at) & (now >= at))
            what = _("lifecycle reached %(level)s") % {"level": level}
            events[f"lifecycle reaches {level}"] = lifted = Happened()
            lifted.extend(reached, [stamp] * len(reached), [what] * len(reached))
    if "Status" not in state.read or "Status" in state.plan.new_columns:
        # A sheet sheetcrm has never synced (a team's own, just adopted): what is overdue
        # or stale there is how things stand, not news; the Status column shows it, and
        # a flag that appears from the next sync on is an event.
        return events
    status = state.read["Status"].to_numpy(dtype=object)
    for flagged, _column, messages, _hint in state.flags:
        rows = np.asarray(flagged, dtype=np.int64)
        kinds, news = _unshown(rows, messages, status)
        for kind, event in _FLAGS:
            new = np.flatnonzero((kinds == kind) & news)
            if len(new):
                # the message names the date it is about: the event's time
                flags = [messages[i] for i in new.tolist()]
                events.setdefault(event, Happened()).extend(rows[new], flags, flags)
    return events


def _unshown(
    rows: np.ndarray, messages: list[str], status: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Of a step's flags (``messages``, one per row of ``rows``), each one's kind and whether
    its row's Status as read does not show it yet (problems.shown). The flags are shared
    objects, one per date: 90,000 flagged leads of a big sheet have a few hundred, so the
    test runs flag by flag over all its rows' Status texts, not through a call per row."""
    if len(rows) != len(messages):
        raise ValueError("one message per flagged row")
    if not len(rows):
        return np.zeros(0, dtype=object), np.zeros(0, dtype=bool)
    # the flag by identity, not by its words: two flags could say the same and differ in kind
    flag = pd.factorize(np.fromiter(map(id, messages), dtype=np.int64, count=len(rows)))[0]
    first = np.zeros(int(flag.max()) + 1, dtype=np.int64)
    first[flag[::-1]] = np.arange(len(flag) - 1, -1, -1)  # where each flag first occurs
    flags = [messages[i] for i in first.tolist()]
    order = np.argsort(flag, kind="stable")  # the rows flag by flag
    cells = status[rows[order]].tolist()
    shows = np.zeros(len(rows), dtype=bool)
    start = 0
    for message, end in zip(flags, np.cumsum(np.bincount(flag)).tolist(), strict=True):
        # what shown() tests, for all of this flag's rows at once: its words in this
        # sync's language first (when among them), as a re-sync's Status cells say them
        words = message.said if isinstance(message, Flag) else (message,)
        for word in sorted(words, key=lambda w: w != message):
            shows[order[start:end]] |= np.array(
                [word in cell for cell in cells[start:end]], dtype=bool
            )
            if shows[order[start:end]].all():
                break  # shown in every row: the other languages' words need no test
        start = end
    kinds = np.array([getattr(m, "kind", None) for m in flags], dtype=object)
    return kinds[flag], ~shows
