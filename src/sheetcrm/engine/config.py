"""Rule tabs -> typed, validated rules. Every problem carries its cell and a hint.

A tab with a problem is not applied this round: the areas it governs are *frozen*, so
nothing changes silently on a half-understood rule. The other tabs still apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sheetcrm.engine.alerts_tab import AlertRule, parse_alerts
from sheetcrm.engine.catalog import _
from sheetcrm.engine.forms_tab import FormMapping, parse_forms
from sheetcrm.engine.hints import suggest
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.routing_tab import RoutingRule, parse_routing
from sheetcrm.engine.rule_tab import leads_fields
from sheetcrm.engine.schema import ALERTS, FORMS, LEADS, ROUTING, SCORING, SETTINGS, STAGES, TEAM
from sheetcrm.engine.scoring_tab import ScoringRule, parse_scoring
from sheetcrm.engine.settings import Settings
from sheetcrm.engine.settings_tab import parse_settings
from sheetcrm.engine.stages_tab import Stage, parse_stages
from sheetcrm.engine.table import Snapshot, a1, norm_header
from sheetcrm.engine.team_tab import Member, check_managers, parse_team


@dataclass
class Config:
    settings: Settings
    stages: list[Stage] = field(default_factory=list)
    scoring: list[ScoringRule] = field(default_factory=list)
    routing: list[RoutingRule] = field(default_factory=list)
    team: list[Member] = field(default_factory=list)
    frozen: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    forms: FormMapping = field(default_factory=FormMapping)
    alerts: list[AlertRule] = field(default_factory=list)

    def stage(self, name: str) -> Stage | None:
        key = norm_header(name)
        return next((s for s in self.stages if norm_header(s.name) == key), None)


def parse_config(snapshot: Snapshot) -> Config:
    """Parse every rule tab of ``snapshot``; never raises on what a person typed."""
    settings, frozen, problems = parse_settings(snapshot.get(SETTINGS.name))
    fields = leads_fields(snapshot.table(LEADS.name))
    stages, stages_tab = parse_stages(snapshot.get(STAGES.name), fields)
    dayfirst, zone = settings.dayfirst, settings.zone
    team, team_tab = parse_team(snapshot.get(TEAM.name), dayfirst, zone)
    decimal = settings.decimal
    scoring, scoring_tab = parse_scoring(
        snapshot.get(SCORING.name), fields, dayfirst, zone, decimal
    )
    routing, routing_tab = parse_routing(
        snapshot.get(ROUTING.name), fields, team, dayfirst, zone, decimal
    )
    alerts, alerts_tab = parse_alerts(
        snapshot.get(ALERTS.name),
        fields,
        stages if stages_tab.ok else None,
        team,
        dayfirst,
        zone,
        decimal,
    )
    problems += alerts_tab.problems  # a bad row is left out; the others still alert
    if team_tab.ok:
        problems += check_managers(snapshot.get(TEAM.name), team)
    forms, forms_problems = parse_forms(snapshot.get(FORMS.name), fields)
    if team_tab.ok and not team and snapshot.get(TEAM.name) is not None:
        # a new, blank CRM: say in the sheet what to fill, as leads arrive with no owner
        problems.append(
            Problem(
                TEAM.name,
                a1(TEAM.name, 2, 0),
                _("nobody on the Team tab yet, so new leads get no owner"),
                _(
                    "add your people (Name, Email, Active: yes), then a Routing rule or "
                    "Settings: Fallback owner"
                ),
            )
        )
    fallback = settings["Fallback owner"]
    if (
        fallback
        and team_tab.ok
        and not any(norm_header(m.name) == norm_header(fallback) for m in team)
    ):
        problems.append(
            Problem(
                SETTINGS.name,
                settings.cells.get("Fallback owner", SETTINGS.name),
                _("Fallback owner %(name)r is not on the Team tab") % {"name": fallback},
                suggest(fallback, [m.name for m in team]),
            )
        )
        frozen.add("routing")
    known = {norm_header(f) for f in fields}
    # the default is not the manager's typo; with no Leads header there is nothing to check
    typed = "Required fields" in settings.cells and bool(fields)
    for group in settings["Required fields"] if typed else ():
        for name in group:
            if norm_header(name) not in known:
                problems.append(
                    Problem(
                        SETTINGS.name,
                        settings.cells.get("Required fields", SETTINGS.name),
                        _("Required fields: Leads has no column %(column)r") % {"column": name},
                        suggest(name, list(fields)),
                    )
                )
                frozen.add("validation")
    for tab, areas in (
        (stages_tab, {"stages", "validation"}),
        (scoring_tab, {"scoring"}),
        (routing_tab, {"routing"}),
        (team_tab, {"routing"}),
    ):
        if not tab.ok:
            frozen |= areas
        problems += tab.problems
    return Config(
        settings,
        stages if stages_tab.ok else [],
        scoring,
        routing,
        team if team_tab.ok else [],
        frozen,
        problems + forms_problems,
        forms,
        alerts,
    )
