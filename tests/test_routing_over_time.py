"""Distribution over days and weeks, through real syncs on the memory backend with the clock
moved a day (or an hour) at a time: weighted shares hold over time, a team's rotation counts
only its own turns and is never steered by a stamp in the future, a duplicate goes to its
original's owner, Away until keeps its time, a lead assigned by hand counts toward Daily
capacity, and the why names whoever was skipped."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.plan import Plan
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import Table
from sheets import template

START = datetime(2026, 3, 2, 9, 0)  # a Monday, 09:00 on the sheet's clock
SALES = [("Ann", "1"), ("Bob", "1"), ("Cat", "1")]
WEIGHTED = [("Ann", "1"), ("Bob", "2"), ("Cat", "3")]
BY_WEIGHT = [["1", "", "", "", "Sales", "weighted"]]
EVERY_LEAD_TO_SALES = [["1", "", "", "", "Sales", "round robin"]]


class Sheet:
    """A sheet with the template's tabs, no leads yet, and the given Team and Routing."""

    def __init__(
        self,
        team: list[tuple[str, str]] | list[list[str]],
        routing: list[list[str]],
        **settings: str,
    ) -> None:
        tabs = template()
        tabs["Leads"] = Table(tabs["Leads"].header, [])
        members = [
            list(m) if len(m) > 2 else [m[0], "", "Sales", "yes", m[1], "", ""] for m in team
        ]
        tabs["Team"] = Table(tabs["Team"].header, members)
        tabs["Routing"] = Table(tabs["Routing"].header, routing)
        rows = {"Time zone": "UTC", "Date order": "DMY"} | {
            k.replace("_", " ").capitalize(): v for k, v in settings.items()
        }
        tabs["Settings"] = Table(["Key", "Value"], [[k, v] for k, v in rows.items()])
        self.backend = MemoryBackend(tabs)
        self.made = 0

    def arrive(self, count: int = 1, **cells: str) -> list[str]:
        """``count`` new leads typed in; each its own email unless ``cells`` give one."""
        added = []

        def edit(tabs: dict[str, Table]) -> None:
            leads = tabs["Leads"]
            for _ in range(count):
                self.made += 1
                values = {"First name": f"P{self.made}", "Email": f"p{self.made}@gmail.com"}
                row = [""] * len(leads.header)
                for header, value in (values | cells).items():
                    col = leads.col(header)
                    assert col is not None, header
                    row[col] = value
                leads.rows.append(row)
                added.append(values["First name"])

        self.backend.human(edit)
        return added

    def sync(self, now: datetime) -> Plan:
        snapshot = self.backend.read()
        plan = plan_sync(snapshot, now)
        apply(plan, self.backend, snapshot)
        return plan

    def set(self, tab: str, match: tuple[str, str], column: str, value: str) -> None:
        def edit(tabs: dict[str, Table]) -> None:
            table = tabs[tab]
            col, key = table.col(column), table.col(match[0])
            assert col is not None and key is not None
            for row in table.rows:
                if row[key] == match[1]:
                    row[col] = value

        self.backend.human(edit)

    def leads(self) -> list[dict[str, str]]:
        return self.backend.read().table("Leads").records()

    def owner(self, first_name: str) -> str:
        return next(r["Owner"] for r in self.leads() if r["First name"] == first_name)

    def why(self, first_name: str) -> str:
        lead = next(r["Lead ID"] for r in self.leads() if r["First name"] == first_name)
        history = self.backend.read().table("History").records()
        return next(h["Why"] for h in history if h["Lead ID"] == lead and h["Field"] == "Owner")


def days(count: int) -> list[datetime]:
    return [START + timedelta(days=d) for d in range(count)]


# --- 1. weighted shares hold over time --------------------------------------------------------


def test_weighted_shares_hold_at_one_lead_a_day() -> None:
    sheet = Sheet(
        [("Ann", "1"), ("Bob", "2"), ("Cat", "3")], [["1", "", "", "", "Sales", "weighted"]]
    )
    got = []
    for day in days(12):
        (name,) = sheet.arrive()
        sheet.sync(day)
        got.append(sheet.owner(name))
    assert Counter(got) == {"Ann": 2, "Bob": 4, "Cat": 6}
    assert got[0] == "Cat"  # a tie goes to the higher weight
    assert sheet.why("P1") == "Routing rule 1 (every lead) → Sales by weighted: Cat"


