"""What a sync intends to change, and how a plan is resolved against the sheet as it is now.

A plan names rows by Lead ID (or, for rows that get their ID in this very plan, by
their position and the person's cells), and every cell write carries the value it
expects to replace. Resolving re-finds each row and writes a cell only if it still holds
that value: a person who sorts, inserts rows or types into a cell while a sync runs
never has a value land on the wrong lead nor an edit overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from hashlib import blake2b
from operator import itemgetter

import numpy as np

from sheetcrm.engine.activity_tab import append_activities
from sheetcrm.engine.changes import Changes
from sheetcrm.engine.metric_grid import MetricTab
from sheetcrm.engine.notifications import Notifications, Preview
from sheetcrm.engine.plan_rows import PlannedHistory, RowKeys
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.schema import ACTIVITIES, HISTORY, LEADS, NOTIFICATIONS, tab_spec
from sheetcrm.engine.settings import Settings
from sheetcrm.engine.table import Snapshot, Table, norm_header


@dataclass
class ColumnWrites:
    column: str  # canonical Leads header
    rows: np.ndarray  # positions in Plan.keys
    old: Sequence[str]  # each cell's value as read (diff's: plan_rows.Texts)
    new: Sequence[str]


@dataclass
class Summary:
    rows: int = 0
    new_ids: int = 0
    scored: int = 0
    routed: int = 0
    stage_changes: int = 0
    problems: int = 0
    flagged: int = 0
    frozen: tuple[str, ...] = ()
    last_good: tuple[str, ...] = ()  # rule tabs (or settings) applied as they were last valid
    drafts: tuple[str, ...] = ()  # the draft rules, not applied (engine/sync/preview.py)

    def line(self) -> str:
        text = (
            f"{self.rows} rows read, {self.new_ids} new IDs, {self.scored} scores changed, "
            f"{self.routed} routed, {self.stage_changes} stage changes, "
            f"{self.flagged} flagged, {self.problems} problems"
        )
        if self.frozen:
            text += f" (not applied this round: {', '.join(self.frozen)})"
        if self.last_good:
            text += f" (applied as last valid: {', '.join(self.last_good)})"
        return text


@dataclass
class Plan:
    version: str
    keys: RowKeys = field(default_factory=RowKeys)  # the rows writes and history name
    writes: list[ColumnWrites] = field(default_factory=list)
    new_columns: list[str] = field(default_factory=list)
    # by tab other than Leads: its service columns missing, added at its right (Activities'
    # Submission ID on a tab made before it)
    tab_columns: dict[str, list[str]] = field(default_factory=dict)
    # per row: key position, or -1 for a row appended by this plan; History row; the Leads
    # column whose write it records, or ""
    history: PlannedHistory = field(default_factory=PlannedHistory)
    appends: list[dict[str, str]] = field(default_factory=list)  # new Leads rows, by header
    replace: dict[str, Table] = field(default_factory=dict)  # Problems, state
    problems: list[Problem] = field(default_factory=list)
    # the top rows of Problems: a rule tab with a problem, and what the sync uses instead
    banners: list[Problem] = field(default_factory=list)
    summary: Summary = field(default_factory=Summary)
    settings: Settings = field(default_factory=Settings)  # the Settings tab's, as planned with
    stamp: str = ""  # the sync's time, as written in cells and History
    # planned, not sent; given as a list (a flush's, a test's), held as Notifications
    notifications: Notifications = field(default_factory=Notifications)
    log: list[list[str]] = field(default_factory=list)  # new Notifications tab rows
    # new Activities rows (the nurture e-mails sent), by canonical header, Submission ID = key
    activities: list[dict[str, str]] = field(default_factory=list)
    # every nurture e-mail due, planned or not (drafts, waiting): for previews, never sent
    previews: list[Preview] = field(default_factory=list)
    preview: MetricTab | None = None  # the Preview tab (engine/preview_tab.py): `rules preview`

    def __post_init__(self) -> None:
        if not isinstance(self.notifications, Notifications):
            self.notifications = Notifications(self.notifications)

    @property
    def cell_count(self) -> int:
        return sum(len(w.new) for w in self.writes)

    def __bool__(self) -> bool:
        return bool(
            self.cell_count
            or self.new_columns
            or any(self.tab_columns.values())
            or self.history
            or self.appends
            or self.replace
            or self.log
            or self.activities
        )

    def describe(self, limit: int = 200) -> list[str]:
        """Human-readable lines for ``sync --dry-run``."""
        lines = [f"add column {LEADS.name}!{c}" for c in self.new_columns]
        lines += [f"add column {t}!{c}" for t, cs in self.tab_columns.items() for c in cs]
        lines += [n.describe() for n in self.notifications]
        lines += [p.describe() for p in self.previews if p.status != "planned"]
        for w in self.writes:
            for pos, old, new in zip(w.rows, w.old, w.new, strict=True):
                key = self.keys[int(pos)]
                who = key.lead_id or f"row {Table.sheet_row(key.row)} (new)"
                lines.append(f"{LEADS.name} {who} · {w.column}: {old!r} → {new!r}")
        lines += [f"{HISTORY.name} += {' | '.join(r)}" for _, r, _ in self.history]
        lines += [f"{NOTIFICATIONS.name} += {' | '.join(r)}" for r in self.log]
        lines += [f"{ACTIVITIES.name} += {' | '.join(r.values())}" for r in self.activities]
        lines += [f"{LEADS.name} += {' | '.join(v for v in r.values() if v)}" for r in self.appends]
        lines += [f"rewrite tab {name} ({len(t.rows)} rows)" for name, t in self.replace.items()]
        if len(lines) > limit:
            lines = [*lines[:limit], f"... and {len(lines) - limit} more"]
        return lines


def find_column(table: Table, canonical: str) -> int | None:
    """The position of a Leads column by its canonical header, aliases included."""
    for i, header in enumerate(table.header):
        spec = LEADS.column(header)
        if (spec.header if spec else header.strip()) == canonical or norm_header(
            header
        ) == norm_header(canonical):
            return i
    return None


def person_columns(table: Table) -> list[int]:
    """Positions of the Leads columns people own: what identifies a row that has no ID yet."""
    return [
        i
        for i, h in enumerate(table.header)
        if (spec := LEADS.column(h)) is None or spec.owner.value != "service"
    ]


def person_fingerprint(row: list[str], columns: list[int]) -> bytes:
    """A digest of the person's cells of ``row``: equal for rows whose cells are equal. A
    digest rather than the cells joined, as a first sync keeps one per new row (100,000
    leads: 20 MB of joined text, 5 MB of digests); at 128 bits two different rows share one
    with odds far below any other failure's."""
    if columns and columns[-1] >= len(row):
        row = row + [""] * (columns[-1] + 1 - len(row))
    joined = (
        "\x1f".join(itemgetter(*columns)(row))
        if len(columns) > 1
        else "".join(row[i] for i in columns)
    )
    return blake2b(joined.encode("utf-8", "surrogatepass"), digest_size=16).digest()


