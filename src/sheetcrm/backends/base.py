"""The backend contract: read every tab as strings, write resolved cell changes.

Backends know nothing of leads, rules or plans. :func:`sheetcrm.sync.apply` resolves a
plan against the sheet as it is *now* (rows addressed by Lead ID, compare-and-set on
every cell) into :class:`Changes` that name positions in one version of the sheet;
a backend writes them only if the sheet is still at that version.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sheetcrm.errors import BackendError
from sheetcrm.table import Snapshot, Table


class StaleSnapshotError(BackendError):
    """The sheet changed after the snapshot the changes were resolved against."""


class LeaseHeldError(BackendError):
    """Another sync or flush holds the spreadsheet's lease: try again in a moment."""


@dataclass(frozen=True)
class CellUpdate:
    tab: str
    row: int  # 0-based data row (sheet row = row + 2)
    col: int  # 0-based column
    value: str


@dataclass
class Changes:
    """Position-addressed writes against the sheet at ``base_version``.

    Applied in this order: ``new_columns`` (headers appended to a tab's header row),
    ``cells``, ``appends`` (rows added under a tab's last row, in its header order after
    ``new_columns``), ``replace`` (tabs rewritten whole, header included; created if absent).
    """

    base_version: str
    cells: list[CellUpdate] = field(default_factory=list)
    appends: dict[str, list[list[str]]] = field(default_factory=dict)
    new_columns: dict[str, list[str]] = field(default_factory=dict)
    replace: dict[str, Table] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(
            self.cells
            or any(self.appends.values())
            or any(self.new_columns.values())
            or self.replace
        )


class SheetBackend(Protocol):
    location: str

    def exists(self) -> bool:
        """Whether there is a spreadsheet at ``location`` at all."""
        ...

    def read(self) -> Snapshot:
        """Every tab, every cell as canonical text; ``Snapshot.version`` identifies this state."""
        ...

    def version(self) -> str:
        """A cheap token that changes whenever the sheet's content may have changed."""
        ...

    def write(self, changes: Changes) -> None:
        """Write ``changes`` in one go, or raise :class:`StaleSnapshotError` and write nothing
        when the sheet is no longer at ``changes.base_version``."""
        ...

    def provision(self, tabs: dict[str, Table], *, force: bool = False) -> None:
        """Create the spreadsheet's tabs from a template (headers, styling, drop-downs)."""
        ...

    def lease(
        self, holder: str, now: datetime, seconds: float = 300
    ) -> AbstractContextManager[None]:
        """Hold the right to sync this spreadsheet (one sync at a time), or raise
        :class:`BackendError` naming who holds it. A no-op where writes are already exclusive."""
        ...