def test_weighted_shares_hold_at_two_leads_a_day() -> None:
    sheet = Sheet(
        [("Ann", "1"), ("Bob", "2"), ("Cat", "3")], [["1", "", "", "", "Sales", "weighted"]]
    )
    for day in days(12):
        sheet.arrive(2)
        sheet.sync(day)
    assert Counter(r["Owner"] for r in sheet.leads()) == {"Ann": 4, "Bob": 8, "Cat": 12}
    # and with many a day, as before
    sheet = Sheet(
        [("Ann", "1"), ("Bob", "2"), ("Cat", "3")], [["1", "", "", "", "Sales", "weighted"]]
    )
    sheet.arrive(1000)
    sheet.sync(START)
    assert Counter(r["Owner"] for r in sheet.leads()) == {"Ann": 167, "Bob": 333, "Cat": 500}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(weights=st.lists(st.integers(1, 5), min_size=2, max_size=4))
def test_weighted_shares_stay_within_ten_percent_over_weeks(weights: list[int]) -> None:
    """60 leads at one a day, one sync a day: each person's count is within 10 % of their
    weight's share, give or take the one lead that rounding to whole leads needs."""
    team = [(f"M{i}", str(w)) for i, w in enumerate(weights)]
    sheet = Sheet(team, BY_WEIGHT)
    for day in days(60):
        sheet.arrive()
        sheet.sync(day)
    got = Counter(r["Owner"] for r in sheet.leads())
    for name, weight in team:
        expected = 60 * int(weight) / sum(weights)
        assert abs(got[name] - expected) <= 0.1 * expected + 1, (got, weights)


# --- 2. a rotation counts only its own turns ----------------------------------------------------


def test_a_direct_rule_does_not_move_the_teams_rotation() -> None:
    routing = [["1", "Source", "equals", "VIP", "Ann", ""], ["2", "", "", "", "Sales", ""]]
    sheet = Sheet(SALES, routing)
    team_leads = []
    for day in days(30):
        sheet.arrive(1, Source="VIP")  # Ann's, directly, first in each sync
        team_leads += sheet.arrive(1)
        sheet.sync(day)
    assert Counter(sheet.owner(n) for n in team_leads) == {"Ann": 10, "Bob": 10, "Cat": 10}
    assert [sheet.owner(n) for n in team_leads[:4]] == ["Ann", "Bob", "Cat", "Ann"]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 2), st.booleans()), min_size=6, max_size=12
    )
)
def test_a_rotation_is_unaffected_by_direct_rules_and_future_stamps(
    plan: list[tuple[int, int, bool]],
) -> None:
    """Day by day: some VIP leads (to Ann directly), some team leads, and sometimes a person
    types a year far ahead into an Assigned at. The team's leads still go round in turn."""
    routing = [["1", "Source", "equals", "VIP", "Ann", ""], ["2", "", "", "", "Sales", ""]]
    sheet = Sheet(SALES, routing)
    team_leads: list[str] = []
    for day, (vip, rest, typo) in zip(days(len(plan)), plan, strict=True):
        sheet.arrive(vip, Source="VIP")
        team_leads += sheet.arrive(rest)
        sheet.sync(day)
        if typo:
            sheet.set("Leads", ("Lead ID", "L-00001"), "Assigned at", "2062-03-02 09:00")
    got = [sheet.owner(n) for n in team_leads]
    assert got == [["Ann", "Bob", "Cat"][i % 3] for i in range(len(got))]


# --- 3. a stamp in the future is reported and never steers the rotation --------------------------


