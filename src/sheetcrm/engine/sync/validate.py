"""Steps ``validate`` (emails, phones, dates, amounts, required fields) and ``duplicates``
(the earliest lead sharing a key), both governed by the Settings tab."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from sheetcrm.engine.duplicates import company_domains, find_duplicates
from sheetcrm.engine.lead_checks import check_rows
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
        "company domain": _company_domains(memo, checked.email, settings["Free-mail domains"]),
    }
    return state


def _company_domains(memo: Memo, email: pd.Series, free: Iterable[str]) -> pd.Series:
    """Each row's company domain; a re-sync derives it only for the addresses that changed."""
    free = tuple(free)
    (domains,) = memo.per_row(
        "company domain",
        free,
        (email.to_numpy(dtype=object),),
        lambda cells: (company_domains(pd.Series(cells, dtype=object), free).to_numpy(),),
    )
    return pd.Series(domains, index=email.index, dtype=object)


def mark_duplicates(state: SyncState) -> SyncState:
    if "validation" in state.frozen:
        return state
    keys = state.settings["Dedupe keys"]
    chosen = [state.contacts[k].reset_index(drop=True) for k in keys]
    earliest = find_duplicates(state.rank, chosen)
    state.put("Duplicate of", [state.ids[e] if e >= 0 else "" for e in earliest])
    return state
