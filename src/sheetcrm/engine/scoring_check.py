"""The Scoring check tab: does the rule Score, and does the learned Win probability, tell
won from lost? Judged out of time: the probability learns from the leads closed before a
cut-off (the 75th percentile of Closed at) and both are tested on the leads closed from
it on, as they would have been used. When the test cannot show a difference (too few
leads, or an AUC interval that holds 0.5) the tab says "no signal" and shows counts only.
Formulas: docs/metrics.md ("Scoring check")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sheetcrm.engine.config import Config
from sheetcrm.engine.metric_data import dates, numbers
from sheetcrm.engine.metric_grid import Grid, MetricTab
from sheetcrm.engine.schema import SCORING_CHECK
from sheetcrm.engine.win import estimate, known_fields, learn, outcomes, shortfall
from sheetcrm.engine.win_check import FLOOR, NO_SIGNAL, REVERSED, Check, check

CUT = 0.75  # the share of closed leads, by Closed at, the probability learns from


@dataclass
class Split:
    """The closed leads with a Closed at, cut in time."""

    train: np.ndarray  # rows closed before the cut-off
    test: np.ndarray  # rows closed on or after it
    won: np.ndarray  # per lead of the sheet
    cut: str  # the cut-off, YYYY-MM-DD; "" without closed leads


def split(closed: np.ndarray, won: np.ndarray, closed_at: np.ndarray) -> Split:
    """``closed_at``: datetime64, NaT where unknown (such a lead cannot be placed in time)."""
    rows = np.flatnonzero(closed & ~np.isnat(closed_at))
    if not len(rows):
        return Split(rows, rows, won, "")
    at = closed_at[rows].astype("datetime64[ns]").astype(np.int64)
    cut = np.quantile(at, CUT, method="lower")
    day = str(np.datetime64(int(cut), "ns").astype("datetime64[D]"))
    return Split(rows[at < cut], rows[at >= cut], won, day)


def evaluate(
    data: pd.DataFrame,
    config: Config,
    closed_at: np.ndarray,
    amounts: np.ndarray,
    floor: int = FLOOR,
) -> tuple[Split, Check, Check | str]:
    """(the split, the rule Score's check, the probability's check or why it has none)."""
    settings = config.settings
    closed, won = outcomes(data["Stage"], config.stages)
    cut = split(closed, won, closed_at)
    tested = won[cut.test]
    score = numbers(data["Score"].to_numpy()[cut.test], settings.decimal)
    rule = check(score, tested, floor)
    fields, _missing = known_fields(settings["Win probability fields"], list(data.columns))
    if not fields:
        return cut, rule, "no fields (Settings: Win probability fields)"
    learned_won = won[cut.train]
    minimum = settings["Win probability minimum"]
    short = shortfall(len(cut.train), int(learned_won.sum()), minimum)
    if short:
        return cut, rule, short
    learned = learn(data.iloc[cut.train], list(fields), amounts[cut.train], learned_won)
    prediction = estimate(learned, data.iloc[cut.test], amounts[cut.test])
    return cut, rule, check(prediction.probability, tested, floor)


def scoring_check(data: pd.DataFrame, config: Config, stamp: str) -> MetricTab:
    """The tab, from the Leads rows as this sync leaves them."""
    settings = config.settings
    closed_at = dates(data["Closed at"], settings.dayfirst, settings.zone)
    amounts = numbers(data["Amount"], settings.decimal)
    cut, rule, learned = evaluate(data, config, closed_at, amounts)
    period = f"out of time: learned before {cut.cut}, tested from it" if cut.cut else ""
    grid = Grid(SCORING_CHECK.name, stamp, period)
    grid.line()
    grid.line("Closed leads", "Leads", "Won", "Lost")
    for name, rows in (("Learned from (before the cut-off)", cut.train), ("Tested on", cut.test)):
        won = int(cut.won[rows].sum())
        grid.line(name, len(rows), won, len(rows) - won, kinds=("", "leads", "leads", "leads"))
    check_lines(grid, "Rule score", rule, calibration=False)
    if isinstance(learned, str):
        grid.line()
        grid.line("Win probability", "not checked", learned)
    else:
        check_lines(grid, "Win probability", learned, calibration=True)
    return grid.tab(settings["Currency"])


def _verdict(result: Check) -> tuple[str, str]:
    """The verdict and why, in two cells (no cell of a metric tab runs long)."""
    if result.verdict == NO_SIGNAL:
        if result.leads < FLOOR:
            return NO_SIGNAL, f"{result.leads} closed leads tested, {FLOOR} needed"
        if not result.won or result.won == result.leads:
            return NO_SIGNAL, "the tested leads are all won or all lost"
        return NO_SIGNAL, "the AUC's 95% interval holds 0.5"
    if result.verdict == REVERSED:
        return REVERSED, "it ranks lost leads above won ones"
    return "separates won from lost", ""


def check_lines(grid: Grid, name: str, result: Check, calibration: bool) -> None:
    """A score's verdict, AUC, lift and win rate by band (the Preview tab shows them too)."""
    grid.line()
    grid.line(name, *_verdict(result))
    if not result.shown:
        return
    grid.line("AUC", round(result.auc, 3), kinds=("", "auc"))
    grid.line(
        "AUC, 95% interval", round(result.low, 3), round(result.high, 3), kinds=("", "auc", "auc")
    )
    grid.line("Top-decile lift", round(result.lift, 2), kinds=("", "ratio"))
    _table(
        grid,
        f"{name}: win rate by band (quintiles)",
        result.bands,
        ("From", "To"),
        percent=calibration,
    )
    if calibration:
        _table(
            grid,
            "Calibration by decile: predicted vs actual",
            result.deciles,
            ("Mean",),
            percent=True,
        )


def _table(
    grid: Grid, title: str, table: pd.DataFrame, shown: Sequence[str], percent: bool
) -> None:
    kind = "percent" if percent else "auc"
    heads = {"From": "From", "To": "To", "Mean": "Predicted"}
    grid.line()
    grid.line(title)
    grid.line("Band", *(heads[c] for c in shown), "Leads", "Won", "Win rate")
    kinds = ("", *(kind for _ in shown), "leads", "leads", "percent")
    for values in table.to_dict("records"):
        grid.line(
            int(values["Band"]),
            *(values[c] for c in shown),
            values["Leads"],
            values["Won"],
            values["Win rate"],
            kinds=kinds,
        )
