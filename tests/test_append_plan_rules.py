"""A flush plans its new rows as the whole sheet's plan would (intake/append_plan.py) on a
sheet whose rule tabs a manager broke, or a hostile post wrote: a Scoring typo, a Routing
rule naming nobody, a Team cell that is no number, Settings out of range, a stage twice, a
form mapped to a service column; and web leads whose values are formulas, control
characters, very long text, numbers past a float. The damage lands before the syncs (no
valid version of the tab ever) or after them (the last valid version kept on the state tab
applies), with a sync after it or not."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sales_sheet import set_settings
from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.schema import ALERTS, FORMS, LEADS, ROUTING, SCORING, STAGES, STATE, TEAM
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import Table
from sheetcrm.engine.validation import Memo
from sheetcrm.intake.append_plan import plan_appends
from sheetcrm.intake.batch import Arrival, plan_intake
from sheets import NOW, put_leads, template
from test_append_plan import arrivals, check_same, synced

Damage = Callable[[dict[str, Table]], None]


def _cell(tab: str, row: int, column: str, text: str) -> Damage:
    def edit(tabs: dict[str, Table]) -> None:
        table = tabs.get(tab)  # another damage may have taken it away
        if table is not None and table.rows and table.col(column) is not None:
            table.rows[row % len(table.rows)][table.col(column)] = text

    return edit


def _row(tab: str, *cells: str) -> Damage:
    def edit(tabs: dict[str, Table]) -> None:
        table = tabs.get(tab)
        if table is not None:
            table.rows.append([*cells, *[""] * (len(table.header) - len(cells))])

    return edit


def _drop(tab: str) -> Damage:
    return lambda tabs: tabs.pop(tab, None)  # type: ignore[return-value]


def _header(tab: str, old: str, new: str) -> Damage:
    def edit(tabs: dict[str, Table]) -> None:
        table = tabs.get(tab)
        if table is not None and old in table.header:
            table.header[table.header.index(old)] = new

    return edit


def _state(key: str, value: str) -> Damage:
    def edit(tabs: dict[str, Table]) -> None:
        state = tabs[STATE.name]
        state.rows[:] = [r for r in state.rows if r and r[0].casefold() != key] + [[key, value]]

    return edit


def _logged(tabs: dict[str, Table]) -> None:
    """Calls logged on a few leads, by e-mail (shared by duplicates) and by Lead ID."""
    leads, log = tabs.get(LEADS.name), tabs.get("Activities")
    if leads is None or log is None or leads.col("Email") is None:
        return
    for n, row in enumerate(leads.rows[:8]):
        key = row[leads.col("Email")] if n % 3 else row[leads.col("Lead ID")]
        at = f"2026-11-{22 + n % 2} 0{n}:30"
        log.rows.append([at, key, "call", "reached", "Maya Patel", "", f"2026-12-0{n + 1}", ""])


def _settings(**values: str) -> Damage:
    def edit(tabs: dict[str, Table]) -> None:
        table = tabs.get("Settings")
        if table is not None and table.col("Key") is not None and table.col("Value") is not None:
            set_settings(tabs, {k.replace("_", " "): v for k, v in values.items()})

    return edit


DAMAGES: dict[str, Damage] = {
    "scoring field typo": _cell(SCORING.name, 0, "Field", "Industy"),
    "scoring operator typo": _cell(SCORING.name, 2, "Operator", "at leest"),
    "scoring points not a number": _cell(SCORING.name, 5, "Points", "five"),
    "scoring points past a float": _cell(SCORING.name, 6, "Points", "1e309"),
    "scoring value not a number": _cell(SCORING.name, 2, "Value", "ten thousand"),
    "scoring bad regex": _cell(SCORING.name, 11, "Value", "^(info|sales@"),
    "scoring formula": _cell(SCORING.name, 1, "Value", '=HYPERLINK("http://x.example","a")'),
    "routing nobody": _cell(ROUTING.name, 1, "Assign to", "Nobody Here"),
    "routing bad operator": _cell(ROUTING.name, 0, "Operator", "within"),
    "routing bad strategy": _cell(ROUTING.name, 3, "Strategy", "whoever"),
    "routing order text": _cell(ROUTING.name, 4, "Order", "first"),
    "team capacity text": _cell(TEAM.name, 2, "Daily capacity", "lots"),
    "team capacity zero": _cell(TEAM.name, 3, "Daily capacity", "0"),
    "team away not a date": _cell(TEAM.name, 0, "Away until", "next week"),
    "team away today": _cell(TEAM.name, 3, "Away until", "2026-11-23"),
    "team active maybe": _cell(TEAM.name, 4, "Active", "maybe"),
    "team weight negative": _cell(TEAM.name, 2, "Weight", "-1"),
    "team name twice": _row(TEAM.name, "Maya Patel", "maya2@quillstack.example", "EMEA", "yes"),
    "stage twice": _row(STAGES.name, "Qualified", "open", "30", "10"),
    "stage type typo": _cell(STAGES.name, 5, "Type", "wonn"),
    "stage probability text": _cell(STAGES.name, 1, "Probability", "high"),
    "form to unknown column": _row(FORMS.name, "Budget", "Budgett"),
    "form to service column": _row(FORMS.name, "Score", "Score"),
    "form without field": _row(FORMS.name, "", "Email"),
    "win fields unknown": _settings(Win_probability_fields="Source, Budgett"),
    "win fields stage": _settings(Win_probability_fields="Stage, Owner, Amount band"),
    "win minimum low": _settings(Win_probability_minimum="2"),
    "win minimum text": _settings(Win_probability_minimum="many"),
    "language unknown": _settings(Language="klingon"),
    "language fr": _settings(Language="fr"),
    "sync every zero": _settings(Sync_every_minutes="0"),
    "sync every text": _settings(Sync_every_minutes="soon"),
    "sla negative": _settings(**{"First-touch_SLA_hours": "-3"}),
    "sla text": _settings(**{"First-touch_SLA_hours": "a day"}),
    "sla short, reassign": _settings(**{"First-touch_SLA_hours": "1", "Reassign_after_SLA": "yes"}),
    "reassign maybe": _settings(Reassign_after_SLA="maybe"),
    "fallback not on team": _settings(Fallback_owner="Nobody Here"),
    "fallback empty": _settings(Fallback_owner=""),
    "required unknown": _settings(Required_fields="Email, Budgett"),
    "required company": _settings(Required_fields="Company, Phone or Email"),
    "dedupe unknown": _settings(Dedupe_keys="email, name"),
    "dedupe phone": _settings(Dedupe_keys="phone"),
    "time zone unknown": _settings(Time_zone="Mars/Olympus"),
    "date order bad": _settings(Date_order="YMD"),
    "date order dmy": _settings(Date_order="DMY"),
    "number format bad": _settings(Number_format="roman"),
    "number format comma": _settings(Number_format="1.234,56"),
    "largest amount text": _settings(Largest_amount="plenty"),
    "largest amount small": _settings(Largest_amount="10"),
    "scores out of order": _settings(Min_score="90", Max_score="10"),
    "mql above sql": _settings(MQL_score="80", SQL_score="20"),
    "group cap negative": _settings(**{"Group_cap:_Engagement": "-15"}),
    "group cap text": _settings(**{"Group_cap:_Deal size": "x"}),
    "duplicates owner maybe": _settings(Duplicates_to_original_owner="perhaps"),
    "duplicates owner no": _settings(Duplicates_to_original_owner="no"),
    "unknown setting": _settings(Colour="blue"),
    "business hours bad": _settings(Business_hours="25:00-26:00"),
    "phone region bad": _settings(Default_phone_region="ZZ"),
    "setting twice": _row("Settings", "Fallback owner", "Maya Patel"),
    "stage requires unknown": _cell(STAGES.name, 1, "Required fields", "Budgett"),
    "alert to nobody": _cell(ALERTS.name, 0, "Send to", "Nobody Here"),
    "alert when typo": _cell(ALERTS.name, 0, "When", "lead assignd"),
    "alert to manager": _cell(ALERTS.name, 0, "Send to", "manager"),
    "routing on score": _row(ROUTING.name, "0", "Score", "at least", "30", "Maya Patel"),
    "routing on duplicate": _row(ROUTING.name, "0", "Duplicate of", "is not empty", "", "EMEA"),
    "routing on created": _row(ROUTING.name, "0", "Created at", "within last N days", "1", "EMEA"),
    "scoring on owner": _row(SCORING.name, "Mine", "Owner", "equals", "Maya Patel", "7"),
    "scoring on lead id": _row(SCORING.name, "Early", "Lead ID", "matches", "^L-0000", "3"),
    "scoring on stage": _row(SCORING.name, "Late", "Stage", "equals", "Proposal", "9"),
    # a person's edits of lead rows (after the syncs: not synced since, unless "synced")
    "lead owner lower case": _cell(LEADS.name, 3, "Owner", "maya patel"),
    "lead owner padded": _cell(LEADS.name, 4, "Owner", " Avery Chen "),
    "lead owner unknown": _cell(LEADS.name, 5, "Owner", "Nobody Here"),
    "lead owner cleared": _cell(LEADS.name, 6, "Owner", ""),
    "lead id cleared": _cell(LEADS.name, 7, "Lead ID", ""),
    "lead id copied": _cell(LEADS.name, 8, "Lead ID", "L-00001"),
    "lead id past int64": _cell(LEADS.name, 9, "Lead ID", "L-99999999999999999999"),
    "lead stage won padded": _cell(LEADS.name, 10, "Stage", " won "),
    "lead stage unknown": _cell(LEADS.name, 11, "Stage", "Closed"),
    "lead assigned odd": _cell(LEADS.name, 12, "Assigned at", "23/11/2026 09:00"),
    "lead assigned today": _cell(LEADS.name, 13, "Assigned at", "2026-11-23 09:30"),
    "lead created garbage": _cell(LEADS.name, 14, "Created at", "yesterday-ish"),
    "lead duplicate of nothing": _cell(LEADS.name, 15, "Duplicate of", "L-77777"),
    "lead amount past a float": _cell(LEADS.name, 16, "Amount", "1e309"),
    "lead email formula": _cell(LEADS.name, 17, "Email", '=HYPERLINK("mailto:a@b.example")'),
    "lead email shared": _cell(LEADS.name, 18, "Email", "p1@co0.example"),
    "activities logged": _logged,
    # whole tabs and headers gone or renamed, the hidden state tab edited
    **{f"no {tab} tab": _drop(tab) for tab in ("Team", "Routing", "Scoring", "Stages")},
    **{f"no {tab} tab": _drop(tab) for tab in ("Settings", "Alerts", "Problems", "History")},
    "leads stage renamed": _header(LEADS.name, "Stage", "Phase"),
    "leads owner renamed": _header(LEADS.name, "Owner", "Rep"),
    "leads email renamed": _header(LEADS.name, "Email", "Mail"),
    "team name renamed": _header(TEAM.name, "Name", "Who"),
    "settings value renamed": _header("Settings", "Value", "Val"),
    "state next id text": _state("next lead id", "many"),
    "state next id low": _state("next lead id", "1"),
    "state last good cut": _state("last good scoring 1/1", "eJzz"),
}

# what a form post may hold, as the Forms tab may map it to any column a person fills
HOSTILE = {
    "Email": ["a@@b", '=HYPERLINK("http://evil.example","x")', "ü@exämple.de", "x" * 400],
    "Phone": ["+1 (555) abc", "+999 1", "0", "📞 415 555 0101", "-0"],
    "Amount": ["1e309", "-0", "NaN", "inf", "-5", "12.500,5", "1,2,3", "٣٠٠٠", "9" * 40],
    "Company": ["=1+1", "@SUM(A1)", "\x00\x07\x1b[31m", "🏢 Co", "a\nb\r\nc", "x" * 60_000],
    "Country": ["france", "FR", "Deutschland", "=A1", "Unïted States"],
    "Industry": ["saas", " SaaS ", "Software\t"],
    "Source": ["Referral", "referral ", "+Referral", "Demo request"],
    "First name": ["\u202eevil", "Zoë", "", "-cmd|' /C calc'!A0"],
    "Stage": ["Won", "Lost", "Qualified", "Nope", "qualified "],
    "Owner": ["Maya Patel", "Nobody Here", "maya patel", "=Maya Patel"],
    "Created at": ["2026-02-30", "31/12/2026", "12/31/26", "tomorrow", "1e309", "2026-11-23"],
    "Next action date": ["2026-11-20", "yesterday", "00/00/0000"],
    "Last contact": ["2026-11-22", "2026-13-01"],
    "Lead ID": ["L-1", "L-00001", "=L-2", "L-99999999999999999999"],
    "Notes": ["x" * 70_000, '=IMPORTXML("http://x","//a")', "\ud83d"],
}


def hostile(rng: random.Random, batch: list[Arrival]) -> list[Arrival]:
    """The batch with some of its records' values replaced by hostile ones."""
    out = []
    for arrival in batch:
        record = dict(arrival.record)
        for _ in range(rng.choice([0, 0, 1, 2, 4])):
            column = rng.choice(sorted(HOSTILE))
            record[column] = rng.choice(HOSTILE[column])
        out.append(Arrival(arrival.key, record, arrival.received))
    return out


