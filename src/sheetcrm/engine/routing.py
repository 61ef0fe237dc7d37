"""Who gets each new lead: ordered rules, team strategies, capacity, a fallback.

Stateless: how many leads someone got today is derived from the Leads tab itself (Owner,
Assigned at, Created at), and what each team's rotation did before from History
(:mod:`sheetcrm.engine.rotations`), so any two runs on the same sheet agree and no routing
state can be lost with a server. docs/routing.md tells managers the rules in plain words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from sheetcrm.engine.catalog import _
from sheetcrm.engine.combos import distinct
from sheetcrm.engine.frame import Frame
from sheetcrm.engine.rotations import ROTATING, Turns, key, said
from sheetcrm.engine.routing_tab import RoutingRule
from sheetcrm.engine.rules import matched_spelling
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.team_tab import Member
from sheetcrm.engine.values import format_datetime


class Assignment(NamedTuple):  # a tuple: made for every new lead, twice as fast as a dataclass
    row: int
    owner: str  # "" when nobody can take the lead
    why: str


@dataclass
class _Load:
    today: dict[str, int]
    open: dict[str, int]
    turns: dict[tuple[str, str], Turns]


def _load(
    frame: Frame,
    is_open: np.ndarray,
    team: Sequence[Member],
    turns: Mapping[tuple[str, str], Turns],
    elsewhere: Mapping[str, int],
) -> _Load:
    owner = frame.values("Owner")  # counted per distinct cell text, then per person
    names = {norm_header(m.name): m.name for m in team}
    # copied: this call's turns are added as it goes
    past = {k: Turns(t.latest, t.counts.copy()) for k, t in turns.items()}
    load = _Load({m.name: 0 for m in team}, {m.name: 0 for m in team}, past)
    assigned, created = frame.dates("Assigned at"), frame.dates("Created at")
    # a lead that came with its owner (typed by a person, imported, mapped from a form) was
    # never stamped Assigned at: it counts toward the day it arrived
    day = np.where(np.isnat(assigned), created, assigned).astype("datetime64[D]")
    is_today = day == np.datetime64(frame.now.date())
    for counts, mask in ((load.today, is_today), (load.open, is_open)):
        per_text = np.bincount(owner.codes[mask], minlength=len(owner.keys))
        per_key: dict[str, int] = {}
        for code in np.flatnonzero(per_text).tolist():
            if (k := owner.keys[code]) in names:  # "sofia marin" is Sofia Marin too
                per_key[k] = per_key.get(k, 0) + int(per_text[code])
        for k, count in per_key.items():
            counts[names[k]] = count
    for k, count in elsewhere.items():
        if k in names:
            load.open[names[k]] += count
    return load


def _why_unavailable(m: Member, load: _Load, now: datetime, capacity: bool = True) -> str:
    if not m.active:
        return _("%(name)s is inactive") % {"name": m.name}
    back = m.back_at()
    if back is not None and now < back:
        assert m.away_until is not None
        return _("%(name)s is away until %(until)s") % {
            "name": m.name,
            "until": format_datetime(m.away_until),
        }
    if capacity and m.capacity is not None and load.today[m.name] >= m.capacity:
        return _("%(name)s is at daily capacity (%(capacity)s)") % {
            "name": m.name,
            "capacity": f"{m.capacity:g}",
        }
    return ""


def _ranked(members: list[Member], rule: RoutingRule, load: _Load) -> list[Member]:
    """The candidates in the order the rule's strategy would take them were all free."""
    strategy = rule.strategy
    if strategy == "least loaded":
        return sorted(members, key=lambda m: (load.open[m.name], load.today[m.name]))
    if strategy not in ROTATING:
        return members
    turns = load.turns.get(key(rule.assign_to, strategy), Turns())
    if strategy == "weighted":
        weighted = [m for m in members if m.weight > 0] or members
        # Sainte-Laguë: the one whose share would stay furthest below their weight; a tie
        # goes to the higher weight, then Team tab order (a stable sort)
        return sorted(
            weighted,
            key=lambda m: (
                (turns.counts[norm_header(m.name)] + 0.5) / max(m.weight, 1e-9),
                -m.weight,
            ),
        )
    # round robin: the member after the one who got the rotation's latest lead comes first
    keys = [norm_header(m.name) for m in members]
    start = keys.index(turns.latest) + 1 if turns.latest in keys else 0
    return members[start:] + members[:start]


def _took_turn(load: _Load, rule: RoutingRule, chosen: Member) -> None:
    if rule.strategy in ROTATING:
        turns = load.turns.setdefault(key(rule.assign_to, rule.strategy), Turns())
        turns.latest = norm_header(chosen.name)
        turns.counts[turns.latest] += 1


