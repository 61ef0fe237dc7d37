"""What History last recorded about each lead: the sync's memory of what it saw.

A change a person makes in the sheet (a stage moved, an owner replaced) is noticed by
comparing the sheet with the last History row for that lead and field, so it is noticed
however long ago the last sync ran."""

from __future__ import annotations

from sheetcrm.engine.table import Table


def last_recorded(history: Table, field: str) -> dict[str, str]:
    """Lead ID -> the To of the last History row about ``field`` (case ignored) of that lead."""
    ids, fields, to = history.column("Lead ID"), history.column("Field"), history.column("To")
    wanted = {f for f in set(fields) if f.strip().casefold() == field.casefold()}
    return {i: t for i, f, t in zip(ids, fields, to, strict=True) if f in wanted and i}
