"""Duplicate leads: rows that share a dedupe key (Settings' Dedupe keys: email, phone,
company domain), however indirectly, each pointed to the earliest of them."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

FREE_MAIL = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "ymail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "mail.ru",
        "yandex.ru",
        "yandex.com",
        "zoho.com",
        "fastmail.com",
        "hey.com",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "wanadoo.fr",
        "sfr.fr",
        "libero.it",
        "qq.com",
        "163.com",
        "126.com",
        "naver.com",
        "rediffmail.com",
        "tutanota.com",
    ]
)


def company_domains(email: pd.Series, extra_free: Iterable[str] = ()) -> pd.Series:
    """The email's domain when it names a company (not a free-mail provider), else ""."""
    free = FREE_MAIL | frozenset(extra_free)
    domains = [e.rpartition("@")[2] if isinstance(e, str) else "" for e in email]
    codes, uniques = pd.factorize(np.array(domains, dtype=object))
    # one string per distinct domain, which its rows share (the sync's memo keeps them)
    company = np.array([d if d not in free else "" for d in uniques] + [""], dtype=object)
    return pd.Series(company[codes], index=email.index, dtype=object)


def find_duplicates(rank: np.ndarray, keys: list[pd.Series]) -> np.ndarray:
    """For each row, the position of the earliest row it shares a key with, through any
    chain of shared keys (a shares an email with b, b a phone with c); -1 for none.

    ``rank`` orders rows (earliest first); empty key values never match.
    """
    n = len(rank)
    order = np.argsort(rank, kind="stable")
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)  # position in time order
    group = position.copy()
    coded = []
    for key in keys:
        values = key.to_numpy(dtype=object)
        present = np.flatnonzero(values != "")
        if len(present):
            codes, uniques = pd.factorize(values[present])
            coded.append((present, codes, len(uniques)))
    while True:  # each pass follows at least one more link; real data settles in two or three
        before = group.copy()
        for present, codes, size in coded:
            smallest = np.full(size, n, dtype=np.int64)
            np.minimum.at(smallest, codes, group[present])
            group[present] = smallest[codes]
        if np.array_equal(before, group):
            break
    earliest = order[group]  # the row index of each group's earliest member
    return np.where(earliest == np.arange(n), -1, earliest)
