"""The rule tabs read by their English headers whatever language the sheet is written in
("Opérateur" is Operator): same columns in the same places, so cell references stay right."""

from __future__ import annotations

from dataclasses import replace

from sheetcrm.engine.schema import RULE_TABS, TabSpec, tab_spec
from sheetcrm.engine.table import Snapshot, Table


def canonical_table(table: Table, spec: TabSpec) -> Table:
    """``table`` with each header its column is known by in ``spec`` ("Opérateur" is
    Operator), so that the rule tabs are read by their English headers whatever language the
    sheet is in. Same columns in the same places, so a cell reference stays right; the rows
    are shared, not copied (nothing writes them)."""
    header = [c.header if (c := spec.column(h)) else h for h in table.header]
    if header == table.header:
        return table
    return Table(header, table.rows)


def canonical_rule_tabs(snapshot: Snapshot) -> Snapshot:
    """``snapshot`` with its rule tabs' headers in English (:func:`canonical_table`)."""
    tabs = dict(snapshot.tabs)
    for name, table in snapshot.tabs.items():
        spec = tab_spec(name)
        if spec in RULE_TABS:
            tabs[name] = canonical_table(table, spec)
    if all(tabs[n] is snapshot.tabs[n] for n in tabs):
        return snapshot
    return replace(snapshot, tabs=tabs)
