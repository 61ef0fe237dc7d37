"""Points, caps, grade, lifecycle and the reasons behind them.

Rules are evaluated as boolean masks over all rows at once. Rows that matched the same
rules (with the same listed values) share one reason text, so explaining 100,000 scores
costs a handful of string joins, not 100,000.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sheetcrm.config import ScoringRule
from sheetcrm.rules import Frame, matched_values
from sheetcrm.settings import Settings
from sheetcrm.values import format_number

LIFECYCLE = ("Lead", "MQL", "SQL", "Customer")
NO_MATCH = "no scoring rule matched"


@dataclass
class Scores:
    score: np.ndarray  # float per row
    reasons: pd.Series
    grade: pd.Series


def rule_masks(frame: Frame, rules: Sequence[ScoringRule]) -> np.ndarray:
    """rows x rules: whether each row matches every condition of each rule."""
    matrix = np.ones((len(frame), len(rules)), dtype=bool)
    for j, rule in enumerate(rules):
        for condition in rule.conditions:
            matrix[:, j] &= condition.mask(frame)
    return matrix


def _points(value: float) -> str:
    sign = "+" if value >= 0 else "−"
    return f"{sign}{format_number(abs(value))}"


def score(frame: Frame, rules: Sequence[ScoringRule], settings: Settings) -> Scores:
    n = len(frame)
    if not rules:
        empty = pd.Series([NO_MATCH] * n, index=frame.data.index, dtype=object)
        return Scores(np.zeros(n), empty, grade(np.zeros(n), settings, frame.data.index))
    matrix = rule_masks(frame, rules)
    points = np.array([r.points for r in rules])
    # Group names match case-insensitively, as the "Group cap:" keys do: rules spelling a
    # group "Engagement" and "engagement" share one cap. Reasons use the first spelling.
    groups: dict[str, str] = {}
    for r in rules:
        if r.group.casefold() in settings.group_caps:
            groups.setdefault(r.group.casefold(), r.group)
    grouped = np.array([r.group.casefold() in settings.group_caps for r in rules])
    total = matrix[:, ~grouped] @ points[~grouped] if (~grouped).any() else np.zeros(n)
    capped_groups: dict[str, np.ndarray] = {}
    for key, g in sorted(groups.items()):
        members = np.array([r.group.casefold() == key for r in rules])
        raw = matrix[:, members] @ points[members]
        cap = settings.group_caps[g.casefold()]
        capped_groups[g] = raw > cap
        total = total + np.minimum(raw, cap)
    high, low = settings["Max score"], settings["Min score"]
    capped_total = np.zeros(n, dtype=bool)
    if high is not None:
        capped_total |= total > high
        total = np.minimum(total, high)
    if low is not None:
        capped_total |= total < low
        total = np.maximum(total, low)

    # One key per distinct explanation: which rules matched, with which listed values.
    key_columns: dict[str, np.ndarray] = {"bits": _bits(matrix)}
    for j, rule in enumerate(rules):
        for k, condition in enumerate(rule.conditions):
            if condition.lists_values:
                values = matched_values(condition, frame).to_numpy(dtype=object)
                key_columns[f"{j}.{k}"] = np.where(matrix[:, j], values, "")
    for g, flags in capped_groups.items():
        key_columns[f"cap {g}"] = flags
    key_columns["cap"] = capped_total
    keys = pd.DataFrame(key_columns)
    codes, _ = pd.factorize(pd.MultiIndex.from_frame(keys))
    first_rows = pd.Series(np.arange(n)).groupby(codes).first().to_numpy()
    texts = [
        _explain(int(r), matrix, rules, keys, capped_groups, capped_total, settings)
        for r in first_rows
    ]
    reasons = pd.Series(np.asarray(texts, dtype=object)[codes], index=frame.data.index)
    return Scores(total, reasons, grade(total, settings, frame.data.index))


def _bits(matrix: np.ndarray) -> np.ndarray:
    packed = np.packbits(matrix, axis=1)
    return (
        np.array([row.tobytes() for row in packed], dtype=object)
        if packed.size
        else np.zeros(len(matrix), dtype=object)
    )


def _explain(
    row: int,
    matrix: np.ndarray,
    rules: Sequence[ScoringRule],
    keys: pd.DataFrame,
    capped_groups: dict[str, np.ndarray],
    capped_total: np.ndarray,
    settings: Settings,
) -> str:
    parts = []
    for j, rule in enumerate(rules):
        if not matrix[row, j]:
            continue
        said = [
            c.describe(str(keys.at[row, f"{j}.{k}"]) if c.lists_values else "")
            for k, c in enumerate(rule.conditions)
        ]
        parts.append(f"{_points(rule.points)} {' and '.join(said)}")
    for g, flags in capped_groups.items():
        if flags[row]:
            parts.append(f"{g} capped at {format_number(settings.group_caps[g.casefold()])}")
    if capped_total[row]:
        parts.append("total capped")
    return "; ".join(parts) if parts else NO_MATCH


def grade(total: np.ndarray, settings: Settings, index: pd.Index) -> pd.Series:
    a, b, c = settings["Grade A at"], settings["Grade B at"], settings["Grade C at"]
    letters = np.select([total >= a, total >= b, total >= c], ["A", "B", "C"], "D")
    return pd.Series(letters.astype(object), index=index)


def lifecycle(
    total: np.ndarray, current: pd.Series, stage_rank: np.ndarray, settings: Settings
) -> pd.Series:
    """Lead -> MQL -> SQL -> Customer, from score and stage; never moves backwards.

    ``stage_rank``: 0 for the first open stage or none, 1 for a later open stage (a person
    has qualified the lead), 2 for a won stage, -1 for lost or unknown.
    """
    computed = np.select(
        [
            stage_rank == 2,
            (stage_rank == 1) | (total >= settings["SQL score"]),
            total >= settings["MQL score"],
        ],
        [3, 2, 1],
        0,
    )
    ranks = {name.casefold(): i for i, name in enumerate(LIFECYCLE)}
    now = current.astype(str).str.strip().str.casefold().map(ranks).fillna(-1).to_numpy()
    best = np.maximum(computed, now).astype(int)
    return pd.Series(np.asarray(LIFECYCLE, dtype=object)[best], index=current.index)
