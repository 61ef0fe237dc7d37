"""The version of a Google Sheet: a digest of the Lead ID and service columns of Leads and of
the State tab, enough to tell whether a person sorted, inserted or deleted rows, or typed
into a cell a plan would write.

Two ways to the same digest: :func:`token` from a full read, and :func:`digest` from a narrow
read of :func:`version_ranges` only (one request), by columns.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from sheetcrm.backends.sheets_address import quote
from sheetcrm.engine.schema import LEADS, STATE, service_columns
from sheetcrm.engine.table import Table, column_letter


def version_ranges(leads_header: list[str], state: bool) -> list[str]:
    """The ranges to read, by columns, for :func:`digest`: the service columns of Leads at
    their place in ``leads_header``, then the State tab if there is one."""
    wanted = [
        i
        for i, h in enumerate(leads_header)
        if (spec := LEADS.column(h)) is not None and spec.header in service_columns()
    ]
    ranges = [f"{quote(LEADS.name)}!{column_letter(i)}:{column_letter(i)}" for i in wanted]
    if state:
        ranges.append(quote(STATE.name))
    return ranges


def digest(value_ranges: list[dict[str, Any]]) -> str:
    """The version, from the answer to a batchGet of :func:`version_ranges` by columns."""
    return _digest(
        [str(v) for v in column]
        for value_range in value_ranges
        for column in value_range.get("values", [])
    )


def token(tabs: dict[str, Table]) -> str:
    """The same digest, from a full read."""
    columns: list[list[str]] = []
    leads = tabs.get(LEADS.name)
    if leads is not None:
        service = set(service_columns())
        for i, h in enumerate(leads.header):
            spec = LEADS.column(h)
            if spec is not None and spec.header in service:
                columns.append([h, *(r[i] if i < len(r) else "" for r in leads.rows)])
    state = tabs.get(STATE.name)
    if state is not None:
        width = max([len(state.header), *(len(r) for r in state.rows)], default=0)
        full = [state.header, *state.rows]
        columns += [[r[c] if c < len(r) else "" for r in full] for c in range(width)]
    for column in columns:
        while column and column[-1] == "":
            column.pop()  # the API leaves trailing empty cells out
    return _digest(columns)


def _digest(columns: Iterable[Sequence[str]]) -> str:
    hashed = hashlib.sha256()
    for column in columns:
        hashed.update("\x1f".join(column).encode())
        hashed.update(b"\x1e")
    return hashed.hexdigest()
