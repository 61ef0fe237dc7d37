"""An in-memory spreadsheet: a real implementation of the backend contract, for tests.

It also plays the person at the keyboard: :meth:`MemoryBackend.human` runs an edit (sort,
insert a row, type in a cell) and bumps the version, exactly as a concurrent edit would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime

from sheetcrm.backends.base import StaleSnapshotError
from sheetcrm.engine.adoption import Adoption
from sheetcrm.engine.changes import Changes
from sheetcrm.engine.schema import LEADS, tab_spec
from sheetcrm.engine.table import Snapshot, Table, shared_texts
from sheetcrm.errors import BackendError


class MemoryBackend:
    atomic = True  # a write checks the version and lands whole

    def __init__(self, tabs: dict[str, Table] | None = None, location: str = "memory:") -> None:
        self.location = location
        self.tabs: dict[str, Table] = _held(tabs or {})
        self._version = 0
        self.writes = 0
        self.before_write: Callable[[MemoryBackend], None] | None = None
        self.copies: list[dict[str, Table]] = []  # kept by keep_copy()

    def exists(self) -> bool:
        return bool(self.tabs)

    def read(self, texts: dict[str, str] | None = None) -> Snapshot:
        # ``texts`` unused: the copies share the strings this backend holds, as it holds them
        return Snapshot({k: v.copy() for k, v in self.tabs.items()}, str(self._version))

    def version(self) -> str:
        return str(self._version)

    def human(self, edit: Callable[[dict[str, Table]], None]) -> None:
        """Apply a person's edit to the tabs, as if typed in the spreadsheet."""
        edit(self.tabs)
        for table in self.tabs.values():
            table.__post_init__()
        self._version += 1

    def write(self, changes: Changes) -> None:
        if self.before_write is not None:
            hook, self.before_write = self.before_write, None
            hook(self)
        if changes.base_version != str(self._version):
            raise StaleSnapshotError("the sheet changed since it was read")
        for tab, headers in changes.new_columns.items():
            table = self._tab(tab)
            table.header.extend(headers)
            for row in table.rows:
                row.extend([""] * len(headers))
        for cell in changes.cells:
            self._tab(cell.tab).rows[cell.row][cell.col] = cell.value
        for tab, rows in changes.appends.items():
            if tab not in self.tabs and (spec := tab_spec(tab)) is not None:
                self.tabs[tab] = Table(spec.headers)  # as the workbook does: recreate it
            table = self._tab(tab)
            table.rows.extend([list(r) + [""] * (len(table.header) - len(r)) for r in rows])
        for tab, table in changes.replace.items():
            self.tabs[tab] = table.copy()
        self.writes += 1
        self._version += 1

    def lease(
        self, holder: str, now: datetime, seconds: float = 300
    ) -> AbstractContextManager[None]:
        """Writes here are already exclusive (compare-and-set on the version): nothing to hold."""
        return nullcontext()

    def identity(
        self, tab: str, columns: Sequence[int], each: Callable[[int, list[str]], None]
    ) -> list[str] | None:
        return None  # a write lands whole: nothing to check after it

    def row_link(self, row: int) -> str:
        return ""  # a file has no address that opens it at a row: the message names the row

    def remove_leftovers(self, clock: datetime) -> list[str]:
        return []  # writes leave nothing behind here

    def adopt(self, adoption: Adoption, base_version: str) -> None:
        if base_version != str(self._version):
            raise StaleSnapshotError("the sheet changed since it was read")
        if adoption.tab:
            table = self.tabs.pop(adoption.tab)
            for col, text in adoption.renamed.items():
                table.header[col] = text
            table.header.extend(adoption.new_columns)
            table.__post_init__()
            self.tabs[LEADS.name] = table
        self.tabs.update({k: v.copy() for k, v in adoption.new_tabs.items()})
        self._version += 1

    def keep_copy(self, clock: datetime, leads: int) -> str:
        self.copies.append({k: v.copy() for k, v in self.tabs.items()})
        return f"{self.location} copy {len(self.copies)}"

    def provision(self, tabs: dict[str, Table], *, force: bool = False) -> None:
        if self.tabs and not force:
            raise BackendError(f"{self.location} already has tabs", "use --force to replace them")
        self.tabs = _held(tabs)
        self._version += 1

    def _tab(self, name: str) -> Table:
        if name not in self.tabs:
            raise BackendError(f"no tab named {name!r} in {self.location}")
        return self.tabs[name]


def _held(tabs: dict[str, Table]) -> dict[str, Table]:
    """A copy of ``tabs`` with each distinct text held once, as the other backends read
    them: its reads then share those strings, and a bench measures what a real read holds."""
    seen: dict[str, str] = {}
    return {k: Table(list(v.header), shared_texts(v.rows, seen)) for k, v in tabs.items()}