def test_an_assigned_at_in_the_future_is_reported_and_steers_nothing() -> None:
    sheet = Sheet(SALES, EVERY_LEAD_TO_SALES)
    sheet.arrive(2)
    sheet.sync(START)  # Ann, Bob
    sheet.set("Leads", ("First name", "P2"), "Assigned at", "2062-03-02 09:00")  # a typo
    later = []
    for day in days(7)[1:]:
        later += sheet.arrive()
        plan = sheet.sync(day)
    assert [sheet.owner(n) for n in later] == ["Cat", "Ann", "Bob", "Cat", "Ann", "Bob"]
    status = next(r["Status"] for r in sheet.leads() if r["First name"] == "P2")
    assert status == "Assigned at: '2062-03-02 09:00' is in the future"
    (problem,) = [p for p in plan.problems if "future" in p.problem]
    assert problem.cell == "Leads!V3"
    assert "Time zone" in problem.hint


def test_a_time_zone_moved_back_does_not_freeze_the_rotation() -> None:
    """Three days on Tokyo's clock, then Settings says Los Angeles: the stamps written this
    morning in Tokyo are hours ahead of Los Angeles' clock, for the rest of its day."""
    tokyo, los_angeles = ZoneInfo("Asia/Tokyo"), ZoneInfo("America/Los_Angeles")
    sheet = Sheet(SALES, EVERY_LEAD_TO_SALES, time_zone="Asia/Tokyo")
    first = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo
    for day in range(3):
        sheet.arrive()
        sheet.sync((first + timedelta(days=day)).astimezone(tokyo))  # Ann, Bob, Cat
    sheet.set("Settings", ("Key", "Time zone"), "Value", "America/Los_Angeles")
    later = []
    for hour in range(1, 7):  # syncs an hour apart
        later += sheet.arrive()
        plan = sheet.sync((first + timedelta(days=2, hours=hour)).astimezone(los_angeles))
    assert Counter(sheet.owner(n) for n in later) == {"Ann": 2, "Bob": 2, "Cat": 2}
    assert any(
        p.problem == "Assigned at: '2026-03-04 09:00' is in the future" for p in plan.problems
    )


def test_a_future_stamp_is_told_by_real_time_in_the_hour_shown_twice() -> None:
    """Paris, the night clocks go back: at 02:15 of the second pass, 02:45 of the first pass
    is half an hour ago, and 02:30 of the second pass a quarter of an hour ahead."""
    sheet = Sheet(SALES, EVERY_LEAD_TO_SALES, time_zone="Europe/Paris")
    sheet.arrive(1, Owner="Ann", **{"Assigned at": "2026-10-25 02:45"})
    sheet.arrive(1, Owner="Bob", **{"Assigned at": "2026-10-25 02:30+01:00"})
    sheet.sync(datetime(2026, 10, 25, 1, 15, tzinfo=UTC))
    assert [r["Status"] for r in sheet.leads()] == [
        "OK",
        "Assigned at: '2026-10-25 02:30+01:00' is in the future",
    ]


# --- 4. a duplicate goes to its original's owner ------------------------------------------------


def test_a_duplicate_goes_to_the_owner_of_its_original() -> None:
    sheet = Sheet(SALES, EVERY_LEAD_TO_SALES)
    sheet.arrive(1, Email="jo@acme.example")  # A
    sheet.sync(START)
    sheet.arrive(1, Email="jo@acme.example")  # B: the same person again
    sheet.arrive(1, Email="sam@acme.example")  # C: the same company
    sheet.arrive(1)
    sheet.sync(START + timedelta(hours=1))
    assert [sheet.owner(n) for n in ("P1", "P2", "P3", "P4")] == ["Ann", "Ann", "Ann", "Bob"]
    assert sheet.why("P2") == "duplicate of L-00001 → Ann, who owns L-00001"


def test_duplicates_in_one_sync_follow_their_original() -> None:
    sheet = Sheet(SALES, EVERY_LEAD_TO_SALES)
    sheet.arrive(1)
    sheet.arrive(3, Email="jo@acme.example")
    sheet.sync(START)
    assert [sheet.owner(n) for n in ("P1", "P2", "P3", "P4")] == ["Ann", "Bob", "Bob", "Bob"]


