"""The backend contract: read every tab as strings, write resolved cell changes.

Backends know nothing of leads, rules or plans. :func:`sheetcrm.backends.apply.apply` resolves a
plan against the sheet as it is *now* (rows addressed by Lead ID, compare-and-set on
every cell) into :class:`Changes` that name positions in one version of the sheet;
a backend writes them only if the sheet is still at that version.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from sheetcrm.engine.adoption import Adoption
from sheetcrm.engine.changes import Changes
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.errors import BackendError


class StaleSnapshotError(BackendError):
    """The sheet changed after the snapshot the changes were resolved against."""


class LeaseHeldError(BackendError):
    """Another sync or flush holds the spreadsheet's lease: try again in a moment."""


class SheetBackend(Protocol):
    location: str
    atomic: bool
    """Whether a write lands whole or not at all against the version it names. Where it
    takes several requests a person's edit can fall between (Google Sheets), apply() reads
    the sheet back and repairs what landed on another lead (engine/landing.py)."""

    def exists(self) -> bool:
        """Whether there is a spreadsheet at ``location`` at all."""
        ...

    def read(self, texts: dict[str, str] | None = None) -> Snapshot:
        """Every tab, every cell as canonical text; ``Snapshot.version`` identifies this state.
        ``texts``: strings the caller already holds, keyed by their content (the memo's,
        ``Memo.texts``): a cell equal to one is read as that very string. The read adds
        to the dict."""
        ...

    def version(self) -> str:
        """A cheap token that changes whenever the sheet's content may have changed."""
        ...

    def identity(
        self, tab: str, columns: Sequence[int], each: Callable[[int, list[str]], None]
    ) -> list[str] | None:
        """The header of ``tab`` as the sheet has it now, and each of ``columns`` (positions
        in the header last read) below it handed to ``each`` (its index in ``columns``, its
        cells, trailing empty ones maybe left out), in one narrow read: what tells, after a
        write that was not atomic, that every row written still holds its lead
        (engine/landing_quick.py). None where a write is atomic: nothing is read."""
        ...

    def write(self, changes: Changes) -> None:
        """Write ``changes`` in one go, or raise :class:`StaleSnapshotError` and write nothing
        when the sheet is no longer at ``changes.base_version``."""
        ...

    def provision(self, tabs: dict[str, Table], *, force: bool = False) -> None:
        """Create the spreadsheet's tabs from a template (headers, styling, drop-downs)."""
        ...

    def adopt(self, adoption: Adoption, base_version: str) -> None:
        """Add what ``adoption`` says (engine/adoption.py) to the spreadsheet read at
        ``base_version``: rename the leads tab and the headers it names, add columns at the
        right of Leads and whole tabs, with their look. No cell a person typed is written."""
        ...

    def keep_copy(self, clock: datetime, leads: int) -> str:
        """Keep a whole copy of the spreadsheet before ``init --force`` starts it over, and
        say where; or raise :class:`BackendError` where no copy can be kept (``leads``: how
        many the spreadsheet holds, for the message)."""
        ...

    def lease(
        self, holder: str, now: datetime, seconds: float = 300
    ) -> AbstractContextManager[None]:
        """Hold the right to sync this spreadsheet (one sync at a time), or raise
        :class:`BackendError` naming who holds it. A no-op where writes are already exclusive."""
        ...

    def row_link(self, row: int) -> str:
        """A link that opens the Leads tab at sheet row ``row`` (for a notification), or ""
        where there is no address to open (a workbook: the message names the row)."""
        ...

    def remove_leftovers(self, clock: datetime) -> list[str]:
        """Remove what writes killed half-way left behind (as of ``clock``, the real time)
        and say what: the workbook's temporary copies. Nothing elsewhere."""
        ...
