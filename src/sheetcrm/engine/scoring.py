"""Points, caps, grade, lifecycle and the reasons behind them.

Rules are evaluated as boolean masks over all rows at once. Rows that matched the same
rules (with the same listed values) share one reason text, so explaining 100,000 scores
costs a handful of string joins, not 100,000.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from sheetcrm.engine.catalog import N_, _
from sheetcrm.engine.frame import Frame
from sheetcrm.engine.rules import matched_values
from sheetcrm.engine.scoring_tab import ScoringRule
from sheetcrm.engine.settings import Settings
from sheetcrm.engine.values import format_number, stripped

LIFECYCLE = ("Lead", "MQL", "SQL", "Customer")
NO_MATCH = N_("no scoring rule matched")


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


@lru_cache(maxsize=1024)
def _points(value: float) -> str:
    sign = "+" if value >= 0 else "−"
    return f"{sign}{format_number(abs(value))}"


def score(frame: Frame, rules: Sequence[ScoringRule], settings: Settings) -> Scores:
    n = len(frame)
    if not rules:
        empty = pd.Series([_(NO_MATCH)] * n, index=frame.data.index, dtype=object)
        return Scores(np.zeros(n), empty, grade(np.zeros(n), settings, frame.data.index))
    result = points(frame, rules, settings)
    reasons = explain(frame, rules, result, settings)
    return Scores(result.total, reasons, grade(result.total, settings, frame.data.index))


@dataclass
class Points:
    total: np.ndarray
    matrix: np.ndarray  # rows x rules: which rules each row matched
    capped_groups: dict[str, np.ndarray]
    capped_total: np.ndarray


def points(frame: Frame, rules: Sequence[ScoringRule], settings: Settings) -> Points:
    """Every row's total: the points of the rules it matches, after group and total caps."""
    n = len(frame)
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
        # A cap bounds the group in its own direction: 15 is the most a group adds, -20 the
        # most it takes off; a lead that matched none of it keeps its 0 either way.
        bounded = np.maximum(raw, cap) if cap < 0 else np.minimum(raw, cap)
        capped_groups[g] = bounded != raw
        total = total + bounded
    total = shown_precision(total)
    high, low = settings["Max score"], settings["Min score"]
    capped_total = np.zeros(n, dtype=bool)
    if high is not None:
        capped_total |= total > high
        total = np.minimum(total, high)
    if low is not None:
        capped_total |= total < low
        total = np.maximum(total, low)

    return Points(total, matrix, capped_groups, capped_total)


def shown_precision(total: np.ndarray) -> np.ndarray:
    """Totals as the Score column shows them: 0.3 + 31.9 + 7.8 adds up to 39.999999999999996
    in binary, which shows as 40 and must grade and qualify as 40. Rounded once per distinct
    total."""
    uniques, codes = np.unique(total, return_inverse=True)
    rounded = np.array([float(format_number(u) or "nan") for u in uniques], dtype=float)
    return rounded[codes.reshape(total.shape)]


def explain(
    frame: Frame, rules: Sequence[ScoringRule], result: Points, settings: Settings
) -> pd.Series:
    """Each row's Score reasons, built once per distinct explanation."""
    n, matrix = len(frame), result.matrix
    capped_groups, capped_total = result.capped_groups, result.capped_total
    # One key per distinct explanation: which rules matched, with which listed values.
    key_columns: dict[str, np.ndarray] = {}
    for j, rule in enumerate(rules):
        for k, condition in enumerate(rule.conditions):
            if condition.lists_values:
                values = matched_values(condition, frame).to_numpy(dtype=object)
                key_columns[f"{j}.{k}"] = np.where(matrix[:, j], values, "")
    parts = [*_bit_words(matrix), *key_columns.values(), *capped_groups.values(), capped_total]
    codes = _combined_codes(parts, n)
    first_rows = np.unique(codes, return_index=True)[1]
    phrases: dict[tuple[int, tuple[str, ...]], str] = {}
    texts = {
        int(codes[r]): _explain(
            int(r), matrix, rules, key_columns, capped_groups, capped_total, settings, phrases
        )
        for r in first_rows
    }
    lookup = np.empty(len(texts), dtype=object)
    for code, text in texts.items():
        lookup[code] = text
    return pd.Series(lookup[codes], index=frame.data.index)


def _bit_words(matrix: np.ndarray) -> list[np.ndarray]:
    """Which rules each row matched, packed into 64-bit words."""
    packed = np.packbits(matrix, axis=1)
    width = -(-packed.shape[1] // 8) * 8
    padded = np.zeros((len(matrix), width), dtype=np.uint8)
    padded[:, : packed.shape[1]] = packed
    words = padded.view("<u8")
    return [words[:, i] for i in range(words.shape[1])]


def _combined_codes(columns: list[np.ndarray], n: int) -> np.ndarray:
    """Dense codes 0..k-1 for the distinct combinations of the columns' values, row by row."""
    codes = np.zeros(n, dtype=np.int64)
    for column in columns:
        part, uniques = pd.factorize(column)
        codes, _ = pd.factorize(codes * (len(uniques) + 1) + part)
    return codes


def _explain(
    row: int,
    matrix: np.ndarray,
    rules: Sequence[ScoringRule],
    keys: dict[str, np.ndarray],
    capped_groups: dict[str, np.ndarray],
    capped_total: np.ndarray,
    settings: Settings,
    phrases: dict[tuple[int, tuple[str, ...]], str],
) -> str:
    parts = []
    for j in map(int, np.flatnonzero(matrix[row])):
        rule = rules[j]
        matched = tuple(
            str(keys[f"{j}.{k}"][row]) if c.lists_values else ""
            for k, c in enumerate(rule.conditions)
        )
        phrase = phrases.get((j, matched))
        if phrase is None:
            said = _(" and ").join(
                c.describe(m) for c, m in zip(rule.conditions, matched, strict=True)
            )
            phrase = phrases[(j, matched)] = f"{_points(rule.points)} {said}"
        parts.append(phrase)
    for g, flags in capped_groups.items():
        if flags[row]:
            cap = format_number(settings.group_caps[g.casefold()])
            parts.append(_("%(group)s capped at %(cap)s") % {"group": g, "cap": cap})
    if capped_total[row]:
        parts.append(_("total capped"))
    return "; ".join(parts) if parts else _(NO_MATCH)


def grade(total: np.ndarray, settings: Settings, index: pd.Index) -> pd.Series:
    a, b, c = settings["Grade A at"], settings["Grade B at"], settings["Grade C at"]
    letters = np.select([total >= a, total >= b, total >= c], ["A", "B", "C"], "D")
    return pd.Series(letters.astype(object), index=index)


def lifecycle(
    total: np.ndarray, current: pd.Series, stage_rank: np.ndarray, settings: Settings
) -> pd.Series:
    """Lead -> MQL -> SQL -> Customer, from score and stage; never moves backwards, but for
    one move: a deal moved back from won to an open stage is no customer any more, and its
    lifecycle follows its stage and score again.

    ``stage_rank``: 0 for the first open stage, 1 for a later open stage (a person has
    qualified the lead), 2 for a won stage, -1 for lost, unknown or none.
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
    now = np.array([ranks.get(t.casefold(), -1) for t in stripped(current)])
    reopened = (now == LIFECYCLE.index("Customer")) & ((stage_rank == 0) | (stage_rank == 1))
    now = np.where(reopened, -1, now)
    best = np.maximum(computed, now).astype(int)
    return pd.Series(np.asarray(LIFECYCLE, dtype=object)[best], index=current.index)
