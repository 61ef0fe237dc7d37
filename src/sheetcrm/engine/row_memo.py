"""The sync's memo, row by row: per check, the last sync's cells and what the check made of
each row, kept in the :class:`~sheetcrm.engine.memo.Memo` between syncs (``columns``). A
re-sync compares its cells with those (at C speed) and checks only the rows whose cells
differ, instead of looking every cell up again: keyed by content, not by position, so an
edit, a sorted tab or an inserted row is checked again wherever it lands."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sheetcrm.engine.memo import Memo

Columns = tuple[np.ndarray, ...]
"""Columns of one check: its inputs (cells, one array per column read) or its results."""
Made = Callable[..., Columns]
"""What a check makes of its input columns."""


def per_row(memo: Memo, check: str, params: object, cells: Columns, each: Made) -> Columns:
    """``each(*cells)``: per row, what ``check`` makes of its cells (arrays, one per
    input column, all as long); the same, for rows whose cells equal those of the last
    call under ``params``, from that call. Keyed by content: every cell is compared
    (at C speed), and a row whose text changed is checked again, wherever it moved."""
    kept = memo.columns.get(check)
    n = len(cells[0])
    if kept is not None and kept[0] == params and len(kept[1][0]) == n:
        _params, before, results = kept
        differs = np.zeros(n, dtype=bool)
        for old, new in zip(before, cells, strict=True):
            differs |= old != new
        changed = np.flatnonzero(differs)
        if len(changed):
            # the cells as first seen stay (the parse memos hold those very strings)
            before = tuple(old.copy() for old in before)
            for old, new in zip(before, cells, strict=True):
                old[changed] = new[changed]
            fresh = each(*(c[changed] for c in cells))
            # the rows checked again may need a wider type than the others did: a typed Lead
            # ID past int64 (object), a longer text; else the assignment overflows or cuts
            results = tuple(
                r.astype(np.result_type(r, value)) for r, value in zip(results, fresh, strict=True)
            )
            for result, value in zip(results, fresh, strict=True):
                result[changed] = value
    else:
        before = tuple(np.array(c) for c in cells)  # a copy, compact
        results = each(*cells)
    memo.columns[check] = (params, before, results)
    return results


def whole(memo: Memo, check: str, params: object, cells: Columns, make: Made) -> Columns:
    """``make(*cells)``, which depends on every row at once (duplicates: groups of
    rows), or the last call's result when ``params`` and every cell are the same."""
    kept = memo.columns.get(check)
    if kept is not None and kept[0] == params and _same(kept[1], cells):
        return kept[2]
    results = make(*cells)
    memo.columns[check] = (params, tuple(np.array(c) for c in cells), results)
    return results


def _same(before: Columns, cells: Columns) -> bool:
    """Whether the columns hold the same values: compared at C speed, a string held by both
    (a result the memo gave) by its address alone."""
    return len(before) == len(cells) and all(
        len(old) == len(new) and not (old != new).any()
        for old, new in zip(before, cells, strict=True)
    )
