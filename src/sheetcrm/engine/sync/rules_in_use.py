"""Which rules a sync applied, where a manager looks: a banner at the top of Problems for each
rule tab (or Settings value) with a problem, a note on the Status of each lead it touches;
and the versions of the rule tabs to keep as the last valid ones (engine/last_good.py)."""

from __future__ import annotations

import numpy as np

from sheetcrm.engine.catalog import N_, _
from sheetcrm.engine.config import Config
from sheetcrm.engine.last_good import (
    SETTINGS_TAB,
    WHOLE_TABS,
    Fallback,
    encode,
    kept,
    settings_kept,
)
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.sync.state import SyncState

_HINTS = {
    "scoring": N_("scores"),
    "routing": N_("owners of new leads"),
    "stages": N_("stage tracking"),
    "validation": N_("checks of lead rows"),
    "alerts": N_("alerts"),
    "reassign": N_("first-touch reassignment"),
    "digest": N_("the daily digest"),
    "metrics": N_("the metric tabs"),
}


def banners(config: Config) -> list[Problem]:
    """One row per tab or setting with a problem: the rules in use instead, or none."""
    rows = []
    for f in config.fallbacks:
        what = ", ".join(_(_HINTS[a]) for a in sorted(f.areas) if a in _HINTS) or _("nothing")
        hint = (
            _("fix %(cell)s (see its row below): the next sync applies %(what)s as it is now")
            % {"cell": f.cell, "what": f.what}
            if f.stamp
            else _("fix %(cell)s (see its row below): until then, no %(what)s")
            % {"cell": f.cell, "what": what}
        )
        rows.append(Problem(f.tab, f.cell, f.banner(), hint))
    return rows


def kept_rows(config: Config, stamp: str) -> list[list[str]]:
    """The state tab rows keeping each rule tab's last valid version after this sync."""
    whole = {t: v for t, v in kept(config.valid, config.kept, stamp).items() if t in WHOLE_TABS}
    rows = [r for tab in WHOLE_TABS if tab in whole for r in encode(tab, whole[tab])]
    settings = settings_kept(config.settings.typed, config.kept.get(SETTINGS_TAB), stamp)
    if settings is not None:
        rows += encode(SETTINGS_TAB, settings)
    return rows


def rule_notes(state: SyncState) -> list[tuple[np.ndarray, np.ndarray]]:
    """(rows, texts) for the Status of the leads that rules with a problem touch: every lead
    scored, each lead routed this sync (or left without an owner); every lead, when its row
    cannot be checked at all (no valid Stages, Time zone...)."""
    n = len(state.data)
    notes = []
    for f in state.config.fallbacks:
        rows, text = _touched(state, f, n)
        if len(rows):
            notes.append((rows, np.full(len(rows), text, dtype=object)))
    return notes


def _touched(state: SyncState, f: Fallback, n: int) -> tuple[np.ndarray, str]:
    none = np.zeros(0, dtype=np.int64)
    if f.areas & {"validation", "stages"} and not f.stamp:
        return np.arange(n), _("not checked: %(cell)s has a problem") % {"cell": f.cell}
    if "scoring" in f.areas:
        if f.stamp:
            text = _("scored by the rules of %(stamp)s: %(cell)s has a problem")
            return np.arange(n), text % {"stamp": f.stamp, "cell": f.cell}
        return np.arange(n), _("not scored: %(cell)s has a problem") % {"cell": f.cell}
    if "routing" in f.areas:
        if f.stamp:
            text = _("routed by the rules of %(stamp)s: %(cell)s has a problem") % {
                "stamp": f.stamp,
                "cell": f.cell,
            }
            return np.asarray(state.routed, dtype=np.int64), text
        owner = state.data["Owner"].to_numpy(dtype=object)
        unowned = np.flatnonzero([not str(o).strip() for o in owner])
        return unowned.astype(np.int64), _("not routed: %(cell)s has a problem") % {"cell": f.cell}
    return none, ""
