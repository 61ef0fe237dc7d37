"""Every tab and header of the default spreadsheet, declared once, as data.

Validation, ``sheetcrm init``, the templates' own test and the README's tables all derive
from these declarations. Columns are found by header text, never by position.
"""

from __future__ import annotations

from dataclasses import replace

from sheetcrm.engine.header_aliases import ACTIVITIES_ALIASES, LEADS_ALIASES, RULE_TAB_ALIASES
from sheetcrm.engine.metric_specs import AS_OF as AS_OF
from sheetcrm.engine.metric_specs import BY_OWNER as BY_OWNER
from sheetcrm.engine.metric_specs import BY_SOURCE as BY_SOURCE
from sheetcrm.engine.metric_specs import DASHBOARD as DASHBOARD
from sheetcrm.engine.metric_specs import FORECAST as FORECAST
from sheetcrm.engine.metric_specs import FUNNEL as FUNNEL
from sheetcrm.engine.metric_specs import METRIC_TABS as METRIC_TABS
from sheetcrm.engine.metric_specs import NO_DATA as NO_DATA
from sheetcrm.engine.metric_specs import NOT_COMPUTED as NOT_COMPUTED
from sheetcrm.engine.metric_specs import NURTURE as NURTURE
from sheetcrm.engine.metric_specs import PREVIEW as PREVIEW
from sheetcrm.engine.metric_specs import SCORING_CHECK as SCORING_CHECK
from sheetcrm.engine.nurture_schema import ENROLMENT as ENROLMENT
from sheetcrm.engine.nurture_schema import NURTURE_COLUMNS, NURTURE_TABS
from sheetcrm.engine.nurture_schema import SEQUENCES as SEQUENCES
from sheetcrm.engine.tab_types import Column as Column
from sheetcrm.engine.tab_types import Kind as Kind
from sheetcrm.engine.tab_types import Owner as Owner
from sheetcrm.engine.tab_types import TabSpec as TabSpec
from sheetcrm.engine.tab_types import aka as aka
from sheetcrm.engine.table import norm_header


def with_aliases(
    columns: tuple[Column, ...], aliases: dict[str, str] = LEADS_ALIASES
) -> tuple[Column, ...]:
    """``columns`` with their other names from header_aliases.py."""
    return tuple(
        replace(c, aliases=aka(aliases[c.header])) if c.header in aliases else c for c in columns
    )


P, S = Owner.PERSON, Owner.SERVICE

LEADS = TabSpec(
    "Leads",
    (
        Column(
            "Lead ID", owner=S, help="Stable, unique, never reused; given by the sync.", width=10
        ),
        Column(
            "Created at",
            Kind.DATETIME,
            S,
            "When the lead arrived; stamped if empty.",
            16,
        ),
        Column("First name", width=12),
        Column("Last name", width=12),
        Column("Email", Kind.EMAIL, help="Checked for syntax (no DNS lookup).", width=24),
        Column("Phone", Kind.PHONE, help="Read in the default region of Settings.", width=16),
        Column("Company", width=18),
        Column("Country", width=12),
        Column("Industry", width=14),
        Column("Source", help="Where the lead came from.", width=14),
        Column("Stage", Kind.CHOICE, P, "One of the Stages tab.", 13),
        Column("Amount", Kind.MONEY, P, "Deal value.", 10),
        Column(
            "Expected close",
            Kind.DATE,
            help="When the deal should close: its month in the Forecast.",
            width=13,
        ),
        Column(
            "Owner",
            Kind.PERSON,
            S,
            "Routed when empty; a person may set it.",
            14,
        ),
        Column(
            "Next action date",
            Kind.DATE,
            help="Flagged when in the past.",
            width=14,
        ),
        Column("Last contact", Kind.DATE, P, "Date of the last touch.", 13),
        Column("Notes", width=24),
        Column("Score", Kind.NUMBER, S, "Sum of the Scoring rules that match.", 7),
        Column("Score reasons", owner=S, help="Each rule's contribution.", width=30),
        Column("Grade", owner=S, help="A-D from the Settings thresholds.", width=7),
        Column(
            "Lifecycle",
            owner=S,
            help="Lead -> MQL -> SQL -> Customer; only moves forward.",
            width=10,
        ),
        Column("Assigned at", Kind.DATETIME, S, "When routing gave the lead its owner.", 16),
        Column("Stage changed at", Kind.DATETIME, S, "When the sync saw Stage change.", 16),
        Column("Closed at", Kind.DATETIME, S, "When the deal reached a won or lost stage.", 16),
        Column(
            "First touch at", Kind.DATETIME, S, "First contact or stage move after arrival.", 16
        ),
        Column("Status", owner=S, help="OK, or what is wrong with the row.", width=30),
        Column(
            "Duplicate of",
            owner=S,
            help="Earliest lead with the same email, phone or company domain.",
            width=12,
        ),
        Column(
            "Submission ID",
            owner=S,
            help="The web-form submission this lead came from; how replays are recognised.",
            width=16,
        ),
        # the learned win probability (engine/win_model.py), of open leads
        Column("Win probability", Kind.NUMBER, S, "% chance, from closed leads (Settings).", 9),
        Column("Win reasons", owner=S, help="The fields that move it most.", width=30),
        *NURTURE_COLUMNS,
    ),
    "One row per lead or deal.",
    "people and the service",
)
LEADS = replace(LEADS, columns=with_aliases(LEADS.columns))

