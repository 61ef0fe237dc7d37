"""Stage transitions, the History they leave, and the flags on deals that slip.

The last stage the service saw for a lead is the last Stage entry in History, so a change
is noticed however long ago the sync last ran, and a stage never observed is never
invented: a lead first seen in Won gets a "first seen" entry, not a made-up path to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, partial

import numpy as np
import pandas as pd

from sheetcrm.engine.business_hours import Calendar
from sheetcrm.engine.catalog import N_, _, in_every_language, ngettext
from sheetcrm.engine.frame import Frame
from sheetcrm.engine.hints import suggest
from sheetcrm.engine.history import HistoryFrame
from sheetcrm.engine.problems import FIRST_TOUCH, FOLLOW_UP, STALE, Flag
from sheetcrm.engine.stages_tab import Stage
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.values import format_datetime, shown
from sheetcrm.engine.wallclock import from_utc

Flags = list[tuple[np.ndarray, str, list[str], str]]  # rows, column, messages, hint

FIRST_SEEN = (N_("first seen in this stage"), N_("first seen without a stage"))
"""The why of a History Stage row that saw no change happen (a lead found in its stage): the
metric tabs count no entry into the stage from it."""


@cache
def _first_seen_texts() -> tuple[str, ...]:
    said = {t.casefold() for text in FIRST_SEEN for t in in_every_language(partial(_, text))}
    return ("first seen", *sorted(said))  # "first seen" as any earlier version wrote it


def first_seen(why: str) -> bool:
    """Whether a History why says a lead was first seen in its stage, in any language."""
    return why.strip().casefold().startswith(_first_seen_texts())


@dataclass
class StageEvent:
    row: int
    before: str
    after: str
    why: str
    observed: bool  # a change seen happening, not a lead first seen in its stage


@dataclass
class StageResult:
    changed_at: pd.Series
    closed_at: pd.Series
    first_touch_at: pd.Series
    events: list[StageEvent] = field(default_factory=list)
    problems: Flags = field(default_factory=list)
    flags: Flags = field(default_factory=list)


def track(
    frame: Frame,
    ids: Sequence[str],
    arrived_now: np.ndarray,
    stages: Sequence[Stage],
    history: HistoryFrame,
    sla_hours: float,
    calendar: Calendar | None = None,
) -> StageResult:
    """``calendar``: the business days and hours the first-touch SLA counts in; None: every
    hour of every day."""
    now = frame.now
    stamp = format_datetime(frame.clock)  # aware: in the repeated hour, with its offset
    n = len(frame)
    by_key = {norm_header(s.name): s for s in stages}
    first_open = next(s for s in stages if s.type == "open")
    typed = frame.text("Stage")
    keys = frame.keys("Stage")
    known = frame.per_key("Stage", by_key.__contains__)
    blank = frame.blank("Stage")
    result = StageResult(
        frame.text("Stage changed at").copy(),
        frame.text("Closed at").copy(),
        frame.text("First touch at").copy(),
    )

    unknown = ~known & ~blank
    if unknown.any():
        # grouped by hint: each row's is about its own stage, whatever other rows hold (a
        # flush's plan of its new rows holds only some: intake/append_plan.py)
        names = [s.name for s in stages]
        rows = np.flatnonzero(unknown)
        said = typed[unknown]
        hints = np.array([suggest(t, names) for t in said], dtype=object)
        for hint in sorted(set(hints.tolist())):
            pick = hints == hint
            result.problems.append(
                (
                    rows[pick],
                    "Stage",
                    [_("unknown stage %(stage)s") % {"stage": shown(t)} for t in said[pick]],
                    hint,
                )
            )

    stamped = _stage_changes(
        result, ids, arrived_now, history, by_key, (known, blank, keys), first_open, stamp
    )

    # from the instant, so that a contact in the hour clocks go back keeps which pass it was
    contact = frame.instants("Last contact")
    untouched = (result.first_touch_at == "").to_numpy() & ~np.isnat(contact)
    for row in map(int, np.flatnonzero(untouched)):
        result.first_touch_at.iat[row] = format_datetime(from_utc(contact[row], frame.zone))

    is_open = frame.per_key("Stage", lambda k: k in by_key and by_key[k].type == "open") | blank
    _flag_stale(frame, result, stamped, by_key, is_open)
    _flag_first_touch(frame, result, keys, first_open, is_open, sla_hours, calendar)
    follow = frame.dates("Next action date")
    late = is_open & (follow < np.datetime64(now.date()))
    if late.any():
        days, which = _days(follow[late])
        said = [_follow_up(d) for d in days]  # one per distinct date
        follow_ups: list[str] = np.array(said, dtype=object)[which].tolist()
        result.flags.append(
            (
                np.flatnonzero(late),
                "Next action date",
                follow_ups,
                _("do the next action, then set a new date"),
            )
        )
    _check_required(frame, result, keys, by_key, known, n)
    return result


def _stage_changes(
    result: StageResult,
    ids: Sequence[str],
    arrived_now: np.ndarray,
    history: HistoryFrame,
    by_key: dict[str, Stage],
    read: tuple[np.ndarray, np.ndarray, np.ndarray],
    first_open: Stage,
    stamp: str,
) -> list[int]:
    """The Stage events against History's last recorded stage of each lead, and the service
    cells they stamp; the rows stamped now. A function of its own so that what it reads of
    History (a dict of every lead's last Stage, and codes per lead: 8 MB at 100,000 leads) is gone
    before the flags' own transients."""
    known, blank, keys = read  # of the Stage column: known stage, blank, key
    seen = history.last_recorded("Stage")
    # Rows whose stage is the one History last recorded have nothing to do: find them all
    # at once, each distinct recorded stage normalised once.
    recorded, stage_texts = pd.factorize(np.array(list(map(seen.get, ids)), dtype=object))
    recorded_keys = np.array([*map(norm_header, stage_texts), None], dtype=object)[recorded]
    settled = recorded_keys == np.where(known, keys, "")  # never for a lead History lacks
    stamped: list[int] = []  # the rows whose Stage changed at is this sync's stamp
    for row in map(int, np.flatnonzero((known | blank) & ~settled)):
        stage = by_key[keys[row]] if known[row] else None
        name = stage.name if stage else ""
        first_sight = ids[row] not in seen
        before_text = seen.get(ids[row], "")
        before = by_key.get(norm_header(before_text)) if before_text else None
        if not first_sight and norm_header(before_text) == norm_header(name):
            continue
        if first_sight:  # recorded even without a stage, so a stage set later is a change
            why = _("new lead") if arrived_now[row] else _(FIRST_SEEN[0])
            if stage is None:
                why = _(FIRST_SEEN[1])
        else:
            why = (
                _("stage set in the sheet")
                if not before_text
                else _("stage cleared in the sheet")
                if stage is None
                else _("stage changed in the sheet")
            )
        observed = not first_sight
        result.events.append(StageEvent(int(row), before_text, name, why, observed))
        if stage is None or not (observed or arrived_now[row]):
            continue
        result.changed_at.iat[row] = stamp
        stamped.append(row)
        was_closed = before is not None and before.type != "open"
        if stage.type != "open" and not was_closed and not result.closed_at.iat[row]:
            result.closed_at.iat[row] = stamp
        elif stage.type == "open" and was_closed:
            result.closed_at.iat[row] = ""  # reopened
        # a blank Stage waits like the first one: leaving either is a first touch
        waited = before is None or before.name == first_open.name
        if (
            observed
            and waited
            and stage.name != first_open.name
            and not result.first_touch_at.iat[row]
        ):
            result.first_touch_at.iat[row] = stamp
    return stamped


def _flag_stale(
    frame: Frame,
    result: StageResult,
    stamped: list[int],
    by_key: dict[str, Stage],
    is_open: np.ndarray,
) -> None:
    # Stage changed at as read, but this sync's stamp on the rows it just stamped: the rest
    # are the frame's parsed column, not parsed again
    since = frame.dates("Stage changed at")
    if stamped:
        since = since.copy()
        since[stamped] = _dates(result.changed_at.iloc[stamped[:1]], frame)[0]
    created = frame.dates("Created at")
    since = np.where(np.isnat(since), created, since)
    days = {k: s.max_days for k, s in by_key.items() if s.max_days is not None}
    limit = frame.per_key("Stage", lambda k: days.get(k, np.nan), dtype=float)
    age = (np.datetime64(frame.now) - since).astype("timedelta64[s]").astype(float) / 86400
    stale = is_open & ~np.isnan(limit) & (age > limit)
    if stale.any():
        rows = np.flatnonzero(stale)
        # one flag per distinct stage, date and limit: found on codes, not per row
        stage = frame.values("Stage").codes[rows].astype(np.int64)
        day_texts, day = _days(since[rows])
        _combos, first, which = np.unique(
            stage * len(day_texts) + day, return_index=True, return_inverse=True
        )
        keys = np.array(frame.values("Stage").keys, dtype=object)[stage[first]]
        said = [
            (by_key[k].name, day_texts[d], float(limit[rows[i]]))
            for k, d, i in zip(keys.tolist(), day[first].tolist(), first.tolist(), strict=True)
        ]
        flags = {s: _stale(*s) for s in set(said)}
        messages: list[str] = np.array([flags[s] for s in said], dtype=object)[
            which.ravel()
        ].tolist()
        result.flags.append((rows, "Stage", messages, _("move the deal on, or close it")))


def _flag_first_touch(
    frame: Frame,
    result: StageResult,
    keys: np.ndarray,
    first: Stage,
    is_open: np.ndarray,
    sla_hours: float,
    calendar: Calendar | None,
) -> None:
    waiting = (keys == norm_header(first.name)) | frame.blank("Stage")
    untouched = (result.first_touch_at == "").to_numpy()
    if calendar is not None and not calendar.always:
        # business hours are counted on the wall clock, as people read them
        start = frame.dates("Assigned at")
        start = np.where(np.isnat(start), frame.dates("Created at"), start)
        late = sla_late(calendar, start, frame.now, sla_hours)
        rows = np.flatnonzero(is_open & waiting & untouched & late)
        if len(rows):
            starts, which = np.unique(start[rows], return_inverse=True)
            said = [
                _first_touch(format_datetime(calendar.due(_wall(t), sla_hours))) for t in starts
            ]
            messages: list[str] = [said[i] for i in which.ravel()]
            result.flags.append(
                (rows, "Last contact", messages, _("contact the lead, then fill Last contact"))
            )
        return
    # Real hours, not the wall clock's: a night when clocks change lasts 23 or 25 hours.
    start = frame.instants("Assigned at")
    start = np.where(np.isnat(start), frame.instants("Created at"), start)
    due = start + np.timedelta64(int(sla_hours * 3600), "s")
    now = np.datetime64(frame.clock.astimezone(UTC).replace(tzinfo=None), "ns")
    late = is_open & waiting & untouched & ~np.isnat(due) & (due < now)
    if late.any():
        rows = np.flatnonzero(late)
        times, which = np.unique(due[rows], return_inverse=True)  # a few distinct due times
        said = [_first_touch(format_datetime(from_utc(t, frame.zone))) for t in times]
        messages = [said[i] for i in which.ravel()]
        result.flags.append(
            (rows, "Last contact", messages, _("contact the lead, then fill Last contact"))
        )


def _first_touch(due: str) -> Flag:
    return Flag.of(FIRST_TOUCH, lambda: _("overdue: first touch was due %(due)s") % {"due": due})


def _follow_up(day: str) -> Flag:
    return Flag.of(FOLLOW_UP, lambda: _("follow-up overdue since %(date)s") % {"date": day})


def _stale(stage: str, day: str, most: float) -> Flag:
    def say() -> str:
        return ngettext(
            "stale: in %(stage)s since %(date)s (max %(days)s day)",
            "stale: in %(stage)s since %(date)s (max %(days)s days)",
            int(most) if most == int(most) else 2,  # 1.5 days: the plural
        ) % {"stage": stage, "date": day, "days": f"{most:g}"}

    return Flag.of(STALE, say)


def sla_late(calendar: Calendar, start: np.ndarray, now: datetime, hours: float) -> np.ndarray:
    """Per wall time ``start`` (NaT: never), whether ``hours`` business hours of
    ``calendar`` have passed by the wall time ``now``."""
    begun = calendar.minutes(start)
    current = calendar.minutes(np.array([np.datetime64(now, "ns")]))[0]
    with np.errstate(invalid="ignore"):
        return (
            ~np.isnan(begun) & (start <= np.datetime64(now, "ns")) & (current - begun >= hours * 60)
        )


def _wall(moment: np.datetime64) -> datetime:
    return pd.Timestamp(moment).to_pydatetime()


def _check_required(
    frame: Frame,
    result: StageResult,
    keys: np.ndarray,
    by_key: dict[str, Stage],
    known: np.ndarray,
    n: int,
) -> None:
    for stage in by_key.values():
        at_stage = known & (keys == norm_header(stage.name))
        for column in stage.required:
            missing = at_stage & frame.blank(column)
            if missing.any():
                result.problems.append(
                    (
                        np.flatnonzero(missing),
                        column,
                        [_("required at stage %(stage)s") % {"stage": stage.name}]
                        * int(missing.sum()),
                        _("fill %(column)s (Stages: Required fields)") % {"column": column},
                    )
                )


def _days(dates: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The distinct days of ``dates`` (none NaT) as 2026-01-31, and per date which of them:
    each distinct time formatted once."""
    times, which = np.unique(dates, return_inverse=True)
    texts = np.datetime_as_string(times, unit="D")
    days, which_day = np.unique(texts, return_inverse=True)
    return days.tolist(), which_day.ravel()[which.ravel()]


def _dates(texts: pd.Series, frame: Frame) -> np.ndarray:
    sub = Frame(pd.DataFrame({"d": texts.to_numpy()}), frame.clock, frame.dayfirst)
    return sub.dates("d")
