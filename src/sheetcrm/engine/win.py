"""The Win probability and Win reasons columns: which Leads fields the model learns from
(Settings: Win probability fields), which leads are closed and won (the Stages tab's types),
and the words of each lead's reasons, built once per distinct explanation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sheetcrm.engine.catalog import N_, _
from sheetcrm.engine.combos import distinct
from sheetcrm.engine.schema import canonical_header
from sheetcrm.engine.stages_tab import Stage
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.win_model import (
    AMOUNT_BAND,
    Coded,
    Column,
    Prediction,
    WinModel,
    band_edges,
    coded_bands,
    fit,
    predict,
)

REASONS = 3  # the fields that move a lead's probability most
SHOWN_FROM = 1.0  # a field moving it by less than a percentage point is not worth saying


BAND_NAMES = frozenset({norm_header(AMOUNT_BAND), norm_header("Tranche de montant")})


def known_fields(fields: Sequence[str], headers: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """(the Leads columns the fields name, with each one's name as typed: "Pays" reads the
    Country column and is said "Pays" in the reasons; the ones naming no column)."""
    by_key = {norm_header(h): h for h in headers}
    found, missing = {}, []
    for name in fields:
        if norm_header(name) in BAND_NAMES:
            found[AMOUNT_BAND] = name
        elif (header := by_key.get(norm_header(canonical_header(name)))) is not None:
            found[header] = name
        else:
            missing.append(name)
    return found, missing


def outcomes(stage: pd.Series, stages: Sequence[Stage]) -> tuple[np.ndarray, np.ndarray]:
    """(closed, won) per lead, from its Stage's type on the Stages tab."""
    types = {norm_header(s.name): s.type for s in stages}
    codes, uniques = pd.factorize(stage.to_numpy(dtype=object), use_na_sentinel=False)
    kind = np.array([types.get(norm_header(str(u)), "") for u in uniques], dtype=object)
    # each distinct Stage's type tested once, then gathered to the leads
    closed, won = np.isin(kind, ("won", "lost")), kind == "won"
    return (closed[codes], won[codes]) if len(kind) else (np.zeros(0, bool), np.zeros(0, bool))


@dataclass(frozen=True)
class Learned:
    model: WinModel
    edges: np.ndarray  # Amount band's cuts


Rows = pd.DataFrame | Mapping[str, Coded]
"""The leads the model reads: a DataFrame of their texts, or the sync's Frame's codes."""


def columns(
    data: Rows, fields: Sequence[str], amounts: np.ndarray, edges: np.ndarray
) -> dict[str, Column]:
    """The values the model reads, by field; Amount band derived from ``amounts``."""
    return {
        f: coded_bands(amounts, edges)
        if f == AMOUNT_BAND
        else data[f]
        if isinstance(data, Mapping)
        else data[f].to_numpy(dtype=object)
        for f in fields
    }


def learn(data: Rows, fields: Sequence[str], amounts: np.ndarray, won: np.ndarray) -> Learned:
    """Fit on the rows of ``data`` (closed leads), ``won`` their outcome."""
    edges = band_edges(amounts)
    return Learned(fit(columns(data, fields, amounts, edges), won), edges)


def estimate(learned: Learned, data: Rows, amounts: np.ndarray) -> Prediction:
    fields = [f.name for f in learned.model.fields]
    return predict(learned.model, columns(data, fields, amounts, learned.edges))


def shortfall(closed: int, won: int, minimum: int) -> str:
    """Why there is no probability yet ("" when there is one)."""
    if closed < minimum:
        return _("not enough history (%(closed)d closed, %(needed)d needed)") % {
            "closed": closed,
            "needed": minimum,
        }
    if not won or won == closed:
        return _("not enough history (%(won)d won, %(lost)d lost: both needed)") % {
            "won": won,
            "lost": closed - won,
        }
    return ""


def percents(probability: np.ndarray) -> np.ndarray:
    """Whole percentages, as the column shows them: each distinct one written once."""
    whole, codes = np.unique(np.rint(100 * probability).astype(int), return_inverse=True)
    return np.array([str(p) for p in whole.tolist()], dtype=object)[codes.reshape(-1)]


def reasons(
    prediction: Prediction, values: dict[str, Column], labels: dict[str, str]
) -> np.ndarray:
    """Each lead's Win reasons: "Source=Referral +18 pts; Country=FR −6 pts", the fields
    that move its probability most, most first. The fields shown, their values and points
    are picked for all leads at once; each distinct text is then written once."""
    # A lead's points are percentage points, within ±99, and fields are few: a byte each.
    # Every rows x fields matrix here was int64 (the re-sync's peak of the win step: +20 MB
    # at 67,000 open leads, 6 fields); only the top few columns are kept at that width.
    points = np.rint(prediction.points).astype(np.int8)
    names = list(values)
    n = len(points)
    if not n or not names:
        return np.full(n, _(QUIET), dtype=object)
    # sorted as int32: numpy's stable sort of 8- and 16-bit ints is a radix sort, 2.5 times
    # slower on rows this short
    by = -np.abs(points.astype(np.int32))
    order = np.argsort(by, axis=1, kind="stable")[:, :REASONS].astype(np.int16)
    del by
    top = np.take_along_axis(points, order, axis=1)
    shown = np.abs(top) >= SHOWN_FROM
    value_codes = np.empty((n, len(names)), dtype=np.int32)  # codes < rows: 4 bytes
    for j, name in enumerate(names):
        value_codes[:, j] = _codes(values[name])
    top_values = np.take_along_axis(value_codes, order, axis=1)
    del value_codes
    columns, radices = [], []
    for part in (np.where(shown, order, -1), np.where(shown, top_values, -1), top * shown):
        for column in part.T:  # one code per distinct combination of what is said
            low, high = int(column.min()), int(column.max())
            columns.append(column.astype(np.int32) - low)
            radices.append(high - low + 1)
    codes, firsts = distinct(columns, n, radices)
    texts = np.empty(len(firsts), dtype=object)
    said = [labels.get(f, f) for f in names]
    for row in firsts.tolist():
        parts = [
            _part(said[j], _value(values[names[j]], row), int(p))
            for j, p, is_shown in zip(order[row], top[row], shown[row], strict=True)
            if is_shown
        ]
        texts[codes[row]] = "; ".join(parts) if parts else _(QUIET)
    return texts[codes]


QUIET = N_("no field moves it from the average")


def _codes(values: Column) -> np.ndarray:
    """Per row, a code that is the same only for the same value."""
    if isinstance(values, Coded):
        return values.codes
    return pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)[0]


def _value(values: Column, row: int) -> object:
    return values.at(row) if isinstance(values, Coded) else values[row]


def _part(field: str, value: object, points: int) -> str:
    shown = " ".join(str(value).split()) or _("(empty)")
    sign = "+" if points > 0 else "−"
    return _("%(field)s=%(value)s %(sign)s%(points)d pts") % {
        "field": field,
        "value": shown,
        "sign": sign,
        "points": abs(points),
    }
