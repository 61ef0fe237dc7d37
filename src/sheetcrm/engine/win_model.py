"""The learned win probability: naive Bayes over a few Leads fields, calibrated.

Odoo's predictive lead scoring, made honest: for each field the manager lists, each value's
frequency among won and among lost closed leads, with additive (Laplace) smoothing so that
a value seen twice does not swing a lead; the log-odds of every field summed with the prior
log-odds of winning. Naive Bayes counts correlated fields twice and so is overconfident: a
Platt scaling, fitted on the same closed leads, maps the summed log-odds to a probability
that matches the win rate. Vectorised: each field is factorised once and counted with
``np.bincount``; a value never seen in training adds nothing. The formulas are in
docs/metrics.md ("Win probability").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

from sheetcrm.engine.values import format_number

AMOUNT_BAND = "Amount band"
"""A derived field: Amount in four bands, cut at the quartiles of the training amounts."""
SMOOTHING = 1.0  # alpha: every value is counted as if seen once more, among won and lost
FLOOR, CEILING = 0.01, 0.99  # no lead is shown as certain to be won or lost


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # = 1 / (1 + e^-z), without overflow


def normalised(values: Sequence[object] | np.ndarray) -> np.ndarray:
    """Values as they are matched: case, spacing and surrounding blanks ignored."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    keys = np.array([" ".join(str(u).split()).casefold() for u in uniques], dtype=object)
    return keys[codes] if len(keys) else np.zeros(0, dtype=object)


def band_edges(amounts: np.ndarray) -> np.ndarray:
    """The cuts of Amount band: the quartiles of the known amounts, to two significant
    digits (a manager reads "5,000–20,000", not "4,987.5–19,960"), without repeats."""
    known = amounts[np.isfinite(amounts)]
    if not len(known):
        return np.zeros(0)
    cuts = np.quantile(known, [0.25, 0.5, 0.75])
    rounded = [float(f"{c:.2g}") for c in cuts if c > 0]
    return np.unique(np.array(rounded, dtype=float))


def amount_bands(amounts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each amount's band label ("" for no amount), from ``band_edges``."""
    labels = np.array(
        [
            f"under {format_number(edges[0])}" if len(edges) else "any",
            *(f"{format_number(a)}–{format_number(b)}" for a, b in pairwise(edges)),
            *([f"{format_number(edges[-1])} and over"] if len(edges) else []),
        ],
        dtype=object,
    )
    which = np.searchsorted(edges, np.nan_to_num(amounts, nan=0.0), side="right")
    return np.where(np.isfinite(amounts), labels[np.minimum(which, len(labels) - 1)], "")


@dataclass(frozen=True)
class FieldWeights:
    name: str
    keys: pd.Index  # the normalised values seen in training
    weights: np.ndarray  # log P(value | won) - log P(value | lost), one per key, then 0


@dataclass(frozen=True)
class WinModel:
    fields: tuple[FieldWeights, ...]
    prior: float  # log-odds of winning before any field is looked at
    slope: float  # Platt scaling: p = sigmoid(slope * log-odds + intercept)
    intercept: float
    won: int
    lost: int


def fit(columns: Mapping[str, np.ndarray], won: np.ndarray) -> WinModel:
    """Learn from closed leads: ``columns`` their values by field, ``won`` True for won."""
    won = np.asarray(won, dtype=bool)
    n_won, n_lost = int(won.sum()), int((~won).sum())
    fields = []
    total = np.zeros(len(won))
    for name, values in columns.items():
        codes, uniques = pd.factorize(normalised(values), use_na_sentinel=False)
        k = len(uniques)
        seen_won = np.bincount(codes[won], minlength=k)
        seen_lost = np.bincount(codes[~won], minlength=k)
        p_won = (seen_won + SMOOTHING) / (n_won + SMOOTHING * k)
        p_lost = (seen_lost + SMOOTHING) / (n_lost + SMOOTHING * k)
        weights = np.append(np.log(p_won) - np.log(p_lost), 0.0)  # [-1]: a value not seen
        fields.append(FieldWeights(name, pd.Index(uniques), weights))
        total += weights[codes]
    prior = float(np.log((n_won + SMOOTHING) / (n_lost + SMOOTHING)))
    slope, intercept = platt(prior + total, won)
    return WinModel(tuple(fields), prior, slope, intercept, n_won, n_lost)


def contributions(model: WinModel, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """rows x fields: each field's log-odds for each lead (0 for a value not seen)."""
    n = len(next(iter(columns.values()))) if columns else 0
    out = np.zeros((n, len(model.fields)))
    for j, f in enumerate(model.fields):
        out[:, j] = f.weights[f.keys.get_indexer(pd.Index(normalised(columns[f.name])))]
    return out


def platt(score: np.ndarray, won: np.ndarray, rounds: int = 50) -> tuple[float, float]:
    """(a, b) of p = sigmoid(a * score + b) by Newton's method on the log-loss, with Platt's
    targets (N+ + 1) / (N+ + 2) and 1 / (N- + 2). ``a`` is kept at most 1: the scaling only
    shrinks naive Bayes' overconfidence, never sharpens it (fitted on the training leads, a
    value seen once, and won, would otherwise be taken at its word); then ``b`` alone."""
    n_won, n_lost = int(won.sum()), int((~won).sum())
    target = np.where(won, (n_won + 1) / (n_won + 2), 1 / (n_lost + 2))
    a, b = _newton(score, target, 1.0, 0.0, rounds, slope=True)
    if a > 1.0:
        a, b = _newton(score, target, 1.0, 0.0, rounds, slope=False)
    return a, b


def _newton(
    score: np.ndarray, target: np.ndarray, a: float, b: float, rounds: int, slope: bool
) -> tuple[float, float]:
    design = np.column_stack([score, np.ones_like(score)]) if slope else np.ones((len(score), 1))
    for _ in range(rounds):
        p = sigmoid(a * score + b)
        gradient = design.T @ (p - target)
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + 1e-9 * np.eye(len(gradient))
        step = np.linalg.solve(hessian, gradient)
        a, b = (a - float(step[0]), b - float(step[1])) if slope else (a, b - float(step[0]))
        if np.abs(step).max() < 1e-9:
            break
    return a, b


@dataclass
class Prediction:
    probability: np.ndarray  # 0..1, within FLOOR..CEILING
    points: np.ndarray  # rows x fields: what each field adds, in percentage points


def predict(model: WinModel, columns: Mapping[str, np.ndarray]) -> Prediction:
    """Each lead's win probability, and each field's part in it: the probability less the
    one the lead would have if that field said nothing (its log-odds 0)."""
    parts = contributions(model, columns)
    total = model.prior + parts.sum(axis=1)
    probability = np.clip(sigmoid(model.slope * total + model.intercept), FLOOR, CEILING)
    without = sigmoid(model.slope * (total[:, None] - parts) + model.intercept)
    return Prediction(probability, 100 * (probability[:, None] - without))
