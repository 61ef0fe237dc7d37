"""Where a spreadsheet lives. Every backend implements :class:`SheetBackend`."""

from sheetcrm.backends.base import SheetBackend, StaleSnapshotError

__all__ = ["SheetBackend", "StaleSnapshotError", "open_backend"]


def open_backend(location: str) -> SheetBackend:
    """The backend for a ``--sheet`` value: a Google Sheets URL or spreadsheet ID, else a local
    ``.xlsx`` path (the embedded default)."""
    from sheetcrm.backends.sheets_address import check_location, spreadsheet_id

    check_location(location)
    if not location.casefold().endswith((".xlsx", ".xlsm")) and spreadsheet_id(location):
        from sheetcrm.backends.google import GoogleBackend

        return GoogleBackend(location)
    from sheetcrm.backends.workbook import WorkbookBackend

    return WorkbookBackend(location)