LINKED = {"Assigned at": "Owner"}
"""A write that only makes sense with another: Assigned at is stamped only with the Owner."""


@dataclass
class Resolved:
    changes: Changes
    conflicts: int  # cells skipped: a person changed them, or their row is gone


def resolve(plan: Plan, current: Snapshot) -> Resolved:
    """Turn ``plan`` into position-addressed :class:`Changes` against ``current``."""
    changes = Changes(current.version)
    leads = current.get(LEADS.name)
    conflicts = 0
    if leads is not None:
        added = [c for c in plan.new_columns if find_column(leads, c) is None]
        if added:
            changes.new_columns[_tab_name(current, LEADS.name)] = added
        where = _locate(plan, leads, current.version == plan.version)
        tab = _tab_name(current, LEADS.name)
        skipped: set[tuple[int, str]] = set()  # (plan position, column) not written
        for w in plan.writes:
            col = find_column(leads, w.column)
            if col is None:
                col = len(leads.header) + added.index(w.column) if w.column in added else None
            linked = LINKED.get(w.column)
            for pos, old, new in zip(w.rows, w.old, w.new, strict=True):
                row = where[int(pos)]
                cur = (
                    ""
                    if col is None or row < 0 or col >= len(leads.header)
                    else leads.rows[row][col]
                )
                if col is None or row < 0 or cur != old or (int(pos), linked) in skipped:
                    conflicts += 1
                    skipped.add((int(pos), w.column))
                    continue
                changes.cells.add(tab, row, col, new)
        # a History row that records a write which did not happen would be a lie
        history = [
            r
            for pos, r, column in plan.history
            if pos < 0 or (where[pos] >= 0 and (pos, column) not in skipped)
        ]
        if history:
            changes.appends[_tab_name(current, HISTORY.name)] = history
        if plan.appends:
            slots = _slots(leads.header + added)
            changes.appends.setdefault(tab, []).extend(
                [record.get(slot, "") for slot in slots] for record in _by_key(plan.appends)
            )
    for name, columns in plan.tab_columns.items():
        table = current.get(name)
        spec = tab_spec(name)
        if table is None or spec is None or not table.header:
            continue  # gone since the read: nothing to add it to
        have = {c.header for h in table.header if (c := spec.column(h))}
        if added := [c for c in columns if c not in have]:
            changes.new_columns[_tab_name(current, name)] = added
    changes.replace = dict(plan.replace)
    _log(plan, current, changes)
    append_activities(plan.activities, current, changes)
    return Resolved(changes, conflicts)


