"""The Win reasons and the Score columns, made in small types and in place: the same texts
and the same bits as the plain formulas, and object columns (not pandas' str dtype)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sheetcrm.engine.scoring import grade, lifecycle
from sheetcrm.engine.win import reasons
from sheetcrm.engine.win_model import (
    Coded,
    Prediction,
    contributions,
    fit,
    keyed,
    predict,
    sigmoid,
)


def _reasons_as_before(points: np.ndarray, values: dict, labels: dict) -> list[str]:
    """Row by row: the three fields that move it most (ties in field order), those of a
    point or more said with their value."""
    names, out = list(values), []
    for row, p in enumerate(np.rint(points).astype(int)):
        order = sorted(range(len(names)), key=lambda j: -abs(p[j]))[:3]
        parts = []
        for j in order:
            if abs(p[j]) >= 1:
                value = values[names[j]]
                text = value.at(row) if isinstance(value, Coded) else value[row]
                shown = " ".join(str(text).split()) or "(empty)"
                sign = "+" if p[j] > 0 else "−"
                parts.append(f"{labels.get(names[j], names[j])}={shown} {sign}{abs(p[j])} pts")
        out.append("; ".join(parts) if parts else "no field moves it from the average")
    return out


@settings(max_examples=60)
@given(st.integers(1, 40), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_reasons_say_what_the_plain_ranking_says(n, fields, seed):
    rng = np.random.default_rng(seed)
    points = rng.integers(-99, 100, (n, fields)).astype(float) * rng.random((n, fields))
    values: dict = {}
    for j in range(fields):
        texts = np.array([f"v{k}" for k in range(3)], dtype=object)
        codes = rng.integers(0, 3, n)
        values[f"F{j}"] = Coded(codes, texts) if j % 2 else texts[codes]
    prediction = Prediction(np.full(n, 0.5), points)
    got = reasons(prediction, values, {"F0": "Pays"}).tolist()
    assert got == _reasons_as_before(points, values, {"F0": "Pays"})


def test_the_points_are_the_formula_s_to_the_bit():
    rng = np.random.default_rng(3)
    columns = {f"F{j}": rng.integers(0, 4, 500).astype(str).astype(object) for j in range(4)}
    won = rng.random(500) < 0.4
    model = fit(columns, won)
    got = predict(model, columns)
    parts = contributions(model, columns)
    total = model.prior + parts.sum(axis=1)
    without = sigmoid(model.slope * (total[:, None] - parts) + model.intercept)
    assert np.array_equal(got.points, 100 * (got.probability[:, None] - without))


def test_grade_and_lifecycle_are_object_columns_sharing_their_texts():
    total = np.array([90.0, 55.0, 10.0, 30.0] * 5)
    index = pd.RangeIndex(len(total))
    settings_ = {"Grade A at": 80, "Grade B at": 50, "Grade C at": 20, "SQL score": 70}
    settings_["MQL score"] = 40
    grades = grade(total, settings_, index)  # type: ignore[arg-type]
    assert grades.dtype == object and grades.tolist()[:4] == ["A", "B", "D", "C"]
    assert grades.iloc[0] is grades.iloc[4]
    now = lifecycle(total, pd.Series([""] * 20, dtype=object), np.zeros(20), settings_)  # type: ignore[arg-type]
    assert now.dtype == object and now.iloc[0] == "SQL"


def test_a_value_only_open_leads_hold_does_not_move_the_model():
    """The sync hands the model each column coded over the whole sheet: a value that only
    open leads hold (a grade no closed lead has) must not count in the smoothing, or every
    lead's odds would move with rows it was not learned from (a flush planning its new rows
    apart then disagreed with the whole sheet's plan)."""
    rng = np.random.default_rng(3)
    texts = np.array(["A", "B", "C", "D", "", "b "], dtype=object)
    codes = rng.integers(1, 4, 60)  # closed leads: B, C, D only
    won = rng.random(60) < 0.4
    plain = fit({"Grade": texts[codes]}, won)
    coded = fit({"Grade": Coded(codes, texts)}, won)
    assert list(coded.fields[0].keys) == list(plain.fields[0].keys)
    assert np.allclose(coded.fields[0].weights, plain.fields[0].weights)
    assert (coded.slope, coded.intercept) == pytest.approx((plain.slope, plain.intercept))
    blank = Coded(np.array([-1, 1, 1, 5]), texts)  # "b " and "B" are one key, -1 a blank
    assert list(keyed(blank)[1]) == ["", "b"]