def first_match(frame: Frame, rules: Sequence[RoutingRule]) -> np.ndarray:
    """Per row, the position of the first rule whose conditions all hold; -1 for none."""
    if not rules:
        return np.full(len(frame), -1)
    masks = np.ones((len(rules), len(frame)), dtype=bool)
    for j, rule in enumerate(rules):
        for condition in rule.conditions:
            masks[j] &= condition.mask(frame)
    return np.where(masks.any(axis=0), masks.argmax(axis=0), -1)


def route(
    frame: Frame,
    rows: Sequence[int],
    rules: Sequence[RoutingRule],
    team: Sequence[Member],
    fallback: str,
    is_open: np.ndarray,
    turns: Mapping[tuple[str, str], Turns] | None = None,
    originals: np.ndarray | None = None,
    exclude: Mapping[int, frozenset[str]] | None = None,
    elsewhere: Mapping[str, int] | None = None,
) -> list[Assignment]:
    """Assign ``rows`` (positions in ``frame``, in arrival order) to owners.

    ``turns``: what each rotation did before (:func:`sheetcrm.engine.rotations.read_turns`).
    ``originals``: per row, the row of the lead it duplicates (-1 for none); a duplicate goes
    to its original's owner unless that person is inactive or away. None: no such rule.
    ``exclude``: per row, the people (norm_header of their names) it must not go to, the
    fallback owner included: those who had it already (first-touch SLA reassignment).
    ``elsewhere``: open leads each owner (norm_header of the name) holds on rows that are not
    in ``frame`` (a flush plans its new rows with only the rows they depend on).
    """
    now = frame.now
    load = _load(frame, is_open, team, turns or {}, elsewhere or {})
    by_name = {norm_header(m.name): m for m in team}
    owners = frame.keys("Owner") if originals is not None else None
    data = frame.data
    ids = data["Lead ID"].to_numpy(dtype=object) if "Lead ID" in data.columns else None
    given: dict[int, Member] = {}  # row -> who got it in this call
    matched = first_match(frame, rules)
    listed = {
        id(c): matched_spelling(c, frame)
        for rule in rules
        for c in rule.conditions
        if c.lists_values
    }
    cache_of = _decisions(matched, rules, listed).tolist()
    rule_of = matched.tolist()
    original_of = originals.tolist() if originals is not None else None
    results = []
    # An assignment only adds to someone's load, and nobody comes back within one call: a
    # row whose rule and listed values were already seen without anyone free is left
    # unowned for the same reason. A backlog beyond everyone's capacity then costs a
    # look-up a row.
    nobody_free: dict[int, str] = {}
    for row in _originals_first(rows, originals):
        barred = exclude.get(row, frozenset()) if exclude else frozenset()
        before = ""  # what the why says ahead of the rule: the original's owner is away
        if original_of is not None and original_of[row] >= 0:
            assert owners is not None
            original = original_of[row]
            holder = given.get(original) or by_name.get(owners[original])
            # the owner knows the person already: their daily capacity does not turn it away
            away = _why_unavailable(holder, load, now, capacity=False) if holder else ""
            if holder is not None and not away:
                why = _("duplicate of %(id)s → %(owner)s, who owns %(id)s") % {
                    "id": _id_of(ids, original),
                    "owner": holder.name,
                }
                results.append(_assign(row, holder, why, load, is_open, given))
                continue
            if holder is not None:
                before = _("duplicate of %(id)s, whose owner %(away)s; ") % {
                    "id": _id_of(ids, original),
                    "away": away,
                }
        cache = cache_of[row]
        if cache in nobody_free and not before and not barred:
            results.append(Assignment(row, "", nobody_free[cache]))
            continue
        j = rule_of[row] if rule_of[row] >= 0 else None
        if j is None:
            reason = before + _("no routing rule matched")
            ranked: list[Member] = []
        else:
            rule = rules[j]
            conditions = _(" and ").join(
                c.describe(_spelled(listed[id(c)], row) if c.lists_values else "")
                for c in rule.conditions
            ) or _("every lead")
            reason = f"{before}{rule.label} ({conditions})"
            candidates = _candidates(rule, team, by_name)
            ranked = _ranked(
                [m for m in candidates if norm_header(m.name) not in barred], rule, load
            )
        chosen = next((m for m in ranked if not _why_unavailable(m, load, now)), None)
        if chosen is not None:
            assert j is not None
            rule = rules[j]
            if rule.strategy == "direct":
                why = f"{reason} → {chosen.name}"
            else:
                why = f"{reason} {said(rule.assign_to, rule.strategy, chosen.name)}"
                # who would have been next, had they been free (an inactive person is out
                # of the team rather than passed over)
                passed = [m for m in ranked[: ranked.index(chosen)] if m.active]
                if passed:
                    why += " " + _("(skipped: %(who)s)") % {
                        "who": "; ".join(_why_unavailable(m, load, now) for m in passed)
                    }
                _took_turn(load, rule, chosen)
        else:
            # in Team tab order, not rotation order: the same reason on every sync
            in_team_order = sorted(ranked, key=lambda m: team.index(m))
            busy = "; ".join(_why_unavailable(m, load, now) for m in in_team_order)
            backup = by_name.get(norm_header(fallback)) if fallback else None
            if backup is not None and norm_header(backup.name) in barred:
                backup = None  # had the lead already
            # the fallback is a person like any other: not when away, nor past capacity
            unavailable = (
                _("no fallback owner (Settings: Fallback owner)")
                if backup is None
                else _why_unavailable(backup, load, now)
            )
            if unavailable:
                extra = [unavailable] if backup and unavailable not in busy else []
                why = "; ".join(p for p in (reason, busy, *extra) if p)
                why += "; " + _("no fallback owner available (Settings: Fallback owner)")
                if not before and not barred:
                    nobody_free[cache] = why
                results.append(Assignment(row, "", why))
                continue
            assert backup is not None
            chosen = backup
            fallback_owner = _("fallback owner %(name)s") % {"name": chosen.name}
            why = "; ".join(p for p in (reason, busy) if p) + f" → {fallback_owner}"
        results.append(_assign(row, chosen, why, load, is_open, given))
    return results


