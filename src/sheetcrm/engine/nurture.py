"""Who is in which nurture sequence: unsubscribed addresses, exits and enrolment, decided for
every lead at once over the Leads columns (numpy), without I/O.

A :class:`Cohort` holds the four cells the sequences step writes (Sequence, Sequence step,
Next send at, Unsubscribed at) as arrays, and the History rows that explain each change; the
step (engine/sync/sequences.py) reads what it decided and plans the e-mails due.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo

import numpy as np
import pandas as pd

from sheetcrm.engine.activities import FRENCH_OUTCOMES, TYPES, Touches, parse_stamps
from sheetcrm.engine.activity_words import Unsubscribes
from sheetcrm.engine.catalog import _, current
from sheetcrm.engine.enrolment_tab import ACTIVITY_OUTCOME, ACTIVITY_TYPE, SequenceRules
from sheetcrm.engine.frame import Frame
from sheetcrm.engine.nurture_settings import consent_level
from sheetcrm.engine.operators import FRENCH
from sheetcrm.engine.rules import Condition
from sheetcrm.engine.sequences_tab import ACTIVE, Step
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.values import format_datetime

DONE, STOPPED = "done", "stopped: "
STOP_WORDS = frozenset({"stop", "arrêt", "arret"})
"""What a person types in Sequence to end it."""


@dataclass(frozen=True)
class Sequence:
    name: str  # as the Sequences tab spells it
    steps: Mapping[int, Step]
    rules: SequenceRules | None

    @property
    def live(self) -> bool:
        """A sequence enrols and sends once one of its steps is active; all drafts: previews."""
        return any(s.status == ACTIVE for s in self.steps.values())


def sequences_of(steps: list[Step], rules: Mapping[str, SequenceRules]) -> dict[str, Sequence]:
    """By name normalised, in the Sequences tab's order."""
    grouped: dict[str, dict[int, Step]] = {}
    for step in steps:
        grouped.setdefault(norm_header(step.sequence), {})[step.number] = step
    return {
        key: Sequence(next(iter(s.values())).sequence, s, rules.get(key))
        for key, s in grouped.items()
    }


@dataclass
class Event:
    row: int
    field: str
    before: str
    after: str
    why: str
    by: str  # the sequence's name


@dataclass
class Cohort:
    """The leads' nurture cells as this sync leaves them, and why each changed."""

    sequence: np.ndarray  # object: the Sequence cell as typed (stripped)
    step: np.ndarray  # object: the Sequence step cell
    next_send: np.ndarray  # object: the Next send at cell
    unsubscribed: np.ndarray  # object: the Unsubscribed at cell
    key: np.ndarray  # object: the sequence the row is in, normalised ("" none)
    events: list[Event] = field(default_factory=list)

    @classmethod
    def read(cls, frame: Frame) -> Cohort:
        sequence = frame.text("Sequence").to_numpy(dtype=object)
        step, next_send, unsubscribed = (
            frame.text(c).to_numpy(dtype=object).copy() for c in _CELLS
        )
        codes, uniques = pd.factorize(sequence)
        keys = np.array([norm_header(str(u)) for u in uniques] + [""], dtype=object)
        return cls(sequence.copy(), step, next_send, unsubscribed, keys[codes])

    def finished(self) -> np.ndarray:
        codes, uniques = pd.factorize(self.step)
        ends = np.array([_finished(str(u)) for u in uniques] + [False], dtype=bool)
        return ends[codes]  # type: ignore[no-any-return]

    def stop(self, rows: np.ndarray, why: str) -> None:
        """End the sequence of ``rows``: Sequence step says why, nothing is due any more."""
        after = STOPPED + why
        for r in rows.tolist():
            self.events.append(
                Event(r, "Sequence step", self.step[r], after, after, self.sequence[r])
            )
        self.step[rows] = after
        self.next_send[rows] = ""


_CELLS = ("Sequence step", "Next send at", "Unsubscribed at")


def within(values: np.ndarray, items: object) -> np.ndarray:
    """Per value, whether it is one of ``items``: hashed (numpy's isin sorts or compares
    pairwise on object arrays, slow over 100,000 leads)."""
    return pd.Series(values, dtype=object).isin(list(items)).to_numpy(dtype=bool, copy=True)  # type: ignore[call-overload]


def _finished(step: str) -> bool:
    word = step.strip().casefold()
    return word == DONE or word.startswith(STOPPED.strip())


