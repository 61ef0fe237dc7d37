"""Who gets each new lead: ordered rules, team strategies, capacity, a fallback.

Stateless: who is next in a rotation and how many leads someone got today are derived
from the Leads tab itself (Owner and Assigned at), so any two runs on the same sheet agree
and no routing state can be lost with a server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from sheetcrm.engine.frame import Frame
from sheetcrm.engine.routing_tab import RoutingRule
from sheetcrm.engine.rules import matched_values
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.team_tab import Member


@dataclass(frozen=True)
class Assignment:
    row: int
    owner: str  # "" when nobody can take the lead
    why: str


@dataclass
class _Load:
    today: dict[str, int]
    open: dict[str, int]
    last: dict[str, tuple[datetime, int]]  # member -> latest (Assigned at, row)


def _load(
    frame: Frame, is_open: np.ndarray, team: Sequence[Member], today: datetime, rank: np.ndarray
) -> _Load:
    owner = frame.folded("Owner")
    assigned = frame.dates("Assigned at")
    names = {norm_header(m.name): m.name for m in team}
    load = _Load({m.name: 0 for m in team}, {m.name: 0 for m in team}, {})
    known = owner.isin(names)
    is_today = assigned.astype("datetime64[D]") == np.datetime64(today.date())
    for key, count in owner[known & is_today].value_counts().items():
        load.today[names[str(key)]] = int(count)
    for key, count in owner[known & is_open].value_counts().items():
        load.open[names[str(key)]] = int(count)
    stamped = known & ~np.isnat(assigned)
    if stamped.any():
        # the same order leads are assigned in: Created at, then Lead ID
        picked = stamped.to_numpy()
        created = frame.dates("Created at")[picked].astype("int64")
        latest = pd.DataFrame(
            {"o": owner[stamped], "t": assigned[picked], "c": created, "r": rank[picked]}
        ).sort_values(["t", "c", "r"])
        for key, t, _c, r in latest.groupby("o").last().itertuples():
            load.last[names[str(key)]] = (pd.Timestamp(t).to_pydatetime(), int(r))
    return load


def _why_unavailable(m: Member, load: _Load, today: datetime) -> str:
    if not m.active:
        return f"{m.name} is inactive"
    if m.away_until is not None and m.away_until >= today.date():
        return f"{m.name} is away until {m.away_until.isoformat()}"
    if m.capacity is not None and load.today[m.name] >= m.capacity:
        return f"{m.name} is at daily capacity ({m.capacity:g})"
    return ""


def _pick(members: list[Member], strategy: str, load: _Load) -> Member:
    if strategy == "weighted":
        weighted = [m for m in members if m.weight > 0] or members
        return min(
            weighted, key=lambda m: (load.today[m.name] / max(m.weight, 1e-9), members.index(m))
        )
    if strategy == "least loaded":
        return min(members, key=lambda m: (load.open[m.name], load.today[m.name], members.index(m)))
    return members[0]  # round robin: the caller passes them in rotation order


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
    rank: np.ndarray | None = None,
) -> list[Assignment]:
    """Assign ``rows`` (positions in ``frame``, in arrival order) to owners. ``rank`` orders
    leads that were assigned in the same minute (Lead ID order); row order by default."""
    today = frame.now
    rank = np.arange(len(frame)) if rank is None else rank
    load = _load(frame, is_open, team, today, rank)
    by_name = {norm_header(m.name): m for m in team}
    matched = first_match(frame, rules)
    listed = {
        id(c): matched_values(c, frame).to_numpy(dtype=object)
        for rule in rules
        for c in rule.conditions
        if c.lists_values
    }
    results = []
    # Nobody's load changes until someone is assigned: until then, a row whose rule and
    # listed values were already seen without anyone free is left unowned for the same
    # reason. A backlog beyond everyone's capacity then costs a look-up a row.
    nobody_free: dict[tuple[object, ...], str] = {}
    for row in rows:
        j = int(matched[row]) if matched[row] >= 0 else None
        key = (
            (j, *(listed[id(c)][row] for c in rules[j].conditions if c.lists_values))
            if j is not None
            else (None,)
        )
        if key in nobody_free:
            results.append(Assignment(row, "", nobody_free[key]))
            continue
        if j is None:
            reason = "no routing rule matched"
            candidates: list[Member] = []
        else:
            rule = rules[j]
            said = (
                " and ".join(
                    c.describe(str(listed[id(c)][row]) if c.lists_values else "")
                    for c in rule.conditions
                )
                or "every lead"
            )
            reason = f"{rule.label} ({said})"
            candidates = _candidates(rule, team, by_name, load)
        available = [m for m in candidates if not _why_unavailable(m, load, today)]
        if available:
            strategy = rules[j].strategy if j is not None else "direct"
            chosen = _pick(available, strategy, load)
            how = "" if strategy == "direct" else f" by {strategy}"
            target = rules[j].assign_to if j is not None else chosen.name
            why = f"{reason} → {target}{how}" if target != chosen.name else f"{reason} → {target}"
            if target != chosen.name:
                why += f": {chosen.name}"
        else:
            # in Team tab order, not rotation order: the same reason on every sync
            in_team_order = sorted(candidates, key=lambda m: team.index(m))
            busy = "; ".join(_why_unavailable(m, load, today) for m in in_team_order)
            backup = by_name.get(norm_header(fallback)) if fallback else None
            # the fallback is a person like any other: not when away, nor past capacity
            unavailable = (
                "no fallback owner (Settings: Fallback owner)"
                if backup is None
                else _why_unavailable(backup, load, today)
            )
            if unavailable:
                extra = [unavailable] if backup and unavailable not in busy else []
                why = "; ".join(p for p in (reason, busy, *extra) if p)
                why += "; no fallback owner available (Settings: Fallback owner)"
                nobody_free[key] = why
                results.append(Assignment(row, "", why))
                continue
            assert backup is not None
            chosen = backup
            why = "; ".join(p for p in (reason, busy) if p) + f" → fallback owner {chosen.name}"
        load.today[chosen.name] += 1
        if is_open[row]:
            load.open[chosen.name] += 1
        load.last[chosen.name] = (today, int(rank[row]))
        nobody_free.clear()
        results.append(Assignment(row, chosen.name, why))
    return results


def _candidates(
    rule: RoutingRule, team: Sequence[Member], by_name: dict[str, Member], load: _Load
) -> list[Member]:
    if rule.strategy == "direct":
        member = by_name.get(norm_header(rule.assign_to))
        return [member] if member else []
    members = [m for m in team if norm_header(m.team) == norm_header(rule.assign_to)]
    if rule.strategy != "round robin" or not members:
        return members
    # Rotate so the member after the one who got the team's latest lead comes first.
    latest = (
        max((load.last[m.name] + (i,), i) for i, m in enumerate(members) if m.name in load.last)
        if any(m.name in load.last for m in members)
        else None
    )
    start = (latest[1] + 1) % len(members) if latest else 0
    return members[start:] + members[:start]
