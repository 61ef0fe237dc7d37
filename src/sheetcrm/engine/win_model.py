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


@dataclass(frozen=True)
class Coded:
    """A column as the sync's Frame holds it: per row, a code into its distinct texts. The
    model then reads codes the rules already made, instead of hashing the texts again."""

    codes: np.ndarray
    texts: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, rows: np.ndarray) -> Coded:
        return Coded(self.codes[rows], self.texts)

    def at(self, row: int) -> object:
        return self.texts[self.codes[row]]


Column = Sequence[object] | np.ndarray | Coded


def keyed(values: Column) -> tuple[np.ndarray, np.ndarray]:
    """(a code per value, the distinct values as they are matched: case, spacing and
    surrounding blanks ignored); ``keys[codes]`` is each value's key. Each distinct text is
    normalised once, and nothing of the size of the column is hashed twice."""
    if isinstance(values, Coded):
        # its texts are the whole column's, open leads' too: a value no training row holds
        # would count in the smoothing, and a lead's odds would move with the rest of the sheet
        codes, which = pd.factorize(values.codes)  # a code under 0: a blank, the last text
        uniques = np.asarray([*values.texts, ""], dtype=object)[which]
    else:
        codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    if len(codes) and codes.min() < 0:  # an empty cell read as None: a blank like ""
        codes = np.where(codes < 0, len(uniques), codes)
        uniques = np.asarray([*uniques, ""], dtype=object)
    texts = np.array([" ".join(str(u).split()).casefold() for u in uniques], dtype=object)
    merged, keys = pd.factorize(texts, use_na_sentinel=False)  # "FR" and "fr" are one key
    return merged[codes] if len(merged) else codes, np.asarray(keys, dtype=object)


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
    bands = coded_bands(amounts, edges)
    return bands.texts[bands.codes]


def coded_bands(amounts: np.ndarray, edges: np.ndarray) -> Coded:
    """:func:`amount_bands` as codes into the labels, the last one "" for no amount."""
    labels = np.array(
        [
            f"under {format_number(edges[0])}" if len(edges) else "any",
            *(f"{format_number(a)}–{format_number(b)}" for a, b in pairwise(edges)),
            *([f"{format_number(edges[-1])} and over"] if len(edges) else []),
            "",
        ],
        dtype=object,
    )
    which = np.searchsorted(edges, np.nan_to_num(amounts, nan=0.0), side="right")
    known = np.minimum(which, len(labels) - 2)
    return Coded(np.where(np.isfinite(amounts), known, len(labels) - 1), labels)


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


def fit(columns: Mapping[str, Column], won: np.ndarray) -> WinModel:
    """Learn from closed leads: ``columns`` their values by field, ``won`` True for won."""
    won = np.asarray(won, dtype=bool)
    n_won, n_lost = int(won.sum()), int((~won).sum())
    fields = []
    total = np.zeros(len(won))
    for name, values in columns.items():
        codes, uniques = keyed(values)
        k = len(uniques)
        seen_won = np.bincount(codes[won], minlength=k)
        seen_lost = np.bincount(codes[~won], minlength=k)
        p_won = (seen_won + SMOOTHING) / (n_won + SMOOTHING * k)
        p_lost = (seen_lost + SMOOTHING) / (n_lost + SMOOTHING * k)
        weights = np.append(np.log(p_won) - np.log(p_lost), 0.0)  # [-1]: a value not seen
        fields.append(FieldWeights(name, pd.Index(uniques, dtype=object), weights))
        total += weights[codes]
    prior = float(np.log((n_won + SMOOTHING) / (n_lost + SMOOTHING)))
    slope, intercept = platt(prior + total, won)
    return WinModel(tuple(fields), prior, slope, intercept, n_won, n_lost)


def contributions(model: WinModel, columns: Mapping[str, Column]) -> np.ndarray:
    """rows x fields: each field's log-odds for each lead (0 for a value not seen)."""
    n = len(next(iter(columns.values()))) if columns else 0
    out = np.zeros((n, len(model.fields)))
    for j, f in enumerate(model.fields):
        codes, keys = keyed(columns[f.name])
        out[:, j] = f.weights[f.keys.get_indexer(pd.Index(keys, dtype=object))][codes]
    return out


def platt(score: np.ndarray, won: np.ndarray, rounds: int = 50) -> tuple[float, float]:
    """(a, b) of p = sigmoid(a * score + b) by Newton's method on the log-loss, with Platt's
    targets (N+ + 1) / (N+ + 2) and 1 / (N- + 2). ``a`` is kept at most 1: the scaling only
    shrinks naive Bayes' overconfidence, never sharpens it (fitted on the training leads, a
    value seen once, and won, would otherwise be taken at its word); then ``b`` alone.
    Leads with the same score are one weighted point: there are few distinct scores."""
    n_won, n_lost = int(won.sum()), int((~won).sum())
    x, which = np.unique(score, return_inverse=True)
    leads = np.bincount(which, minlength=len(x)).astype(float)
    wins = np.bincount(which, weights=won.astype(float), minlength=len(x))
    target = wins * (n_won + 1) / (n_won + 2) + (leads - wins) / (n_lost + 2)
    a, b = _newton(x, leads, target, rounds, slope=True)
    if a > 1.0:
        a, b = _newton(x, leads, target, rounds, slope=False)
    return a, b


def _newton(
    x: np.ndarray, leads: np.ndarray, target: np.ndarray, rounds: int, slope: bool
) -> tuple[float, float]:
    """Minimise the log-loss of sigmoid(a x + b) against ``target`` (summed targets of the
    ``leads`` at each x); ``slope`` False: a stays 1."""
    a, b = 1.0, 0.0
    for _ in range(rounds):
        p = sigmoid(a * x + b)
        error = leads * p - target
        w = leads * p * (1 - p) + 1e-12
        if slope:  # the 2x2 system of Newton's step, solved by hand
            gxx, gx, g = float(w @ (x * x)) + 1e-9, float(w @ x), float(w.sum()) + 1e-9
            da, db = float(error @ x), float(error.sum())
            det = gxx * g - gx * gx
            step_a, step_b = (g * da - gx * db) / det, (gxx * db - gx * da) / det
        else:
            step_a, step_b = 0.0, float(error.sum()) / (float(w.sum()) + 1e-9)
        a, b = a - step_a, b - step_b
        if max(abs(step_a), abs(step_b)) < 1e-9:
            break
    return a, b


@dataclass
class Prediction:
    probability: np.ndarray  # 0..1, within FLOOR..CEILING
    points: np.ndarray  # rows x fields: what each field adds, in percentage points


def predict(model: WinModel, columns: Mapping[str, Column]) -> Prediction:
    """Each lead's win probability, and each field's part in it: the probability less the
    one the lead would have if that field said nothing (its log-odds 0)."""
    parts = contributions(model, columns)
    total = model.prior + parts.sum(axis=1)
    probability = np.clip(sigmoid(model.slope * total + model.intercept), FLOOR, CEILING)
    # the same operations in the same order as sigmoid's and the points', in place: each
    # was a new rows x fields matrix of floats (3 MB at 67,000 open leads and 6 fields)
    points = np.subtract(total[:, None], parts, out=parts)
    points *= model.slope
    points += model.intercept
    points *= 0.5
    np.tanh(points, out=points)
    points += 1.0
    points *= 0.5  # the probability without each field
    np.subtract(probability[:, None], points, out=points)
    points *= 100
    return Prediction(probability, points)
