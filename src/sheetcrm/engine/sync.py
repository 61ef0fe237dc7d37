"""``plan_sync(snapshot, now) -> Plan``: what one sync changes, planned without I/O.

Steps: parse rule tabs; give new rows IDs; validate; find duplicates; score; route;
track stages; write Status; diff every service-owned cell against what was read. Only
cells whose value changes are planned, so a second sync with no edit plans nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from sheetcrm.engine.bulk import gc_paused
from sheetcrm.engine.config import Config, Problem, parse_config
from sheetcrm.engine.metric_tabs import digest, metric_tabs
from sheetcrm.engine.plan import (
    ColumnWrites,
    Plan,
    RowKey,
    find_column,
    person_columns,
    person_fingerprint,
)
from sheetcrm.engine.routing import route
from sheetcrm.engine.rules import Frame
from sheetcrm.engine.schema import (
    HISTORY,
    LEADS,
    MAX_ROW_PROBLEMS,
    PROBLEMS,
    SERVICE_BY,
    STATE,
    service_columns,
)
from sheetcrm.engine.scoring import lifecycle, score
from sheetcrm.engine.stages import track
from sheetcrm.engine.table import Snapshot, Table, a1, norm_header
from sheetcrm.engine.validation import Memo, check_rows, company_domains, find_duplicates
from sheetcrm.engine.values import MAX_CELL, clamp, format_datetime, format_number, shown, stripped
from sheetcrm.engine.wallclock import on_the_clock

ID_PATTERN = re.compile(r"^L-(\d+)$")
ISSUED_PATTERN = re.compile(r"L-(\d+)")  # fullmatch: \d is exactly the digits int() reads
NEXT_ID_KEY = "next lead id"
METRICS_KEY = "metrics digest"  # what the metric tabs show, but for their "as of" time
FREE_TEXT = ("Score reasons", "Status")

RowProblems = list[tuple[np.ndarray, str, list[str], str]]


def local_now(now: datetime, config: Config) -> datetime:
    """``now`` in the sheet's time zone, to the minute: what stamps are written as. Aware, so
    that the fold of the hour clocks go back survives (a stamp there carries its offset). A
    naive ``now`` (``--now``) is already the sheet's wall time, and must be one its clocks
    show: a skipped time raises SheetCRMError."""
    zone = config.settings.zone
    if now.tzinfo is None:
        now = on_the_clock(now, zone)
    return now.astimezone(zone).replace(second=0, microsecond=0)


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
    # each distinct ID once; map() makes no Python call per ID
    issued = map(ISSUED_PATTERN.fullmatch, {*ids, *history.column("Lead ID")})
    counter = max(counter, max((int(m[1]) for m in issued if m), default=0) + 1)
    # New numbers are above every number issued, so a new ID is never one already in use.
    fresh = (np.array(ids, dtype=object) == "") | pd.Series(
        ids, dtype=object
    ).duplicated().to_numpy()
    for i in np.flatnonzero(fresh):
        ids[i] = f"L-{counter:05d}"
        counter += 1
    return ids, fresh, counter


def _rank(ids: list[str]) -> np.ndarray:
    matches = map(ID_PATTERN.match, ids)
    numbers = [int(m[1]) if m else 10**12 + k for k, m in enumerate(matches)]
    return np.array(numbers, dtype=np.int64)


@dataclass
class _Work:
    """The planning state shared by the steps of one sync."""

    data: pd.DataFrame
    frame: Frame  # typed views of ``data``, each column derived once per sync
    now: datetime
    config: Config
    problems: RowProblems
    flags: RowProblems

    def put(self, column: str, values: object) -> None:
        """Replace a column; a later step that reads it (routing may test this sync's
        scores, stages read Assigned at) then sees the new values."""
        _put(self.data, column, values)
        self.frame.forget(column)


@gc_paused()
def plan_sync(
    snapshot: Snapshot, now: datetime, memo: Memo | None = None, metrics: bool = True
) -> Plan:
    """Plan one sync of ``snapshot`` at ``now``. Pure: no I/O, no clock, never raises on data.
    ``metrics=False`` leaves the metric tabs as they are (web-form intake: the next sync
    updates them, so that appending leads costs no chart or format requests)."""
    config = parse_config(snapshot)
    plan = Plan(snapshot.version, settings=config.settings)
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
    if pd.api.types.infer_dtype(data.to_numpy(dtype=object).ravel(), skipna=False) != "string":
        data = data.fillna("")  # only when some cell is not text: fillna costs a copy
    positions = _lead_rows(data, service)
    data = data.iloc[positions].reset_index(drop=True)
    read = data[service].copy()
    settings = config.settings
    frame = Frame(data, stamp_now, settings.dayfirst)
    work = _Work(data, frame, stamp_now, config, [], [])

    ids, fresh, counter = _ids(data, state, history)
    work.put("Lead ID", ids)
    rank = _rank(ids)  # Lead ID order: who came first, for duplicates and routing
    arrived = (stripped(data["Created at"]) == "").to_numpy()
    work.put("Created at", np.where(arrived, stamp, data["Created at"].to_numpy(dtype=object)))

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
        work.put("Duplicate of", [ids[e] if e >= 0 else "" for e in earliest])

    stages = {norm_header(s.name): s for s in config.stages}
    is_open = frame.per_key("Stage", lambda k: k not in stages or stages[k].type == "open")

    if "scoring" not in frozen:
        _score(work)

    if "routing" not in frozen and config.team:
        _route(plan, work, ids, rank, is_open, stamp)
        _unknown_owners(work)

    if "stages" not in frozen and config.stages:
        result = track(
            frame, ids, arrived, config.stages, history, settings["First-touch SLA hours"]
        )
        work.put("Stage changed at", result.changed_at.to_numpy())
        work.put("Closed at", result.closed_at.to_numpy())
        work.put("First touch at", result.first_touch_at.to_numpy())
        work.problems += result.problems
        work.flags += result.flags
        for e in result.events:
            row = _history(stamp, ids[e.row], "Stage", e.before, e.after, e.why)
            plan.history.append((e.row, row, "Stage changed at" if e.observed else ""))
        plan.summary.stage_changes = sum(1 for e in result.events if e.observed)

    row_problems, counted, plan.summary.flagged = _status(work, positions, frozen)
    # 7. Metrics: the metric tabs, rewritten only when a figure changes (metric_tabs.py).
    metrics_digest = _state(state, METRICS_KEY)
    if metrics:
        tabs = metric_tabs(
            snapshot, data, config, stamp_now, [r for _, r, _ in plan.history], work.flags, frozen
        )
        if digest(tabs) != metrics_digest or not all(map(snapshot.get, tabs)):
            plan.replace.update(tabs)
        metrics_digest = digest(tabs)
    for column in service:
        old = read[column].to_numpy(dtype=object)
        new = data[column].to_numpy(dtype=object)
        if column in FREE_TEXT:  # only text we compose can outgrow a cell
            long = np.flatnonzero(
                np.fromiter(map(len, new), dtype=np.int64, count=len(new)) > MAX_CELL
            )
            new = new.copy()
            new[long] = [clamp(v) for v in new[long]]
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
    lead = np.zeros(len(data), dtype=bool)
    pending = np.arange(len(data))
    # A column at a time, each only on the rows not yet known to be leads: nearly every row
    # is settled by its Lead ID or its first person column.
    for column in ["Lead ID", *person]:
        cells = data[column].to_numpy(dtype=object)[pending]
        typed = np.fromiter(  # a cell of only spaces is still empty
            (v != "" and bool(str(v).strip()) for v in cells), dtype=bool, count=len(cells)
        )
        lead[pending[typed]] = True
        pending = pending[~typed]
        if not len(pending):
            break
    return np.flatnonzero(lead)


def _score(work: _Work) -> None:
    config, data = work.config, work.data
    settings = config.settings
    scores = score(work.frame, config.scoring, settings)
    codes, totals = pd.factorize(scores.score, use_na_sentinel=False)  # a few distinct scores
    work.put("Score", np.array([format_number(v) for v in totals], dtype=object)[codes])
    work.put("Score reasons", scores.reasons.to_numpy())
    work.put("Grade", scores.grade.to_numpy())
    stages = {norm_header(s.name): s for s in config.stages}
    first_open = next((s for s in config.stages if s.type == "open"), None)

    def rank(key: str) -> int:
        stage = stages.get(key)
        if stage is None or stage.type == "lost":
            return -1 if stages else 0
        if stage.type == "won":
            return 2
        return 0 if first_open and stage.name == first_open.name else 1

    ranks = work.frame.per_key("Stage", rank, int)
    work.put("Lifecycle", lifecycle(scores.score, data["Lifecycle"], ranks, settings).to_numpy())


def _route(
    plan: Plan,
    work: _Work,
    ids: list[str],
    rank: np.ndarray,
    is_open: np.ndarray,
    stamp: str,
) -> None:
    data, config, frame = work.data, work.config, work.frame
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
    work.put("Owner", owners)
    work.put("Assigned at", assigned_at)


def _unknown_owners(work: _Work) -> None:
    frame = work.frame
    team = {norm_header(m.name) for m in work.config.team}
    owner = frame.text("Owner")
    unknown = (~frame.blank("Owner")) & ~frame.per_key("Owner", team.__contains__)
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
    problems: list[Problem] = []
    columns = {name: i for i, name in enumerate(work.data.columns)}
    ids = work.data["Lead ID"].to_numpy(dtype=object)
    notes: list[tuple[np.ndarray, np.ndarray]] = []
    for rows, column, messages, hint in work.problems:
        said = _prefixed(column, messages)
        notes.append((np.asarray(rows, dtype=np.int64), said))
        col = columns.get(column, 0)
        for r, text in zip(rows[: MAX_ROW_PROBLEMS - len(problems)], said, strict=False):
            where = a1(LEADS.name, Table.sheet_row(int(positions[r])), col)
            problems.append(Problem(LEADS.name, where, text, hint, str(ids[r])))
    counted = sum(len(rows) for rows, _ in notes)
    flagged = np.zeros(n, dtype=bool)
    for rows, _column, messages, _hint in work.flags:
        notes.append((np.asarray(rows, dtype=np.int64), np.asarray(messages, dtype=object)))
        flagged[rows] = True
    if not frozen & {"validation", "stages"}:
        joined, said = join_notes(n, notes)
        work.put("Status", np.where(said, joined, "OK"))
    return problems, counted, int(flagged.sum())


def _prefixed(column: str, messages: list[str]) -> np.ndarray:
    """``"column: message"`` for each message, composed once per distinct message: a
    capacity-bound backlog gives tens of thousands of rows the same routing reason."""
    codes, uniques = pd.factorize(np.asarray(messages, dtype=object))
    texts = np.array([f"{column}: {m}" for m in uniques], dtype=object)
    return texts[codes] if len(codes) else np.array([], dtype=object)


def join_notes(
    n: int, notes: Sequence[tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``n``, the texts ``notes`` give it (rows, texts per step), joined with "; "
    in the order given, and whether it got any. One vectorised pass per step, not per row."""
    joined = np.full(n, "", dtype=object)
    said = np.zeros(n, dtype=bool)
    for rows, texts in notes:
        if not len(rows):
            continue
        # a row named twice by one step gets both texts: one pass per repeat
        repeat = np.zeros(len(rows), dtype=np.int64)
        if np.bincount(rows, minlength=n).max() > 1:
            order = np.argsort(rows, kind="stable")
            run = np.r_[True, rows[order][1:] != rows[order][:-1]]
            start = np.maximum.accumulate(np.where(run, np.arange(len(rows)), 0))
            repeat[order] = np.arange(len(rows)) - start
        for k in range(int(repeat.max()) + 1):
            at, text = rows[repeat == k], texts[repeat == k]
            joined[at] = np.where(said[at], joined[at] + "; " + text, text)
            said[at] = True
    return joined, said


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
