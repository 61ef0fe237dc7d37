"""The learned Win probability and the Scoring check tab, through real syncs of the template
with generated closed leads, and the evaluation's formulas against counting by hand."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest

from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.win_check import (
    FLOOR,
    NO_SIGNAL,
    SIGNAL,
    auc,
    check,
    hanley_mcneil,
    top_decile_lift,
)
from sheetcrm.engine.win_model import amount_bands, band_edges, fit, predict
from sheets import NOW, put_leads, template

SOURCES = {"Referral": 0.75, "Webinar": 0.2, "Website": 0.45}  # chance to win


def leads(closed: int, seed: int = 7, open_sources: tuple[str, ...] = ("Referral", "Webinar")):
    """``closed`` won or lost leads, closed over the year, won by their Source's chance; then
    one open lead per source of ``open_sources``."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(closed):
        source = list(SOURCES)[i % len(SOURCES)]
        won = rng.random() < SOURCES[source]
        day = 1 + i * 300 // max(closed, 1)
        rows.append(
            {
                "First name": f"P{i}",
                "Email": f"p{i}@example.com",
                "Source": source,
                "Country": str(rng.choice(["France", "Germany", "Spain"])),
                "Amount": str(int(rng.integers(1, 50)) * 1000),
                "Stage": "Won" if won else "Lost",
                "Created at": "2026-01-01 09:00",
                "Closed at": str(np.datetime64("2026-01-01") + np.timedelta64(day, "D")) + " 12:00",
            }
        )
    for j, source in enumerate(open_sources):
        rows.append(
            {
                "First name": f"Open{j}",
                "Email": f"open{j}@example.com",
                "Source": source,
                "Country": "France",
                "Stage": "Qualified",
            }
        )
    return rows


def synced(rows, settings: dict[str, str] | None = None):
    tabs = template()
    put_leads(tabs, *rows)
    table = tabs["Settings"]
    for key, value in (settings or {}).items():
        row = next(r for r in table.rows if r[0] == key)
        row[1] = value
    backend = MemoryBackend(tabs)
    plan, _written = sync_once(backend, NOW, NOW)
    return backend, plan


def by_name(backend, column: str) -> dict[str, str]:
    table = backend.tabs["Leads"]
    return {r[table.col("First name")]: r[table.col(column)] for r in table.rows}


def check_rows(backend) -> dict[str, list[str]]:
    table = backend.tabs["Scoring check"]
    return {r[0]: r for r in [table.header, *table.rows] if r and r[0]}


def test_open_leads_get_a_probability_learned_from_the_closed_ones():
    backend, _plan = synced(leads(300))
    chance = by_name(backend, "Win probability")
    why = by_name(backend, "Win reasons")
    referral, webinar = int(chance["Open0"]), int(chance["Open1"])
    assert 50 < referral < 99 and 1 < webinar < 40 and referral > webinar + 30
    assert why["Open0"].startswith("Source=Referral +")
    assert why["Open1"].startswith("Source=Webinar −")
    assert chance["P0"] == "" and why["P0"] == ""  # closed: its outcome is known
    # deterministic: a second sync plans no write to either column
    plan, _ = sync_once(backend, NOW, NOW)
    assert not [w for w in plan.writes if w.column in ("Win probability", "Win reasons")]


def test_below_the_minimum_the_column_says_how_many_closed_leads_there_are():
    backend, _plan = synced(leads(12))
    assert by_name(backend, "Win probability")["Open0"] == (
        "not enough history (12 closed, 40 needed)"
    )
    backend, _plan = synced(leads(12), {"Win probability minimum": "10"})
    assert by_name(backend, "Win probability")["Open0"].isdigit()


def test_a_field_naming_no_column_is_a_problem_at_its_settings_cell():
    backend, plan = synced(leads(60), {"Win probability fields": "Sourse, Country"})
    found = [p for p in plan.problems if "Win probability fields" in p.problem]
    assert found and found[0].tab == "Settings" and found[0].cell.startswith("Settings!B")
    assert "Sourse" in found[0].problem and "'Source'" in found[0].hint
    assert by_name(backend, "Win probability")["Open0"] == ""  # left as it was


def test_a_value_seen_once_does_not_swing_the_probability():
    won = np.array([True, False] * 50 + [True])
    source = np.array(["Web"] * 100 + ["Fair"], dtype=object)
    model = fit({"Source": source}, won)
    chance = predict(model, {"Source": np.array(["Fair", "Web", "Unseen"], dtype=object)})
    fair, web, unseen = chance.probability
    assert 0.5 < fair < 0.75  # one win in one: smoothed to 2/3 of the odds, then shrunk
    assert unseen == pytest.approx(web, abs=0.02)  # a value never seen says nothing