def damaged(leads: int, seed: int, pool: int, names: list[str], when: str) -> MemoryBackend:
    """``synced``'s sheet with ``names`` damaged: before its two syncs, or after them (with
    one more sync after the damage, or none)."""
    edit: Damage = lambda tabs: [DAMAGES[n](tabs) for n in names]  # noqa: E731
    if when == "before":
        return synced(leads, seed, pool, edit)
    backend = synced(leads, seed, pool)
    backend.human(edit)
    if when == "after, synced":
        snapshot = backend.read()
        apply(plan_sync(snapshot, NOW + timedelta(minutes=10)), backend, snapshot)
    return backend


def flush(seed, leads, count, pool, hours, names, when, warm) -> None:
    """A batch of hostile posts into the sheet ``damaged`` makes: planned as the whole
    sheet's plan would, or planned whole."""
    snapshot = damaged(leads, seed, pool, names, when).read()
    rng = random.Random(seed + 1)
    batch = hostile(rng, arrivals(rng, snapshot, count, pool))
    now = NOW + timedelta(hours=hours)
    memo = Memo() if warm else None
    if memo is not None:  # the service's: the last sync's checks, kept between syncs
        plan_sync(snapshot, NOW + timedelta(minutes=20), memo)
    if plan_appends(snapshot, batch, now, memo) is not None:  # else planned whole, as before
        check_same(snapshot, batch, now, memo)


