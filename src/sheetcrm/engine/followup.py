"""Follow-up KPIs from the Activities tab: how fast and how often leads are touched, what
calls turn into, per person and for the team. Pure and vectorised: one pass of numpy over
the activity rows, whatever their number. Formulas: docs/metrics.md, "Follow-up".

The tab is read by its headers (At, Lead ID, Type, Outcome, By), from the snapshot, or as
the sync's ``activities`` step already read it (engine/activity_tab.py); without it every
follow-up figure is NaN, which the metric tabs show as "no data". A row's Lead ID may hold
the lead's e-mail instead; a row whose lead is not found still counts as an activity of its
person, but touches no lead.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

import numpy as np
import pandas as pd

from sheetcrm.engine.activity_tab import ActivityFrame
from sheetcrm.engine.activity_words import FRENCH_OUTCOMES, SERVICE_OUTCOMES, by_sequence
from sheetcrm.engine.activity_words import OUTCOMES as DEFAULT_OUTCOMES
from sheetcrm.engine.activity_words import TYPES as WORD_TYPES
from sheetcrm.engine.frame import Frame
from sheetcrm.engine.metric_data import (
    AT,
    DAY,
    Deals,
    Window,
    first_rows,
    median,
    ratio,
    wall_times,
)
from sheetcrm.engine.table import Table
from sheetcrm.engine.wallclock import to_utc

HOUR = np.timedelta64(1, "h")
# the Activities step's own words (activity_words.py), read here as _word folds them
TYPES = {**WORD_TYPES, "mail": "email"}
"""Type words as people type them (English or French) -> the one word counted."""
OUTCOMES = {**{o: o for o in DEFAULT_OUTCOMES}, **FRENCH_OUTCOMES, **SERVICE_OUTCOMES}
BOOKED = "meeting booked"


def _word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.strip().casefold())
    return " ".join("".join(c for c in folded if not unicodedata.combining(c)).split())


def _distinct_of(frame: ActivityFrame, name: str) -> tuple[np.ndarray, list[str]]:
    """metric_data._distinct of a column, from the factorization the frame shares."""
    codes, uniques = frame.factorized(name)
    texts = [str(u).strip() for u in uniques]
    return np.where(codes < 0, len(texts), codes), [*texts, ""]


def _canonical(frame: ActivityFrame, name: str, words: dict[str, str]) -> np.ndarray:
    codes, uniques = _distinct_of(frame, name)
    keyed = {_word(k): v for k, v in words.items()}
    return np.asarray([keyed.get(_word(u), _word(u)) for u in uniques], dtype=object)[codes]


@dataclass
class Touches:
    """One entry per Activities row."""

    lead: np.ndarray  # index into the deals; -1: no lead found
    at: np.ndarray  # the instant (UTC): elapsed hours are counted on it
    wall: np.ndarray  # the sheet's wall time: periods and days are counted on it
    type: np.ndarray  # call, email, meeting, note, other (or the word typed)
    outcome: np.ndarray
    by: np.ndarray  # who did it; the lead's Owner when By is empty
    # a nurture e-mail (By "sequence <name>"): counted among the Activities, but no person's
    # touch: not in the speed to first touch, the touches before a close, per person, or
    # the leads left without a touch
    automatic: np.ndarray

    def __len__(self) -> int:
        return len(self.lead)


def read_touches(
    table: Table | None,
    deals: Deals,
    emails: np.ndarray,
    dayfirst: bool = True,
    zone: tzinfo = UTC,
    frame: ActivityFrame | None = None,
    leads: Frame | None = None,
) -> Touches | None:
    """The Activities rows, dated; None without the tab (the KPIs then say "no data").
    ``emails``: the Leads rows' Email cells, in the order of ``deals``; ``frame``: the tab
    as columns, as the sync's ``activities`` step read it, and ``leads`` the Leads rows as
    the sync's typed columns, whose Email is folded once per distinct text (then nothing
    is read twice)."""
    if table is None:
        return None
    frame = ActivityFrame.read(table) if frame is None else frame
    codes, uniques = _distinct_of(frame, "Lead ID")
    # each Lead ID typed matched to the first deal of that ID, else of that e-mail address
    typed = np.asarray(uniques, dtype=object)
    found = first_rows(deals.ids, typed)
    by_mail = np.flatnonzero((found < 0) & (typed != ""))
    if len(by_mail):
        if leads is not None:
            mails = leads.folded("Email").to_numpy(dtype=object)
        else:
            mails = np.array([str(m).strip().casefold() for m in emails], dtype=object)
        found[by_mail] = first_rows(mails, [str(u).casefold() for u in typed[by_mail]])
    lead = found[codes]
    # the At column parsed once: its wall times, and from them (with their folds) instants
    wall, fold = wall_times(frame.column("At"), dayfirst, zone, frame.canonical_times("At"))
    by_codes, by_uniques = _distinct_of(frame, "By")
    by = np.asarray(by_uniques, dtype=object)[by_codes]
    owner = np.where(lead >= 0, deals.owner[np.maximum(lead, 0)] if len(deals) else "", "")
    kind = _canonical(frame, "Type", TYPES)
    # an unsubscribe is the lead's doing, not an activity: no KPI counts it
    unsubscribed = kind == "unsubscribe"
    # a tab without one (the usual case) is taken whole: views, not copies of a million rows
    keep: slice | np.ndarray = ~unsubscribed if unsubscribed.any() else slice(None)
    return Touches(
        lead=lead[keep],
        at=to_utc(wall, fold, zone)[keep],
        wall=wall[keep],
        type=kind[keep],
        outcome=_canonical(frame, "Outcome", OUTCOMES)[keep],
        by=np.where(by == "", owner, by)[keep],
        automatic=by_sequence(np.asarray(by_uniques, dtype=object))[by_codes][keep],
    )


def _people(touches: Touches) -> Touches:
    """The touches people made: ``touches`` without the nurture e-mails."""
    if not touches.automatic.any():
        return touches
    keep = ~touches.automatic
    return Touches(
        touches.lead[keep],
        touches.at[keep],
        touches.wall[keep],
        touches.type[keep],
        touches.outcome[keep],
        touches.by[keep],
        touches.automatic[keep],
    )


@dataclass
class FollowUp:
    period: list[tuple[str, float, float, str]]  # name, this period, all time, format
    now: list[tuple[str, float, str]]  # name, value, format
    owners: pd.DataFrame  # by person: the Owner column, then the follow-up columns


def _first_last(touches: Touches, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per deal: its first activity's instant, its last activity's wall time (NaT: none),
    and how many activities it has."""
    ok = (touches.lead >= 0) & ~np.isnat(touches.at)
    first = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    last = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    if ok.any():
        lead, at, wall = touches.lead[ok], touches.at[ok], touches.wall[ok]
        frame = pd.DataFrame({"lead": lead, "at": at, "wall": wall})
        grouped = frame.groupby("lead")
        firsts, lasts = grouped["at"].min(), grouped["wall"].max()
        first[firsts.index.to_numpy()] = firsts.to_numpy()
        last[lasts.index.to_numpy()] = lasts.to_numpy()
    return first, last, np.bincount(touches.lead[touches.lead >= 0], minlength=n)


