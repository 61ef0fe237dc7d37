"""Codes for the distinct combinations of a few columns, row by row: what lets a reason be
written once per distinct explanation (a score's, a routing decision's) instead of per row."""

from __future__ import annotations

import numpy as np
import pandas as pd


def bit_words(matrix: np.ndarray) -> list[np.ndarray]:
    """The columns of a rows x flags boolean matrix packed into 64-bit words, one per row."""
    packed = np.packbits(matrix, axis=1)
    width = -(-packed.shape[1] // 8) * 8
    padded = np.zeros((len(matrix), width), dtype=np.uint8)
    padded[:, : packed.shape[1]] = packed
    words = padded.view("<u8")
    return [words[:, i] for i in range(words.shape[1])]


def distinct(
    columns: list[np.ndarray], n: int, radices: list[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(per row, a code 0..k-1 for its combination of the columns' values, in order of first
    appearance; per code, the first row holding it). ``radices``: how many values each column
    takes (0..radix-1), so that the columns combine by arithmetic and are hashed once in all,
    rather than once each."""
    codes = np.zeros(n, dtype=np.int64)
    span = 1
    for i, column in enumerate(columns):
        radix = radices[i] if radices else 0
        if not radix or span * radix >= 2**62:
            if span > 1:  # squeeze the combination so far back to 0..k-1
                codes, uniques = pd.factorize(codes)
                span = len(uniques)
            if not radix:
                column, uniques = pd.factorize(column)
                radix = len(uniques)
        codes = codes * radix + column
        span *= max(radix, 1)
    codes = pd.factorize(codes)[0]
    if not n:
        return codes, np.zeros(0, dtype=np.int64)
    # codes come in order of first appearance: a row is its code's first where they go up
    seen = np.maximum.accumulate(codes)
    return codes, np.flatnonzero(np.r_[True, seen[1:] > seen[:-1]])