CASES = {
    "seed": st.integers(0, 10_000),
    "leads": st.integers(0, 80),
    "count": st.integers(1, 20),
    "pool": st.integers(3, 40),
    "when": st.sampled_from(["before", "after", "after, synced"]),
    "warm": st.booleans(),
}
AFTER = {"when": "after", "warm": False}  # damaged since the last sync
WARM = {"when": "after", "warm": True}
damages = st.lists(st.sampled_from(sorted(DAMAGES)), min_size=1, max_size=4, unique=True)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hours=st.sampled_from([1, 5, 30]), names=damages, **CASES)
# found by these tests: a new row posting a Lead ID a row left out holds kept it
@example(seed=3405, leads=39, count=7, pool=18, hours=5, names=["team weight negative"], **AFTER)
# a French sheet: the win step's shortfall said in English; a phone's problem kept in the
# service's memo in English, then read by the plan
@example(seed=6311, leads=68, count=16, pool=5, hours=5, names=["language fr"], **AFTER)
@example(seed=6517, leads=72, count=13, pool=14, hours=30, names=["language fr"], **WARM)
# the hint of an unknown stage joined every row's: one left out had its own (stages.py)
@example(
    seed=7520,
    leads=45,
    count=14,
    pool=27,
    hours=30,
    names=["lead stage unknown", "team away not a date"],
    **WARM,
)
# every new row posts an ID of its own: the State tab is left as it is, by both plans
@example(
    seed=7073,
    leads=51,
    count=2,
    pool=15,
    hours=5,
    names=["activities logged", "fallback not on team", "routing nobody", "lead assigned today"],
    when="before",
    warm=True,
)
def test_broken_rule_tabs_and_hostile_posts_are_planned_as_the_whole_sheet_would(
    seed, leads, count, pool, hours, names, when, warm
):
    flush(seed, leads, count, pool, hours, names, when, warm)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hours=st.sampled_from([1, 30, 100]), names=damages, **CASES)