def test_a_duplicate_that_arrived_first_waits_for_its_original() -> None:
    """Imported leads: the original (the lower Lead ID) was created after its duplicate. It is
    routed first all the same, so the duplicate follows it in this sync, not in the next."""
    team = [["Ann", "", "Sales", "yes", "1", "1", ""]]
    sheet = Sheet(team, EVERY_LEAD_TO_SALES)
    sheet.arrive(1, Email="jo@acme.example", **{"Lead ID": "L-00001", "Created at": "2026-03-02"})
    sheet.arrive(1, Email="jo@acme.example", **{"Lead ID": "L-00002", "Created at": "2026-03-01"})
    sheet.sync(START)
    assert [sheet.owner(n) for n in ("P1", "P2")] == ["Ann", "Ann"]
    assert not sheet.sync(START + timedelta(minutes=15))


def test_duplicates_are_routed_like_any_lead_when_the_setting_says_no() -> None:
    sheet = Sheet(SALES, EVERY_LEAD_TO_SALES, duplicates_to_original_owner="no")
    sheet.arrive(3, Email="jo@acme.example")
    plan = sheet.sync(START)
    assert [sheet.owner(n) for n in ("P1", "P2", "P3")] == ["Ann", "Bob", "Cat"]
    assert not [p for p in plan.problems if p.tab == "Settings"]


def test_a_duplicate_whose_original_owner_is_away_is_routed_and_says_why() -> None:
    sheet = Sheet(SALES, EVERY_LEAD_TO_SALES)
    sheet.arrive(1, Email="jo@acme.example")
    sheet.sync(START)  # Ann
    sheet.set("Team", ("Name", "Ann"), "Away until", "2026-03-06")
    sheet.arrive(1, Email="jo@acme.example")
    sheet.sync(START + timedelta(days=1))
    assert sheet.owner("P2") == "Bob"
    assert sheet.why("P2") == (
        "duplicate of L-00001, whose owner Ann is away until 2026-03-06; "
        "Routing rule 1 (every lead) → Sales by round robin: Bob"
    )


# --- 5. Away until's time, hand-assigned leads, who was skipped -------------------------------


def test_away_until_keeps_its_time() -> None:
    sheet = Sheet(SALES, EVERY_LEAD_TO_SALES)
    sheet.set("Team", ("Name", "Ann"), "Away until", "2026-03-02 08:00")
    sheet.arrive()
    sheet.sync(START)  # 09:00: Ann is back
    assert sheet.owner("P1") == "Ann"
    sheet.set("Team", ("Name", "Bob"), "Away until", "2026-03-02 10:30")
    sheet.arrive()
    sheet.sync(START + timedelta(hours=1))  # 10:00: Bob is not
    assert sheet.owner("P2") == "Cat"
    assert sheet.why("P2").endswith(": Cat (skipped: Bob is away until 2026-03-02 10:30)")


def test_leads_assigned_by_hand_count_toward_daily_capacity() -> None:
    team = [["Ann", "", "Sales", "yes", "1", "3", ""], ["Bob", "", "", "yes", "1", "", ""]]
    sheet = Sheet(team, [["1", "", "", "", "Ann", ""]], fallback_owner="Bob")
    sheet.arrive(3, Owner="Ann")  # typed in with their owner
    sheet.arrive(3)
    sheet.sync(START)
    assert Counter(r["Owner"] for r in sheet.leads()) == {"Ann": 3, "Bob": 3}
    assert sheet.why("P4") == (
        "Routing rule 1 (every lead); Ann is at daily capacity (3) → fallback owner Bob"
    )


def test_the_why_names_who_was_skipped() -> None:
    team = [
        ["Lukas", "", "EMEA", "yes", "1", "", "2026-03-05"],
        ["Sofia", "", "EMEA", "yes", "1", "", ""],
    ]
    sheet = Sheet(team, [["1", "", "", "", "EMEA", "round robin"]])
    for day in days(2):
        sheet.arrive(5)
        sheet.sync(day)
    whys = {sheet.why(f"P{i}") for i in range(1, 11)}
    assert whys == {
        "Routing rule 1 (every lead) → EMEA by round robin: Sofia "
        "(skipped: Lukas is away until 2026-03-05)"
    }
