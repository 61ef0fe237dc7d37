"""Step ``sla``: a lead nobody touched within the first-touch SLA goes to the next person.

Settings' ``Reassign after SLA`` = yes turns it on. A lead the ``stages`` step flags as
overdue for its first touch, that routing gave an owner (it has an Assigned at), is routed
again by the same Routing rules, never to anyone it already had in this chain; the new owner
gets it with a History row (Field Owner, Why "first-touch SLA missed after 4 h; ..."), a new
Assigned at (the SLA starts again) and, through the Alerts rules, a ``lead assigned`` alert.
After ``Max reassignments`` such rows, or when nobody else can take it, the lead stays, and
the owner's manager is told once (event ``first-touch SLA missed``).

The chain is read back from History, like a rotation's turns, so nothing is kept elsewhere.
"""

from __future__ import annotations

import numpy as np

from sheetcrm.engine.catalog import N_, _, in_every_language, ngettext
from sheetcrm.engine.history import HistoryFrame
from sheetcrm.engine.notifications import Notification, one_line
from sheetcrm.engine.problems import FIRST_TOUCH, is_flag, shown
from sheetcrm.engine.rotations import ROTATING, Turns, read_turns
from sheetcrm.engine.routing import route
from sheetcrm.engine.schema import HISTORY
from sheetcrm.engine.sync.alerts import LeadNames, leads_row, named
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.table import Table, norm_header

WHY = N_("first-touch SLA missed")
"""How the Why of a reassignment starts, in the sheet's Language: the rows counted toward Max
reassignments start so in any language (a sheet switched to French keeps its count)."""
ESCALATED = "first-touch SLA missed"  # the alert event the manager is told under


def reassign_untouched(state: SyncState) -> SyncState:
    settings, config = state.settings, state.config
    if (
        not settings["Reassign after SLA"]
        or state.frozen & {"reassign", "routing", "stages"}
        or not config.team
        or not config.stages
    ):
        return state
    flagged = _flagged(state)
    frame = state.view
    # only leads routing (or a person's replacement) stamped: an owner typed in with the lead
    # was chosen by a person, and is not taken away
    stamped = ~np.isnat(frame.dates("Assigned at")) & ~frame.blank("Owner")
    rows = [r for r in flagged if stamped[r]]
    if not rows:
        return state
    chains = _chains(state.logged, {state.ids[r] for r in rows})
    owner_keys = frame.keys("Owner")
    most = settings["Max reassignments"]
    again = [r for r in rows if len(chains.get(state.ids[r], ())) < most]
    exclude = {
        r: frozenset({owner_keys[r], *map(norm_header, chains.get(state.ids[r], ()))})
        for r in again
    }
    created = frame.dates("Created at").astype("int64")
    again.sort(key=lambda r: (created[r], state.rank[r]))
    stages = {norm_header(s.name): s for s in config.stages}
    is_open = frame.per_key("Stage", lambda k: k not in stages or stages[k].type == "open")
    rotating = any(r.strategy in ROTATING for r in config.routing)
    turns = _turns(state) if again and rotating else {}
    assignments = route(
        frame,
        again,
        config.routing,
        config.team,
        settings["Fallback owner"],
        is_open,
        turns,
        None,
        exclude,
        state.open_elsewhere,
    )
    owners = state.data["Owner"].to_numpy(dtype=object, copy=True)
    assigned_at = state.data["Assigned at"].to_numpy(dtype=object, copy=True)
    hours = settings["First-touch SLA hours"]
    moved: set[int] = set()
    nobody: dict[int, str] = {}
    for a in assignments:
        if not a.owner:
            nobody[a.row] = a.why
            continue
        missed = _("%(missed)s after %(hours)s h") % {"missed": _(WHY), "hours": f"{hours:g}"}
        why = f"{missed}; {a.why}"
        state.history(a.row, "Owner", str(owners[a.row]), a.owner, why, "Owner")
        owners[a.row], assigned_at[a.row] = a.owner, state.stamp
        moved.add(a.row)
    if moved:
        state.put("Owner", owners)
        state.put("Assigned at", assigned_at)
        _unflag(state, moved)
    stays = [r for r in rows if r not in moved]
    _escalate(state, stays, chains, nobody)
    return state


