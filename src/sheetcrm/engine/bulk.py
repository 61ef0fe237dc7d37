"""Help for work that touches every cell of a sheet at once (the engine's and the backends')."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused(collect: bool = False) -> Iterator[None]:
    """No cyclic garbage collection during bulk work. Python starts a pass every few hundred
    new containers, and a full pass visits every live one: the hundreds of thousands of cells
    of a read sheet or of openpyxl's workbook, for a third of a workbook read at 10,000 leads
    or a tenth of a re-sync at 100,000. Bulk work makes few reference cycles; the price is
    that garbage dropped earlier is freed only at the next full collection after this, not
    during it. ``collect``: run that collection on the way out (a long-lived process whose
    next one may be far off), unless the pause was someone else's. Usable as a decorator."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
            if collect:
                gc.collect()
