"""Step ``keys``: a lead whose web-form submission came under the key of an earlier,
different one is flagged on its Status and the Problems tab, every sync.

The outbox never drops such a submission: it stores it under ``<key>#<n>`` (n = 2, 3...),
the key the lead keeps in Submission ID (see :func:`reused_key`). A form that builds its key
badly (a response row number, reused once a row is deleted) then shows itself here, where a
person can check whether an answer was lost or sent twice.
"""

from __future__ import annotations

import re

import numpy as np

from sheetcrm.engine.catalog import N_, _
from sheetcrm.engine.sync.state import SyncState

COLUMN = "Submission ID"
REUSED = re.compile(r"#[2-9]\d*$|#1\d+$")
MESSAGE = N_(  # translated where used
    "this submission reused the key of an earlier, different one: check for a lost or "
    "duplicated answer"
)
HINT = N_(
    "compare it with the lead of the key without its #n; the form's webhook should send an "
    "id of its own for each response (sheet_templates/sheetcrm.gs does)"
)


def reused_key(key: str, n: int, limit: int) -> str:
    """The ``n``-th (from 2) different submission under ``key``, within ``limit`` characters."""
    suffix = f"#{n}"
    return key[: limit - len(suffix)] + suffix


def report_reused_keys(state: SyncState) -> SyncState:
    if COLUMN not in state.data.columns:
        return state
    keys = state.data[COLUMN].to_numpy(dtype=object)
    rows = np.flatnonzero([bool(REUSED.search(k.strip())) if "#" in k else False for k in keys])
    if len(rows):
        state.problems.append((rows, COLUMN, [_(MESSAGE)] * len(rows), _(HINT)))
    return state
