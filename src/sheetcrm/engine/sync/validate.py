"""Steps ``validate`` (emails, phones, dates, amounts, required fields) and ``duplicates``
(the earliest lead sharing a key), both governed by the Settings tab."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from sheetcrm.engine.duplicates import company_domains, find_duplicates
from sheetcrm.engine.lead_checks import check_rows
from sheetcrm.engine.row_memo import per_row, whole
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.validation import Memo


def validate(state: SyncState) -> SyncState:
    if "validation" in state.frozen:
        return state
    settings = state.settings
    memo = state.memo if state.memo is not None else Memo()
    checked = check_rows(
        state.data,
        settings["Default phone region"],
        settings.dayfirst,
        settings["Required fields"],
        memo,
        settings["Largest amount"],
        settings.decimal,
    )
    state.problems += checked.problems
    state.contacts = {
        "email": checked.email,
        "phone": checked.phone,
        "company domain": company_domain_column(memo, checked.email, settings["Free-mail domains"]),
    }
    return state


def company_domain_column(memo: Memo, email: pd.Series, free: Iterable[str]) -> pd.Series:
    """Each row's company domain; a re-sync derives it only for the addresses that changed."""
    free = tuple(free)
    (domains,) = per_row(
        memo,
        "company domain",
        free,
        (email.to_numpy(dtype=object),),
        lambda cells: (company_domains(pd.Series(cells, dtype=object), free).to_numpy(),),
    )
    return pd.Series(domains, index=email.index, dtype=object)


def mark_duplicates(state: SyncState) -> SyncState:
    if "validation" in state.frozen:
        return state
    keys = tuple(state.settings["Dedupe keys"])
    memo = state.memo if state.memo is not None else Memo()
    # a re-sync whose ranks and keys are those of the last one has the same duplicates
    (earliest,) = whole(
        memo,
        "duplicates",
        keys,
        (state.rank, *(state.contacts[k].to_numpy(dtype=object) for k in keys)),
        lambda rank, *chosen: (find_duplicates(rank, [pd.Series(c) for c in chosen]),),
    )
    ids = np.asarray(state.ids, dtype=object)
    state.put("Duplicate of", np.where(earliest >= 0, ids[np.maximum(earliest, 0)], ""))
    return state