STAGES = TabSpec(
    "Stages",
    (
        Column("Stage", width=14),
        Column("Type", Kind.CHOICE, help="open, won or lost", width=8),
        Column("Probability", Kind.NUMBER, help="Chance to win, 0-100 %.", width=11),
        Column("Max days", Kind.NUMBER, help="A deal longer in this stage is stale.", width=9),
        Column(
            "Required fields", help="Leads columns that must be filled at this stage.", width=24
        ),
    ),
    "The pipeline, in order.",
    "managers",
)

SCORING = TabSpec(
    "Scoring",
    (
        Column("Rule", help="Rows sharing a rule name are ANDed.", width=22),
        Column("Field", help="A Leads header.", width=14),
        Column("Operator", help="equals, contains, in list, at least, ...", width=18),
        Column("Value", width=22),
        Column("Points", Kind.NUMBER, help="Negative points are allowed.", width=7),
        Column("Group", help="Optional; a group may be capped in Settings.", width=12),
        Column("Status", help="draft (previewed, not applied) or active; empty: active.", width=8),
    ),
    "Scoring rules: a lead gets the points of every rule it matches.",
    "managers",
)

ROUTING = TabSpec(
    "Routing",
    (
        Column(
            "Order", Kind.NUMBER, help="Rules are tried in this order; first match wins.", width=7
        ),
        Column("Field", width=14),
        Column("Operator", width=14),
        Column("Value", width=22),
        Column("Assign to", help="A person's or a team's name from the Team tab.", width=14),
        Column("Strategy", help="For a team: round robin, weighted or least loaded.", width=14),
        Column("Status", help="draft (previewed, not applied) or active; empty: active.", width=8),
    ),
    "Who gets new leads. Rows sharing an Order are ANDed; a rule with no condition matches all.",
    "managers",
)

TEAM = TabSpec(
    "Team",
    (
        Column("Name", width=16),
        Column("Email", Kind.EMAIL, width=24),
        Column("Team", width=10),
        Column("Active", Kind.BOOL, width=7),
        Column("Weight", Kind.NUMBER, help="Share of leads under the weighted strategy.", width=7),
        Column(
            "Daily capacity", Kind.NUMBER, help="Most new leads a day; empty = no limit.", width=13
        ),
        Column(
            "Away until",
            Kind.DATE,
            help="Gets no leads until this time; a date alone: up to and including that day.",
            width=11,
        ),
        Column("Manager", help="Their manager's Name on this tab (for alerts).", width=14),
        Column("Signature", help="Ends the nurture e-mails sent in their name.", width=24),
    ),
    "The people leads are routed to.",
    "managers",
)

_ALERT_HEADERS = ("When", "Stage", "Field", "Operator", "Value", "Send to", "Channel", "Message")
ALERTS = TabSpec(
    "Alerts",
    tuple(Column(h, width=30 if h == "Message" else 16) for h in _ALERT_HEADERS),
    "Who is told when something happens to a lead, one rule per row (docs/alerts.md).",
    "managers",
)

SETTINGS = TabSpec(
    "Settings",
    (Column("Key", width=26), Column("Value", width=26), Column("What it does", width=60)),
    "Key / value settings.",
    "managers",
)

FORMS = TabSpec(
    "Forms",
    (
        Column(
            "Form field",
            help="The question's label or key as the form sends it, or a phrase a longer "
            "question contains, like a synonym (case, accents and spacing ignored).",
            width=30,
        ),
        Column("Leads column", help="The Leads header its answer goes to.", width=16),
        Column(
            "Form",
            help="Only for this source (typeform, tally, jotform, google forms, generic) "
            "or form title; empty for every form.",
            width=20,
        ),
    ),
    "Which web-form answer goes to which Leads column. Without a row here, answers go by "
    "their label (email, name, company, phone...), and the rest into Notes.",
    "managers",
)

