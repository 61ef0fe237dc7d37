"""The Activities tab read as columns: each touch's time, lead, type, outcome and person,
what is wrong with a row (at its cell), and per lead its earliest and latest touch.

Vectorised: a tab of a million rows is read column by column (``operator.itemgetter``), its
stamps parsed by their canonical formats at C speed (the rest once per distinct text), its
words checked once per distinct value (``pd.factorize``), and the per-lead figures come from
``ufunc.at`` reductions; Python loops only over what is wrong, and over the leads that change.
The sync step (engine/sync/activities.py) applies them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import tzinfo

import numpy as np
import pandas as pd

from sheetcrm.engine.activity_tab import ActivityFrame
from sheetcrm.engine.activity_words import (
    FRENCH_OUTCOMES,
    OUTCOMES,
    SERVICE_OUTCOMES,
    TYPE_WORDS,
    TYPES,
    by_sequence,
    unsubscribe_types,
)
from sheetcrm.engine.catalog import _
from sheetcrm.engine.dates import canonical_times, date_array, date_problem, parse_date
from sheetcrm.engine.hints import suggest
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.schema import ACTIVITIES, MAX_ROW_PROBLEMS
from sheetcrm.engine.table import Table, a1, norm_header
from sheetcrm.engine.values import shown

_NAT = np.datetime64("NaT", "ns")
Said = dict[int, tuple[str, str]]  # code -> (problem, hint)


@dataclass
class Words:
    """A column of words as its distinct texts (stripped) and, per row, which one."""

    codes: np.ndarray
    texts: np.ndarray

    def at(self, rows: np.ndarray) -> np.ndarray:
        return self.texts[self.codes[rows]]


@dataclass
class Touches:
    """The Activities rows that count, and what was wrong with the others."""

    row: np.ndarray  # data row (0-based) on the tab
    lead: np.ndarray  # the lead (position in the sync's lead rows) each row is about
    at: np.ndarray  # datetime64[ns], the sheet's wall time
    next_action: np.ndarray  # datetime64[ns], NaT when the row gives none
    words: dict[str, Words]  # Type, Outcome, By: for the Why of History rows
    problems: list[Problem] = field(default_factory=list)
    counted: int = 0  # problems found, the listed ones included

    def first_and_last(self, leads: int) -> tuple[np.ndarray, np.ndarray]:
        """Per lead, the index (into these touches) of its earliest and of its latest touch,
        -1 for a lead with none; a tie goes to the row higher on the tab, then lower."""
        return _pick(self.lead, self.at, np.ones(len(self.lead), bool), leads)

    def latest_next_action(self, leads: int) -> np.ndarray:
        """Per lead, the index of its latest touch that gives a Next action date, or -1."""
        return _pick(self.lead, self.at, ~np.isnat(self.next_action), leads)[1]

    def why(self, index: np.ndarray) -> np.ndarray:
        """How History names touches ``index``: "activity 2026-12-03 call (reached) by Sofia
        Marin". A first sync names hundreds of thousands of touches, over a few hundred days
        and a few hundred combinations of type, outcome and person: each part is built once
        per distinct value, then one concatenation per touch."""
        if not len(index):
            return np.zeros(0, dtype=object)
        rows = self.row[index]
        day_codes, days = pd.factorize(self.at[index].astype("datetime64[D]").view(np.int64))
        prefix = "activity " + np.datetime_as_string(days.astype("datetime64[D]"), unit="D")
        # one code per distinct (type, outcome, person), kept below len(index): no overflow
        key = np.zeros(len(index), dtype=np.int64)
        for name in ("Type", "Outcome", "By"):
            if name in self.words:
                codes = self.words[name].codes[rows]
                key = pd.factorize(key * (int(codes.max()) + 1) + codes)[0]
        _, first = np.unique(key, return_index=True)  # a touch of each combination
        suffix = np.full(len(first), "", dtype=object)
        for name, before, after in (("Type", " ", ""), ("Outcome", " (", ")"), ("By", " by ", "")):
            if name in self.words:
                word = self.words[name].at(rows[first])
                suffix = np.where(word != "", suffix + before + word + after, suffix)
        return prefix.astype(object)[day_codes] + suffix[key]  # type: ignore[no-any-return]


def _pick(
    lead: np.ndarray, at: np.ndarray, wanted: np.ndarray, leads: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per lead, the index of its earliest and latest ``wanted`` touch, -1 for none."""
    first = np.full(leads, -1, dtype=np.int64)
    last = np.full(leads, -1, dtype=np.int64)
    index = np.flatnonzero(wanted)
    if not len(index):
        return first, last
    who, stamp = lead[index], at[index].view(np.int64)
    low = np.full(leads, np.iinfo(np.int64).max)
    high = np.full(leads, np.iinfo(np.int64).min)
    np.minimum.at(low, who, stamp)
    np.maximum.at(high, who, stamp)
    top = np.full(leads, np.iinfo(np.int64).max)
    earliest = index[stamp == low[who]]
    np.minimum.at(top, lead[earliest], earliest)
    bottom = np.full(leads, -1, dtype=np.int64)
    latest = index[stamp == high[who]]
    np.maximum.at(bottom, lead[latest], latest)
    first = np.where(top < np.iinfo(np.int64).max, top, -1)
    return first, bottom


