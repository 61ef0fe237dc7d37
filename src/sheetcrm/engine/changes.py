"""What a backend is asked to write: cell changes addressed by position in one version of
the sheet. The engine resolves a Plan into these (plan.py); every backend writes them."""

from __future__ import annotations

from dataclasses import dataclass, field

from sheetcrm.engine.table import Table


# slots: a first sync of 100,000 leads writes ~840,000 cells, a dict each was ~50 MB
@dataclass(frozen=True, slots=True)
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