# activities logged since the last sync moved the Last contact, and Grade, of closed leads
@example(seed=6623, leads=53, count=6, pool=26, hours=30, names=["fallback empty"], **AFTER)
def test_the_win_step_learns_from_closed_leads_as_the_sync_leaves_them(
    seed, leads, count, pool, hours, names, when, warm
):
    """A few closed leads are enough to learn from: their Grade is the one the score step
    gives now (activities logged since the last sync, a lead past "within last 7 days",
    a rule edited), not the one the sheet shows."""
    names = ["win minimum low", "activities logged", *names]
    flush(seed, leads, count, pool, hours, names, when, warm)


def closed_deals(tabs: dict[str, Table]) -> MemoryBackend:
    """Sixty closed demo requests from the United States: those of a week ago won, those of
    yesterday lost; each graded A ("Hot inbound": created within the last 7 days)."""
    rows = []
    for n in range(60):
        row = {"Email": f"p{n}@co{n}.example", "Company": f"Co {n}", "Stage": "Won"}
        row.update(Country="United States", Industry="SaaS", Source="Demo request")
        row.update(Amount="12000", Phone=f"+1 415 555 {n:04d}", Owner="Jordan Lee")
        if n % 2:
            row.update(Stage="Lost", **{"Created at": "2026-11-22 14:00"})
        else:
            row["Created at"] = "2026-11-16 11:00"
        rows.append(row)
    put_leads(tabs, *rows)
    backend = MemoryBackend(tabs)
    snapshot = backend.read()
    apply(plan_sync(snapshot, NOW), backend, snapshot)
    return backend


