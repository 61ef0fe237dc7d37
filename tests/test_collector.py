"""engine/bulk.py's gc_paused(collect=True): the cycle collector held back through a flush (service/
tasks.py), run once after it."""

from __future__ import annotations

import gc
import weakref

from sheetcrm.engine.bulk import gc_paused


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cycle collector frees it


def test_held_back_inside_and_a_cycle_made_there_collected_after() -> None:
    assert gc.isenabled()
    with gc_paused(collect=True):
        assert not gc.isenabled()
        node = _Node()
        gone = weakref.ref(node)
        del node
        assert gone() is not None  # in its cycle, waiting
    assert gc.isenabled()
    assert gone() is None  # collected on the way out


def test_a_pause_made_by_someone_else_is_theirs_to_end() -> None:
    gc.disable()
    try:
        with gc_paused(collect=True):
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
