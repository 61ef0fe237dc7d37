"""Nurture metrics: per sequence and step, how many leads were enrolled, sent an e-mail,
unsubscribed, replied or booked a meeting, became SQL, were won; and the rates, with the
unsubscribe rate flagged over Settings' ``Unsubscribe rate alert``. Pure and vectorised.
Formulas: docs/metrics.md, "Nurture".

What happened comes from History (nurture_log.py); what was sent from the Activities rows
the ``sent`` step appends for each nurture e-mail (Type email, Outcome sent, By ``sequence
<name>``). An Activities row does not say its step (its Notes is the subject), so the k-th
e-mail sent to a lead by a sequence is its k-th step planned in History: steps are planned,
and sent, in order, each once per lead. A sequence's total counts every row sent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sheetcrm.engine.catalog import _
from sheetcrm.engine.followup import Touches
from sheetcrm.engine.metric_data import Deals, ratio
from sheetcrm.engine.nurture_log import REPLIED, SQL, UNSUBSCRIBED, WON, NurtureLog, fold

TOTAL = "total"  # the Step of a sequence's total row
COUNTS = ("Enrolled", "Sent", "Unsubscribed", "Replied or meeting booked", "Moved to SQL", "Won")
RATES = ("Unsubscribe rate", "Reply rate", "SQL rate", "Win rate")
EVENTS = ((UNSUBSCRIBED, "Unsubscribed"), (REPLIED, COUNTS[3]), (SQL, COUNTS[4]), (WON, "Won"))
COLUMNS = ("Sequence", "Step", *COUNTS, *RATES, "Flag")
SENT = ("sent", "envoye")  # the Outcome of a nurture e-mail sent (French: envoyé)


def _sent(touches: Touches | None, deals: Deals) -> pd.DataFrame:
    """The nurture e-mails sent: per Activities row, its lead's ID ("" when not found), the
    sequence's key and spelling from By, ranked per (lead, sequence) by At."""
    text = pd.Series([], dtype=object)
    empty = pd.DataFrame({"lead": text, "key": text, "name": text, "rank": text.astype(int)})
    if touches is None or not len(touches):
        return empty
    codes, uniques = pd.factorize(touches.by)  # each distinct By read once
    names = [_name(str(u)) for u in uniques]
    named = np.array([bool(n) for n in names], dtype=bool)
    mine = (touches.type == "email") & np.isin(touches.outcome, SENT) & named[codes]
    if not mine.any():
        return empty
    lead = touches.lead[mine]
    ids = np.where(lead >= 0, deals.ids[np.maximum(lead, 0)] if len(deals) else "", "")
    chosen = codes[mine]
    spelled = np.asarray(names, dtype=object)[chosen]
    keys = np.asarray([fold(n) for n in names], dtype=object)[chosen]
    frame = pd.DataFrame({"lead": ids, "key": keys, "name": spelled})
    frame["at"] = touches.wall[mine]
    frame = frame.sort_values(["lead", "key", "at"], kind="stable")  # NaT last
    frame["rank"] = frame.groupby(["lead", "key"]).cumcount()
    return frame.drop(columns="at")


def _name(by: str) -> str:
    """The sequence a By cell names ("sequence Nurture C", "séquence Relance C"), or ""."""
    parts = by.strip().split(None, 1)
    return parts[1].strip() if len(parts) == 2 and fold(parts[0]) == "sequence" else ""


def nurture(
    log: NurtureLog | None, touches: Touches | None, deals: Deals, alert: float, decimal: str
) -> pd.DataFrame:
    """One row per sequence and step it planned, then the sequence's total row; empty when no
    lead was ever enrolled. ``alert``: the unsubscribe rate (0..1) over which a row is
    flagged; ``decimal``: the mark the flag writes its percentages with."""
    if log is None:
        return pd.DataFrame(columns=list(COLUMNS))
    names, keys = pd.Series(log.sequence), log.key
    # per episode: its first event of each kind, and the step it came after
    per_step: dict[str, pd.Series] = {}
    per_total: dict[str, pd.Series] = {}
    key_of = keys[log.episode]
    for kind, column in EVENTS:
        hit = log.kind == kind
        first = pd.DataFrame({"episode": log.episode[hit], "step": log.step[hit]})
        first["key"] = key_of[hit]
        first = first.drop_duplicates("episode")
        # before the first step was planned: the sequence's total only
        per_step[column] = first[first["step"] > 0].groupby(["key", "step"]).size()
        per_total[column] = first.groupby("key").size()
    planned = log.planned.drop_duplicates(["episode", "step"])
    per_step["Enrolled"] = planned.groupby(["key", "step"]).size()
    per_total["Enrolled"] = pd.Series(keys).value_counts()
    sent = _sent(touches, deals)
    # a (lead, sequence, step) is one e-mail however often History planned it: its key is
    # the outbox's, sent once (a lead enrolled again in the same sequence is not re-sent)
    steps = log.planned.drop_duplicates(["lead", "key", "step"])
    steps["rank"] = steps.groupby(["lead", "key"]).cumcount()
    matched = sent.merge(steps, on=["lead", "key", "rank"], how="inner")
    per_step["Sent"] = matched.groupby(["key", "step"]).size()
    per_total["Sent"] = sent.groupby("key").size()
    first = pd.DataFrame({"key": keys, "name": names}).drop_duplicates("key")
    spelling = dict(zip(first["key"], first["name"], strict=True))
    for key, name in sent.drop_duplicates("key")[["key", "name"]].itertuples(index=False):
        spelling.setdefault(key, name)
    return _table(per_step, per_total, spelling, alert, decimal)


def _table(
    per_step: dict[str, pd.Series],
    per_total: dict[str, pd.Series],
    spelling: dict[str, str],
    alert: float,
    decimal: str,
) -> pd.DataFrame:
    step_index = pd.MultiIndex.from_tuples(
        sorted(set().union(*(s.index for s in per_step.values()))), names=["key", "step"]
    )
    steps = pd.DataFrame(
        {c: per_step[c].reindex(step_index, fill_value=0) for c in COUNTS}
    ).reset_index()
    steps["Step"] = steps["step"].astype(str)
    totals = pd.DataFrame(
        {c: per_total[c].reindex(list(spelling), fill_value=0) for c in COUNTS}
    ).rename_axis("key")
    totals = totals.reset_index()
    totals["step"], totals["Step"] = np.iinfo(np.int64).max, TOTAL
    table = pd.concat([steps, totals], ignore_index=True)
    table["Sequence"] = table["key"].map(spelling)
    table = table.sort_values(["Sequence", "key", "step"], kind="stable").reset_index(drop=True)
    enrolled = table["Enrolled"].to_numpy()
    for rate, count in zip(RATES, ("Unsubscribed", COUNTS[3], COUNTS[4], "Won"), strict=True):
        table[rate] = [ratio(n, d) for n, d in zip(table[count], enrolled, strict=True)]
    table["Flag"] = [_flag(r, alert, decimal) for r in table["Unsubscribe rate"]]
    for column in COUNTS:
        table[column] = table[column].astype(int)
    return table[list(COLUMNS)].astype(object)


def _percent(value: float, decimal: str) -> str:
    return f"{value * 100:.1f}".replace(".", decimal) + " %"


def _flag(rate: float, alert: float, decimal: str) -> str:
    if np.isnan(rate) or rate <= alert:
        return ""
    return _("high unsubscribe rate: %(rate)s (over %(alert)s)") % {
        "rate": _percent(rate, decimal),
        "alert": _percent(alert, decimal).replace(f"{decimal}0 %", " %"),
    }
