"""Steps ``validate`` (emails, phones, dates, amounts, required fields) and ``duplicates``
(the earliest lead sharing a key), both governed by the Settings tab."""

from __future__ import annotations

from sheetcrm.engine.duplicates import company_domains, find_duplicates
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.validation import check_rows


def validate(state: SyncState) -> SyncState:
    if "validation" in state.frozen:
        return state
    settings = state.settings
    checked = check_rows(
        state.data,
        settings["Default phone region"],
        settings.dayfirst,
        settings["Required fields"],
        state.memo,
        settings["Largest amount"],
    )
    state.problems += checked.problems
    state.contacts = {
        "email": checked.email,
        "phone": checked.phone,
        "company domain": company_domains(checked.email, settings["Free-mail domains"]),
    }
    return state


def mark_duplicates(state: SyncState) -> SyncState:
    if "validation" in state.frozen:
        return state
    keys = state.settings["Dedupe keys"]
    chosen = [state.contacts[k].reset_index(drop=True) for k in keys]
    earliest = find_duplicates(state.rank, chosen)
    state.put("Duplicate of", [state.ids[e] if e >= 0 else "" for e in earliest])
    return state
