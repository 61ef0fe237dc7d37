"""The nurture steps due, planned: the next step of each lead in a live sequence, when it
is due, inside the send window, under the per-sender daily cap and spaced; the e-mail
rendered from the lead's cells (a lead missing a field waits, its Status says which).

Every due e-mail, draft or active, planned or waiting, is also put on the plan as a
:class:`Preview` (up to PREVIEW_LIMIT of those not planned)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from sheetcrm.engine.catalog import _
from sheetcrm.engine.notifications import Notification, Preview
from sheetcrm.engine.nurture import DONE, Cohort, Event, Sequence, within
from sheetcrm.engine.nurture_history import steps_today
from sheetcrm.engine.send_window import SendWindow
from sheetcrm.engine.sequences_tab import ACTIVE, ENROLMENT, MissingField, Step, render
from sheetcrm.engine.sync.alerts import leads_row
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.validation import normalise_email
from sheetcrm.engine.values import format_datetime

PREVIEW_LIMIT = 500
"""Previews of e-mails not planned this sync (drafts, waiting) kept on the plan: a dry run
prints 200 lines; the planned ones are always there."""
EVENT = "sequence"


def plan_due(
    state: SyncState,
    cohort: Cohort,
    sequences: Mapping[str, Sequence],
    enrolled: np.ndarray,
    fresh: np.ndarray,
    free: np.ndarray,
) -> None:
    """Plan the steps due; ``free``: the leads no sequence holds that a draft sequence's
    enrol rows may show in previews (what it would send once active)."""
    frame, settings = state.view, state.settings
    window = SendWindow(settings["Send days"], settings["Send hours"])
    now = frame.now
    _preview_drafts(state, cohort, sequences, free, window)
    inside = within(cohort.key, [k for k, s in sequences.items() if s.live])
    inside &= ~cohort.finished()
    last = _step_numbers(cohort.step)
    bad = np.flatnonzero(inside & (last < 0))
    if len(bad):
        state.problems.append(
            (
                bad,
                "Sequence step",
                [_("%(text)r is not a step number") % {"text": cohort.step[r]} for r in bad],
                _("write the last step sent (1, 2...), or clear it to start again"),
            )
        )
    rows = np.flatnonzero(inside & (last >= 0))
    if not len(rows):
        return
    # the step each lead is at: one lookup per distinct (sequence, number)
    key_codes, keys = pd.factorize(cohort.key[rows])
    codes, uniques = pd.factorize(key_codes * (int(last[rows].max()) + 2) + last[rows] + 1)
    width = int(last[rows].max()) + 2
    steps: list[Step | None] = [
        sequences[keys[int(u) // width]].steps.get(int(u) % width) for u in uniques
    ]
    over = np.array([s is None for s in steps], dtype=bool)[codes]
    for r in rows[over].tolist():  # a sequence shortened under it: it is over
        cohort.events.append(
            Event(r, "Sequence step", cohort.step[r], DONE, _done(cohort, r), cohort.sequence[r])
        )
        cohort.step[r], cohort.next_send[r] = DONE, ""
    keep = ~over
    rows, codes = rows[keep], codes[keep]
    due = frame.dates("Next send at")[rows].astype("datetime64[ns]")
    due[(cohort.next_send[rows] == "") | fresh[rows]] = np.datetime64("NaT")
    unset = np.flatnonzero(np.isnat(due))
    if len(unset):
        waits = np.array([s.wait_days if s else 0 for s in steps], dtype=np.int64)[codes[unset]]
        business = np.array([bool(s and s.business_days) for s in steps], dtype=bool)
        after_enrolment = np.array([bool(s and s.after == ENROLMENT) for s in steps], bool)
        since = enrolled[rows[unset]]
        base = np.where(
            after_enrolment[codes[unset]] & ~np.isnat(since), since, np.datetime64(now, "ns")
        )
        due[unset] = window.after(base, waits, business[codes[unset]])
        _set_times(cohort, rows[unset], due[unset])
    ready = due <= np.datetime64(now, "ns")
    rows, codes, due = rows[ready], codes[ready], due[ready]
    order = np.lexsort((rows, due))
    _Planner(state, cohort, sequences, enrolled, window).run(
        rows[order],
        [steps[c] for c in codes[order]],
        due[order],  # type: ignore[misc]
    )


def _preview_drafts(
    state: SyncState,
    cohort: Cohort,
    sequences: Mapping[str, Sequence],
    free: np.ndarray,
    window: SendWindow,
) -> None:
    """A draft sequence enrols nobody; its first step is previewed for each lead its enrol
    rows match, as if enrolled now."""
    frame = state.view
    left = free.copy()
    planner: _Planner | None = None
    for sequence in sequences.values():
        rules = sequence.rules
        if sequence.live or not sequence.steps or rules is None or rules.broken:
            continue
        if not rules.enrol:
            continue
        match = left.copy()
        for condition in rules.enrol:
            match &= condition.mask(frame)
        rows = np.flatnonzero(match)[:PREVIEW_LIMIT]
        left[rows] = False
        first = sequence.steps[min(sequence.steps)]
        if not len(rows):
            continue
        planner = planner or _Planner(state, cohort, sequences, np.zeros(0), window)
        starts = np.full(len(rows), np.datetime64(frame.now, "ns"))
        waits = np.full(len(rows), first.wait_days, dtype=np.int64)
        due = window.after(starts, waits, np.full(len(rows), first.business_days))
        texts = _texts(due)
        for r, text in zip(rows.tolist(), texts.tolist(), strict=True):
            planner._preview(r, first, _("draft"), text)


def _texts(walls: np.ndarray) -> np.ndarray:
    """Wall times as cells show them, each distinct one formatted once."""
    codes, uniques = pd.factorize(walls.astype("datetime64[m]").view(np.int64))
    texts = np.array(
        [format_datetime(datetime(1970, 1, 1) + timedelta(minutes=int(u))) for u in uniques],
        dtype=object,
    )
    return texts[codes]  # type: ignore[no-any-return]


def _done(cohort: Cohort, row: int) -> str:
    return _("last step of %(sequence)s sent") % {"sequence": cohort.sequence[row]}


def _step_numbers(cells: np.ndarray) -> np.ndarray:
    """The Sequence step cells as numbers: 0 for empty, -1 for what is no number."""
    codes, uniques = pd.factorize(cells)
    numbers = [
        int(t) if str(t).strip().isdigit() else (0 if not str(t).strip() else -1) for t in uniques
    ]
    return np.array([*numbers, 0], dtype=np.int64)[codes]


def _set_times(cohort: Cohort, rows: np.ndarray, walls: np.ndarray) -> None:
    cohort.next_send[rows] = _texts(walls)


class _Planner:
    def __init__(
        self,
        state: SyncState,
        cohort: Cohort,
        sequences: Mapping[str, Sequence],
        enrolled: np.ndarray,
        window: SendWindow,
    ) -> None:
        self.state, self.cohort, self.sequences = state, cohort, sequences
        self.enrolled, self.window = enrolled, window
        frame, settings = state.view, state.settings
        self.now = frame.now
        self.open = window.is_open(self.now)
        self.owners = frame.keys("Owner")
        self.emails = frame.text("Email").to_numpy(dtype=object)
        team = {norm_header(m.name): m for m in state.config.team}
        self.team = team
        cap = int(settings["E-mails per sender per day"])
        self.spacing = float(settings["Minutes between e-mails"])
        if self.open and self.spacing > 0:  # spaced e-mails must all fit before it closes
            left = (window.closing(self.now) - self.now).total_seconds() / 60
            cap_today = int(left // self.spacing) + 1
        else:
            cap_today = cap
        self.cap, self.cap_today = cap, cap_today
        counts = steps_today(state.logged, self.now)
        at = pd.Index(state.ids, dtype=object).get_indexer(pd.Index(counts.index, dtype=object))
        self.sent: dict[str, int] = {}
        for i, count in zip(at.tolist(), counts.tolist(), strict=True):
            if i >= 0:
                owner = str(self.owners[i])
                self.sent[owner] = self.sent.get(owner, 0) + int(count)
        self.taken: dict[str, int] = {}
        self.waiting: list[tuple[int, str]] = []  # (row, the field it waits for)
        self.shown = 0
        self.columns: dict[str, np.ndarray] = {}
        self.next: list[tuple[int, np.datetime64, int, bool]] = []  # (row, start, wait, business)

    def run(self, rows: np.ndarray, steps: list[Step], due: np.ndarray) -> None:
        opening = self.window.opening(self.now)
        late = []
        draft, closed = _("draft"), _("waits for the send window")
        capped = _("waits: the sender's cap for today")
        full: set[str] = set()  # the senders at their cap: their leads only wait
        for r, step in zip(rows.tolist(), steps, strict=True):
            if self.shown >= PREVIEW_LIMIT and self.owners[r] in full:
                continue  # nothing to plan nor to show: the common case of a backlog
            due_text = self.cohort.next_send[r]
            if step.status != ACTIVE:
                self._preview(r, step, draft, due_text)
            elif not self.open:
                late.append(r)
                self._preview(r, step, closed, due_text)
            elif not self._plan(r, step):
                full.add(str(self.owners[r]))
                self._preview(r, step, capped, due_text)
        if late:
            _set_times(
                self.cohort, np.array(late), np.full(len(late), np.datetime64(opening, "ns"))
            )
        self._next_times()
        self._say_waiting()

    def _values(self, r: int, step: Step) -> dict[str, str]:
        values = {f: str(self._column(f)[r]) for f in step.fields}
        member = self.team.get(str(self.owners[r]))
        values["Owner email"] = member.email if member else ""
        values["Owner signature"] = member.signature if member else ""
        return values

    def _column(self, name: str) -> np.ndarray:
        """A Leads column as an array, pulled out once (a merge field read per lead)."""
        if name not in self.columns:
            data = self.state.data
            self.columns[name] = (
                data[name].to_numpy(dtype=object)
                if name in data.columns
                else np.full(len(data), "", dtype=object)
            )
        return self.columns[name]

    def _preview(self, r: int, step: Step, status: str, due_text: str) -> None:
        if self.shown >= PREVIEW_LIMIT:
            return
        self.shown += 1
        rendered = render(step, self._values(r, step))
        if isinstance(rendered, MissingField):
            status = _("waits for %(field)s") % {"field": rendered.name}
            rendered = ("", "")
        self.state.plan.previews.append(
            Preview(
                self.state.ids[r],
                step.sequence,
                step.number,
                status,
                str(self.emails[r]),
                *rendered,
                due_text,
            )
        )

    def _plan(self, r: int, step: Step) -> bool:
        """Plan lead ``r``'s ``step``; False when its sender's cap for today is reached."""
        owner = str(self.owners[r])
        taken = self.taken.get(owner, 0)
        if self.sent.get(owner, 0) + taken >= self.cap or taken >= self.cap_today:
            return False
        email = str(self.emails[r]).strip()
        member = self.team.get(owner)
        if not _one_address(member.email if member else ""):
            # replies go to the owner (Reply-To): with no address that takes one, the e-mail
            # would be refused at sending, for good under its key; it waits for a fix instead
            rendered: tuple[str, str] | MissingField = MissingField(OWNER_EMAIL)
        elif not email:
            rendered = MissingField("Email")
        else:
            rendered = render(step, self._values(r, step))
        if isinstance(rendered, MissingField):
            self.waiting.append((r, rendered.name))
            self._preview(r, step, "", self.cohort.next_send[r])
            return True  # waits, but takes no place under the cap
        subject, body = rendered
        wall = self.now + timedelta(minutes=self.spacing * taken)
        self.taken[owner] = taken + 1
        state, cohort = self.state, self.cohort
        not_before = wall.replace(tzinfo=state.settings.zone).astimezone(UTC)
        state.plan.notifications.append(
            Notification(
                step.row,
                state.ids[r],
                EVENT,
                f"{step.sequence}#{step.number}",
                email,
                "email",
                body,
                subject,
                leads_row(state, r),
                not_before=not_before.isoformat(timespec="seconds"),
                sender_name=member.name if member else owner,
                reply_to=member.email.strip() if member else "",
                unsubscribe=email,
            )
        )
        state.plan.previews.append(
            Preview(
                state.ids[r],
                step.sequence,
                step.number,
                "planned",
                email,
                subject,
                body,
                format_datetime(wall),
            )
        )
        name = step.sequence
        before = cohort.step[r]
        why = _("step %(step)s of %(sequence)s to %(to)s") % {
            "step": step.number,
            "sequence": name,
            "to": email,
        }
        cohort.events.append(Event(r, "Sequence step", before, str(step.number), why, name))
        following = self.sequences[cohort.key[r]].steps.get(step.number + 1)
        if following is None:
            cohort.events.append(
                Event(r, "Sequence step", str(step.number), DONE, _done(cohort, r), name)
            )
            cohort.step[r], cohort.next_send[r] = DONE, ""
            return True
        cohort.step[r] = str(step.number)
        start = self.enrolled[r] if following.after == ENROLMENT else np.datetime64("NaT")
        start = np.datetime64(wall, "ns") if np.isnat(start) else start
        self.next.append((r, start, following.wait_days, following.business_days))
        return True

    def _next_times(self) -> None:
        """Next send at of every lead planned, its next step's wait counted at once."""
        if not self.next:
            return
        rows, starts, waits, business = zip(*self.next, strict=True)
        at = self.window.after(
            np.array(starts, dtype="datetime64[ns]"),
            np.array(waits, dtype=np.int64),
            np.array(business, dtype=bool),
        )
        _set_times(self.cohort, np.array(rows, dtype=np.int64), at)

    def _say_waiting(self) -> None:
        if not self.waiting:
            return
        rows = np.array([r for r, _field in self.waiting], dtype=np.int64)
        messages = [
            _("%(sequence)s waits for %(field)s")
            % {"sequence": self.cohort.sequence[r], "field": f}
            for r, f in self.waiting
        ]
        self.state.flags.append((rows, "Sequence", messages, _("fill it in: the e-mail needs it")))


OWNER_EMAIL = "Owner email"  # the merge field, and what a lead waits for without it


def _one_address(text: str) -> bool:
    """Whether ``text`` is one e-mail address, as the Team tab's Email column checks it."""
    address, problem = normalise_email(text)
    return bool(address) and not problem and "," not in text and ";" not in text
