"""Python's cycle collector held back while the stand-in answers a request.

The stand-in keeps every sheet as Python lists (a 48,000-lead Leads tab and its History:
some 100,000 of them), and a request makes as many again (a batchUpdate's backup of every
row, a read's answer). Each time a quarter more have outlived two young collections,
CPython walks every object alive: 1.2-1.5 s of CPU in the 2-3 s the stand-in spent on
each 8,000-lead flush of issue 21's burst, on the cores the service shares with it. What a
request leaves in cycles waits for the next collection after the last request ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_answering = 0  # requests being answered, in any thread
_resume = False  # whether the collector ran before the first of them


@contextmanager
def held_back() -> Iterator[None]:
    """No automatic cycle collection while any request is being answered."""
    global _answering, _resume
    with _lock:
        if _answering == 0:
            _resume = gc.isenabled()
            gc.disable()
        _answering += 1
    try:
        yield
    finally:
        with _lock:
            _answering -= 1
            if _answering == 0 and _resume:
                gc.enable()
