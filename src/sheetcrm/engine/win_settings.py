"""The Settings keys of the learned win probability (engine/win_model.py), declared apart
from settings.py as the arguments of its ``Setting``s: what they are read with, and govern."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sheetcrm.engine.setting_values import count, words

WIN = frozenset({"win"})  # the Win probability and Win reasons columns

WIN_SETTINGS: tuple[tuple[str, str, str, Callable[[str], Any], frozenset[str]], ...] = (
    (
        "Win probability fields",
        "Source, Country, Industry, Amount band, Grade",
        "The Leads columns the win probability learns from, over the closed (won or lost) "
        "leads; Amount band is Amount in four bands. Empty: no win probability.",
        words,
        WIN,
    ),
    (
        "Win probability minimum",
        "40",
        "Closed leads needed before the win probability is shown; with fewer, the column "
        "says how many there are.",
        count,
        WIN,
    ),
)
