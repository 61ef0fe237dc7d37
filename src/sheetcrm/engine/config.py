"""Rule tabs -> typed, validated rules. Every problem carries its cell and a hint.

A tab with a problem is not applied as it is: the sync applies its last valid version, kept
on the hidden state tab (last_good.py), and says so. With no valid version ever, the areas
it governs are *frozen*, so nothing changes silently on a half-understood rule. The other
tabs still apply, and every problem of every tab is listed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sheetcrm.engine.alerts_tab import AlertRule, parse_alerts
from sheetcrm.engine.catalog import _
from sheetcrm.engine.enrolment_tab import SequenceRules, parse_enrolment
from sheetcrm.engine.forms_tab import FormMapping, parse_forms
from sheetcrm.engine.hints import suggest
from sheetcrm.engine.last_good import (
    SETTINGS_TAB,
    WHOLE_TABS,
    Fallback,
    GoodVersion,
    decode,
    settings_values,
)
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.routing_tab import RoutingRule, parse_routing
from sheetcrm.engine.rule_tab import leads_fields
from sheetcrm.engine.schema import (
    ALERTS,
    ENROLMENT,
    FORMS,
    LEADS,
    ROUTING,
    SCORING,
    SEQUENCES,
    SETTINGS,
    STAGES,
    STATE,
    TARGETS,
    TEAM,
    canonical_header,
)
from sheetcrm.engine.scoring_tab import ScoringRule, parse_scoring
from sheetcrm.engine.sequences_tab import Step, parse_sequences
from sheetcrm.engine.settings import GROUP_CAP_PREFIX, Settings, find_setting
from sheetcrm.engine.settings_tab import LastGood, parse_settings, setting_key
from sheetcrm.engine.sheet_locale import sheet_defaults, shown_decimal
from sheetcrm.engine.stages_tab import Stage, parse_stages
from sheetcrm.engine.tab_headers import canonical_rule_tabs
from sheetcrm.engine.table import Snapshot, Table, a1, norm_header
from sheetcrm.engine.targets_tab import Target, parse_targets
from sheetcrm.engine.team_tab import Member, check_managers, parse_team
from sheetcrm.engine.values import parse_number

AREAS = {
    "Stages": frozenset({"stages", "validation"}),
    "Scoring": frozenset({"scoring"}),
    "Routing": frozenset({"routing"}),
    "Team": frozenset({"routing"}),
    "Alerts": frozenset({"alerts"}),
}
"""What each rule tab governs: frozen while it has a problem and no valid version."""


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
    # the tabs (and Settings values) with a problem: what the sync uses instead, or nothing
    fallbacks: list[Fallback] = field(default_factory=list)
    valid: dict[str, Table] = field(default_factory=dict)  # rule tabs valid as they are now
    kept: dict[str, GoodVersion] = field(default_factory=dict)  # as the state tab keeps them
    targets: list[Target] = field(default_factory=list)  # the Targets tab's valid rows
    sequences: list[Step] = field(default_factory=list)  # the Sequences tab's valid steps
    # the Enrolment tab: by sequence (its name normalised), who enters and who leaves
    enrolment: dict[str, SequenceRules] = field(default_factory=dict)
    # the rules as they would be with the draft rows published; empty when no row is a draft
    draft_scoring: list[ScoringRule] = field(default_factory=list)
    draft_routing: list[RoutingRule] = field(default_factory=list)

    def stage(self, name: str) -> Stage | None:
        key = norm_header(name)
        return next((s for s in self.stages if norm_header(s.name) == key), None)


def parse_config(snapshot: Snapshot) -> Config:
    """Parse every rule tab of ``snapshot``; never raises on what a person typed. The rule
    tabs' headers may be French ("Champ", "Opérateur"): read as their English columns. A
    rule tab with a problem is replaced by its last valid version, when the state tab keeps
    one."""
    snapshot = canonical_rule_tabs(snapshot)
    kept = decode(snapshot.get(STATE.name))
    good = settings_values(kept.get(SETTINGS_TAB))
    config, bad = _parse(snapshot, good)
    swapped: dict[str, str] = {}  # tab -> the cell whose problem made it swapped
    final, still = config, bad
    # A tab's old version can clash with a tab that is valid now (an old Routing rule names
    # a person no longer on the Team): then that one's old version is used too.
    while any(t in kept and t not in swapped for t in still):
        cause = next(iter(bad.values()))
        swapped |= {t: bad.get(t, cause) for t in still if t in kept and t not in swapped}
        names = {norm_header(t) for t in swapped}
        tabs = {n: t for n, t in snapshot.tabs.items() if norm_header(n) not in names}
        tabs |= {t: kept[t].table for t in swapped}
        final, still = _parse(replace(snapshot, tabs=tabs), good)
    fallbacks = list(final.settings.fallbacks)
    for tab in WHOLE_TABS:
        if tab in swapped and tab not in still:
            fallbacks.append(Fallback(tab, swapped[tab], kept[tab].stamp, AREAS[tab]))
        elif tab in still and tab != ALERTS.name:  # a bad Alerts row is left out, others run
            fallbacks.append(Fallback(tab, bad.get(tab) or still[tab], "", AREAS[tab]))
    final.problems = config.problems  # what is wrong now, not in the versions used
    final.settings.typed = config.settings.typed
    final.fallbacks = fallbacks
    final.valid = {t: table for t in WHOLE_TABS if t not in bad and (table := snapshot.get(t))}
    final.kept = kept
    return final


def _parse(snapshot: Snapshot, good: LastGood) -> tuple[Config, dict[str, str]]:
    """The rules of ``snapshot`` as they are, and each rule tab with a problem (its first
    problem's cell)."""
    settings, frozen, problems = parse_settings(
        snapshot.get(SETTINGS.name), sheet_defaults(snapshot.properties), good
    )
    settings.shown_decimal = shown_decimal(snapshot.properties)
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
    # the names read, even with a problem elsewhere on the tab: every problem is listed (but
    # with no Name column there is no name to check against)
    names_read = team_tab.ok or bool(team)
    if names_read:
        problems += check_managers(snapshot.get(TEAM.name), team)
    forms, forms_problems = parse_forms(snapshot.get(FORMS.name), fields)
    # a bad Targets row is left out, the others count (as a bad Alerts row); its names are
    # checked against a valid Team tab only, so one Team typo is one problem, not twenty
    targets, targets_problems = parse_targets(snapshot.get(TARGETS.name), team, team_tab.ok)
    forms_problems += targets_problems
    # a bad step is left out, the others stand (nothing is sent from this tab yet)
    sequences, sequences_problems = parse_sequences(snapshot.get(SEQUENCES.name), fields)
    enrolment, enrolment_problems = parse_enrolment(
        snapshot.get(ENROLMENT.name),
        fields,
        {s.sequence for s in sequences},
        dayfirst,
        zone,
        decimal,
    )
    forms_problems += sequences_problems + enrolment_problems
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
    on_team = {norm_header(m.name) for m in team}
    fallback = settings["Fallback owner"]
    if fallback and names_read and norm_header(fallback) not in on_team:
        problems.append(
            Problem(
                SETTINGS.name,
                settings.cells.get("Fallback owner", SETTINGS.name),
                _("Fallback owner %(name)r is not on the Team tab") % {"name": fallback},
                suggest(fallback, [m.name for m in team]),
            )
        )
        _last_good_value(
            settings, good, frozen, "Fallback owner", lambda t: norm_header(t) in on_team
        )
    known = {norm_header(f) for f in fields}
    # the default is not the manager's typo; with no Leads header there is nothing to check
    typed = "Required fields" in settings.cells and bool(fields)
    missing = False
    for group in settings["Required fields"] if typed else ():
        for name in group:
            if norm_header(canonical_header(name)) not in known:  # "Téléphone" is Phone
                problems.append(
                    Problem(
                        SETTINGS.name,
                        settings.cells.get("Required fields", SETTINGS.name),
                        _("Required fields: Leads has no column %(column)r") % {"column": name},
                        suggest(name, list(fields)),
                    )
                )
                missing = True
    if missing:
        _last_good_value(
            settings,
            good,
            frozen,
            "Required fields",
            lambda t: all(norm_header(n) in known for g in _required(t) for n in g),
        )
    problems += _negative_caps(settings, scoring, good, frozen)
    bad: dict[str, str] = {}
    for tab, areas in (
        (stages_tab, AREAS["Stages"]),
        (scoring_tab, AREAS["Scoring"]),
        (routing_tab, AREAS["Routing"]),
        (team_tab, AREAS["Team"]),
        (alerts_tab, frozenset[str]()),
    ):
        if not tab.ok:
            frozen |= areas
            bad[tab.spec.name] = tab.problems[0].cell
        if tab is not alerts_tab:
            problems += tab.problems
    config = Config(
        settings,
        stages if stages_tab.ok else [],
        [r for r in scoring if not r.draft],
        [r for r in routing if not r.draft],
        team if team_tab.ok else [],
        frozen,
        problems + forms_problems,
        forms,
        alerts,
        targets=targets,
        sequences=sequences,
        enrolment=enrolment,
        draft_scoring=scoring if any(r.draft for r in scoring) else [],
        draft_routing=routing if any(r.draft for r in routing) else [],
    )
    return config, bad


def _required(text: str) -> tuple[tuple[str, ...], ...]:
    setting = find_setting("Required fields")
    assert setting is not None
    groups: tuple[tuple[str, ...], ...] = setting.parse(text or setting.default)
    return groups


def _last_good_value(
    settings: Settings,
    good: LastGood,
    frozen: set[str],
    key: str,
    valid: Callable[[str], bool],
) -> None:
    """A setting whose value is valid on its own but not with the other tabs (a Fallback
    owner not on the Team tab): its last valid value, if that one still fits; else what it
    governs is frozen."""
    setting = find_setting(key)
    assert setting is not None
    settings.typed.pop(key, None)
    cell = settings.cells.get(key, SETTINGS.name)
    stored = good.get(setting_key(key))
    if stored is not None and valid(stored[0]):
        settings.values[key] = setting.parse(stored[0] or setting.default)
        settings.fallbacks.append(Fallback(SETTINGS.name, cell, stored[1], setting.governs, key))
        return
    frozen.update(setting.governs)
    settings.fallbacks.append(Fallback(SETTINGS.name, cell, "", setting.governs, key))


def _negative_caps(
    settings: Settings, scoring: list[ScoringRule], good: LastGood, frozen: set[str]
) -> list[Problem]:
    """A Group cap below 0 bounds what a group of negative rules takes off; on a group whose
    rules add points it would cap nothing: a typo ("-15" for "15")."""
    problems = []
    for key, cell in list(settings.cells.items()):
        if not key.casefold().startswith(GROUP_CAP_PREFIX):
            continue
        name = key.split(":", 1)[1].strip().casefold()
        cap = settings.group_caps.get(name)
        adds = [r for r in scoring if r.group.casefold() == name and r.points > 0]
        if cap is None or cap >= 0 or not adds:
            continue
        problems.append(
            Problem(
                SETTINGS.name,
                cell,
                _(
                    "%(key)s: %(cap)s is below 0, but the group's rules add points "
                    "(%(rule)s: +%(points)s)"
                )
                % {
                    "key": key,
                    "cap": f"{cap:g}",
                    "rule": adds[0].name or _("a rule"),
                    "points": f"{adds[0].points:g}",
                },
                _(
                    "type the most points the group may add, like 15; a cap below 0 is for a "
                    "group of rules that take points off"
                ),
            )
        )
        settings.typed.pop(key, None)
        stored = good.get(setting_key(key))
        old = parse_number(stored[0], settings.decimal) if stored else None
        if stored is not None and old is not None and old >= 0:
            settings.group_caps[name] = old
            settings.fallbacks.append(
                Fallback(SETTINGS.name, cell, stored[1], frozenset({"scoring"}), key)
            )
        else:
            del settings.group_caps[name]
            frozen.add("scoring")
            settings.fallbacks.append(
                Fallback(SETTINGS.name, cell, "", frozenset({"scoring"}), key)
            )
    return problems
