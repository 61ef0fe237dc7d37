"""History's Stage entries, typed once for the metrics (the funnel's reached stages and
days in stage): from History's frame (engine/history.py), each distinct text read once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sheetcrm.engine.frame import narrow
from sheetcrm.engine.history import HistoryFrame
from sheetcrm.engine.metric_data import DAY, Deals, first_rows
from sheetcrm.engine.stages import first_seen
from sheetcrm.engine.stages_tab import Stage
from sheetcrm.engine.table import norm_header


@dataclass
class StageLog:
    """History's Stage entries in the order they were logged."""

    lead: np.ndarray  # per entry, a code into ``leads``
    leads: list[str]  # the Lead IDs the entries name, each once
    stage: np.ndarray  # stage order on the Stages tab; -1 for a cleared or unknown stage
    at: np.ndarray
    observed: np.ndarray  # the entry saw the lead enter the stage (not "first seen ...")

    def reached(self, deals: Deals, n_stages: int) -> np.ndarray:
        """(deal, stage) -> whether History saw the deal enter the stage, or it is there now."""
        seen = np.zeros((len(deals), n_stages), dtype=bool)
        # per entry in 4 bytes, not 8 (200,000 entries at a re-sync: the metrics' peak)
        rows = first_rows(deals.ids, self.leads).astype(np.int32)[self.lead]
        ok = (rows >= 0) & (self.stage >= 0)
        seen[rows[ok], self.stage[ok]] = True
        now = deals.order >= 0
        seen[np.flatnonzero(now), deals.order[now]] = True
        return seen

    def days_in_stage(self, n_stages: int) -> dict[int, np.ndarray]:
        """Stage order -> days of each finished stay whose start History saw."""
        # each lead's entries together, in the order logged: the columns gathered, then
        # the order and the stamps let go before the days are split by stage (200,000
        # entries at a 100,000-lead re-sync: 4 MB at the metrics step's peak)
        ordered = np.argsort(self.lead, kind="stable")
        lead, at = self.lead[ordered], self.at[ordered]
        stage, observed = self.stage[ordered], self.observed[ordered]
        del ordered
        # a stay lasts until the lead's next entry; its last entry's is not finished (NaN)
        days = np.full(len(at), np.nan)
        np.divide(at[1:] - at[:-1], DAY, out=days[:-1])
        days[:-1][lead[1:] != lead[:-1]] = np.nan
        del lead, at
        finished = observed & (stage >= 0) & ~np.isnan(days)
        return {k: days[finished & (stage == k)] for k in range(n_stages)}


def read_log(history: HistoryFrame, stages: Sequence[Stage]) -> StageLog:
    """The Stage entries of ``history`` (with the rows this sync plans under it, if it
    has them: :meth:`HistoryFrame.plus`), typed from the frame's columns: each distinct To
    and Why read once, the stamps as the frame parsed them."""
    rows = np.flatnonzero(history.of_field("stage"))
    by_key = {norm_header(s.name): s.order for s in stages}
    to = history.column("To")
    order = _per_text(to.texts, to.codes[rows], lambda t: by_key.get(norm_header(t), -1), int)
    why = history.column("Why")
    seen = _per_text(why.texts, why.codes[rows], lambda t: not first_seen(str(t).strip()), bool)
    # the Lead IDs these rows name, numbered in the order they come (each entry's lead is a
    # code into them): History's codes number every Lead ID it holds, in its own order
    lead_codes, first = pd.factorize(history.column("Lead ID").codes[rows])
    leads = list(map(str.strip, map(str, history.column("Lead ID").texts[first])))  # C loops
    # an entry per Stage row of History (400,000 at 100,000 leads): codes in the smallest
    # type that holds them, 5 bytes an entry less at the metrics' peak
    return StageLog(
        lead=narrow(lead_codes, len(leads)),
        leads=[*leads, ""],
        stage=narrow(order, int(order.max(initial=0)) + 1)[to.codes[rows]],
        at=history.at[rows],
        observed=seen[why.codes[rows]],
    )


def _per_text(
    texts: np.ndarray, codes: np.ndarray, test: Callable[[str], object], dtype: type
) -> np.ndarray:
    """``test`` of each text some of ``codes`` name, by code: History's To and Why columns
    hold every field's texts (owners, sequences' reasons), the Stage rows a few of them."""
    out: np.ndarray = np.zeros(len(texts), dtype=dtype)  # a text no Stage row holds: never read
    for i in np.flatnonzero(np.bincount(codes, minlength=len(texts))).tolist():
        out[i] = test(texts[i])
    return out
