"""Win probability benchmark: learn, predict (with reasons) and evaluate on 100,000 leads.

Target (issue 16): <= 1 s for train + predict + the Scoring check's evaluation, vectorised.
The leads are synthetic and seeded (no data set needed): Source, Country, Industry, Amount
and Grade drawn at random, 60 % of the leads closed over two years, won with a chance that
depends on Source and Amount. Timed: ``learn`` on the closed leads; ``estimate`` and
``reasons`` for the open ones (what the sync's ``win`` step does); ``evaluate`` (the Scoring
check: the out-of-time split, the rule Score's check, a second model learned before the
cut-off and checked after it); each the median of ``--repeat`` runs.
Run: .venv/bin/python bench/win.py [--leads 100000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import datetime

import numpy as np
import pandas as pd

from leads import machine
from peak import peak_mb
from sheetcrm.engine.config import parse_config
from sheetcrm.engine.scoring_check import evaluate
from sheetcrm.engine.table import Snapshot
from sheetcrm.engine.win import columns, estimate, known_fields, learn, outcomes, reasons
from sheetcrm.files.templates import load_template

NOW = datetime(2026, 11, 23, 10, 0)
SOURCES = {"Referral": 1.2, "Partner": 0.8, "Demo request": 0.6, "Website": 0.0}
SOURCES |= {"Webinar": -0.4, "Trade show": -0.2, "Cold call": -1.0, "": -0.5}


def pipeline(n: int, seed: int = 16) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    source = rng.choice(list(SOURCES), n)
    amount = np.round(rng.lognormal(9, 1.2, n), -2)
    logit = np.vectorize(SOURCES.get)(source) + 0.3 * (np.log1p(amount) - 9) - 0.3
    closed = rng.random(n) < 0.6
    won = rng.random(n) < 1 / (1 + np.exp(-logit))
    stage = np.where(closed, np.where(won, "Won", "Lost"), "Qualified")
    at = np.datetime64("2024-11-23T00:00") + rng.integers(0, 730 * 1440, n).astype("m8[m]")
    closed_at = np.where(closed, np.datetime_as_string(at, unit="m"), "")
    return pd.DataFrame(
        {
            "Source": source.astype(object),
            "Country": rng.choice([f"Country {i}" for i in range(20)], n).astype(object),
            "Industry": rng.choice([f"Industry {i}" for i in range(12)], n).astype(object),
            "Amount": amount.astype(int).astype(str).astype(object),
            "Grade": rng.choice(list("ABCD"), n).astype(object),
            "Score": rng.integers(0, 100, n).astype(str).astype(object),
            "Stage": stage.astype(object),
            "Closed at": np.char.replace(closed_at.astype(str), "T", " ").astype(object),
        }
    )


CPU: list[float] = []  # each phase's median processor time: what a busy machine inflates less


def timed(work: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, cpu, result = [], [], None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = work()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    CPU.append(statistics.median(cpu))
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    config = parse_config(Snapshot(load_template(now=NOW)))
    data = pipeline(args.leads)
    fields, _missing = known_fields(config.settings["Win probability fields"], list(data))
    amounts = data["Amount"].astype(float).to_numpy()
    closed_at = pd.to_datetime(data["Closed at"]).to_numpy()
    closed, won = outcomes(data["Stage"], config.stages)
    is_open = ~closed

    def train() -> object:
        return learn(data[closed], list(fields), amounts[closed], won[closed])

    train_s, learned = timed(train, args.repeat)

    def predict() -> np.ndarray:
        rows = data[is_open]
        prediction = estimate(learned, rows, amounts[is_open])  # type: ignore[arg-type]
        values = columns(rows, list(fields), amounts[is_open], learned.edges)  # type: ignore[attr-defined]
        return reasons(prediction, values, fields)

    predict_s, why = timed(predict, args.repeat)
    evaluate_s, (_cut, rule, check) = timed(
        lambda: evaluate(data, config, closed_at, amounts), args.repeat
    )
    total = train_s + predict_s + evaluate_s
    print(
        f"{args.leads:,} leads, {int(closed.sum()):,} closed: learn {train_s:.3f} s, "
        f"predict with reasons {predict_s:.3f} s ({len(set(why)):,} distinct reasons), "
        f"evaluate {evaluate_s:.3f} s; total {total:.3f} s (processor time {sum(CPU):.3f} s)"
    )
    print(f"rule score: {rule.verdict}; win probability: {check.verdict}, AUC {check.auc:.3f}")
    print(
        json.dumps(
            {
                "bench": "win",
                "memory": peak_mb(),
                "leads": args.leads,
                "closed": int(closed.sum()),
                "train_s": round(train_s, 3),
                "predict_with_reasons_s": round(predict_s, 3),
                "evaluate_s": round(evaluate_s, 3),
                "total_s": round(total, 3),
                "total_cpu_s": round(sum(CPU), 3),
                "auc": round(check.auc, 3),
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
