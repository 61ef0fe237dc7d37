"""The metric tabs: the service's own tabs, rewritten whole by each sync that changes a
figure (engine/metric_tabs.py lays them out). Declared apart from the tabs people edit
(engine/schema.py, which re-exports these names)."""

from __future__ import annotations

from sheetcrm.engine.tab_types import Column, Owner, TabSpec

S = Owner.SERVICE


def _metric_tab(name: str, first: str, help: str, width: int = 22) -> TabSpec:
    return TabSpec(name, (Column(first, owner=S, width=width),), help, "the service")


DASHBOARD = _metric_tab(
    "Dashboard", "Metric", "The headline numbers, this period and all time, with charts.", 36
)
FUNNEL = _metric_tab(
    "Funnel",
    "Stage",
    "Leads per stage, cohort conversion, days in stage, lead aging, score calibration.",
)
BY_OWNER = _metric_tab(
    "By owner",
    "Owner",
    "Open, overdue and stale deals; won, lost, win rate and won value per owner.",
)
BY_SOURCE = _metric_tab(
    "By source",
    "Source",
    "Leads, won, lost, win rate and won value per source, industry and country.",
)
FORECAST = _metric_tab(
    "Forecast", "Stage", "Open pipeline by stage and weighted forecast by expected close month."
)
NURTURE = _metric_tab("Nurture", "Sequence", "Per sequence and step: enrolled, sent, won, rates.")
CHECK = "Out of time: AUC, win rate by band, calibration of the Score and the Win probability."
SCORING_CHECK = _metric_tab("Scoring check", "Check", CHECK, 36)
PREVIEW = _metric_tab(
    "Preview",
    "Preview",
    "What the draft rules (Status: draft) would change if published, and their AUC.",
    36,
)
METRIC_TABS = (DASHBOARD, FUNNEL, BY_OWNER, BY_SOURCE, FORECAST, NURTURE, SCORING_CHECK, PREVIEW)
"""Not part of the template: the first sync creates them, and each sync that changes a
figure rewrites them whole (and redraws their charts)."""
AS_OF = "As of"  # the title row of every metric tab: title, As of, <sync time>, Period, <window>
NO_DATA = "no data"  # a ratio with nothing to divide by, an average of nothing
NOT_COMPUTED = "Not computed this round"
