"""The Nurture metric tab: per sequence and step, enrolled, sent, unsubscribed, replied or
meeting booked, moved to SQL and won, with their rates and a flag over the Settings'
Unsubscribe rate alert; computed by a whole sync from the History and Activities rows the
sequences and sent steps write (the contract of issue 19), in English and in French."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from sales_sheet import set_settings
from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.catalog import _ as say
from sheetcrm.engine.catalog import speaking
from sheetcrm.engine.nurture_metrics import COLUMNS, COUNTS
from sheetcrm.engine.schema import NO_DATA, NOT_COMPUTED, NURTURE
from sheetcrm.engine.setting_values import SettingError, percent
from sheetcrm.engine.settings_tab import sheet_language
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.files.templates import load_template
from sheets import NOW, human_edit, put_leads

T0 = datetime(2026, 11, 2, 9, 0)


class Log:
    """History and Activities rows as the sequences and sent steps write them, in order."""

    def __init__(self) -> None:
        self.history: list[list[str]] = []
        self.activities: list[list[str]] = []
        self.at = T0

    def _tick(self) -> str:
        self.at += timedelta(hours=1)
        return f"{self.at:%Y-%m-%d %H:%M}"

    def row(self, lead: str, field: str, to: str, by: str = "sheetcrm", old: str = "") -> Log:
        self.history.append([self._tick(), lead, field, old, to, by, ""])
        return self

    def enrol(self, lead: str, sequence: str) -> Log:
        return self.row(lead, "Sequence", sequence, sequence)

    def step(self, lead: str, sequence: str, n: int, sent: bool = True, by: str = "") -> Log:
        self.row(lead, "Sequence step", str(n), sequence, str(n - 1) if n > 1 else "")
        if sent:
            by = by or f"sequence {sequence}"
            self.activities.append([self._tick(), lead, "email", "sent", by, f"Step {n}", "", ""])
        return self

    def stop(self, lead: str, sequence: str, why: str) -> Log:
        return self.row(lead, "Sequence step", f"stopped: {why}", sequence)


def nurture_c(log: Log, name: str = "Nurture C", won: str = "Won") -> Log:
    """Six leads through a three-step sequence; worked out by hand in the tests below."""
    log.enrol("L-1", name).step("L-1", name, 1).step("L-1", name, 2)
    log.row("L-1", "Lifecycle", "SQL", old="MQL").stop("L-1", name, "stage SQL")
    log.row("L-1", "Stage", won, old="Prospecting")
    log.enrol("L-2", name).step("L-2", name, 1).stop("L-2", name, "unsubscribed")
    log.row("L-2", "Unsubscribed at", "2026-11-03 10:00")  # the same exit: counted once
    log.enrol("L-3", name).step("L-3", name, 1).step("L-3", name, 2).stop("L-3", name, "replied")
    log.enrol("L-4", name).step("L-4", name, 1, sent=False)  # planned, waiting in the outbox
    log.row("L-5", "Lifecycle", "SQL", old="MQL")  # before its enrolment: not the sequence's
    log.enrol("L-5", name)
    for n in (1, 2, 3):
        log.step("L-5", name, n)
    log.row("L-5", "Sequence step", "done", name, "3").row("L-5", "Stage", won)
    log.enrol("L-6", name).stop("L-6", name, "meeting booked")  # before its first e-mail
    log.row("L-6", "Sequence", "Stop", old=name)  # a person typed Stop: no enrolment
    log.activities.append(
        ["2026-11-04 10:00", "L-404", "email", "sent", f"sequence {name}", "", "", ""]
    )
    log.enrol("L-7", "Webinar").step("L-7", "Webinar", 1).stop("L-7", "Webinar", "unsubscribed")
    return log


def english_sheet(log: Log, settings: dict[str, str] | None = None) -> dict[str, Table]:
    tabs = load_template("b2b-en", now=NOW)
    won = {"L-1", "L-5"}
    put_leads(
        tabs,
        *(
            {
                "Lead ID": f"L-{i}",
                "Created at": "2026-11-01 09:00",
                "First name": f"Ann{i}",
                "Email": f"ann{i}@x.example",
                "Stage": "Won" if f"L-{i}" in won else "Prospecting",
                "Closed at": "2026-11-20" if f"L-{i}" in won else "",
            }
            for i in range(1, 8)
        ),
    )
    tabs["History"].rows[:] = log.history
    tabs["Activities"].rows[:] = log.activities
    set_settings(tabs, settings or {})
    return tabs


def nurture_tab(tabs: dict[str, Table], now: datetime = NOW) -> tuple[MemoryBackend, Table]:
    backend = MemoryBackend(tabs)
    sync_once(backend, now, now)
    return backend, backend.read().table(NURTURE.name)


def table_of(tab: Table) -> dict[tuple[str, str], dict[str, str]]:
    """The tab's rows by (Sequence, Step), each by column header."""
    rows = [tab.header, *tab.rows]
    start = next(i for i, r in enumerate(rows) if r[: len(COLUMNS)] == list(COLUMNS))
    out = {}
    for row in rows[start + 1 :]:
        if not row[0]:
            break
        out[(row[0], row[1])] = dict(zip(COLUMNS, row, strict=False))
    return out