def parse_stamps(
    values: np.ndarray, dayfirst: bool, zone: tzinfo, canonical: np.ndarray | None = None
) -> np.ndarray:
    """Texts -> datetime64[ns] wall times, NaT for a blank or unreadable one. ``canonical``:
    the pass over the forms the sync writes, already made (ActivityFrame.canonical_times)."""
    parsed = canonical_times(values) if canonical is None else canonical
    pending = np.flatnonzero(np.isnat(parsed) & (values != ""))
    if not len(pending):
        return parsed
    codes, uniques = pd.factorize(values[pending])
    found = [parse_date(str(t).strip(), dayfirst, zone) for t in uniques]
    # the wall time: a stamp with an offset is read in the sheet's zone, then made naive
    walls = [d.astimezone(zone).replace(tzinfo=None) if d and d.tzinfo else d for d in found]
    parsed[pending] = date_array(walls)[codes] if len(walls) else _NAT
    return parsed


@dataclass
class Leads:
    """What the Activities rows are matched against."""

    ids: Sequence[str]  # each lead's Lead ID, by position
    emails: np.ndarray  # each lead's Email, casefolded and stripped
    rank: np.ndarray  # who came first (Lead ID order): the lead an e-mail shared by several means


class _Problems:
    """Problems at Activities cells, the first MAX_ROW_PROBLEMS listed, all counted."""

    def __init__(self, table: Table, ids: Sequence[str]) -> None:
        self.cols: dict[str, int] = {}
        for i, h in enumerate(table.header):
            self.cols.setdefault(spec.header if (spec := ACTIVITIES.column(h)) else h, i)
        self.ids = ids
        self.listed: list[Problem] = []
        self.counted = 0

    def add(
        self, rows: np.ndarray, codes: np.ndarray, said: Said, column: str, lead: np.ndarray
    ) -> None:
        """Rows ``rows`` are wrong at ``column``, each as ``said[codes[row]]`` says."""
        self.counted += len(rows)
        room = max(MAX_ROW_PROBLEMS - len(self.listed), 0)
        for r in rows[:room].tolist():
            text, hint = said[int(codes[r])]
            cell = a1(ACTIVITIES.name, Table.sheet_row(r), self.cols.get(column))
            who = int(lead[r])
            self.listed.append(
                Problem(ACTIVITIES.name, cell, text, hint, self.ids[who] if who >= 0 else "")
            )


