"""The Win probability and Win reasons columns: which Leads fields the model learns from
(Settings: Win probability fields), which leads are closed and won (the Stages tab's types),
and the words of each lead's reasons, built once per distinct explanation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sheetcrm.engine.catalog import _
from sheetcrm.engine.schema import canonical_header
from sheetcrm.engine.stages_tab import Stage
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.win_model import (
    AMOUNT_BAND,
    Prediction,
    WinModel,
    amount_bands,
    band_edges,
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
    kinds = kind[codes] if len(kind) else np.zeros(0, dtype=object)
    return np.isin(kinds, ("won", "lost")), kinds == "won"


@dataclass(frozen=True)
class Learned:
    model: WinModel
    edges: np.ndarray  # Amount band's cuts


def columns(
    data: pd.DataFrame, fields: Sequence[str], amounts: np.ndarray, edges: np.ndarray
) -> dict[str, np.ndarray]:
    """The values the model reads, by field; Amount band derived from ``amounts``."""
    return {
        f: amount_bands(amounts, edges) if f == AMOUNT_BAND else data[f].to_numpy(dtype=object)
        for f in fields
    }


def learn(
    data: pd.DataFrame, fields: Sequence[str], amounts: np.ndarray, won: np.ndarray
) -> Learned:
    """Fit on the rows of ``data`` (closed leads), ``won`` their outcome."""
    edges = band_edges(amounts)
    return Learned(fit(columns(data, fields, amounts, edges), won), edges)


def estimate(learned: Learned, data: pd.DataFrame, amounts: np.ndarray) -> Prediction:
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
    """Whole percentages, as the column shows them."""
    return np.rint(100 * probability).astype(int).astype(str).astype(object)


def reasons(
    prediction: Prediction, values: dict[str, np.ndarray], labels: dict[str, str]
) -> np.ndarray:
    """Each lead's Win reasons: "Source=Referral +18 pts; Country=FR −6 pts", the fields
    that move its probability most, most first; one text per distinct explanation."""
    points = np.rint(prediction.points).astype(int)
    names = list(values)
    n = len(points)
    codes = np.zeros(n, dtype=np.int64)
    for j, name in enumerate(names):  # one code per distinct (values, points) combination
        for part in (values[name], points[:, j]):
            this, uniques = pd.factorize(part, use_na_sentinel=False)
            codes, _seen = pd.factorize(codes * (len(uniques) + 1) + this)
    firsts = np.unique(codes, return_index=True)[1]
    texts = np.empty(len(firsts), dtype=object)
    said = [labels.get(f, f) for f in names]
    for row in firsts:
        texts[codes[row]] = _reason(points[row], [values[f][row] for f in names], said)
    return texts[codes] if n else np.zeros(0, dtype=object)


def _reason(points: np.ndarray, values: list[object], names: list[str]) -> str:
    order = np.argsort(-np.abs(points), kind="stable")[:REASONS]
    parts = []
    for j in map(int, order):
        if abs(points[j]) < SHOWN_FROM:
            break
        value = " ".join(str(values[j]).split()) or _("(empty)")
        sign = "+" if points[j] > 0 else "−"
        parts.append(
            _("%(field)s=%(value)s %(sign)s%(points)d pts")
            % {"field": names[j], "value": value, "sign": sign, "points": abs(points[j])}
        )
    return "; ".join(parts) if parts else _("no field moves it from the average")
