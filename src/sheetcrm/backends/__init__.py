"""Where a spreadsheet lives. Every backend implements :class:`SheetBackend`."""

from sheetcrm.backends.base import CellUpdate, Changes, SheetBackend, StaleSnapshotError

__all__ = ["CellUpdate", "Changes", "SheetBackend", "StaleSnapshotError", "open_backend"]


def open_backend(location: str) -> SheetBackend:
    """The backend for a ``--sheet`` value: a local ``.xlsx`` path (the embedded default)."""
    from sheetcrm.backends.workbook import WorkbookBackend

    return WorkbookBackend(location)