def read_touches(
    table: Table,
    leads: Leads,
    team: Sequence[str],
    outcomes: Sequence[str],
    dayfirst: bool,
    zone: tzinfo,
    frame: ActivityFrame | None = None,
) -> Touches:
    """The rows of ``table`` (the Activities tab) that name a lead and a readable At.

    ``team``: the Team tab's names (an empty tab checks no By); ``outcomes``: the Outcome
    words (Settings: Activity outcomes), the French ones of the default words read too;
    ``frame``: the tab as columns, when the sync has read it already."""
    frame = ActivityFrame.read(table) if frame is None else frame
    columns = frame.columns
    problems = _Problems(table, leads.ids)
    lead, named, via_email = _resolve(frame.column("Lead ID"), leads)
    # a row with no lead and nothing else typed is a gap on the tab, not an activity
    filled = named.copy()
    unnamed = np.flatnonzero(~named)
    for values in columns.values():
        filled[unnamed] |= np.array([bool(str(v).strip()) for v in values[unnamed]], bool)
    _say_lead(frame.column("Lead ID"), lead, via_email, filled, leads, problems)
    at_text = frame.column("At")
    at = parse_stamps(at_text, dayfirst, zone, frame.canonical_times("At"))
    _say_dates(at_text, np.isnat(at) & filled, "At", dayfirst, lead, problems)
    next_text = frame.column("Next action date")
    next_action = parse_stamps(next_text, dayfirst, zone, frame.canonical_times("Next action date"))
    unread = np.isnat(next_action) & (next_text != "")
    _say_dates(next_text, unread, "Next action date", dayfirst, lead, problems)
    known_outcomes = [*outcomes, *OUTCOMES, *FRENCH_OUTCOMES, *SERVICE_OUTCOMES]
    checks = (
        ("Type", list(TYPES), list(TYPE_WORDS), _("unknown activity type %(value)s")),
        ("Outcome", known_outcomes, list(outcomes), _("unknown outcome %(value)s")),
        (
            "By",
            list(team),
            list(team),
            _("%(value)s is not on the Team tab; the activity still counts"),
        ),
    )
    words: dict[str, Words] = {}
    for column, known, choices, message in checks:
        if column in columns:
            checked = not (column == "By" and not team)
            words[column] = _check_words(
                frame.factorized(column), known, choices, message, checked, column, lead, problems
            )
    # a nurture e-mail and an unsubscribe are no person's touch: they set nothing on the lead
    counts = (lead >= 0) & ~np.isnat(at) & ~_not_touches(words, len(at))
    rows = np.flatnonzero(counts)
    return Touches(
        rows,
        lead[rows],
        at[rows],
        next_action[rows],
        words,
        problems.listed,
        problems.counted,
    )


def _not_touches(words: dict[str, Words], rows: int) -> np.ndarray:
    """Per row, whether it is a nurture e-mail (By ``sequence <name>``) or an unsubscribe."""
    wrong = [
        test(words[name].texts)[words[name].codes]
        for name, test in (("By", by_sequence), ("Type", unsubscribe_types))
        if name in words
    ]
    return np.logical_or.reduce(wrong) if wrong else np.zeros(rows, dtype=bool)


