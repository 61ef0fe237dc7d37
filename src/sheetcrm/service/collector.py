"""Python's cycle collector held back while a flush runs, and run once after it.

A flush holds the whole sheet (its rows, the frames of the plan, the memo) while it makes
millions of lists and dicts. Each time a quarter more of them have outlived two young
collections, CPython walks every object alive (a full collection): 4 to 5 times a flush on
a 30,000-lead sheet, 1.4-1.9 s of CPU in a flush of 3.6-4.7 s (issue 21,
docs/benchmarks.md). Nearly all of a flush's garbage goes by reference counting anyway; what
is left in cycles is collected once at the end, when the flush's objects are gone and a
full collection takes 0.07 s.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collected_after() -> Iterator[None]:
    """No cycle collection inside the block; one full collection after it."""
    if not gc.isenabled():  # held back by someone else: theirs to resume
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()