def _log(plan: Plan, current: Snapshot, changes: Changes) -> None:
    """The Notifications rows ``plan`` adds, less those whose Key the tab got meanwhile (a
    second instance logged them): appended, or the tab created with them when it is absent."""
    if not plan.log:
        return
    tab = current.get(NOTIFICATIONS.name)
    key = NOTIFICATIONS.headers.index("Key")
    known = set(tab.column("Key")) if tab is not None else set()
    rows = [r for r in plan.log if r[key] not in known]
    if not rows:
        return
    if tab is None:  # a sheet from before the tab: created with its header
        changes.replace[NOTIFICATIONS.name] = Table(NOTIFICATIONS.headers, rows)
        return
    if tab.header == NOTIFICATIONS.headers:
        changes.appends[_tab_name(current, NOTIFICATIONS.name)] = rows
        return
    # a person moved its columns: each value under its header, by name
    at = {norm_header(h): i for i, h in enumerate(NOTIFICATIONS.headers)}
    changes.appends[_tab_name(current, NOTIFICATIONS.name)] = [
        [r[at[norm_header(h)]] if norm_header(h) in at else "" for h in tab.header] for r in rows
    ]


def _slots(header: list[str]) -> list[str]:
    """For each column of ``header``, the key a record's value for it is found under."""
    return [norm_header(spec.header if (spec := LEADS.column(h)) else h) for h in header]


def _by_key(records: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{norm_header(k): v for k, v in r.items()} for r in records]


def _tab_name(snapshot: Snapshot, name: str) -> str:
    key = norm_header(name)
    return next((t for t in snapshot.tabs if norm_header(t) == key), name)


def _locate(plan: Plan, leads: Table, same_version: bool) -> dict[int, int]:
    """Current row of each plan key; -1 when it cannot be found for sure."""
    if same_version:
        return plan.keys.where_read()
    id_col = find_column(leads, "Lead ID")
    ids: dict[str, int] = {}
    repeated: set[str] = set()
    unnamed: dict[bytes, list[int]] = {}
    person = person_columns(leads)
    for r, row in enumerate(leads.rows):
        lead_id = row[id_col].strip() if id_col is not None else ""
        if lead_id:
            if lead_id in ids:
                repeated.add(lead_id)
            ids[lead_id] = r
        else:
            unnamed.setdefault(person_fingerprint(row, person), []).append(r)
    where = {}
    for i, key in plan.keys.items():
        if key.lead_id:
            where[i] = -1 if key.lead_id in repeated else ids.get(key.lead_id, -1)
            continue
        rows = unnamed.get(key.fingerprint, [])
        # an identical twin row would be ambiguous: prefer the same position, else the first
        found = key.row if key.row in rows else (rows[0] if rows else -1)
        if found >= 0:
            rows.remove(found)
        where[i] = found
    return where
