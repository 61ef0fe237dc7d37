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
from sheetcrm.engine.combos import bit_words, distinct
from sheetcrm.engine.frame import Frame
from sheetcrm.engine.rules import matched_spelling
from sheetcrm.engine.scoring_tab import ScoringRule
from sheetcrm.engine.settings import Settings
from sheetcrm.engine.values import format_number

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
    # the same per distinct row of ``matrix``: ``matrix[r] == combos[which[r]]``
    which: np.ndarray
    combos: np.ndarray
    combo_groups: dict[str, np.ndarray]
    combo_capped: np.ndarray


def points(frame: Frame, rules: Sequence[ScoringRule], settings: Settings) -> Points:
    """Every row's total: the points of the rules it matches, after group and total caps.
    Worked out once per distinct combination of matched rules (a few thousand at most,
    whatever the number of rows), then gathered to the rows."""
    matrix = rule_masks(frame, rules)
    which, first = distinct(bit_words(matrix), len(matrix))
    combos = matrix[first]
    total, groups, capped = _totals(combos, rules, settings)
    return Points(
        total[which],
        matrix,
        {g: flags[which] for g, flags in groups.items()},
        capped[which],
        which,
        combos,
        groups,
        capped,
    )


def _totals(
    matrix: np.ndarray, rules: Sequence[ScoringRule], settings: Settings
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """(total, capped groups, capped total) of each row of ``matrix``."""
    n = len(matrix)
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
    return total, capped_groups, capped_total


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
    """Each row's Score reasons, built once per distinct explanation: which rules matched
    (``result.which``), with which listed values (a code per distinct spelling)."""
    n, matrix = len(frame), result.matrix
    # per condition that lists values: per row, 1 + the code of the spelling it matched, 0
    # where its rule did not match; and the spellings
    listed: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    for j, rule in enumerate(rules):
        for k, condition in enumerate(rule.conditions):
            if condition.lists_values:
                codes, spelled = matched_spelling(condition, frame)
                per_value, spellings = pd.factorize(spelled, use_na_sentinel=False)
                # in the smallest type: a rule's few spellings, a row each per listing condition
                small = np.int16 if len(spellings) < 2**15 - 1 else np.int64
                at_rows = (
                    (per_value + 1).astype(small)[codes] if len(per_value) else np.zeros(n, small)
                )
                listed[(j, k)] = (np.where(matrix[:, j], at_rows, 0), spellings)
    radices = [len(result.combos), *(len(s) + 1 for _, s in listed.values())]
    codes, first = distinct([result.which, *(c for c, _ in listed.values())], n, radices)
    table = _phrases(rules, result, first, listed, settings)
    texts = ["; ".join(filter(None, parts)) or _(NO_MATCH) for parts in table.tolist()]
    # dtype object: pandas 3 would infer its str dtype, checking and copying every row's
    # text (a 4 MB transient at 100,000 leads) for a caller that wants the objects back
    return pd.Series(np.asarray(texts, dtype=object)[codes], index=frame.data.index, dtype=object)


def _phrases(
    rules: Sequence[ScoringRule],
    result: Points,
    first: np.ndarray,
    listed: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]],
    settings: Settings,
) -> np.ndarray:
    """explanations x parts: each part of each distinct explanation (a rule's phrase, a
    group or the total capped), "" where it says nothing; ``first`` a row of each."""
    which = result.which[first]
    parts = np.full((len(first), len(rules) + len(result.combo_groups) + 1), "", dtype=object)
    for j, rule in enumerate(rules):
        matched = result.combos[which, j]
        if not matched.any():
            continue
        lists = [k for k, c in enumerate(rule.conditions) if c.lists_values]
        # a spelling code is 0 exactly where the rule did not match: one shape is one phrase
        keys = [listed[(j, k)][0][first] for k in lists]
        shapes, one = distinct(keys, len(first)) if keys else (np.zeros(len(first), int), [0])
        said = np.full(len(one), "", dtype=object)
        for shape, at in enumerate(one):
            if lists and not matched[at]:
                continue
            spelled = {k: listed[(j, k)][1][listed[(j, k)][0][first[at]] - 1] for k in lists}
            said[shape] = _(" and ").join(
                c.describe(str(spelled[k]) if k in spelled else "")
                for k, c in enumerate(rule.conditions)
            )
        phrases = np.array([f"{_points(rule.points)} {s}" for s in said], dtype=object)
        parts[matched, j] = phrases[shapes[matched]]
    for i, (g, flags) in enumerate(result.combo_groups.items()):
        cap = format_number(settings.group_caps[g.casefold()])
        parts[flags[which], len(rules) + i] = _("%(group)s capped at %(cap)s") % {
            "group": g,
            "cap": cap,
        }
    parts[result.combo_capped[which], -1] = _("total capped")
    return parts


def grade(total: np.ndarray, settings: Settings, index: pd.Index) -> pd.Series:
    a, b, c = settings["Grade A at"], settings["Grade B at"], settings["Grade C at"]
    # a byte a row, then the four letters' own strings: every row shares them
    which = np.select([total >= a, total >= b, total >= c], ONE_BYTE[:3], ONE_BYTE[3])
    return pd.Series(GRADES[which], index=index, dtype=object)  # not str: as in explain


GRADES = np.array(["A", "B", "C", "D"], dtype=object)
ONE_BYTE = [np.int8(i) for i in range(len(GRADES))]


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
    # each distinct text ranked once; a missing cell (code -1) takes the appended -1
    codes, texts = pd.factorize(current.to_numpy(dtype=object))
    now = np.array([*(ranks.get(str(t).strip().casefold(), -1) for t in texts), -1])[codes]
    reopened = (now == LIFECYCLE.index("Customer")) & ((stage_rank == 0) | (stage_rank == 1))
    now = np.where(reopened, -1, now)
    best = np.maximum(computed, now).astype(int)
    return pd.Series(np.asarray(LIFECYCLE, dtype=object)[best], index=current.index, dtype=object)