def counts(row: dict[str, str]) -> list[int]:
    return [int(row[c]) for c in COUNTS]


def test_each_figure_per_sequence_and_step_worked_out_by_hand() -> None:
    _, tab = nurture_tab(english_sheet(nurture_c(Log())))
    assert tab.header[:5] == ["Nurture", "As of", "2026-11-23 10:00", "Period", "all time"]
    got = table_of(tab)
    assert list(got) == [
        ("Nurture C", "1"),
        ("Nurture C", "2"),
        ("Nurture C", "3"),
        ("Nurture C", "total"),
        ("Webinar", "1"),
        ("Webinar", "total"),
    ]
    # Enrolled, Sent, Unsubscribed, Replied or meeting booked, Moved to SQL, Won
    assert counts(got[("Nurture C", "1")]) == [5, 4, 1, 0, 0, 0]
    assert counts(got[("Nurture C", "2")]) == [3, 3, 0, 1, 1, 1]
    assert counts(got[("Nurture C", "3")]) == [1, 1, 0, 0, 0, 1]
    # L-6 replied before step 1 and L-404's e-mail names no lead: in the total only
    assert counts(got[("Nurture C", "total")]) == [6, 9, 1, 2, 1, 2]
    total = got[("Nurture C", "total")]
    assert float(total["Unsubscribe rate"]) == pytest.approx(1 / 6, abs=1e-6)
    assert float(total["Reply rate"]) == pytest.approx(2 / 6, abs=1e-6)
    assert float(total["SQL rate"]) == pytest.approx(1 / 6, abs=1e-6)
    assert float(total["Win rate"]) == pytest.approx(2 / 6, abs=1e-6)
    assert got[("Nurture C", "3")]["Unsubscribe rate"] == "0"
    assert counts(got[("Webinar", "total")]) == [1, 1, 1, 0, 0, 0]


def test_the_unsubscribe_rate_is_flagged_over_the_setting() -> None:
    _, tab = nurture_tab(english_sheet(nurture_c(Log())))
    flags = {k: r["Flag"] for k, r in table_of(tab).items()}
    assert flags[("Nurture C", "total")] == "high unsubscribe rate: 16.7 % (over 2 %)"
    assert flags[("Webinar", "1")] == "high unsubscribe rate: 100.0 % (over 2 %)"
    assert flags[("Nurture C", "2")] == ""  # 0 %
    _, tab = nurture_tab(english_sheet(nurture_c(Log()), {"Unsubscribe rate alert": "18 %"}))
    flags = {k: r["Flag"] for k, r in table_of(tab).items()}
    assert flags[("Nurture C", "total")] == ""  # 16.7 % is under 18 %
    assert flags[("Nurture C", "1")] == "high unsubscribe rate: 20.0 % (over 18 %)"


def test_a_sheet_that_never_used_a_sequence_says_so_and_a_second_sync_writes_nothing() -> None:
    backend, tab = nurture_tab(english_sheet(Log()))
    assert tab.rows[1][:2] == [
        "Sequences",
        f"{NO_DATA}: no lead enrolled in a sequence yet (Sequences tab)",
    ]
    plan, report = sync_once(backend, NOW + timedelta(minutes=5), NOW)
    assert not plan and not report.written