def _resolve(keys: np.ndarray, leads: Leads) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's lead (position), -1 when none, whether the row names one at all, and
    whether it was found by e-mail: by Lead ID as typed (one hash lookup per cell among the
    leads' IDs: cheaper than factorising the column, whose distinct texts outnumber them),
    else, once per distinct text, by the ID stripped or the e-mail (case ignored); an e-mail
    several leads share means the oldest of them."""
    index = pd.Index(list(leads.ids), dtype=object)
    lead = index.get_indexer(pd.Index(keys, dtype=object))
    named = lead >= 0
    via_email = np.zeros(len(keys), dtype=bool)
    missed = np.flatnonzero(~named)
    if not len(missed):
        return lead, named, via_email
    codes, uniques = pd.factorize(keys[missed])
    texts = [str(u).strip() for u in uniques]
    by_id = index.get_indexer(pd.Index(texts, dtype=object))
    found = np.where(by_id >= 0, by_id, _oldest_by_email(leads, [t.casefold() for t in texts]))
    lead[missed] = found[codes]
    named[missed] = np.array([t != "" for t in texts], dtype=bool)[codes]
    via_email[missed] = ((by_id < 0) & (found >= 0))[codes]
    return lead, named, via_email


def _holders(leads: Leads, emails: list[str]) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """(the distinct ``emails`` (casefolded), the positions of the leads holding one, oldest
    first, and which of them each holds): the leads' column hashed against these few."""
    wanted = pd.Index(list(dict.fromkeys(e for e in emails if e)), dtype=object)
    at = wanted.get_indexer(pd.Index(leads.emails, dtype=object))
    hits = np.flatnonzero(at >= 0)
    hits = hits[np.argsort(leads.rank[hits], kind="stable")]
    return wanted, hits, at[hits]


def _oldest_by_email(leads: Leads, emails: list[str]) -> np.ndarray:
    """Per e-mail (casefolded), the position of the oldest lead holding it, -1 for none."""
    wanted, hits, which = _holders(leads, emails)
    oldest = np.full(len(wanted) + 1, -1, dtype=np.int64)  # the last: an e-mail no lead has
    _values, first = np.unique(which, return_index=True)
    oldest[which[first]] = hits[first]
    return oldest[wanted.get_indexer(pd.Index(emails, dtype=object))]


def _shared(leads: Leads, emails: list[str]) -> dict[str, int]:
    """Of ``emails`` (casefolded), those several leads hold, and by how many."""
    wanted, _hits, which = _holders(leads, emails)
    counts = np.bincount(which, minlength=len(wanted))
    return {str(e): int(n) for e, n in zip(wanted, counts, strict=True) if n > 1}


def _say_lead(
    keys: np.ndarray,
    lead: np.ndarray,
    via_email: np.ndarray,
    filled: np.ndarray,
    leads: Leads,
    problems: _Problems,
) -> None:
    """A row that names no lead, no known lead, or an e-mail several leads share."""
    # only an e-mail a row was matched by can be one several leads share
    mailed = np.flatnonzero(via_email)
    folded = [str(k).strip().casefold() for k in keys[mailed]]
    shared = _shared(leads, folded)
    twin = np.zeros(len(keys), dtype=bool)
    if shared:  # no e-mail shared by two leads (the usual case): nothing to look up
        twin[mailed] = [f in shared for f in folded]
    wrong = np.flatnonzero(filled & ((lead < 0) | twin))
    if not len(wrong):
        return
    codes, uniques = pd.factorize(keys[wrong])
    said: Said = {}
    for i, key in enumerate(str(u).strip() for u in uniques):
        if not key:
            said[i] = (_("this activity names no lead"), _("type the lead's Lead ID or e-mail"))
        elif key.casefold() in shared:
            said[i] = (
                _("%(count)d leads have the e-mail %(email)s; this activity counts for the oldest")
                % {"count": int(shared[key.casefold()]), "email": shown(key)},
                _("type the Lead ID instead of the e-mail to choose another"),
            )
        else:
            said[i] = (
                _("no lead with ID or e-mail %(key)s") % {"key": shown(key)},
                _("type the lead's Lead ID (Leads tab), or the e-mail its Email cell holds"),
            )
    per_row = np.full(len(keys), -1, dtype=np.int64)
    per_row[wrong] = codes
    problems.add(wrong, per_row, said, "Lead ID", lead)


def _say_dates(
    texts: np.ndarray,
    wrong: np.ndarray,
    column: str,
    dayfirst: bool,
    lead: np.ndarray,
    problems: _Problems,
) -> None:
    rows = np.flatnonzero(wrong)
    if not len(rows):
        return
    codes, uniques = pd.factorize(texts[rows])
    said: Said = {
        i: (
            _("the At of this activity is empty"),
            _("type when it happened, like 2026-01-31 09:00"),
        )
        if not str(t).strip()
        else date_problem(str(t), dayfirst)
        for i, t in enumerate(uniques)
    }
    per_row = np.full(len(texts), -1, dtype=np.int64)
    per_row[rows] = codes
    problems.add(rows, per_row, said, column, lead)


def _check_words(
    factorized: tuple[np.ndarray, np.ndarray],
    known: Sequence[str],
    choices: list[str],
    message: str,
    checked: bool,
    column: str,
    lead: np.ndarray,
    problems: _Problems,
) -> Words:
    """The column as :class:`Words`; with ``checked``, each row holding a word not in
    ``known`` (case and spacing ignored; empty is allowed) is reported with ``message``
    (the word as %(value)s) and a did-you-mean from ``choices``."""
    codes, uniques = factorized
    texts = np.array([str(u).strip() for u in uniques] + [""], dtype=object)
    codes = np.where(codes < 0, len(uniques), codes)
    words = Words(codes, texts)
    if not checked:
        return words
    keys = {norm_header(k) for k in known}
    # a By naming a sequence is the sync's own (the sent step): no Team name to match
    sequence = by_sequence(texts) if column == "By" else np.zeros(len(texts), dtype=bool)
    said: Said = {
        i: (message % {"value": shown(t)}, suggest(t, choices))
        for i, t in enumerate(texts)
        if t and norm_header(t) not in keys and not sequence[i]
    }
    if said:
        rows = np.flatnonzero(np.isin(codes, list(said)))
        problems.add(rows, codes, said, column, lead)
    return words