def _id_of(ids: np.ndarray | None, row: int) -> str:
    """A Lead ID cell's text as the Frame gives it (stripped, "" when missing), read alone:
    only the originals a why names need it, not the 100,000 distinct IDs hashed."""
    value: Any = ids[row] if ids is not None else ""
    if isinstance(value, str):  # as read: the usual case, and the quick one
        return value.strip()
    return "" if pd.isna(value) else str(value).strip()


def _spelled(listed: tuple[np.ndarray, np.ndarray], row: int) -> str:
    codes, spelled = listed
    return str(spelled[codes[row]])


def _decisions(
    matched: np.ndarray,
    rules: Sequence[RoutingRule],
    listed: Mapping[int, tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """Per row, a code for what decides its owner before anyone's load does: the rule it
    matched and the values its conditions list (the same reason for the same code)."""
    columns, radices = [matched + 1], [len(rules) + 1]
    for j, rule in enumerate(rules):
        for c in rule.conditions:
            if c.lists_values:
                codes, spelled = listed[id(c)]
                # spellings, not cell texts: "india" and "India" read the same
                per_value, spellings = pd.factorize(spelled, use_na_sentinel=False)
                at_rows = per_value[codes] + 1 if len(per_value) else codes
                columns.append(np.where(matched == j, at_rows, 0))
                radices.append(len(spellings) + 1)
    return distinct(columns, len(matched), radices)[0]


def _assign(
    row: int,
    chosen: Member,
    why: str,
    load: _Load,
    is_open: np.ndarray,
    given: dict[int, Member],
) -> Assignment:
    load.today[chosen.name] += 1
    if is_open[row]:
        load.open[chosen.name] += 1
    given[row] = chosen
    return Assignment(row, chosen.name, why)


def _originals_first(rows: Sequence[int], originals: np.ndarray | None) -> list[int]:
    """``rows`` (distinct) in their order, but a duplicate whose original comes later among
    them right after it: the original's owner is then known, in this sync as in the next one.
    A duplicate whose original waits itself (a chain typed by hand, a circle) cannot be
    placed so: those come last, in their order.

    For all rows at once: a row waits when its original comes later among the rows (or is
    itself), or came earlier but waited; it then goes right after its original, in its
    order, unless that original waited too."""
    rows = list(rows)
    if originals is None or not rows:
        return rows
    at = np.asarray(rows, dtype=np.int64)
    sorter = np.argsort(at, kind="stable")
    found = np.minimum(np.searchsorted(at, originals[at], sorter=sorter), len(at) - 1)
    # where each row's original is among the rows, -1 when it is not there
    where = np.where(at[sorter[found]] == originals[at], sorter[found], -1)
    here = np.arange(len(at))
    if not (where >= 0).any():
        return rows
    later = (where >= 0) & (where >= here)  # waits for a row not placed yet, or for itself
    # an original placed before: the row waits if that one waited, and so on back the chain
    root = np.where((where >= 0) & (where < here), where, here)
    while not np.array_equal(deeper := root[root], root):  # halves the chains each time
        root = deeper
    waits = later[root]
    follows = waits & (where > here)
    follows[follows] = ~waits[where[follows]]  # its original was placed: right after it
    first = np.where(~waits, here, np.where(follows, where, len(at)))
    return at[np.lexsort((here, follows, first))].tolist()


def _candidates(
    rule: RoutingRule, team: Sequence[Member], by_name: dict[str, Member]
) -> list[Member]:
    if rule.strategy == "direct":
        member = by_name.get(norm_header(rule.assign_to))
        return [member] if member else []
    return [m for m in team if norm_header(m.team) == norm_header(rule.assign_to)]