def _turns(state: SyncState) -> dict[tuple[str, str], Turns]:
    """Each rotation's turns: History's, then those the route step took in this very sync
    (its History rows are only planned), so that a reassignment is the next turn."""
    frame, settings = state.view, state.settings
    turns = read_turns(state.logged, frame.now)
    none = HistoryFrame(Table(HISTORY.headers), settings.dayfirst, settings.zone)
    planned = none.plus(state.plan.history)
    for rotation, now in read_turns(planned, frame.now).items():
        before = turns.get(rotation, Turns())
        turns[rotation] = Turns(now.latest, before.counts + now.counts)
    return turns


def _flagged(state: SyncState) -> list[int]:
    """The leads the stages step flagged as overdue for their first touch."""
    rows: list[int] = []
    for flag_rows, column, messages, _hint in state.flags:
        if column == "Last contact":
            rows += [
                int(r) for r, m in zip(flag_rows, messages, strict=True) if is_flag(m, FIRST_TOUCH)
            ]
    return sorted(set(rows))


def _chains(history: HistoryFrame, wanted: set[str]) -> dict[str, list[str]]:
    """Lead ID -> the owners its first-touch reassignments took it from, oldest first."""
    if not history.rows or not wanted:
        return {}
    starts = in_every_language(lambda: _(WHY))
    ours = history.column("Why").per_text(lambda why: why.startswith(starts))
    ids = history.column("Lead ID")
    mine = ids.per_text(wanted.__contains__)  # each distinct Lead ID looked up once
    picked = np.flatnonzero(ours & history.of_field("owner") & mine)
    chains: dict[str, list[str]] = {}
    for lead, before in zip(ids.cells(picked), history.cells("From", picked), strict=True):
        chains.setdefault(str(lead), []).append(before)
    return chains


def _unflag(state: SyncState, rows: set[int]) -> None:
    """A lead just reassigned starts its SLA again: its overdue flag goes."""
    kept = []
    for flag_rows, column, messages, hint in state.flags:
        if column == "Last contact":
            keep = [
                i
                for i, (r, m) in enumerate(zip(flag_rows, messages, strict=True))
                if not (int(r) in rows and is_flag(m, FIRST_TOUCH))
            ]
            flag_rows, messages = flag_rows[keep], [messages[i] for i in keep]
        kept.append((flag_rows, column, messages, hint))
    state.flags = kept


def _escalate(
    state: SyncState, rows: list[int], chains: dict[str, list[str]], nobody: dict[int, str]
) -> None:
    """Tell the owner's manager about each lead that stays untouched, the first sync its
    flag shows (a later sync sees it on the Status already: no second message)."""
    if not rows:
        return
    messages = {}
    for flag_rows, column, texts, _hint in state.flags:
        if column == "Last contact":
            messages.update(
                {
                    int(r): m
                    for r, m in zip(flag_rows, texts, strict=True)
                    if is_flag(m, FIRST_TOUCH)
                }
            )
    status = state.read["Status"].to_numpy(dtype=object) if "Status" in state.read else None
    by_name = {norm_header(m.name): m for m in state.config.team}
    owners = state.view.text("Owner").to_numpy(dtype=object)
    names = LeadNames(state)
    for row in rows:
        flag = messages.get(row, "")
        if not flag or (status is not None and shown(flag, str(status[row]))):
            continue
        owner = by_name.get(norm_header(owners[row]))
        manager = by_name.get(norm_header(owner.manager)) if owner and owner.manager else None
        if manager is None or not manager.email:
            continue  # nobody to escalate to: the lead's Status still says it
        lead_id, name = state.ids[row], names[row]
        times = len(chains.get(lead_id, ()))
        why = (
            _("nobody else can take it (%(why)s)") % {"why": nobody[row]}
            if row in nobody
            else ngettext(
                "it was reassigned %(times)d time already",
                "it was reassigned %(times)d times already",
                times,
            )
            % {"times": times}
        )
        text = _(
            "escalation: %(flag)s for lead %(id)s (%(name)s), owned by %(owner)s; %(why)s, "
            "so it stays with %(owner)s (Leads row %(row)s)"
        ) % {
            "flag": flag,
            "id": lead_id,
            "name": name or _("no name"),
            "owner": owners[row],
            "why": why,
            "row": leads_row(state, row),
        }
        subject = _("Escalation: first touch overdue on %(id)s%(name)s") % {
            "id": lead_id,
            "name": named(name),
        }
        state.plan.notifications.append(
            Notification(
                0,
                lead_id,
                ESCALATED,
                flag,
                manager.email,
                "email",
                one_line(text, 2000),
                one_line(subject, 150),
                leads_row(state, row),
            )
        )