def _weeks(window: Window, touches: Touches, when: np.datetime64) -> float:
    start = window.start
    if start is None:  # all time: from the first activity
        dated = touches.wall[~np.isnat(touches.wall)]
        start = dated.min() if len(dated) else when
    return max(float((when - start) / DAY), 1.0) / 7


def _p90(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(np.percentile(values, 90)) if len(values) else float("nan")


def followup(
    deals: Deals,
    touches: Touches | None,
    window: Window,
    now: datetime,
    sla_hours: float,
    no_touch_days: float,
) -> FollowUp:
    """The follow-up KPIs for ``window`` and for all time; see docs/metrics.md."""
    days = f"{no_touch_days:g}"
    untouched_name = f"Open leads with no touch in {days} days"
    if touches is None:
        nan = float("nan")
        names = (
            ("Speed to first touch (activities), median", "hours"),
            ("Speed to first touch (activities), p90", "hours"),
            ("Touched within the first-touch SLA", "percent"),
            ("Touches before won or lost, median", "touches"),
            ("Activities", "activities"),
            ("Activities per person per week", "weekly"),
            ("Calls reached", "percent"),
            ("Calls that booked a meeting", "percent"),
            ("Meetings booked", "meetings"),
        )
        return FollowUp(
            [(n, nan, nan, f) for n, f in names],
            [(untouched_name, nan, "percent")],
            pd.DataFrame({"Owner": pd.Series([], dtype=object)}),
        )
    when = np.datetime64(now.replace(tzinfo=None), "ns")
    instant = np.datetime64(now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now, "ns")
    n = len(deals)
    # the nurture e-mails count among the Activities, and in no figure about people's touches
    nurture = touches.wall[touches.automatic]
    nurture_in, nurture_all = float(window.holds(nurture).sum()), float(len(nurture))
    touches = _people(touches)
    first, last, _count = _first_last(touches, n)
    started = deals.started  # gathered once, the hours clipped in place: 100,000 deals at
    # the re-sync's metrics peak
    hours = (first - started) / HOUR
    np.clip(hours, 0, None, out=hours)
    touched = ~np.isnan(hours)
    due = started + np.timedelta64(int(sla_hours * 3600), "s")
    judged = ~np.isnat(started) & (touched | (due <= instant))
    del started, due
    in_sla = touched & (hours <= sla_hours)
    created_in = window.holds(deals.created)
    closed = deals.won | deals.lost
    closed_in = window.holds(deals.closed) & closed
    # touches before the close: activities of the deal dated up to its Closed at
    lead = touches.lead
    has = lead >= 0
    close_at = np.full(len(touches), np.datetime64("NaT"), dtype="datetime64[ns]")
    close_at[has] = deals.closed_at(lead[has])
    before = has & ~np.isnat(touches.wall) & (np.isnat(close_at) | (touches.wall <= close_at))
    before_count = np.bincount(lead[before], minlength=n).astype(float)
    everything = np.ones(n, dtype=bool)
    acts_in = window.holds(touches.wall)
    all_acts = np.ones(len(touches), dtype=bool)
    calls = touches.type == "call"
    booked = touches.outcome == BOOKED
    reached = touches.outcome == "reached"

    def per_week(m: np.ndarray, w: Window, _nurture: float) -> float:
        people = len(set(touches.by[m]) - {""})
        return ratio(m.sum(), people * _weeks(w, touches, when)) if people else float("nan")

    rows: list[tuple[str, float, float, str]] = []
    for name, fmt, measure, basis in (
        ("Speed to first touch (activities), median", "hours", lambda m: median(hours[m]), 0),
        ("Speed to first touch (activities), p90", "hours", lambda m: _p90(hours[m]), 0),
        (
            "Touched within the first-touch SLA",
            "percent",
            lambda m: ratio((in_sla & m).sum(), (judged & m).sum()),
            0,
        ),
        (
            "Touches before won or lost, median",
            "touches",
            lambda m: median(before_count[m & closed]),
            1,
        ),
    ):
        period_mask = created_in if basis == 0 else closed_in
        rows.append((name, measure(period_mask), measure(everything), fmt))
    all_time = Window("all time")
    for name, fmt, act_measure in (
        ("Activities", "activities", lambda m, w, a: float(m.sum()) + a),
        ("Activities per person per week", "weekly", per_week),
        (
            "Calls reached",
            "percent",
            lambda m, w, a: ratio((reached & calls & m).sum(), (calls & m).sum()),
        ),
        (
            "Calls that booked a meeting",
            "percent",
            lambda m, w, a: ratio((booked & calls & m).sum(), (calls & m).sum()),
        ),
        ("Meetings booked", "meetings", lambda m, w, a: float((booked & m).sum())),
    ):
        period, ever = (
            act_measure(acts_in, window, nurture_in),
            act_measure(all_acts, all_time, nurture_all),
        )
        rows.append((name, period, ever, fmt))
    is_open = deals.is_open
    quiet = is_open & (
        np.isnat(last) | (last < when - np.timedelta64(int(no_touch_days * 86400), "s"))
    )
    now_rows = [(untouched_name, ratio(quiet.sum(), is_open.sum()), "percent")]
    return FollowUp(rows, now_rows, _owners(deals, touches, acts_in, window, when, quiet, days))


def _owners(
    deals: Deals,
    touches: Touches,
    acts_in: np.ndarray,
    window: Window,
    when: np.datetime64,
    quiet: np.ndarray,
    days: str,
) -> pd.DataFrame:
    """Per person: activities (by By) and the open leads they own left without a touch."""
    names = sorted(set(touches.by) | set(deals.owner) - {""})
    k = len(names)
    index = pd.Index(names, dtype=object)
    by = index.get_indexer(touches.by)  # -1: not one of the names (an empty By and Owner)
    owner = index.get_indexer(deals.owner)

    def count(mask: np.ndarray, codes: np.ndarray) -> np.ndarray:
        ok = mask & (codes >= 0)
        return np.bincount(codes[ok], minlength=k)

    calls = touches.type == "call"
    booked = touches.outcome == BOOKED
    acts = count(acts_in, by)
    weeks = _weeks(window, touches, when)
    call_n = count(acts_in & calls, by)
    table = pd.DataFrame({"Owner": names})
    table["Activities"] = acts
    table["Activities per week"] = acts / weeks
    table["Calls"] = call_n
    table["Calls reached"] = [
        ratio(r, c)
        for r, c in zip(
            count(acts_in & calls & (touches.outcome == "reached"), by), call_n, strict=True
        )
    ]
    table["Meetings booked"] = count(acts_in & booked, by)
    table[f"Activities{AT}"] = count(np.ones(len(touches), dtype=bool), by)
    table[f"Meetings booked{AT}"] = count(booked, by)
    table[f"Open leads with no touch in {days} days"] = count(quiet, owner)
    return table