def test_the_win_step_learns_from_the_grades_a_sync_would_give_now():
    """Two days after the sync, the won deals are past "within last 7 days": the whole plan
    grades them B and learns that A leads are lost; the sheet still shows A everywhere."""
    snapshot = closed_deals(template()).read()
    assert set(snapshot.table(LEADS.name).column("Grade")) == {"A"}
    record = {"Email": "z@zz.example", "Company": "Zz", "Country": "United States"}
    record.update(Industry="SaaS", Source="Demo request", Amount="12000", Phone="+14155559999")
    now = NOW + timedelta(days=2)
    part = check_same(snapshot, [Arrival("k1", record, now)], now)
    assert part.plan.appends[0]["Grade"] == "A"
    assert int(part.plan.appends[0]["Win probability"]) < 10  # not the sheet's 50 %


def test_an_activity_naming_a_new_rows_email_is_the_older_leads():
    """Dedupe keys without email: the lead of the sheet with a new row's e-mail is no
    duplicate of it, but an activity naming that e-mail is the older lead's, not the new."""
    tabs = template()
    lead = {"Email": "ann@acme.example", "Company": "Acme", "Owner": "Jordan Lee"}
    put_leads(tabs, {**lead, "Stage": "Qualified", "Created at": "2026-11-01 09:00"})
    set_settings(tabs, {"Dedupe keys": "phone"})
    backend = MemoryBackend(tabs)
    snapshot = backend.read()
    apply(plan_sync(snapshot, NOW), backend, snapshot)
    call = ["2026-11-23 10:30", "ann@acme.example", "call", "reached", "Jordan Lee", "", "", ""]
    backend.human(lambda tabs: tabs["Activities"].rows.append(call))
    record = {"Email": "ann@acme.example", "Company": "Acme", "Phone": "+1 415 555 0100"}
    now = NOW + timedelta(hours=1)
    part = check_same(backend.read(), [Arrival("k1", record, now)], now)
    assert part.plan.appends[0]["Last contact"] == ""


def test_a_win_step_reading_duplicates_is_planned_whole():
    """A Scoring rule on Duplicate of, and Grade learned from: which lead a closed one
    duplicates is told by the leads of the whole sheet, so the flush plans it whole."""
    tabs = template()
    tabs[SCORING.name].rows.append(["Repeat", "Duplicate of", "is not empty", "", "-20"])
    set_settings(tabs, {"Win probability minimum": "2"})
    backend = closed_deals(tabs)
    # since the sync, a won deal holds the e-mail of a lost one before it: a duplicate now
    backend.human(_cell(LEADS.name, 2, "Email", "p1@co1.example"))
    snapshot = backend.read()
    batch = [Arrival("k1", {"Email": "z@zz.example", "Company": "Zz"}, NOW)]
    assert plan_appends(snapshot, batch, NOW) is None
    assert plan_intake(snapshot, batch, NOW).plan.appends[0]["Win probability"]
