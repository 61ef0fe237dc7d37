"""Which of the sheet's leads a flush's new rows may be duplicates of (intake/append_plan.py):
those sharing a duplicate key with one, directly or through a chain of other leads (a shares
an e-mail with b, b a phone with c), as the sync's validate and duplicates steps read them.

The sheet's own rows are read with the memo of the last sync, whose checks of their e-mails
and phones are kept by position: a sheet as it was read then costs no check at all; the
memo is left as the sync made it either way. Pure: no I/O, no clock.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sheetcrm.engine.config import Config
from sheetcrm.engine.duplicates import find_duplicates
from sheetcrm.engine.lead_checks import check_rows
from sheetcrm.engine.sync.validate import company_domain_column
from sheetcrm.engine.table import Table
from sheetcrm.engine.validation import Memo
from sheetcrm.intake.batch import cells, record_value

READ = ("Email", "Phone", "Country")
"""What a lead's duplicate keys are made of: its e-mail (and company domain), its phone,
read in its Country's numbering."""
CHECKS = ("Email", "Phone", "company domain")
"""The memo's per-row checks read here (engine/row_memo.py), by their names."""


def same_person(
    leads: Table,
    records: list[dict[str, str]],
    config: Config,
    synced: Memo | None,
    scratch: Memo,
) -> np.ndarray:
    """Per row of Leads, whether it shares a duplicate key with one of ``records`` (the new
    rows, by header). ``synced``: the last sync's memo (None: none); ``scratch``: the memo
    the new rows are checked with."""
    keys = tuple(config.settings["Dedupe keys"])
    if not keys:
        return np.zeros(len(leads.rows), dtype=bool)
    own = pd.DataFrame({c: pd.Series(cells(leads, c), dtype=object) for c in READ})
    new = pd.DataFrame(
        {c: pd.Series([record_value(r, c) for r in records], dtype=object) for c in READ}
    )
    if synced is not None:
        kept = {k: synced.columns.get(k) for k in CHECKS}
        try:
            mine = contacts(own, config, synced)
        finally:  # a sheet of other rows than the sync's (gaps) must not leave its checks
            for k, v in kept.items():
                if v is None:
                    synced.columns.pop(k, None)
                else:
                    synced.columns[k] = v
    else:
        mine = contacts(own, config, scratch)
    theirs = contacts(new, config, scratch)
    n = len(own) + len(new)
    joined = [pd.Series(np.concatenate([mine[k], theirs[k]]), dtype=object) for k in keys]
    earliest = find_duplicates(np.arange(n), joined)
    group = np.where(earliest >= 0, earliest, np.arange(n))
    return np.isin(group[: len(own)], group[len(own) :])  # type: ignore[no-any-return]


def contacts(data: pd.DataFrame, config: Config, memo: Memo) -> dict[str, np.ndarray]:
    """Each row's duplicate keys, as the validate step makes them (sync/validate.py)."""
    settings = config.settings
    checked = check_rows(
        data,
        settings["Default phone region"],
        settings.dayfirst,
        (),
        memo,
        settings["Largest amount"],
        settings.decimal,
    )
    domains = company_domain_column(memo, checked.email, settings["Free-mail domains"])
    return {
        "email": checked.email.to_numpy(dtype=object),
        "phone": checked.phone.to_numpy(dtype=object),
        "company domain": domains.to_numpy(dtype=object),
    }