def test_a_new_enrolment_rewrites_the_tab_and_only_then() -> None:
    log = nurture_c(Log())
    backend, _ = nurture_tab(english_sheet(log))
    assert not sync_once(backend, NOW + timedelta(minutes=1), NOW)[0]
    extra = Log()
    extra.at = datetime(2026, 11, 23, 10, 2)
    extra.enrol("L-4", "Webinar")  # L-4 moved on from Nurture C to another sequence
    human_edit(backend, "History", lambda table: table.rows.extend(extra.history))
    later = NOW + timedelta(minutes=5)
    plan, _ = sync_once(backend, later, later)
    assert NURTURE.name in plan.replace
    got = table_of(backend.read().table(NURTURE.name))
    assert counts(got[("Webinar", "total")]) == [2, 1, 1, 0, 0, 0]
    assert counts(got[("Nurture C", "total")])[0] == 6  # its enrolment still counts there


def test_a_bad_alert_setting_is_a_problem_at_its_cell() -> None:
    backend, tab = nurture_tab(english_sheet(nurture_c(Log()), {"Unsubscribe rate alert": "lots"}))
    assert tab.rows[1][0].startswith(f"{NOT_COMPUTED}: a setting they need has a problem")
    problems = backend.read().table("Problems")
    said = [r for r in problems.rows if "'lots' is not a percentage" in " ".join(r)]
    assert said and "like 2 %" in " ".join(said[0])


@pytest.mark.parametrize(
    ("text", "share"), [("2 %", 0.02), ("2%", 0.02), ("2", 0.02), ("0.02", 0.02), ("2,5 %", 0.025)]
)
def test_the_alert_reads_percentages_as_people_type_them(text: str, share: float) -> None:
    assert percent(text) == pytest.approx(share)


@pytest.mark.parametrize("text", ["lots", "150 %", "-1"])
def test_an_alert_out_of_0_to_100_is_refused(text: str) -> None:
    with pytest.raises(SettingError):
        percent(text)


def test_a_french_sheet() -> None:
    """b2b-fr: French headers (ID du lead, Résultat, Par), stages (Gagné), the activity's
    French words (e-mail, envoyé, séquence), the flag said in French with a decimal comma."""
    tabs = load_template("b2b-fr", now=NOW)
    log = Log()
    name = "Relance C"
    log.enrol("L-1", name).step("L-1", name, 1, by=f"séquence {name}").step("L-1", name, 2)
    log.row("L-1", "Stage", "Gagné", old="Prospection")
    log.enrol("L-2", name).step("L-2", name, 1).stop("L-2", name, "unsubscribed")
    log.enrol("L-3", name).step("L-3", name, 1, sent=False)
    activities = tabs["Activities"]
    for row in log.activities:
        row[2], row[3] = "e-mail", "envoyé"
    put_leads(
        tabs,
        *(
            {
                "ID du lead": f"L-{i}",
                "Créé le": "2026-11-01 09:00",
                "Prénom": f"Ana{i}",
                "E-mail": f"ana{i}@x.example",
                "Étape": "Gagné" if i == 1 else "Prospection",
                "Clôturé le": "20/11/2026" if i == 1 else "",
            }
            for i in range(1, 4)
        ),
    )
    tabs["History"].rows[:] = log.history
    activities.rows[:] = [r[: len(activities.header)] for r in log.activities]
    tab = nurture_tab(tabs)[1]
    got = table_of(tab)
    assert counts(got[(name, "1")]) == [3, 2, 1, 0, 0, 0]
    assert counts(got[(name, "2")]) == [1, 1, 0, 0, 0, 1]
    assert counts(got[(name, "total")]) == [3, 3, 1, 0, 0, 1]
    # with the decimal comma of its Number format, in the language the sync speaks (b2b-fr's
    # Settings headers are French, which sheet_language does not read yet: English)
    with speaking(sheet_language(Snapshot(tabs))):
        said = say("high unsubscribe rate: %(rate)s (over %(alert)s)")
    assert got[(name, "total")]["Flag"] == said % {"rate": "33,3 %", "alert": "2 %"}
    with speaking("fr"):
        assert say("high unsubscribe rate: %(rate)s (over %(alert)s)").startswith("taux de")