def test_amount_bands_cut_at_rounded_quartiles():
    amounts = np.array([1000.0, 4900, 5100, 12000, 20000, 21000, 80000, np.nan])
    edges = band_edges(amounts)
    assert list(edges) == [5000.0, 12000.0, 20000.0]  # 5000, 12000, 20500 to 2 digits
    bands = amount_bands(amounts, edges)
    assert list(bands[:4]) == ["under 5000", "under 5000", "5000–12000", "12000–20000"]
    assert bands[-1] == "" and bands[-2] == "20000 and over"


def test_the_probability_is_calibrated_on_leads_it_did_not_learn_from():
    rng = np.random.default_rng(3)
    n = 20000
    a, b = rng.integers(0, 6, n), rng.integers(0, 4, n)
    truth = 1 / (1 + np.exp(-(a - 2.5) * 0.6 - (b - 1.5) * 0.4))
    won = rng.random(n) < truth
    cols = {"A": a.astype(str).astype(object), "B": b.astype(str).astype(object)}
    half = n // 2
    model = fit({k: v[:half] for k, v in cols.items()}, won[:half])
    p = predict(model, {k: v[half:] for k, v in cols.items()}).probability
    result = check(p, won[half:])
    deciles = result.deciles
    gap = np.abs(deciles["Mean"] - deciles["Win rate"]).max()
    assert gap < 0.05, deciles


def test_auc_is_the_share_of_won_lost_pairs_ranked_right_ties_half():
    rng = np.random.default_rng(1)
    score = rng.integers(0, 5, 60).astype(float)
    won = rng.random(60) < 0.4
    pairs = [1.0 if s > t else 0.5 if s == t else 0.0 for s, t in product(score[won], score[~won])]
    assert auc(score, won) == pytest.approx(np.mean(pairs))


def test_hanley_mcneil_standard_error_at_chance():
    # A = 0.5: Q1 = Q2 = 1/3, so SE^2 = (1/4 + 49/12 + 49/12) / 2500
    assert hanley_mcneil(0.5, 50, 50) == pytest.approx(np.sqrt((0.25 + 98 / 12) / 2500))


def test_top_decile_lift_counts_a_tie_at_its_own_win_rate():
    won = np.array([True, False] * 50)
    assert top_decile_lift(np.zeros(100), won) == pytest.approx(1.0)  # all tied: no lift
    score = np.arange(100.0)
    assert top_decile_lift(score, score >= 90) == pytest.approx(10.0)


def test_no_signal_below_the_floor_or_with_a_blind_score():
    rng = np.random.default_rng(2)
    won = rng.random(FLOOR - 1) < 0.5
    assert check(rng.random(FLOOR - 1), won).verdict == NO_SIGNAL
    half = np.arange(2000)
    won = (half // 2) % 2 == 1
    blind = check((half % 2).astype(float), won)  # each score: half won, half lost
    assert blind.verdict == NO_SIGNAL and not blind.shown and blind.bands.empty
    seeing = check(won + rng.random(2000) * 1.5, won)
    assert seeing.verdict == SIGNAL and len(seeing.bands) == 5


def test_the_scoring_check_tab_says_no_signal_under_the_floor_and_shows_no_percentage():
    backend, _plan = synced(leads(120))
    rows = check_rows(backend)
    tested = rows["Tested on"][1]  # closed on or after the 75th percentile of Closed at
    assert 30 <= int(tested) <= 32 and int(
        rows["Learned from (before the cut-off)"][1]
    ) == 120 - int(tested)
    assert rows["Rule score"][1:3] == ["no signal", f"{tested} closed leads tested, 100 needed"]
    assert rows["Win probability"][1] == "no signal"
    assert "AUC" not in rows and not any("%" in c or "Band" in c for r in rows.values() for c in r)


def test_the_scoring_check_tab_shows_the_evaluation_of_a_probability_with_signal():
    backend, _plan = synced(leads(1200))
    rows = check_rows(backend)
    assert 890 <= int(rows["Learned from (before the cut-off)"][1]) <= 900
    assert rows["Win probability"][1] == "separates won from lost"
    assert rows["Rule score"][1] == "no signal"  # the template's rules see no Source
    assert 0.6 < float(rows["AUC"][1]) < 0.8
    low, high = float(rows["AUC, 95% interval"][1]), float(rows["AUC, 95% interval"][2])
    assert 0.5 < low < float(rows["AUC"][1]) < high
    assert "Calibration by decile: predicted vs actual" in rows
    assert "Win probability: win rate by band (quintiles)" in rows


def test_the_scoring_check_says_why_the_probability_is_not_checked():
    backend, _plan = synced(leads(30))
    row = check_rows(backend)["Win probability"]
    learned = int(check_rows(backend)["Learned from (before the cut-off)"][1])
    assert row[1:3] == ["not checked", f"not enough history ({learned} closed, 40 needed)"]
