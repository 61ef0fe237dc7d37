"""Step ``sequences``: nurture e-mails (docs/sequences.md). After ``sla`` (the owner is
final), before ``alerts``.

In order: addresses unsubscribed (on any row or by an Activities row of Type unsubscribe)
get Unsubscribed at on every row holding them; leads leave their sequence (Stop typed,
unsubscribed, a hard bounce, a won or lost stage, consent no longer enough, an Enrolment
exit row); leads enter one (a name typed by hand, or the Enrolment rows); then each step
due is planned as a notification, inside the send window, under the per-sender daily cap,
spaced, and Sequence step advances in the same write. Exactly once per (sequence, step,
lead): the notification's key is stable, and the next sync sees the step already taken.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sheetcrm.engine.activity_words import unsubscribes
from sheetcrm.engine.catalog import _
from sheetcrm.engine.frame import Frame
from sheetcrm.engine.nurture import (
    STOP_WORDS,
    Cohort,
    Event,
    Sequence,
    activity_exits,
    consent_ok,
    enrol_by_rules,
    sequences_of,
    unsubscribed,
    within,
)
from sheetcrm.engine.nurture_history import enrolled_at
from sheetcrm.engine.nurture_settings import consent_level
from sheetcrm.engine.sync.nurture_due import plan_due
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.table import norm_header

EVENT = "sequence"  # the notifications' event, and the SentRecords' the sender reports
BOUNCED = "failed: bounced: "
WRITTEN = ("Sequence", "Sequence step", "Next send at", "Unsubscribed at")


def plan_sequences(state: SyncState) -> SyncState:
    config = state.config
    if "sequences" in state.frozen or not config.sequences or not len(state.data):
        return state
    frame, settings = state.view, state.settings
    sequences = sequences_of(config.sequences, config.enrolment)
    cohort = Cohort.read(frame)
    asked = unsubscribes(state.activities) if state.activities is not None else None
    gone = unsubscribed(
        frame, cohort, asked, state.ids, state.stamp, settings.dayfirst, settings.zone
    )
    consent = consent_ok(frame, settings["Sequence consent"])
    _unknown_consent(state)
    n = len(state.data)
    finished = cohort.finished()
    typed = cohort.sequence != ""
    stop = typed & within(cohort.key, [norm_header(w) for w in STOP_WORDS])
    known = within(cohort.key, sequences)
    _unknown(state, np.flatnonzero(typed & ~stop & ~known & ~finished), cohort)
    # by hand: a live sequence's name typed, no step yet, nothing due yet
    hand = known & ~finished & (cohort.step == "") & (cohort.next_send == "")
    hand &= within(cohort.key, [k for k, s in sequences.items() if s.live])
    enrolled = enrolled_at(state.logged, state.ids)
    now = np.datetime64(frame.now, "ns")
    enrolled = np.where(hand, now, enrolled)
    for r in np.flatnonzero(hand).tolist():
        name = sequences[cohort.key[r]].name
        cohort.sequence[r] = name
        cohort.events.append(_enrolled_by_hand(r, name))
    _exit(state, cohort, sequences, stop & ~finished, gone, consent, enrolled)
    stage_open = _open_stage(state)
    lone = frame.blank("Duplicate of") & ~frame.blank("Email")
    busy = within(frame.folded("Email").to_numpy(dtype=object), _addresses_in_use(frame, cohort))
    allowed = consent & ~gone & stage_open & lone & ~busy
    fresh = enrol_by_rules(cohort, sequences, frame, allowed)
    enrolled = np.where(fresh, now, enrolled)
    plan_due(state, cohort, sequences, enrolled, fresh | hand, allowed & (cohort.sequence == ""))
    _write(state, cohort, n)
    return state


def _enrolled_by_hand(row: int, name: str) -> Event:
    return Event(row, "Sequence", "", name, _("enrolled by hand"), name)


def _exit(
    state: SyncState,
    cohort: Cohort,
    sequences: dict[str, Sequence],
    stop: np.ndarray,
    gone: np.ndarray,
    consent: np.ndarray,
    enrolled: np.ndarray,
) -> None:
    """End the sequence of every lead in one that has a reason to leave it; the first
    reason found is the one said."""
    frame = state.view
    inside = within(cohort.key, sequences) & ~cohort.finished()
    cohort.stop(np.flatnonzero(stop), "Stop typed")
    bounced = {r.lead_id for r in state.sent if r.event == EVENT and r.outcome.startswith(BOUNCED)}
    stages = {norm_header(s.name): s.type for s in state.config.stages}
    kind = frame.per_key("Stage", lambda k: stages.get(k, "open"), dtype=object)
    # (rows, why: one text, or one per row): the first reason a lead has is the one said
    reasons: list[tuple[np.ndarray, str | np.ndarray]] = [
        (np.flatnonzero(gone), "unsubscribed"),
        (np.flatnonzero(kind == "won"), "won"),
        (np.flatnonzero(kind == "lost"), "lost"),
        (np.flatnonzero(~consent), "no consent"),
    ]
    if bounced:
        ids = np.asarray(state.ids, dtype=object)
        reasons.insert(1, (np.flatnonzero(within(ids, bounced)), "bounced"))
    codes, keys = pd.factorize(cohort.key)
    code_of = {str(k): i for i, k in enumerate(keys)}
    stage = frame.text("Stage").to_numpy(dtype=object)
    for key, sequence in sequences.items():
        if key not in code_of:
            continue
        for exit_row in sequence.rules.exits if sequence.rules else ():
            if exit_row.on_activity:
                continue
            hit = np.flatnonzero((codes == code_of[key]) & exit_row.condition.mask(frame))
            if exit_row.condition.field == "Stage":
                texts = np.array(["stage " + str(s) for s in stage[hit]], dtype=object)
                reasons.append((hit, texts))
            else:
                reasons.append((hit, f"exit rule {exit_row.row}"))
    reasons += activity_exits(cohort, sequences, state.touches, enrolled, frame)
    open_now = inside & ~cohort.finished()
    for rows, why in reasons:
        keep = open_now[rows]
        rows = rows[keep]
        if not len(rows):
            continue
        open_now[rows] = False
        if isinstance(why, str):
            cohort.stop(rows, why)
            continue
        why = why[keep]
        for text in set(why.tolist()):
            cohort.stop(rows[why == text], str(text) or "exit rule")


def _open_stage(state: SyncState) -> np.ndarray:
    stages = {norm_header(s.name): s.type for s in state.config.stages}
    return state.view.per_key("Stage", lambda k: stages.get(k, "open") == "open")


def _addresses_in_use(frame: Frame, cohort: Cohort) -> list[str]:
    """The addresses a lead holds while in a sequence: a duplicate row is not enrolled too."""
    emails = frame.folded("Email").to_numpy(dtype=object)
    busy = (cohort.sequence != "") & ~cohort.finished()
    return [e for e in set(emails[busy].tolist()) if e]


def _unknown_consent(state: SyncState) -> None:
    """A Consent no word of which is known counts as none, and its Status says so."""
    frame = state.view
    wrong = np.flatnonzero(frame.per_key("Consent", lambda k: consent_level(k) is None))
    if len(wrong):
        cells = frame.text("Consent").to_numpy(dtype=object)
        messages = [
            _("%(text)r is not a consent; read as none") % {"text": cells[r]}
            for r in wrong.tolist()
        ]
        hint = _("write opt-in, legitimate interest or none")
        state.problems.append((wrong, "Consent", messages, hint))


def _unknown(state: SyncState, rows: np.ndarray, cohort: Cohort) -> None:
    if not len(rows):
        return
    names = sorted({s.sequence for s in state.config.sequences})
    messages = [
        _("%(name)r is not a sequence of the Sequences tab") % {"name": cohort.sequence[r]}
        for r in rows.tolist()
    ]
    hint = _("type a sequence's name (%(names)s), or Stop") % {"names": ", ".join(names)}
    state.problems.append((rows, "Sequence", messages, hint))


def _write(state: SyncState, cohort: Cohort, n: int) -> None:
    """The cells that changed, and a History row for each event, By the sequence."""
    columns = dict(
        zip(
            WRITTEN,
            (cohort.sequence, cohort.step, cohort.next_send, cohort.unsubscribed),
            strict=True,
        )
    )
    for column, values in columns.items():
        before = state.view.text(column).to_numpy(dtype=object)
        if len(values) == n and (before != values).any():
            state.put(
                column,
                np.where(before != values, values, state.data[column].to_numpy(dtype=object)),
            )
    for e in cohort.events:
        stamp_column = e.field
        state.history(e.row, e.field, e.before, e.after, e.why, stamp_column, by=e.by)
