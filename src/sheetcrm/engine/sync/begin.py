"""The first move of a sync: parse the rule tabs and lay the lead rows out as a frame."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from pandas._libs.lib import to_object_array  # type: ignore[attr-defined]  # no stub
from pandas.api.internals import create_dataframe_from_blocks

from sheetcrm.engine.catalog import _, current
from sheetcrm.engine.config import Config, parse_config
from sheetcrm.engine.frame import Frame
from sheetcrm.engine.not_leads import opens, why_not_a_lead
from sheetcrm.engine.plan import Plan, find_column
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.schema import HISTORY, LEADS, STATE, service_columns
from sheetcrm.engine.sync.ids import ID_PATTERN, NEXT_ID_KEY
from sheetcrm.engine.sync.state import LeftOut, SyncState, local_now, put_column
from sheetcrm.engine.table import Snapshot, Table, a1
from sheetcrm.engine.validation import Memo
from sheetcrm.engine.values import format_datetime


def begin(
    snapshot: Snapshot,
    now: datetime,
    memo: Memo | None,
    with_metrics: bool,
    left_out: LeftOut | None = None,
) -> SyncState:
    """The state the steps start from; ``stopped`` when the Leads tab cannot be synced.
    ``left_out``: the plan holds only some of the Leads rows (sync/state.py LeftOut)."""
    if memo is not None:
        memo.speak(current())  # its problems are worded in the language of their sync
    config = parse_config(snapshot)
    stamp_now = local_now(now, config)
    state = SyncState(
        snapshot=snapshot,
        config=config,
        plan=Plan(snapshot.version, settings=config.settings, stamp=format_datetime(stamp_now)),
        now=stamp_now,
        stamp=format_datetime(stamp_now),
        memo=memo,
        with_metrics=with_metrics,
        frozen=set(config.frozen),
        left_out=left_out,
    )
    leads = snapshot.get(LEADS.name)
    stop = _cannot_sync(leads, config, snapshot.table(STATE.name), snapshot.table(HISTORY.name))
    if stop is not None or leads is None:
        state.plan.problems = stop or []
        state.stopped = True
        return state
    held = left_out.rows if left_out is not None else None
    laid = leads if held is None else Table(leads.header, [leads.rows[i] for i in held.tolist()])
    data, state.header_problems = leads_frame(laid)
    service = service_columns()
    # the service's columns, and Consent, which the sequences step reads on every lead
    added = {*service, "Consent"}
    state.plan.new_columns = [c for c in LEADS.headers if c in added and c not in data.columns]
    for spec in LEADS.columns:
        if spec.header not in data.columns:  # a person deleted or renamed it
            put_column(data, spec.header, [""] * len(data))
            if spec.header == "Stage":
                state.frozen.add("stages")
                state.header_problems.append(
                    Problem(
                        LEADS.name,
                        a1(LEADS.name, 1),
                        _("the Leads tab has no Stage column"),
                        _("add a column headed Stage"),
                    )
                )
    at = lead_rows(data, service)
    state.positions = at if held is None else held[at]  # each lead's row in the sheet
    # every row a lead (no gap, no totals row): the frame as it is, not a copy of each column
    whole = len(at) == len(data)
    state.data = data if whole else data.iloc[at].reset_index(drop=True)
    # no copy at all: steps replace columns (put_column), never write into them, and pandas'
    # copy-on-write keeps this shallow copy's columns as read (taking the service columns
    # out of the one block the frame is would copy them)
    state.read = state.data.copy(deep=False)
    state.leads = leads
    state.frame = Frame(
        state.data, stamp_now, config.settings.dayfirst, config.settings.decimal, memo
    )
    return state


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
                    _("a second %(column)r column; only the first is used") % {"column": name},
                    _("rename or delete one of them"),
                )
            )
            name = f"{name} ({i + 1})"
        names.append(name)
    width = len(names)
    rows = leads.rows
    if rows and min(map(len, rows)) < width:  # Table pads its rows: only a row edited since
        rows = [row + [""] * (width - len(row)) for row in rows]
    return frame_of(rows, pd.Index(names, dtype=object)), problems


CHUNK = 4096  # rows laid out at a time: 1.4 MB of pointers for 42 columns


def frame_of(rows: list[list[str]], names: pd.Index, chunk: int = CHUNK) -> pd.DataFrame:
    """The rows as a frame of object columns, the blank ones without a cell each.

    A column of object cells costs a pointer a row whatever it holds: 42 columns of 100,000
    leads are 34 MB, kept until the plan is made. The columns nobody filled in (27 of 42 in
    a first sync of the bench's web leads, 14 in the next) are one block of a single blank
    shared by every row and column (a read-only view with no stride). A step that sets one
    replaces the column (``put_column``), as it does any other, so none writes into it.

    The filled columns are laid out as pandas' own constructor from lists would (a (rows,
    columns) grid, whose transposed view is the frame's block), a chunk of rows at a time,
    so that the whole grid of every column is never made. Every cell is a string (Table's
    contract), so nothing is missing: no fillna either.
    """
    n, width = len(rows), len(names)
    if not n:
        return pd.DataFrame(np.empty((0, width), object), columns=names, dtype=object)
    # a sample of rows settles nearly every column: one filled there is filled
    sample = to_object_array(rows[:: max(1, n // 64)], min_width=width)[:, :width]
    maybe = np.flatnonzero((sample == "").all(axis=0)).tolist()
    kept = np.flatnonzero(~(sample == "").all(axis=0))
    grid = np.empty((n, len(kept)), dtype=object)
    late: dict[int, np.ndarray] = {}  # a column blank in the sample, filled after all
    for start in range(0, n, chunk):
        cut = to_object_array(rows[start : start + chunk], min_width=width)
        stop = start + len(cut)
        np.take(cut, kept, axis=1, out=grid[start:stop], mode="clip")
        for j in maybe:
            cells = cut[:, j]
            if j not in late and cells.tolist().count("") == len(cells):
                continue  # still blank (count compares by identity first: one empty string)
            if j not in late:
                late[j] = np.full(n, "", dtype=object)
            late[j][start:stop] = cells
    blank = np.array([j for j in maybe if j not in late], dtype=np.int64)
    blocks: list[tuple[np.ndarray, np.ndarray]] = [(grid.T, kept)] if len(kept) else []
    blocks += [(values.reshape(1, n), np.array([j])) for j, values in late.items()]
    if len(blank):
        nothing = np.array([""], dtype=object).reshape(1, 1)
        blocks.append((np.broadcast_to(nothing, (len(blank), n)), blank))
    return create_dataframe_from_blocks(blocks, pd.RangeIndex(n), names)


def _cannot_sync(
    leads: Table | None, config: Config, state: Table, history: Table
) -> list[Problem] | None:
    """The problems that stop a sync from touching Leads at all, or None."""
    if leads is None or not any(h.strip() for h in leads.header):
        return [
            Problem(
                LEADS.name,
                LEADS.name,
                _("no Leads tab, or no header row on it"),
                _(
                    "run `sheetcrm init` on this sheet: it finds the tab holding your leads (or "
                    "adds an empty Leads tab) and changes no cell"
                ),
            ),
            *[p for p in config.problems if p.tab in ("Settings", "Team")],
        ]
    if find_column(leads, "Lead ID") is not None:
        return None  # the usual case: History's IDs need not be read
    issued = any(ID_PATTERN.match(i) for i in history.column("Lead ID")) or any(
        k.strip().casefold() == NEXT_ID_KEY for k in state.column("Key")
    )
    if issued:
        # Giving every lead a new ID would cut it off from its History: stop and say so.
        return [
            Problem(
                LEADS.name,
                a1(LEADS.name, 1),
                _("the Leads tab has no Lead ID column, but leads were given IDs before"),
                _("rename the column back to Lead ID (or undo its deletion); nothing was changed"),
            )
        ]
    return None


def lead_rows(data: pd.DataFrame, service: list[str]) -> np.ndarray:
    """Positions of the rows that are leads: a row with nothing a person typed (and no ID)
    is a gap in the sheet, not a lead; nor is a totals row or a row of column names."""
    person = [c for c in data.columns if c not in service]
    lead = np.zeros(len(data), dtype=bool)
    pending = np.arange(len(data))
    suspect: list[int] = []  # rows that open with a total word or a column name
    # A column at a time, each only on the rows not yet known to be leads: nearly every row
    # is settled by its Lead ID or its first person column.
    for column in ["Lead ID", *person]:
        cells = data[column].to_numpy(dtype=object)[pending]
        typed = filled(cells)
        if column != "Lead ID":
            suspect += [
                int(r) for r, v in zip(pending[typed], cells[typed], strict=True) if opens(v)
            ]
        lead[pending[typed]] = True
        pending = pending[~typed]
        if not len(pending):
            break
    values = data.to_numpy(dtype=object) if suspect else None
    for r in suspect:
        if why_not_a_lead([str(v) for v in values[r]]):  # type: ignore[index]
            lead[r] = False
    return np.flatnonzero(lead)


def filled(cells: np.ndarray) -> np.ndarray:
    """Per cell (strings), whether it holds more than spaces: a cell of only spaces is still
    empty. Compared at C speed; only the non-empty cells are looked at one by one, by a C
    method (str.isspace is what str.strip strips)."""
    typed = cells != ""
    at = np.flatnonzero(typed)
    if len(at):
        typed[at] = ~np.fromiter(map(str.isspace, cells[at]), dtype=bool, count=len(at))
    return typed  # type: ignore[no-any-return]
