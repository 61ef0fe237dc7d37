"""The planning state that every step of a sync takes and returns, and what they share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from sheetcrm.engine.activities import Touches
from sheetcrm.engine.activity_tab import ActivityFrame
from sheetcrm.engine.config import Config
from sheetcrm.engine.frame import Frame
from sheetcrm.engine.history import HistoryFrame
from sheetcrm.engine.notifications import SentRecord
from sheetcrm.engine.plan import Plan
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.schema import HISTORY, SERVICE_BY
from sheetcrm.engine.settings import Settings
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.engine.validation import Memo
from sheetcrm.engine.waiting import Waiting
from sheetcrm.engine.wallclock import on_the_clock
from sheetcrm.engine.win import Learned

RowProblems = list[tuple[np.ndarray, str, list[str], str]]
"""(rows, column, one message per row, hint): what a step found wrong, or flags, per row."""


@dataclass(frozen=True)
class LeftOut:
    """What a plan of only some of the sheet's lead rows (the others left blank: a flush plans
    its new rows with the rows they depend on, intake/append_plan.py) takes of the others.
    Its row problems are all listed (not the Problems tab's first MAX_ROW_PROBLEMS): the
    caller keeps its new rows' and counts them."""

    # per owner (norm_header of the name), the open leads they hold on the rows left out: a
    # "least loaded" team ranks its people by every open lead
    open_leads: Mapping[str, int] = field(default_factory=dict)
    # the positions of the Leads rows the plan holds, ascending; the others are blank and
    # are not laid out at all (a frame of every row was 36 MB at 100,000 leads)
    rows: np.ndarray | None = None
    # what every closed lead of the sheet teaches the win step (sync/win.py learned_odds):
    # its shortfall, or its model; None: learned from the rows the plan holds
    odds: tuple[str, Learned | None] | None = None


@dataclass
class SyncState:
    """What one sync has read and decided so far. Steps read it and add to it.

    ``data`` holds the lead rows only (gaps in the sheet left out), as strings, one column
    per canonical header; ``positions[i]`` is lead ``i``'s data row in the sheet.
    """

    snapshot: Snapshot
    config: Config
    plan: Plan
    now: datetime  # the sheet's local time, aware, to the minute
    stamp: str  # ``now`` as written into cells
    memo: Memo | None
    with_metrics: bool
    frozen: set[str]  # rule tabs (and what they govern) not applied this round
    stopped: bool = False  # the sheet cannot be synced at all; plan.problems says why
    leads: Table = field(default_factory=lambda: Table([], []))
    data: pd.DataFrame = field(default_factory=pd.DataFrame)
    frame: Frame | None = None  # typed views of ``data``, each column derived once per sync
    positions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    read: pd.DataFrame = field(default_factory=pd.DataFrame)  # every column as read (shallow)
    header_problems: list[Problem] = field(default_factory=list)
    activity_problems: list[Problem] = field(default_factory=list)  # at Activities cells
    # set by the activities step: the tab as columns, which the follow-up KPIs count again
    activities: ActivityFrame | None = None
    touches: Touches | None = None  # its rows resolved to leads: the sequences step's exits
    # History as read, as columns: built on first use (``logged``), shared by every reader
    history_frame: HistoryFrame | None = None
    problems: RowProblems = field(default_factory=list)
    flags: RowProblems = field(default_factory=list)
    # set by the ids step
    ids: list[str] = field(default_factory=list)
    fresh: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    rank: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    arrived: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    counter: int = 1
    # set by the route step: the leads it gave an owner
    routed: list[int] = field(default_factory=list)
    # set by the validate step, read by the duplicates step
    contacts: dict[str, pd.Series] = field(default_factory=dict)
    # set by the status step
    row_problems: list[Problem] = field(default_factory=list)
    counted: int = 0
    metrics_digest: str = ""
    sent: Sequence[SentRecord] = ()  # what the sender reports, for the Notifications tab
    waiting: Waiting | None = None  # web submissions the service holds, for Problems
    left_out: LeftOut | None = None  # a plan of some rows only: what it takes of the others

    @property
    def view(self) -> Frame:
        assert self.frame is not None, "the sync has no lead rows to look at"
        return self.frame

    @property
    def open_elsewhere(self) -> Mapping[str, int]:
        """Open leads per owner on rows left out of this plan (none for a sync's)."""
        return self.left_out.open_leads if self.left_out is not None else {}

    @property
    def settings(self) -> Settings:
        return self.config.settings

    @property
    def logged(self) -> HistoryFrame:
        """History as read, as columns, each read once for every step (the rows this sync
        plans are in ``plan.history``: :meth:`HistoryFrame.plus` adds them)."""
        if self.history_frame is None:
            settings = self.settings
            history = self.snapshot.table(HISTORY.name)
            self.history_frame = HistoryFrame(history, settings.dayfirst, settings.zone)
        return self.history_frame

    def put(self, column: str, values: object) -> None:
        """Replace a column; a later step that reads it (routing may test this sync's
        scores, stages read Assigned at) then sees the new values."""
        put_column(self.data, column, values)
        if self.frame is not None:
            self.frame.forget(column)

    def history(
        self,
        row: int,
        field_name: str,
        before: str,
        after: str,
        why: str,
        stamp_column: str,
        by: str = SERVICE_BY,
    ) -> None:
        """Append a History row about lead ``row``; ``stamp_column`` is the service cell that
        must land with it ("" for none); ``by`` who made the change."""
        entry = (self.stamp, self.ids[row], field_name, before, after, by, why)
        self.plan.history.add(row, entry, stamp_column)


def put_column(data: pd.DataFrame, column: str, values: object) -> None:
    """Set a column as plain Python strings: pandas 3 would otherwise infer its own string
    dtype, whose per-element access makes every later loop several times slower."""
    data[column] = pd.Series(np.asarray(values, dtype=object), index=data.index, dtype=object)


def local_now(now: datetime, config: Config) -> datetime:
    """``now`` in the sheet's time zone, to the minute: what stamps are written as. Aware, so
    that the fold of the hour clocks go back survives (a stamp there carries its offset). A
    naive ``now`` (``--now``) is already the sheet's wall time, and must be one its clocks
    show: a skipped time raises SheetCRMError."""
    zone = config.settings.zone
    if now.tzinfo is None:
        now = on_the_clock(now, zone)
    return now.astimezone(zone).replace(second=0, microsecond=0)