def plain(log: Log) -> dict[tuple[str, str], list[int]]:
    """The counts one History row and one e-mail at a time, for the random sheets below."""
    episodes: list[dict] = []
    current: dict[str, dict] = {}
    for _, lead, field, _old, to, _by, _why in log.history:
        if field == "Sequence" and to != "Stop":
            current[lead] = {"seq": to, "lead": lead, "steps": [], "events": {}}
            episodes.append(current[lead])
            continue
        ep = current.get(lead)
        if ep is None:
            continue
        step = ep["steps"][-1] if ep["steps"] else 0
        if field == "Sequence step" and to.isdigit():
            ep["steps"].append(int(to))
            continue
        kind = {
            "stopped: unsubscribed": "Unsubscribed",
            "stopped: replied": "Replied or meeting booked",
            "stopped: meeting booked": "Replied or meeting booked",
        }.get(to if field == "Sequence step" else "")
        kind = kind or {("Lifecycle", "SQL"): "Moved to SQL", ("Stage", "Won"): "Won"}.get(
            (field, to)
        )
        if kind:
            ep["events"].setdefault(kind, step)
    out: dict[tuple[str, str], list[int]] = {}

    def add(key: tuple[str, str], column: str) -> None:
        out.setdefault(key, [0] * len(COUNTS))[COUNTS.index(column)] += 1

    planned: dict[tuple[str, str], list[int]] = {}
    for ep in episodes:
        add((ep["seq"], "total"), "Enrolled")
        for step in dict.fromkeys(ep["steps"]):
            add((ep["seq"], str(step)), "Enrolled")
        sent_once = planned.setdefault((ep["lead"], ep["seq"]), [])  # one e-mail per step
        sent_once += [s for s in dict.fromkeys(ep["steps"]) if s not in sent_once]
        for kind, step in ep["events"].items():
            add((ep["seq"], "total"), kind)
            if step:
                add((ep["seq"], str(step)), kind)
    seen: dict[tuple[str, str], int] = {}
    for _, lead, _t, _o, by, *_ in log.activities:
        seq = by.removeprefix("sequence ")
        add((seq, "total"), "Sent")
        k = seen.get((lead, seq), 0)
        seen[(lead, seq)] = k + 1
        steps = planned.get((lead, seq), [])
        if k < len(steps):
            add((seq, str(steps[k])), "Sent")
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_counts_match_a_plain_per_row_computation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    log = Log()
    for _ in range(400):
        lead = f"L-{rng.integers(1, 8)}"
        seq = str(rng.choice(["Nurture C", "Webinar", "Trial"]))
        roll = rng.random()
        if roll < 0.2:
            log.enrol(lead, seq)
        elif roll < 0.6:
            log.step(lead, seq, int(rng.integers(1, 5)), sent=bool(rng.random() < 0.8))
        elif roll < 0.8:
            log.stop(
                lead, seq, str(rng.choice(["unsubscribed", "replied", "meeting booked", "lost"]))
            )
        else:
            field, to = [("Lifecycle", "SQL"), ("Stage", "Won"), ("Lifecycle", "MQL")][
                rng.integers(3)
            ]
            log.row(lead, field, to)
    _, tab = nurture_tab(english_sheet(log))
    got = {k: counts(r) for k, r in table_of(tab).items()}
    # the sync's own stage step adds Stage rows (To Won for L-1 and L-5, seen this sync)
    expect = plain(log)
    assert pd.Series(got).index.sort_values().tolist() == sorted(expect)
    for key, values in expect.items():
        assert got[key][:5] == values[:5], key


def test_a_sequence_that_planned_nothing_yet_has_its_total_row_only() -> None:
    log = Log().enrol("L-2", "Solo").stop("L-2", "Solo", "replied")
    log.enrol("L-3", "Solo").step("L-3", "Solo", 1).step("L-3", "Solo", 1)  # planned twice
    got = table_of(nurture_tab(english_sheet(log))[1])
    assert counts(got[("Solo", "total")]) == [2, 2, 0, 1, 0, 0]
    assert counts(got[("Solo", "1")]) == [1, 1, 0, 0, 0, 0]  # one e-mail matched to step 1
