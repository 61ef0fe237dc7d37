"""Scores with their reasons, grades and lifecycle; routing with its strategies and why."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from sheetcrm.engine.config import parse_config
from sheetcrm.engine.frame import Frame
from sheetcrm.engine.history import HistoryFrame
from sheetcrm.engine.rotations import read_turns
from sheetcrm.engine.routing import Assignment, route
from sheetcrm.engine.routing_tab import RoutingRule
from sheetcrm.engine.rules import Condition, compile_condition
from sheetcrm.engine.schema import HISTORY, LEADS, Kind
from sheetcrm.engine.scoring import NO_MATCH, grade, lifecycle, score
from sheetcrm.engine.scoring_tab import ScoringRule
from sheetcrm.engine.settings import SETTINGS, Settings
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.engine.team_tab import Member

NOW = datetime(2026, 3, 10, 12, 0)
TODAY = "2026-03-10 09:00"
FIELDS: dict[str, Kind | None] = {c.header: c.kind for c in LEADS.columns}
_KEYS = [s.key for s in SETTINGS]


def cond(field: str, op: str, value: str = "") -> Condition:
    return compile_condition(field, op, value, FIELDS)


def leads(**columns: list[str]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    data = {"Owner": [""] * n, "Assigned at": [""] * n}
    data.update(columns)
    return pd.DataFrame(data, dtype=object)


def settings(caps: dict[str, float] | None = None, **values: object) -> Settings:
    """Settings with ``values`` by key, spelled with underscores: max_score= is "Max score"."""
    s = Settings()
    for key, value in values.items():
        declared = next(k for k in _KEYS if k.casefold() == key.replace("_", " "))
        s.values[declared] = value
    s.group_caps.update(caps or {})
    return s


# --- scoring -------------------------------------------------------------------------------

SCORED = leads(
    Industry=["SaaS", "Retail", "software", "SaaS", "Retail"],
    Email=["a@gmail.com", "b@acme.com", "c@GMAIL.com", "d@x.io", "e@gmail.com"],
    Source=["Webinar", "Referral", "Webinar", "Webinar", ""],
    **{"Next action date": ["2026-03-11", "", "2026-03-12", "x", ""]},
)
RULES = [
    ScoringRule("Target", (cond("Industry", "in list", "SaaS, Software"),), 20.0, ""),
    ScoringRule("Free mail", (cond("Email", "email domain in list", "gmail.com"),), -10.0, ""),
    ScoringRule("Webinar", (cond("Source", "equals", "Webinar"),), 10.0, "Engagement"),
    ScoringRule("Planned", (cond("Next action date", "is not empty"),), 8.0, "Engagement"),
]


def test_points_add_up_with_negative_points() -> None:
    result = score(Frame(SCORED, NOW), RULES, Settings())
    assert result.score.tolist() == [28.0, 0.0, 28.0, 38.0, -10.0]
    assert result.reasons.tolist() == [
        "+20 Industry is SaaS; −10 Email domain is gmail.com; +10 Source is Webinar; "
        "+8 Next action date is filled in",
        NO_MATCH,
        "+20 Industry is Software; −10 Email domain is gmail.com; +10 Source is Webinar; "
        "+8 Next action date is filled in",
        "+20 Industry is SaaS; +10 Source is Webinar; +8 Next action date is filled in",
        "−10 Email domain is gmail.com",
    ]
    assert result.reasons.index.equals(SCORED.index)


def test_two_rules_read_as_the_reason() -> None:
    data = leads(Industry=["SaaS"], Email=["jo@gmail.com"])
    result = score(Frame(data, NOW), RULES[:2], Settings())
    assert result.score.tolist() == [10.0]
    assert result.reasons.tolist() == ["+20 Industry is SaaS; −10 Email domain is gmail.com"]


def test_a_group_cap_limits_its_rules_points() -> None:
    result = score(Frame(SCORED, NOW), RULES, settings({"engagement": 15.0}))
    assert result.score.tolist() == [25.0, 0.0, 25.0, 35.0, -10.0]
    assert result.reasons.tolist()[3] == (
        "+20 Industry is SaaS; +10 Source is Webinar; +8 Next action date is filled in; "
        "Engagement capped at 15"
    )
    assert result.reasons.tolist()[4] == "−10 Email domain is gmail.com"  # under the cap


def test_a_group_cap_applies_whatever_the_case_of_the_group_name() -> None:
    rules = [
        RULES[2],
        ScoringRule("Planned", RULES[3].conditions, 8.0, "engagement"),
    ]
    result = score(Frame(SCORED, NOW), rules, settings({"engagement": 15.0}))
    assert result.score.tolist() == [15.0, 0.0, 15.0, 15.0, 0.0]
    assert result.reasons.tolist()[0] == (
        "+10 Source is Webinar; +8 Next action date is filled in; Engagement capped at 15"
    )


def test_total_caps_bound_the_score_both_ways() -> None:
    capped = score(Frame(SCORED, NOW), RULES, settings(max_score=30.0, min_score=0.0))
    assert capped.score.tolist() == [28.0, 0.0, 28.0, 30.0, 0.0]
    reasons = capped.reasons.tolist()
    assert reasons[3].endswith("; total capped")
    assert reasons[4] == "−10 Email domain is gmail.com; total capped"
    assert not reasons[0].endswith("total capped")
    assert reasons[1] == NO_MATCH  # 0 is not below the floor


def test_a_rule_with_two_conditions_needs_both() -> None:
    data = leads(
        Source=["Demo request", "Demo request", "Website"],
        **{"Created at": ["2026-03-09", "2026-01-01", "2026-03-09"]},
    )
    hot = ScoringRule(
        "Hot inbound",
        (cond("Source", "equals", "Demo request"), cond("Created at", "within last N days", "7")),
        10.0,
        "",
    )
    result = score(Frame(data, NOW), [hot], Settings())
    assert result.score.tolist() == [10.0, 0.0, 0.0]
    assert result.reasons.tolist()[0] == (
        "+10 Source is Demo request and Created at is within the last 7 days"
    )


def test_fractional_points_are_shown_as_typed() -> None:
    rule = ScoringRule("Half", (cond("Industry", "is not empty"),), 2.5, "")
    result = score(Frame(leads(Industry=["x"]), NOW), [rule], Settings())
    assert result.score.tolist() == [2.5]
    assert result.reasons.tolist() == ["+2.5 Industry is filled in"]


def test_no_rules_scores_zero() -> None:
    result = score(Frame(SCORED, NOW), [], Settings())
    assert result.score.tolist() == [0.0] * 5
    assert result.reasons.tolist() == [NO_MATCH] * 5
    assert result.grade.tolist() == ["D"] * 5


def test_scoring_no_rows() -> None:
    empty = leads(Industry=[], Email=[], Source=[], **{"Next action date": []})
    result = score(Frame(empty, NOW), RULES, settings({"engagement": 15.0}, max_score=30.0))
    assert len(result.score) == 0
    assert result.reasons.tolist() == []


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (100.0, "A"),
        (70.0, "A"),
        (69.9, "B"),
        (40.0, "B"),
        (39.0, "C"),
        (20.0, "C"),
        (19.5, "D"),
        (0.0, "D"),
        (-5.0, "D"),
    ],
)
def test_grade_bands(total: float, expected: str) -> None:
    assert grade(np.array([total]), Settings(), pd.RangeIndex(1)).tolist() == [expected]


def test_grade_bands_follow_settings() -> None:
    s = settings(grade_a_at=50.0, grade_b_at=30.0, grade_c_at=10.0)
    totals = np.array([50.0, 49.0, 30.0, 10.0, 9.0])
    assert grade(totals, s, pd.RangeIndex(5)).tolist() == ["A", "B", "B", "C", "D"]


@pytest.mark.parametrize(
    ("total", "current", "stage_rank", "expected"),
    [
        (0.0, "", 0, "Lead"),
        (39.0, "", 0, "Lead"),
        (40.0, "", 0, "MQL"),
        (70.0, "", 0, "SQL"),
        (0.0, "", 1, "SQL"),  # a person moved it past the first stage
        (0.0, "", 2, "Customer"),  # won
        (90.0, "", -1, "SQL"),  # lost or unknown stage: the score still counts
        # never backwards
        (0.0, "SQL", 0, "SQL"),
        (0.0, "Customer", -1, "Customer"),  # no stage, or a lost one
        (0.0, "Customer", 2, "Customer"),
        # but a won deal moved back to an open stage is no customer: stage and score again
        (0.0, "Customer", 1, "SQL"),
        (45.0, "Customer", 0, "MQL"),
        (45.0, "Customer", -1, "Customer"),
        (0.0, " mql ", 0, "MQL"),
        (80.0, "MQL", 0, "SQL"),
        (0.0, "something else", 0, "Lead"),
    ],
)
def test_lifecycle_only_moves_forward(
    total: float, current: str, stage_rank: int, expected: str
) -> None:
    got = lifecycle(np.array([total]), pd.Series([current]), np.array([stage_rank]), Settings())
    assert got.tolist() == [expected]


def test_lifecycle_thresholds_follow_settings() -> None:
    s = settings(mql_score=10.0, sql_score=20.0)
    got = lifecycle(np.array([9.0, 10.0, 20.0]), pd.Series(["", "", ""]), np.zeros(3), s)
    assert got.tolist() == ["Lead", "MQL", "SQL"]


# --- routing -------------------------------------------------------------------------------


def member(
    name: str,
    team: str = "Sales",
    active: bool = True,
    weight: float = 1.0,
    capacity: float | None = None,
    away: datetime | None = None,
) -> Member:
    return Member(name, f"{name.lower()}@example.com", team, active, weight, capacity, away)


SALES = [member("Ann"), member("Bob"), member("Cat"), member("Dan", team="Solo")]
TO_DAN = RoutingRule("Routing rule 1", (cond("Country", "equals", "Germany"),), "Dan", "direct")
TO_SALES = RoutingRule("Routing rule 2", (), "Sales", "round robin")


def run(
    data: pd.DataFrame,
    rules: list[RoutingRule],
    team: list[Member],
    fallback: str = "",
    rows: list[int] | None = None,
    history: list[list[str]] | None = None,
) -> list[Assignment]:
    """Route ``rows`` of ``data``; ``history``: History rows (At, Lead ID, Field, From, To,
    By, Why) that the rotations read their turns from."""
    rows = list(range(len(data))) if rows is None else rows
    turns = read_turns(HistoryFrame(Table(HISTORY.headers, history or []), True, UTC), NOW)
    return route(
        Frame(data, NOW), rows, rules, team, fallback, np.ones(len(data), dtype=bool), turns
    )


def logged(at: str, assignments: list[Assignment]) -> list[list[str]]:
    """The History rows a sync at ``at`` writes for ``assignments``."""
    return [[at, f"L-{a.row + 1}", "Owner", "", a.owner, "sheetcrm", a.why] for a in assignments]


def owners(assignments: list[Assignment]) -> list[str]:
    return [a.owner for a in assignments]


def test_first_matching_rule_wins() -> None:
    data = leads(Country=["Germany", "France", "germany"])
    got = run(data, [TO_DAN, TO_SALES], SALES)
    assert owners(got) == ["Dan", "Ann", "Dan"]
    assert got[0] == Assignment(0, "Dan", "Routing rule 1 (Country is Germany) → Dan")
    assert got[1].why == "Routing rule 2 (every lead) → Sales by round robin: Ann"
    # the later rule is not tried once one matched, so rule order decides
    assert owners(run(data, [TO_SALES, TO_DAN], SALES)) == ["Ann", "Bob", "Cat"]


def test_the_why_lists_the_matched_value() -> None:
    rule = RoutingRule(
        "Routing rule 1", (cond("Country", "in list", "France, Germany"),), "Sales", "round robin"
    )
    got = run(leads(Country=["GERMANY"]), [rule], SALES)
    assert got[0].why == "Routing rule 1 (Country is Germany) → Sales by round robin: Ann"


def test_only_the_given_rows_are_routed() -> None:
    got = run(leads(Country=["France"] * 4), [TO_SALES], SALES, rows=[3, 1])
    assert [(a.row, a.owner) for a in got] == [(3, "Ann"), (1, "Bob")]


def test_round_robin_rotates_within_a_call() -> None:
    got = run(leads(Country=["France"] * 5), [TO_SALES], SALES)
    assert owners(got) == ["Ann", "Bob", "Cat", "Ann", "Bob"]


def test_round_robin_continues_across_calls_from_history() -> None:
    data = leads(Country=["France"] * 6)
    seen: list[str] = []
    history: list[list[str]] = []
    for start in range(0, 6, 2):  # three syncs, two new leads each
        got = run(data, [TO_SALES], SALES, rows=[start, start + 1], history=history)
        history += logged(f"2026-03-10 0{start}:00", got)
        for a in got:
            data.loc[a.row, "Owner"] = a.owner
            data.loc[a.row, "Assigned at"] = TODAY
            seen.append(a.owner)
    assert seen == ["Ann", "Bob", "Cat", "Ann", "Bob", "Cat"]


def test_round_robin_starts_after_the_rotations_latest_turn() -> None:
    why = "Routing rule 2 (every lead) → sales by round robin: {}"
    history = [
        ["2026-03-10 10:00", "L-7", "Owner", "", "Bob", "sheetcrm", why.format("Bob")],
        # a name typed in another case still counts; one sync's turns go in Lead ID order
        ["2026-03-10 09:00", "L-5", "Owner", "", "ann", "sheetcrm", why.format("ann")],
        ["2026-03-10 09:00", "L-4", "Owner", "", "Cat", "sheetcrm", why.format("Cat")],
    ]
    data = leads(Country=["France"])
    assert owners(run(data, [TO_SALES], SALES, history=history)) == ["Cat"]
    assert owners(run(data, [TO_SALES], SALES, history=history[1:])) == ["Bob"]
    # the Leads tab's owners are nobody's turn
    assert owners(run(leads(Country=["France"], Owner=["Ann"]), [TO_SALES], SALES)) == ["Ann"]


def test_a_rotations_turns_are_its_own_past_and_recent() -> None:
    def turn(at: str, name: str, why: str, field: str = "Owner", by: str = "sheetcrm") -> list:
        return [at, "L-1", field, "", name, by, f"Routing rule 1 (every lead) → {why}: {name}"]

    history = [
        turn("2026-03-09 09:00", "Ann", "Sales by weighted"),
        turn("2026-02-01 09:00", "Bob", "Sales by weighted"),  # before the last 30 days
        turn("2062-03-09 09:00", "Cat", "Sales by weighted"),  # in the future
        turn("2026-03-09 10:00", "Cat", "Sales by weighted", by="sheet"),
        turn("2026-03-09 10:00", "Cat", "Sales by weighted", field="Stage"),
        turn("2026-03-09 11:00", "Bob", "Sales by round robin"),  # another rotation
        ["2026-03-09 12:00", "L-2", "Owner", "", "Cat", "sheetcrm", "Routing rule 2 → Cat"],
    ]
    turns = read_turns(HistoryFrame(Table(HISTORY.headers, history), True, UTC), NOW)
    assert set(turns) == {("sales", "weighted"), ("sales", "round robin")}
    weighted = turns["sales", "weighted"]
    assert (weighted.latest, dict(weighted.counts)) == ("ann", {"ann": 1})
    assert turns["sales", "round robin"].latest == "bob"


def test_round_robin_skips_inactive_and_away_people() -> None:
    team = [
        member("Ann"),
        member("Bob", active=False),
        member("Cat", away=datetime(2026, 3, 10)),  # away up to and including today
        member("Eve", away=datetime(2026, 3, 9)),  # back today
    ]
    assert owners(run(leads(Country=["France"] * 4), [TO_SALES], team)) == [
        "Ann",
        "Eve",
        "Ann",
        "Eve",
    ]


def test_weighted_respects_weights_over_many_leads() -> None:
    team = [member("Ann", weight=3), member("Bob", weight=1), member("Cat", weight=0)]
    rule = RoutingRule("Routing rule 1", (), "Sales", "weighted")
    got = run(leads(Country=["France"] * 40), [rule], team)
    assert Counter(owners(got)) == {"Ann": 30, "Bob": 10}
    assert got[0].why == "Routing rule 1 (every lead) → Sales by weighted: Ann"
    # and every prefix stays close to 3:1
    for k in range(4, 41, 4):
        assert Counter(owners(got[:k]))["Ann"] == 3 * k // 4


def test_weighted_counts_the_rotations_turns_in_history() -> None:
    team = [member("Ann", weight=1), member("Bob", weight=1)]
    data = leads(Country=["France"] * 4, Owner=["Ann", "Ann", "", ""])
    data["Assigned at"] = [TODAY, TODAY, "", ""]
    rule = RoutingRule("Routing rule 1", (), "Sales", "weighted")
    why = "Routing rule 1 (every lead) → Sales by weighted: Ann"
    history = [[day, "L-1", "Owner", "", "Ann", "sheetcrm", why] for day in ("2026-03-01",) * 2]
    assert owners(run(data, [rule], team, rows=[2, 3], history=history)) == ["Bob", "Bob"]


def test_least_loaded_goes_to_fewest_open_leads() -> None:
    team = [member("Ann"), member("Bob")]
    data = leads(
        Country=["France"] * 6,
        Owner=["Ann", "Ann", "Bob", "", "", ""],
        **{"Assigned at": ["2026-03-01"] * 3 + [""] * 3},
    )
    rule = RoutingRule("Routing rule 1", (), "Sales", "least loaded")
    got = run(data, [rule], team, rows=[3, 4, 5])
    assert owners(got) == ["Bob", "Ann", "Bob"]
    assert got[0].why == "Routing rule 1 (every lead) → Sales by least loaded: Bob"


def test_least_loaded_ignores_closed_deals() -> None:
    team = [member("Ann"), member("Bob")]
    data = leads(Country=["France"] * 4, Owner=["Ann", "Ann", "Bob", ""])
    is_open = np.array([False, False, True, True])  # Ann's deals are won or lost
    rule = RoutingRule("Routing rule 1", (), "Sales", "least loaded")
    got = route(Frame(data, NOW), [3], [rule], team, "", is_open)
    assert owners(got) == ["Ann"]


def test_daily_capacity_falls_back_to_the_fallback_owner() -> None:
    team = [member("Ann", capacity=1), member("Bob", capacity=1), member("Zed", team="")]
    got = run(leads(Country=["France"] * 3), [TO_SALES], team, fallback="zed")
    assert owners(got) == ["Ann", "Bob", "Zed"]
    assert got[2].why == (
        "Routing rule 2 (every lead); Ann is at daily capacity (1); "
        "Bob is at daily capacity (1) → fallback owner Zed"
    )


def test_leads_assigned_earlier_today_count_toward_capacity() -> None:
    team = [member("Ann", capacity=2), member("Bob", capacity=5)]
    data = leads(Country=["France"] * 5, Owner=["Ann", "Ann", "", "", ""])
    data["Assigned at"] = ["2026-03-10 08:00", "2026-03-09 17:00", "", "", ""]  # one today
    rule = RoutingRule("Routing rule 1", (), "Sales", "round robin")
    got = run(data, [rule], team, rows=[2, 3, 4])
    assert owners(got) == ["Ann", "Bob", "Bob"]  # Ann had room for one more
    assert got[2].why.endswith(": Bob (skipped: Ann is at daily capacity (2))")


def test_no_fallback_leaves_the_lead_unowned_and_says_why() -> None:
    team = [member("Ann", capacity=0)]
    got = run(leads(Country=["France"]), [TO_SALES], team)
    assert got == [
        Assignment(
            0,
            "",
            "Routing rule 2 (every lead); Ann is at daily capacity (0); "
            "no fallback owner available (Settings: Fallback owner)",
        )
    ]


@pytest.mark.parametrize(
    "fallback",
    [
        member("Zed", team="", active=False),
        member("Zed", team="", away=datetime(2026, 3, 12)),
    ],
)
def test_an_unavailable_fallback_owner_gets_nothing(fallback: Member) -> None:
    team = [member("Ann", active=False), fallback]
    got = run(leads(Country=["France"]), [TO_SALES], team, fallback="Zed")
    assert got[0].owner == ""
    assert got[0].why.endswith("no fallback owner available (Settings: Fallback owner)")
    assert "Ann is inactive" in got[0].why


def test_a_lead_no_rule_matches_goes_to_the_fallback_owner() -> None:
    got = run(leads(Country=["France"]), [TO_DAN], SALES, fallback="Cat")
    assert got == [Assignment(0, "Cat", "no routing rule matched → fallback owner Cat")]
    got = run(leads(Country=["France"]), [TO_DAN], SALES)
    assert got == [
        Assignment(
            0, "", "no routing rule matched; no fallback owner available (Settings: Fallback owner)"
        )
    ]


def test_a_direct_owner_away_falls_back() -> None:
    team = [member("Dan", team="Solo", away=datetime(2026, 3, 20)), member("Zed", team="")]
    got = run(leads(Country=["Germany"]), [TO_DAN], team, fallback="Zed")
    assert got[0] == Assignment(
        0,
        "Zed",
        "Routing rule 1 (Country is Germany); Dan is away until 2026-03-20 → fallback owner Zed",
    )


def test_routing_from_parsed_tabs() -> None:
    tabs = {
        "Leads": Table(["Lead ID", "Country", "Amount", "Owner", "Assigned at"]),
        "Team": Table(
            ["Name", "Team", "Active", "Weight", "Daily capacity", "Away until"],
            [
                ["Sofia", "EMEA", "yes", "", "", ""],
                ["Lukas", "EMEA", "no", "", "", ""],
                ["Mila", "EMEA", "yes", "", "", ""],
                ["Avery", "Enterprise", "yes", "", "1", ""],
                ["Jordan", "", "yes", "", "", ""],
            ],
        ),
        "Routing": Table(
            ["Order", "Field", "Operator", "Value", "Assign to", "Strategy"],
            [
                ["2", "Country", "in list", "France, Germany", "emea", ""],
                ["1", "Amount", "at least", "50,000", "Avery", ""],
            ],
        ),
        "Settings": Table(["Key", "Value"], [["Fallback owner", "Jordan"]]),
        "Stages": Table(["Stage", "Type"], [["New", "open"]]),
        "Scoring": Table(
            ["Rule", "Field", "Operator", "Value", "Points"],
            [["All", "Country", "is not empty", "", "1"]],
        ),
    }
    config = parse_config(Snapshot(tabs))
    assert config.problems == []
    data = leads(
        Country=["France", "Germany", "France", "Spain", "Germany"],
        Amount=["", "", "$90,000", "", "75000"],
    )
    got = route(
        Frame(data, NOW),
        range(5),
        config.routing,
        config.team,
        config.settings["Fallback owner"],
        np.ones(5, dtype=bool),
    )
    assert owners(got) == ["Sofia", "Mila", "Avery", "Jordan", "Jordan"]
    assert got[2].why == "Routing rule 1 (Amount is at least 50,000) → Avery"
    assert got[4].why == (
        "Routing rule 1 (Amount is at least 50,000); Avery is at daily capacity (1) "
        "→ fallback owner Jordan"
    )
