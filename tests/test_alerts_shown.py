"""The alerts step tests a flag against the Status cells of all its rows at once
(sync.alerts._unshown): it must say for each row what problems.shown says for it."""

from __future__ import annotations

import numpy as np

from sheetcrm.engine.problems import FOLLOW_UP, STALE, Flag, shown
from sheetcrm.engine.sync.alerts import _unshown


def test_each_row_gets_what_shown_says_of_its_own_flag_and_status():
    words = "follow-up overdue since 2026-11-01"
    late = Flag(words, FOLLOW_UP, (words, "en retard 1/11"))
    # shown() goes by the words of every language only, even without its own
    odd = Flag("overdue since 2026-11-02", FOLLOW_UP, ("late 2 Nov",))
    stale = Flag("stale: in Proposal since 2026-10-01", STALE)
    # same words as `late`, another kind: a flag is told apart by itself, not by its words
    twin = Flag(str(late), STALE)
    status = np.array(
        [
            "OK",
            f"Phone: no digits; {late}",  # said in this sync's language
            "en retard 1/11",  # said in another: no news
            f"{stale}",
            "stale: in Proposal",  # a part of the words is not the flag
            f"{late}",
            "plain note here; overdue since 2026-11-02",
        ],
        dtype=object,
    )
    rows = np.array([5, 0, 1, 2, 3, 4, 6, 1, 6], dtype=np.int64)
    messages = [late, late, late, late, stale, stale, "plain note", twin, odd]
    kinds, news = _unshown(rows, messages, status)
    assert news.tolist() == [not shown(m, status[r]) for r, m in zip(rows, messages, strict=True)]
    assert news.tolist() == [False, True, False, False, False, True, False, False, True]
    assert kinds.tolist() == [FOLLOW_UP] * 4 + [STALE, STALE, None, STALE, FOLLOW_UP]


def test_no_flag_no_row():
    kinds, news = _unshown(np.zeros(0, dtype=np.int64), [], np.array(["OK"], dtype=object))
    assert len(kinds) == len(news) == 0
