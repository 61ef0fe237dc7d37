"""The order routing takes new leads in when some duplicate others (routing._originals_first,
worked out for all rows at once): checked against the row-by-row walk it replaced."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sheetcrm.engine.routing import _originals_first


def walked(rows: list[int], originals: np.ndarray) -> list[int]:
    """The walk as written before: each row in turn, a duplicate held back until its
    original is placed, and those whose original never is at the end, in their order."""
    pending = set(rows)
    order: list[int] = []
    waiting: dict[int, list[int]] = {}
    for row in rows:
        original = int(originals[row])
        if original in pending:
            waiting.setdefault(original, []).append(row)
            continue
        pending.discard(row)
        order += [row, *waiting.pop(row, [])]
    left = {r for stuck in waiting.values() for r in stuck}
    return order + [r for r in rows if r in left]


@st.composite
def sheets(draw: st.DrawFn) -> tuple[list[int], np.ndarray]:
    n = draw(st.integers(1, 30))
    # -1: no original; any row, itself included: a Duplicate of typed in by hand
    originals = np.array(draw(st.lists(st.integers(-1, n - 1), min_size=n, max_size=n)))
    rows = draw(st.permutations(range(n)))
    return rows[: draw(st.integers(0, n))], originals


@given(sheets())
def test_the_order_is_the_row_by_row_walks(sheet: tuple[list[int], np.ndarray]) -> None:
    rows, originals = sheet
    assert _originals_first(rows, originals) == walked(rows, originals)


def test_a_duplicate_goes_right_after_its_later_original_and_a_chain_waits() -> None:
    originals = np.array([3, -1, 0, -1, 2, 4])
    # 0 waits for 3; 2's original 0 waited, so 2 waits for good, and 4 and 5 after it
    assert _originals_first([0, 1, 2, 3, 4, 5], originals) == [1, 3, 0, 2, 4, 5]
    assert _originals_first([5, 4, 1], originals) == [4, 5, 1]
