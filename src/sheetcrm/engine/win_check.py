"""How well a score separates won from lost leads: AUC with its confidence interval, win
rate by band, calibration by decile, lift of the top decile, and a verdict that says "no
signal" rather than show percentages a small or blind sample cannot back. Pure numpy; the
formulas are in docs/metrics.md ("Scoring check")."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

FLOOR = 100  # closed leads a test sample needs before any percentage is shown
Z = 1.96  # a 95 % confidence interval

SIGNAL, NO_SIGNAL, REVERSED = "signal", "no signal", "reversed"


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, tied values sharing the mean of their ranks."""
    _, codes, counts = np.unique(values, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)  # the rank of each distinct value's last copy
    return ((last - (counts - 1) / 2.0)[codes]).astype(float)


def auc(score: np.ndarray, won: np.ndarray) -> float:
    """The chance that a won lead scores above a lost one (ties count half): the
    Mann-Whitney U over n_won x n_lost. NaN without both."""
    n_won, n_lost = int(won.sum()), int((~won).sum())
    if not n_won or not n_lost:
        return float("nan")
    rank_sum = average_ranks(score)[won].sum()
    return float((rank_sum - n_won * (n_won + 1) / 2) / (n_won * n_lost))


def hanley_mcneil(area: float, n_won: int, n_lost: int) -> float:
    """The AUC's standard error (Hanley & McNeil, 1982)."""
    q1, q2 = area / (2 - area), 2 * area * area / (1 + area)
    variance = (
        area * (1 - area) + (n_won - 1) * (q1 - area * area) + (n_lost - 1) * (q2 - area * area)
    ) / (n_won * n_lost)
    return float(np.sqrt(max(variance, 0.0)))


def top_decile_lift(score: np.ndarray, won: np.ndarray) -> float:
    """Win rate of the tenth of leads that score highest over the win rate of all. Leads
    tied at the cut count in the share that fits, at their tie's own win rate: breaking the
    tie by row order would invent a lift from the order the rows came in."""
    n = len(score)
    k = -(-n // 10)
    if not n or not won.any():
        return float("nan")
    cut = np.sort(score)[n - k]
    above = score > cut
    at = score == cut
    wins = won[above].sum() + (k - above.sum()) * won[at].mean()
    return float((wins / k) / won.mean())


def bands(score: np.ndarray, won: np.ndarray, count: int) -> pd.DataFrame:
    """Leads cut into ``count`` bands of (about) equal size by score, lowest first; leads
    with the same score stay in one band, so with few distinct scores there are fewer."""
    ranks = average_ranks(score)
    which = np.minimum(((ranks - 1) * count // len(score)).astype(int), count - 1)
    _, band = np.unique(which, return_inverse=True)
    k = band.max() + 1 if len(band) else 0
    leads = np.bincount(band, minlength=k)
    wins = np.bincount(band, weights=won.astype(float), minlength=k)
    low = np.full(k, np.inf)
    np.minimum.at(low, band, score)
    high = np.full(k, -np.inf)
    np.maximum.at(high, band, score)
    mean = np.bincount(band, weights=score, minlength=k) / np.maximum(leads, 1)
    return pd.DataFrame(
        {
            "Band": np.arange(1, k + 1),
            "From": low,
            "To": high,
            "Mean": mean,
            "Leads": leads,
            "Won": wins.astype(int),
            "Win rate": wins / np.maximum(leads, 1),
        }
    )


@dataclass
class Check:
    """One score's evaluation on the test leads."""

    verdict: str
    leads: int
    won: int
    auc: float = float("nan")
    low: float = float("nan")  # the AUC's 95 % interval
    high: float = float("nan")
    lift: float = float("nan")
    bands: pd.DataFrame = field(default_factory=pd.DataFrame)  # quintiles
    deciles: pd.DataFrame = field(default_factory=pd.DataFrame)  # calibration

    @property
    def shown(self) -> bool:
        """Percentages are shown only when the score separates won from lost."""
        return self.verdict != NO_SIGNAL


def check(score: np.ndarray, won: np.ndarray, floor: int = FLOOR) -> Check:
    """Evaluate ``score`` (higher: more likely won) against the outcomes ``won``."""
    score, won = np.asarray(score, dtype=float), np.asarray(won, dtype=bool)
    known = np.isfinite(score)
    score, won = score[known], won[known]
    n, n_won = len(score), int(won.sum())
    if n < floor or not n_won or n_won == n:
        return Check(NO_SIGNAL, n, n_won)
    area = auc(score, won)
    se = hanley_mcneil(area, n_won, n - n_won)
    low, high = area - Z * se, area + Z * se
    verdict = SIGNAL if low > 0.5 else REVERSED if high < 0.5 else NO_SIGNAL
    result = Check(verdict, n, n_won, area, low, high)
    if result.shown:
        result.lift = top_decile_lift(score, won)
        result.bands = bands(score, won, 5)
        result.deciles = bands(score, won, 10)
    return result
