"""``plan_sync(snapshot, now) -> Plan`` (pure) and ``apply(plan, backend)``: the only orchestrator.

Steps: parse rule tabs; give new rows IDs; validate; find duplicates; score; route;
track stages; write Status; diff every service-owned cell against what was read. Only
cells whose value changes are planned, so a second sync with no edit plans nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from sheetcrm.backends.base import SheetBackend, StaleSnapshotError
from sheetcrm.config import Config, Problem, parse_config
from sheetcrm.errors import BackendError
from sheetcrm.metric_tabs import digest, metric_tabs
from sheetcrm.plan import (
    ColumnWrites,
    Plan,
    Resolved,
    RowKey,
    find_column,
    person_columns,
    person_fingerprint,
    resolve,
)
from sheetcrm.routing import route
from sheetcrm.rules import Frame
from sheetcrm.schema import HISTORY, LEADS, PROBLEMS, SERVICE_BY, STATE, service_columns
from sheetcrm.scoring import lifecycle, score
from sheetcrm.stages import track
from sheetcrm.table import Snapshot, Table, a1, norm_header
from sheetcrm.validation import Memo, check_rows, company_domains, find_duplicates
from sheetcrm.values import clamp, format_datetime, format_number, shown, stripped

ID_PATTERN = re.compile(r"^L-(\d+)$")
NEXT_ID_KEY = "next lead id"
METRICS_KEY = "metrics digest"  # what the metric tabs show, but for their "as of" time
FREE_TEXT = ("Score reasons", "Status")
MAX_ROW_PROBLEMS = 1000
"""Row problems listed one per line on the Problems tab; the rest are counted in one line
(each row's own Status cell always says what is wrong with it)."""

RowProblems = list[tuple[np.ndarray, str, list[str], str]]


def local_now(now: datetime, config: Config) -> datetime:
    """``now`` in the sheet's time zone, naive, to the minute: what stamps are written as."""
    if now.tzinfo is not None:
        now = now.astimezone(config.settings.zone).replace(tzinfo=None)
    return now.replace(second=0, microsecond=0)


def leads_frame(leads: Table) -> tuple[pd.DataFrame, list[Problem]]:
    """Leads as a DataFrame of strings, columns named by their canonical header."""
    names: list[str] = []
    problems = []
    for i, header in enumerate(leads.header):
        spec = LEADS.column(header)
        name = spec.header if spec else header.strip() or f"(column {i + 1})"
        if name in names:
            problems.append(
                Problem(
                    LEADS.name,
                    a1(LEADS.name, 1, i),
                    f"a second {name!r} column; only the first is used",
                    "rename or delete one of them",
                )
            )
            name = f"{name} ({i + 1})"
        names.append(name)
    width = len(names)
    rows = leads.rows
    if any(len(row) != width for row in rows):
        rows = [(row + [""] * width)[:width] for row in rows]
    return pd.DataFrame(rows, columns=names, dtype=object), problems


def _put(data: pd.DataFrame, column: str, values: object) -> None:
    """Set a column as plain Python strings: pandas 3 would otherwise infer its own string
    dtype, whose per-element access makes every later loop several times slower."""
    data[column] = pd.Series(np.asarray(values, dtype=object), index=data.index, dtype=object)


def _ids(data: pd.DataFrame, state: Table, history: Table) -> tuple[list[str], np.ndarray, int]:
    """Every row's Lead ID; rows without one, or with a copy of an earlier row's, get the next
    number. The counter lives in the hidden state tab and never goes back, so an ID is never
    reused even after its row is deleted."""
    ids = list(stripped(data["Lead ID"]))
    counter = 1
    for key, value in zip(state.column("Key"), state.column("Value"), strict=True):
        if key.strip().casefold() == NEXT_ID_KEY and value.strip().isdigit():
            counter = int(value)
    numbers = [
        int(i[2:])
        for i in (*ids, *history.column("Lead ID"))
        if i.startswith("L-") and i[2:].isdigit()
    ]  # ID_PATTERN, without a regex per ID
    counter = max(counter, max(numbers, default=0) + 1)
    fresh = np.zeros(len(ids), dtype=bool)
    taken: set[str] = set()
    for i, lead_id in enumerate(ids):
        if not lead_id or lead_id in taken:
            ids[i] = f"L-{counter:05d}"
            counter += 1
            fresh[i] = True
        taken.add(ids[i])
    return ids, fresh, counter


def _rank(ids: list[str]) -> np.ndarray:
    numbers = [
        int(m.group(1)) if (m := ID_PATTERN.match(i)) else 10**12 + k for k, i in enumerate(ids)
    ]
    return np.array(numbers, dtype=np.int64)


@dataclass
class _Work:
    """The planning state shared by the steps of one sync."""

    data: pd.DataFrame
    now: datetime
    config: Config
    problems: RowProblems
    flags: RowProblems


def plan_sync(snapshot: Snapshot, now: datetime, memo: Memo | None = None) -> Plan:
    """Plan one sync of ``snapshot`` at ``now``. Pure: no I/O, no clock, never raises on data."""
    config = parse_config(snapshot)
    plan = Plan(snapshot.version)
    leads = snapshot.get(LEADS.name)
    stamp_now = local_now(now, config)
    stamp = format_datetime(stamp_now)
    history = snapshot.table(HISTORY.name)
    state = snapshot.table(STATE.name)
    stop = _cannot_sync(leads, config, state, history)
    if stop is not None:
        plan.problems = stop
        _problems_tab(plan, snapshot, stamp)
        plan.summary.problems = len(plan.problems)
        return plan
    assert leads is not None
    data, header_problems = leads_frame(leads)
    service = service_columns()
    plan.new_columns = [c for c in service if c not in data.columns]
    frozen = set(config.frozen)
    for spec in LEADS.columns:
        if spec.header not in data.columns:  # a person deleted or renamed it
            _put(data, spec.header, [""] * len(data))
            if spec.header == "Stage":
                frozen.add("stages")
                header_problems.append(
                    Problem(
                        LEADS.name,
                        a1(LEADS.name, 1),
                        "the Leads tab has no Stage column",
                        "add a column headed Stage",
                    )
                )
    data = data.fillna("")
    positions = _lead_rows(data, service)
    data = data.iloc[positions].reset_index(drop=True)
    read = data[service].copy()
    settings = config.settings
    work = _Work(data, stamp_now, config, [], [])

    ids, fresh, counter = _ids(data, state, history)
    _put(data, "Lead ID", ids)
    rank = _rank(ids)  # Lead ID order: who came first, for duplicates and routing
    arrived = (stripped(data["Created at"]) == "").to_numpy()
    data.loc[arrived, "Created at"] = stamp

    if "validation" not in frozen:
        checked = check_rows(
            data,
            settings["Default phone region"],
            settings.dayfirst,
            settings["Required fields"],
            memo,
        )
        work.problems += checked.problems
        keys = {
            "email": checked.email,
            "phone": checked.phone,
            "company domain": company_domains(checked.email, settings["Free-mail domains"]),
        }
        chosen = [keys[k].reset_index(drop=True) for k in settings["Dedupe keys"]]
        earliest = find_duplicates(rank, chosen)
        _put(data, "Duplicate of", [ids[e] if e >= 0 else "" for e in earliest])

    stages = {norm_header(s.name): s for s in config.stages}
    stage_keys = data["Stage"].map(norm_header)
    is_open = stage_keys.map(lambda k: k not in stages or stages[k].type == "open").to_numpy()

    if "scoring" not in frozen:
        _score(data, Frame(data, stamp_now, settings.dayfirst), config, stage_keys)

    if "routing" not in frozen and config.team:
        frame = Frame(data, stamp_now, settings.dayfirst)  # routing may test this sync's scores
        _route(plan, work, frame, ids, rank, is_open, stamp)
        _unknown_owners(work, frame)

    if "stages" not in frozen and config.stages:
        frame = Frame(data, stamp_now, settings.dayfirst)
        result = track(
            frame, ids, arrived, config.stages, history, settings["First-touch SLA hours"]
        )
        _put(data, "Stage changed at", result.changed_at.to_numpy())
        _put(data, "Closed at", result.closed_at.to_numpy())
        _put(data, "First touch at", result.first_touch_at.to_numpy())
        work.problems += result.problems
        work.flags += result.flags
        for e in result.events:
            row = _history(stamp, ids[e.row], "Stage", e.before, e.after, e.why)
            plan.history.append((e.row, row, "Stage changed at" if e.observed else ""))
        plan.summary.stage_changes = sum(1 for e in result.events if e.observed)

    row_problems, counted, plan.summary.flagged = _status(work, positions, frozen)
    # 7. Metrics: the metric tabs, rewritten only when a figure changes (metric_tabs.py).
    metrics = metric_tabs(
        snapshot, data, config, stamp_now, [r for _, r, _ in plan.history], work.flags, frozen
    )
    metrics_digest = digest(metrics)
    if metrics_digest != _state(state, METRICS_KEY) or not all(map(snapshot.get, metrics)):
        plan.replace.update(metrics)
    for column in service:
        old = read[column].to_numpy(dtype=object)
        new = data[column].to_numpy(dtype=object)
        if column in FREE_TEXT:  # only text we compose can outgrow a cell
            new = np.array([clamp(v) for v in new], dtype=object)
        changed = np.flatnonzero(old != new)
        if len(changed):
            plan.writes.append(
                ColumnWrites(column, changed, list(old[changed]), list(new[changed]))
            )
    # How apply() finds each touched row again: by the ID it had, or, for a row this plan
    # names, by its position and the person's cells.
    person_cols = person_columns(leads)
    touched = {int(i) for w in plan.writes for i in w.rows} | {i for i, _, _ in plan.history}
    for i in sorted(touched):
        p = int(positions[i])
        plan.keys[i] = (
            RowKey("", p, person_fingerprint(leads.rows[p], person_cols))
            if fresh[i]
            else RowKey(ids[i], p)
        )
    # History rows in sheet order of their leads, stage entries after routing ones.
    plan.history.sort(key=lambda item: item[0])
    plan.problems = [*config.problems, *header_problems, *row_problems]
    plan.summary.problems = len(config.problems) + len(header_problems) + counted
    _problems_tab(plan, snapshot, stamp)
    _state_tab(plan, snapshot, counter, metrics_digest)
    plan.summary.rows = len(data)
    plan.summary.new_ids = int(fresh.sum())
    plan.summary.scored = next((len(w.new) for w in plan.writes if w.column == "Score"), 0)
    plan.summary.frozen = tuple(sorted(frozen))
    return plan


def _cannot_sync(
    leads: Table | None, config: Config, state: Table, history: Table
) -> list[Problem] | None:
    """The problems that stop a sync from touching Leads at all, or None."""
    if leads is None or not any(h.strip() for h in leads.header):
        return [
            Problem(
                LEADS.name,
                LEADS.name,
                "no Leads tab, or no header row on it",
                "run `sheetcrm init` on a new file to see the template's Leads tab",
            ),
            *[p for p in config.problems if p.tab in ("Settings", "Team")],
        ]
    issued = any(ID_PATTERN.match(i) for i in history.column("Lead ID")) or any(
        k.strip().casefold() == NEXT_ID_KEY for k in state.column("Key")
    )
    if find_column(leads, "Lead ID") is None and issued:
        # Giving every lead a new ID would cut it off from its History: stop and say so.
        return [
            Problem(
                LEADS.name,
                a1(LEADS.name, 1),
                "the Leads tab has no Lead ID column, but leads were given IDs before",
                "rename the column back to Lead ID (or undo its deletion); nothing was changed",
            )
        ]
    return None


def _lead_rows(data: pd.DataFrame, service: list[str]) -> np.ndarray:
    """Positions of the rows that are leads: a row with nothing a person typed (and no ID)
    is a gap in the sheet, not a lead."""
    person = [c for c in data.columns if c not in service]
    cells = data[[*person, "Lead ID"]].to_numpy(dtype=object)
    typed = cells != ""
    for r in np.flatnonzero(typed.any(axis=1)):  # a cell of only spaces is still empty
        if not any(str(v).strip() for v in cells[r][typed[r]]):
            typed[r] = False
    return np.flatnonzero(typed.any(axis=1))


def _score(data: pd.DataFrame, frame: Frame, config: Config, stage_keys: pd.Series) -> None:
    settings = config.settings
    scores = score(frame, config.scoring, settings)
    _put(data, "Score", [format_number(v) for v in scores.score])
    _put(data, "Score reasons", scores.reasons.to_numpy())
    _put(data, "Grade", scores.grade.to_numpy())
    stages = {norm_header(s.name): s for s in config.stages}
    first_open = next((s for s in config.stages if s.type == "open"), None)

    def rank(key: str) -> int:
        stage = stages.get(key)
        if stage is None or stage.type == "lost":
            return -1 if stages else 0
        if stage.type == "won":
            return 2
        return 0 if first_open and stage.name == first_open.name else 1

    ranks = stage_keys.map(rank).to_numpy()
    _put(data, "Lifecycle", lifecycle(scores.score, data["Lifecycle"], ranks, settings).to_numpy())


def _route(
    plan: Plan,
    work: _Work,
    frame: Frame,
    ids: list[str],
    rank: np.ndarray,
    is_open: np.ndarray,
    stamp: str,
) -> None:
    data, config = work.data, work.config
    unowned = [int(r) for r in np.flatnonzero(frame.blank("Owner"))]
    # oldest first, then by Lead ID: arrival order, whatever order the rows are sorted in
    created = frame.dates("Created at").astype("int64")
    order = sorted(unowned, key=lambda r: (created[r], rank[r]))
    assignments = route(
        frame, order, config.routing, config.team, config.settings["Fallback owner"], is_open, rank
    )
    owners = data["Owner"].to_numpy(dtype=object, copy=True)
    assigned_at = data["Assigned at"].to_numpy(dtype=object, copy=True)
    unowned_rows: list[int] = []
    unowned_why: list[str] = []
    for a in assignments:
        if a.owner:
            owners[a.row], assigned_at[a.row] = a.owner, stamp
            row = _history(stamp, ids[a.row], "Owner", "", a.owner, a.why)
            plan.history.append((a.row, row, "Owner"))
            plan.summary.routed += 1
        else:
            unowned_rows.append(a.row)
            unowned_why.append(a.why)
    if unowned_rows:
        hint = "add people to the Team tab, raise a Daily capacity, or set a Fallback owner"
        work.problems.append((np.array(unowned_rows), "Owner", unowned_why, hint))
    _put(data, "Owner", owners)
    _put(data, "Assigned at", assigned_at)


def _unknown_owners(work: _Work, frame: Frame) -> None:
    team = {norm_header(m.name) for m in work.config.team}
    owner = frame.text("Owner")
    unknown = (~frame.blank("Owner")) & ~owner.map(norm_header).isin(team).to_numpy()
    if unknown.any():
        work.problems.append(
            (
                np.flatnonzero(unknown),
                "Owner",
                [f"{shown(o)} is not on the Team tab" for o in owner[unknown]],
                "pick a name from the Team tab, or add the person there",
            )
        )


def _history(at: str, lead_id: str, field: str, before: str, after: str, why: str) -> list[str]:
    return [at, lead_id, field, before, after, SERVICE_BY, why]


def _status(work: _Work, positions: np.ndarray, frozen: set[str]) -> tuple[list[Problem], int, int]:
    """Write each row's Status ("OK" or what is wrong); list the first row problems for the
    Problems tab (the rest are only counted). Returns them, their count, and flagged rows."""
    n = len(work.data)
    notes: dict[int, list[str]] = {}  # only rows with something to say
    problems = []
    columns = {name: i for i, name in enumerate(work.data.columns)}
    ids = work.data["Lead ID"].to_numpy(dtype=object)
    counted = 0
    for rows, column, messages, hint in work.problems:
        col = columns.get(column, 0)
        for r, message in zip(rows, messages, strict=True):
            notes.setdefault(r, []).append(f"{column}: {message}")
            counted += 1
            if counted > MAX_ROW_PROBLEMS:
                continue
            problems.append(
                Problem(
                    LEADS.name,
                    a1(LEADS.name, Table.sheet_row(int(positions[r])), col),
                    f"{column}: {message}",
                    hint,
                    str(ids[r]),
                )
            )
    flagged = np.zeros(n, dtype=bool)
    for rows, _column, messages, _hint in work.flags:
        for r, message in zip(rows, messages, strict=True):
            notes.setdefault(r, []).append(message)
            flagged[r] = True
    if not frozen & {"validation", "stages"}:
        status = np.full(n, "OK", dtype=object)
        for r, said in notes.items():
            status[r] = "; ".join(said)
        _put(work.data, "Status", status)
    return problems, counted, int(flagged.sum())


def _problems_tab(plan: Plan, snapshot: Snapshot, stamp: str) -> None:
    """Rewrite Problems when what is wrong changed; a problem keeps the At it was first seen."""
    current = snapshot.get(PROBLEMS.name)
    seen = {}
    if current is not None:
        for rec in current.records():
            seen[(rec.get("Tab", ""), rec.get("Cell", ""), rec.get("Problem", ""))] = rec.get("At")
    rows = []
    listed = list(plan.problems)
    more = plan.summary.problems - len(listed)
    if more > 0:
        listed.append(
            Problem(
                LEADS.name,
                LEADS.name,
                f"... and {more} more row problems",
                "each row's Status cell says what is wrong",
            )
        )
    for p in listed:
        rows.append(
            [seen.get((p.tab, p.cell, p.problem)) or stamp, p.tab, p.cell, p.problem, p.hint]
        )
    table = Table(PROBLEMS.headers, rows)
    if current is None or current.rows != table.rows or current.header != table.header:
        plan.replace[PROBLEMS.name] = table


def _state(state: Table, key: str) -> str:
    """The value of ``key`` on the hidden state tab, or ""."""
    values = zip(state.column("Key"), state.column("Value"), strict=True)
    return next((v.strip() for k, v in values if k.strip().casefold() == key), "")


def _state_tab(plan: Plan, snapshot: Snapshot, counter: int, metrics_digest: str) -> None:
    current = snapshot.get(STATE.name)
    rows = [[NEXT_ID_KEY, str(counter)], [METRICS_KEY, metrics_digest]]
    table = Table(STATE.headers, rows)
    if current is None or current.rows != table.rows:
        plan.replace[STATE.name] = table


@dataclass
class ApplyReport:
    cells: int = 0
    appended: int = 0
    conflicts: int = 0
    attempts: int = 0
    written: bool = False


def apply(plan: Plan, backend: SheetBackend, snapshot: Snapshot, attempts: int = 3) -> ApplyReport:
    """Write ``plan`` through ``backend``; re-resolve against a fresh read when the sheet
    changed under us (a person's edit), up to ``attempts`` times."""
    report = ApplyReport()
    current = snapshot
    for attempt in range(1, attempts + 1):
        report.attempts = attempt
        if backend.version() != current.version:
            current = backend.read()
        resolved: Resolved = resolve(plan, current)
        if not resolved.changes:
            report.conflicts = resolved.conflicts
            return report
        try:
            backend.write(resolved.changes)
        except StaleSnapshotError:
            current = backend.read()
            continue
        report.cells = len(resolved.changes.cells)
        report.appended = sum(len(r) for r in resolved.changes.appends.values())
        report.conflicts = resolved.conflicts
        report.written = True
        return report
    raise BackendError(
        f"{backend.location} kept changing while sheetcrm tried to write ({attempts} attempts)",
        "run the sync again in a moment",
    )


def sync_once(
    backend: SheetBackend,
    now: datetime,
    clock: datetime,
    memo: Memo | None = None,
    holder: str = "sheetcrm",
) -> tuple[Plan, ApplyReport]:
    """One whole sync: read, hold the lease, plan at ``now`` (the sheet's time), write.
    ``clock`` is the real time, for the lease's expiry, even when ``now`` is fixed."""
    snapshot = backend.read()
    with backend.lease(holder, clock):
        plan = plan_sync(snapshot, now, memo)
        return plan, apply(plan, backend, snapshot)