def unsubscribed(
    frame: Frame,
    cohort: Cohort,
    asked: Unsubscribes | None,
    ids: list[str],
    stamp: str,
    dayfirst: bool,
    zone: tzinfo,
) -> np.ndarray:
    """Per lead, whether its address is unsubscribed: on a row whose Unsubscribed at is set,
    or on an Activities row of Type unsubscribe (``asked``; its Lead ID cell names the lead or
    holds the address). Every row holding such an address gets Unsubscribed at: the
    activity's At on the sheet's clock (the page writes it in UTC), else ``stamp``."""
    email = frame.folded("Email").to_numpy(dtype=object)
    has = email != ""
    when: dict[str, str] = {}
    if asked is not None and len(asked.rows):
        position = {lead_id: row for row, lead_id in enumerate(ids)}
        at = parse_stamps(asked.at.astype(object), dayfirst, zone)
        for i in np.argsort(at, kind="stable").tolist():  # the first time each asked counts
            row = position.get(str(asked.lead_id[i]), -1)
            address = str(asked.address[i]) or (str(email[row]) if row >= 0 else "")
            shown = (
                stamp if np.isnat(at[i]) else format_datetime(pd.Timestamp(at[i]).to_pydatetime())
            )
            when.setdefault(address, shown)
    when.pop("", None)
    marked = has & (cohort.unsubscribed != "")
    for r in np.flatnonzero(marked).tolist():  # a duplicate row gets the time its twin has
        when.setdefault(str(email[r]), str(cohort.unsubscribed[r]))
    addresses = set(email[marked].tolist()) | set(when)
    out = has & within(email, addresses) if addresses else np.zeros(len(email), bool)
    for r in np.flatnonzero(out & (cohort.unsubscribed == "")).tolist():
        at_text = when.get(str(email[r]), stamp)
        by = cohort.sequence[r] or _("unsubscribe")
        cohort.events.append(Event(r, "Unsubscribed at", "", at_text, _("unsubscribed"), by))
        cohort.unsubscribed[r] = at_text
    return out


def activity_exits(
    cohort: Cohort,
    sequences: Mapping[str, Sequence],
    touches: Touches | None,
    enrolled_at: np.ndarray,
    frame: Frame,
) -> list[tuple[np.ndarray, str | np.ndarray]]:
    """(rows, why per row) of the leads an Activities row ends, by the sequences' exit rows
    on Activity type or outcome: a row at or after the lead's enrolment."""
    if touches is None or not len(touches.row):
        return []
    kinds = _words(touches, "Type", TYPES)
    outcomes = _words(touches, "Outcome", FRENCH_OUTCOMES)
    acts = Frame(
        pd.DataFrame({ACTIVITY_TYPE: kinds, ACTIVITY_OUTCOME: outcomes}, dtype=object),
        frame.clock,
        frame.dayfirst,
        frame.decimal,
    )
    lead = touches.lead
    # no enrolment on History (a sheet edited by hand): every activity counts, so that a
    # lead who replied is never written to again
    since = np.where(np.isnat(enrolled_at), np.datetime64("1900-01-01", "ns"), enrolled_at)
    late = touches.at >= since[lead]
    found: list[tuple[np.ndarray, str | np.ndarray]] = []
    lead_keys = cohort.key[lead]
    for key, sequence in sequences.items():
        for exit_row in sequence.rules.exits if sequence.rules else ():
            if not exit_row.on_activity:
                continue
            hit = np.flatnonzero(exit_row.condition.mask(acts) & late & (lead_keys == key))
            if len(hit):
                why = outcomes if exit_row.condition.field == ACTIVITY_OUTCOME else kinds
                rows, first = np.unique(lead[hit], return_index=True)  # once per lead
                found.append((rows, why[hit][first]))
    return found


def _words(touches: Touches, column: str, canonical: Mapping[str, str]) -> np.ndarray:
    """Each touch's word in ``column``, French words read as the English ones."""
    if column not in touches.words:
        return np.full(len(touches.row), "", dtype=object)
    words = touches.words[column]
    texts = np.array([canonical.get(str(t).casefold(), str(t)) for t in words.texts], object)
    return texts[words.codes[touches.row]]  # type: ignore[no-any-return]


def _as_typed(condition: Condition) -> str:
    """A rule as a manager writes it: "Grade in list C, D" ("dans la liste" in French)."""
    name = condition.operator.name
    word = FRENCH.get(name, (name,))[0] if current() == "fr" else name
    return " ".join(p for p in (condition.field, word, condition.value_text) if p)


def consent_ok(frame: Frame, required: int) -> np.ndarray:
    """Per lead, whether its Consent reaches ``required`` (an unknown word: none)."""
    return frame.per_key("Consent", lambda k: (consent_level(k) or 0) >= required)


def enrol_by_rules(
    cohort: Cohort,
    sequences: Mapping[str, Sequence],
    frame: Frame,
    allowed: np.ndarray,
) -> np.ndarray:
    """Enrol each ``allowed`` lead with no Sequence into the first live sequence whose enrol
    rows it matches; the rows enrolled."""
    free = allowed & (cohort.sequence == "")
    enrolled = np.zeros(len(free), dtype=bool)
    for key, sequence in sequences.items():
        rules = sequence.rules
        if not sequence.live or rules is None or rules.broken or not rules.enrol:
            continue
        match = free & ~enrolled
        for condition in rules.enrol:
            if not match.any():
                break
            match &= condition.mask(frame)
        rows = np.flatnonzero(match)
        if not len(rows):
            continue
        why = _("enrolled: %(rules)s") % {"rules": "; ".join(map(_as_typed, rules.enrol))}
        for r in rows.tolist():
            cohort.events.append(Event(r, "Sequence", "", sequence.name, why, sequence.name))
        cohort.sequence[rows] = sequence.name
        cohort.key[rows] = key
        cohort.step[rows] = ""
        enrolled[rows] = True
    return enrolled