ACTIVITIES = TabSpec(
    "Activities",
    (
        Column("At", Kind.DATETIME, help="When the call, e-mail or meeting happened.", width=16),
        Column("Lead ID", help="The lead's ID, or its e-mail address.", width=24),
        Column("Type", Kind.CHOICE, help="call, email, meeting, note or other.", width=10),
        Column(
            "Outcome", Kind.CHOICE, help="reached, voicemail, no answer, ... (Settings).", width=16
        ),
        Column("By", Kind.PERSON, help="Who made the touch: a Name of the Team tab.", width=14),
        Column("Notes", width=30),
        Column("Next action date", Kind.DATE, help="Set on the lead when newest.", width=14),
        Column(
            "Submission ID",
            owner=S,
            help="The posted touch this row came from (/hooks/activity); empty when typed.",
            width=16,
        ),
    ),
    "One row per call, e-mail, meeting or note with a lead; the sync sets the lead's Last "
    "contact, First touch at and Next action date from them (docs/activities.md).",
    "people",
)
ACTIVITIES = replace(ACTIVITIES, columns=with_aliases(ACTIVITIES.columns, ACTIVITIES_ALIASES))

HISTORY = TabSpec(
    "History",
    (
        Column("At", Kind.DATETIME, S, width=16),
        Column("Lead ID", owner=S, width=10),
        Column("Field", owner=S, width=12),
        Column("From", owner=S, width=14),
        Column("To", owner=S, width=14),
        Column("By", owner=S, width=10),
        Column("Why", owner=S, width=50),
    ),
    "Append-only log of what the service changed and saw change.",
    "the service",
)
# the Notifications tab: its columns and their widths
_LOGGED = {"At": 16, "Lead ID": 10, "Event": 18, "To": 26, "Channel": 12, "Outcome": 30, "Key": 18}
NOTIFICATIONS = TabSpec(
    "Notifications",
    tuple(
        Column(h, Kind.DATETIME if h == "At" else Kind.TEXT, S, width=w) for h, w in _LOGGED.items()
    ),
    "Append-only log of the alerts and digests sent or given up on (docs/alerts.md).",
    "the service",
)
PROBLEMS = TabSpec(
    "Problems",
    (
        Column("At", Kind.DATETIME, S, width=16),
        Column("Tab", owner=S, width=10),
        Column("Cell", owner=S, width=12),
        Column(
            "Lead",
            owner=S,
            help="The lead it is about: its Lead ID, still right after a sort moves the Cell.",
            width=10,
        ),
        Column("Problem", owner=S, width=50),
        Column("Hint", owner=S, width=50),
    ),
    "What is wrong and where, as of the last sync.",
    "the service",
)
MAX_ROW_PROBLEMS = 1000
"""Row problems listed one per line on the Problems tab; the rest are counted in one line
(each row's own Status cell always says what is wrong with it)."""

STATE = TabSpec(
    "_sheetcrm",
    (Column("Key", owner=S, width=20), Column("Value", owner=S, width=30)),
    "The service's own bookkeeping (next Lead ID). Hidden.",
    "the service",
    hidden=True,
)

TARGETS = TabSpec(
    "Targets",
    (
        Column("Owner or team", help="A Name or a Team from the Team tab.", width=16),
        Column("Month", help="YYYY-MM, like 2026-04.", width=9),
        Column("Won value target", Kind.MONEY, help="Value of deals to win that month.", width=16),
        Column("Won deals target", Kind.NUMBER, help="Deals to win that month.", width=15),
        Column("Activities target", Kind.NUMBER, help="Optional: activities to log.", width=16),
    ),
    "Monthly targets per person or team; By owner and the Dashboard show attainment.",
    "managers",
)

STAGES, SCORING, ROUTING, TEAM, ALERTS, SETTINGS, FORMS, TARGETS = (
    replace(t, columns=with_aliases(t.columns, RULE_TAB_ALIASES.get(t.name, {})))
    for t in (STAGES, SCORING, ROUTING, TEAM, ALERTS, SETTINGS, FORMS, TARGETS)
)
RULE_TABS = (STAGES, SCORING, ROUTING, TEAM, ALERTS, SETTINGS, FORMS, TARGETS, *NURTURE_TABS)
TABS: tuple[TabSpec, ...] = (
    LEADS,
    *RULE_TABS,
    ACTIVITIES,
    HISTORY,
    NOTIFICATIONS,
    PROBLEMS,
    STATE,
)


def tab_spec(name: str) -> TabSpec | None:
    key = norm_header(name)
    return next((t for t in TABS if norm_header(t.name) == key), None)


def canonical_header(header: str) -> str:
    """The Leads column a header is read as ("E-mail" is Email), else the header itself."""
    spec = LEADS.column(header)
    return spec.header if spec else header


FILLED_FROM_ACTIVITIES = ("Last contact", "Next action date")
"""The person columns the sync also writes: from the Activities tab, a later date only, each
write compare-and-set and logged in History (engine/sync/activities.py)."""


def service_columns() -> list[str]:
    return [c.header for c in LEADS.columns if c.owner is Owner.SERVICE]


SERVICE_BY = "sheetcrm"  # the History "By" of everything the sync does
SHEET_BY = "sheet"  # the History "By" of what a person did in the sheet and the sync saw
