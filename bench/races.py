"""Issue 22's race harness, long form: a person edits the Google Sheet between two requests of a
sync or a flush, on a bigger sheet, several edits at once, at random boundaries.

tests/test_races.py makes each of six edits alone at every request boundary, on the template's
53 leads. This runs its harness (``_start``, ``_expected``, ``_race`` and so ``_check``: every
value on its own lead by e-mail, no existing Lead ID moved, what was put back said on Problems,
each web-form lead in the sheet once) on ``--leads`` bench leads (bench/leads.py) plus the
test's three new rows and changed Scoring rule. Each round draws from a generator seeded with
``--seed`` and its number: a sync or a flush, one boundary among that run's requests, and one
to ``--max-edits`` edits made together there, each at random places (a sort by one of several
columns, either way; rows inserted or deleted anywhere; two rows swapped; a person column
renamed; a person cell typed over).

Two checks the test does not make:
- each web-form lead of a flush holds what a clean flush gives it (the test leaves them out);
- the clean runs the test takes as the truth, on the stand-in, give every lead what the same
  run gives on the memory backend, which writes atomically.

    .venv/bin/python bench/races.py --leads 2000 --rounds 40 --seed 1
    .venv/bin/python bench/races.py --leads 2000 --seed 1 --round 17    # one round again

Everything runs in this process, against the local Sheets stand-in on loopback. A line a round
goes to stdout; the last line is one JSON object. The exit status is 1 when any check failed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leads import machine, require_data, snapshot
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.emulator.grid import Sheet
from sheetcrm.engine.landing import MOVED
from sheetcrm.engine.schema import LEADS, PROBLEMS, service_columns
from sheetcrm.engine.table import Snapshot, Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT / "tests"))
from peak import peak_mb  # noqa: E402
from sheets import emulator  # noqa: E402
from test_races import (  # noqa: E402
    EDITS,
    WEB_LEADS,
    Expected,
    _a1,
    _after_edit,
    _by_email,
    _expected,
    _race,
    _requests_of,
    _run,
    _start,
    _swap_rows,
)

KINDS = ("sync", "flush")
SORT_BY = ("Email", "Company", "Country", "Stage", "Score", "Lead ID")
RENAMED = {"Notes": "Comments", "Expected close": "Close date", "Last contact": "Last call"}
PERSON_VALUES = {
    "Industry": ("Healthcare", "Finance Management", "Retail", ""),
    "Country": ("India", "United States", "Germany", ""),
    "Stage": ("Qualified", "Won", "Lost", "Prospecting"),
    "Amount": ("125000", "0", ""),
}
UNREPAIRED = "landed elsewhere"  # Problems' words for a lead whose cells were not put back


@dataclass
class Edit:
    name: str  # one of the test's EDITS
    label: str  # what it did, with its places
    apply: Callable[[Sheet], None]


def draw_edit(name: str, rng: random.Random, rows: int) -> Edit:
    """``name``'s edit at random places; ``rows`` counts the sheet's rows, header included."""
    if name == "sort":
        column, descending = rng.choice(SORT_BY), rng.random() < 0.5
        label = f"sort by {column}{' descending' if descending else ''}"
        return Edit(name, label, lambda s: s.sort_rows(column, descending))
    if name == "insert":
        at, count = rng.randrange(1, rows + 1), rng.randint(1, 3)
        return Edit(
            name,
            f"insert {count} row{'s' if count > 1 else ''} at row {at + 1}",
            lambda s: s.insert_rows(at, count),
        )
    if name == "delete":
        at = rng.randrange(1, rows)
        return Edit(name, f"delete row {at + 1}", lambda s: s.delete_rows(at))
    if name == "swap-new":
        if rng.random() < 0.5:
            return Edit(name, "swap the first and last new rows", EDITS[name])
        a, b = rng.sample(range(1, rows), 2)
        return Edit(name, f"swap rows {a + 1} and {b + 1}", lambda s: _swap_within(s, a, b))
    if name == "rename-header":
        old = rng.choice(sorted(RENAMED))
        return Edit(name, f"rename {old} to {RENAMED[old]}", lambda s: _rename(s, old))
    if name == "edit-person":
        column = rng.choice(sorted(PERSON_VALUES))
        row, value = rng.randrange(1, rows), rng.choice(PERSON_VALUES[column])
        label = f"{column} on row {row + 1} := {value!r}"
        return Edit(name, label, lambda s: _type(s, row, column, value))
    raise ValueError(name)


def _swap_within(sheet: Sheet, a: int, b: int) -> None:
    last = len(sheet.values()) - 1  # a row deleted first may leave fewer rows
    _swap_rows(sheet, min(a, last), min(b, last))


def _rename(sheet: Sheet, old: str) -> None:
    header = sheet.values()[0]
    sheet.set_values(_a1(header.index(old), 0), [[RENAMED[old]]])


def _type(sheet: Sheet, row: int, column: str, value: str) -> None:
    sheet.set_values(_a1(sheet.values()[0].index(column), row), [[value]])


def combined(edits: list[Edit]) -> Callable[[Sheet], None]:
    """The edits one after the other, between the same two requests."""

    def edit(sheet: Sheet) -> None:
        for one in edits:
            one.apply(sheet)

    return edit


@dataclass
class Round:
    kind: str
    boundary: int
    edits: list[Edit]

    def describe(self) -> str:
        return " + ".join(e.label for e in self.edits)


def draw_round(seed: int, number: int, requests: dict[str, int], rows: int, most: int) -> Round:
    """Round ``number`` of ``seed``: the same whatever rounds run before it, for replays."""
    rng = random.Random(f"{seed}:{number}")
    kind = rng.choice(KINDS)
    names = rng.sample(sorted(EDITS), rng.randint(1, most))
    return Round(kind, rng.randrange(requests[kind]), [draw_edit(n, rng, rows) for n in names])


def on_memory(
    kind: str, start: dict[str, Table], edit: Callable[[Sheet], None] | None, folder: Path
) -> dict[str, dict[str, str]]:
    """Per lead, what the run gives on the memory backend, which writes atomically: what the
    sync or flush means to write, on the sheet as the person left it."""
    tabs = dict(start)
    if edit is not None:
        tabs[LEADS.name] = _after_edit(start, edit)
    memory = MemoryBackend(tabs)
    _run(kind, memory, folder)
    return _by_email(memory.read().table(LEADS.name))


def same_as_memory(
    stand_in: dict[str, dict[str, str]], memory: dict[str, dict[str, str]], what: str
) -> None:
    """The test takes the stand-in's clean runs as the truth; this checks them."""
    assert set(stand_in) == set(memory), (
        f"{what}: leads differ from the memory backend's: {sorted(set(stand_in) ^ set(memory))[:5]}"
    )
    for lead, row in stand_in.items():
        for column in service_columns():
            got, want = row.get(column, ""), memory[lead].get(column, "")
            assert got == want, (
                f"{what}: {lead} {column}={got!r}, the memory backend gives {want!r}"
            )


def web_leads_checked(after: Snapshot, expected: Expected, where: str) -> None:
    """The test's check leaves the web-form leads out (they are not in the sheet before):
    each must hold what a clean flush gives it too."""
    for lead, row in _by_email(after.table(LEADS.name)).items():
        if row["Email"] not in {email for email, _ in WEB_LEADS}:
            continue
        for column in service_columns():
            if column in ("Lead ID", "Status", "Created at"):
                continue
            allowed = {
                expected.clean_before.get(lead, {}).get(column, ""),
                expected.clean_after.get(lead, {}).get(column, ""),
            }
            assert row.get(column, "") in allowed, (
                f"{where}: web lead {lead} {column}={row.get(column, '')!r}, "
                f"expected one of {sorted(allowed)}"
            )


@dataclass
class Played:
    """One round's figures, and what failed in it: (check, assertion text, file:line)."""

    moved: int = 0
    unrepaired: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)

    @contextmanager
    def checking(self, check: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:  # a failed check, or the run itself raising: both are findings
            text = str(exc) if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}"
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            self.failed.append((check, text, f"{Path(frame.filename).name}:{frame.lineno}"))


class Bench:
    """The starting sheet, and each kind's clean run without an edit (the same every round)."""

    def __init__(self, leads: int, folder: Path) -> None:
        bench = snapshot(leads)
        self.start = _start({name: bench.table(name) for name in bench.tabs})
        self.rows = len(self.start[LEADS.name].rows) + 1  # the header too
        self.folder = folder
        self.requests = {k: _requests_of(k, self.start, folder / f"count-{k}") for k in KINDS}
        self.clean_before: dict[str, dict[str, dict[str, str]]] = {}

    def play(self, seed: int, number: int, plan: Round) -> Played:
        """The test's checks on the raced run; each web-form lead's values; then the clean
        run after the edit (and, once a kind, the one without) against the memory backend."""
        played = Played()
        edit = combined(plan.edits)
        folder = self.folder / f"round-{number}"
        where = (
            f"seed {seed} round {number}: {plan.kind}: {plan.describe()} "
            f"before request {plan.boundary}"
        )
        errors = len(emulator().errors)
        try:
            expected = None
            with played.checking("clean runs"):
                known = self.clean_before.get(plan.kind)
                expected = _expected(plan.kind, self.start, edit, folder, known)
                self.clean_before[plan.kind] = expected.clean_before
            if expected is None:
                return played
            after = None
            with played.checking("race"):
                played.moved, after = _race(
                    plan.kind, self.start, edit, plan.boundary, folder / "run", expected, where
                )
                problems = after.table(PROBLEMS.name).column("Problem")
                played.unrepaired = sum(MOVED in p and UNREPAIRED in p for p in problems)
            if after is not None and plan.kind == "flush":
                with played.checking("web leads"):
                    web_leads_checked(after, expected, where)
            with played.checking("stand-in vs memory"):
                if known is None:
                    memory = on_memory(plan.kind, self.start, None, folder / "memory-before")
                    same_as_memory(expected.clean_before, memory, f"a clean {plan.kind}")
                memory = on_memory(plan.kind, self.start, edit, folder / "memory-after")
                what = f"seed {seed} round {number}: a clean {plan.kind} after {plan.describe()}"
                same_as_memory(expected.clean_after, memory, what)
            if len(emulator().errors) > errors:
                played.failed.append(("stand-in", repr(emulator().errors[errors:]), ""))
        finally:
            with emulator().lock:  # each round provisions sheets of its own: keep memory flat
                emulator().store.spreadsheets.clear()
        return played


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-edits", type=int, default=3, choices=range(1, len(EDITS) + 1))
    parser.add_argument("--seconds", type=float, default=600, help="start no round after this")
    parser.add_argument("--round", type=int, help="play this round of --seed only")
    args = parser.parse_args()
    require_data()
    began = time.perf_counter()
    numbers = [args.round] if args.round is not None else list(range(args.rounds))
    tried = {kind: Counter[int]() for kind in KINDS}
    edits: Counter[str] = Counter()
    moved = dict.fromkeys(KINDS, 0)
    unrepaired = 0
    failures: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="races-") as tmp:
        bench = Bench(args.leads, Path(tmp))
        requests = bench.requests
        print(f"{bench.rows - 1} leads; requests a run: {requests}", flush=True)
        for number in numbers:
            if time.perf_counter() - began > args.seconds:
                print(f"--seconds {args.seconds:g} spent: no more rounds", flush=True)
                break
            plan = draw_round(args.seed, number, requests, bench.rows, args.max_edits)
            t = time.perf_counter()
            played = bench.play(args.seed, number, plan)
            tried[plan.kind][plan.boundary] += 1
            edits.update(e.name for e in plan.edits)
            moved[plan.kind] += played.moved
            unrepaired += played.unrepaired
            failures += [
                {
                    "seed": args.seed,
                    "round": number,
                    "kind": plan.kind,
                    "boundary": plan.boundary,
                    "edit": plan.describe(),
                    "check": check,
                    "assertion": text,
                    "raised_at": at,
                }
                for check, text, at in played.failed
            ]
            failed = "; ".join(f"{c}: {t}" for c, t, _ in played.failed)
            print(
                f"round {number} {plan.kind} before request {plan.boundary} of "
                f"{requests[plan.kind]}: {plan.describe()}: {played.moved} put back, "
                f"{played.unrepaired} unrepaired, {time.perf_counter() - t:.1f} s: "
                f"{'FAILED: ' + failed if failed else 'ok'}",
                flush=True,
            )
    print(
        json.dumps(
            {
                "seed": args.seed,
                "memory": peak_mb(),
                "rounds": sum(sum(c.values()) for c in tried.values()),
                "leads": bench.rows - 1,
                "max_edits": args.max_edits,
                "requests": requests,
                "boundaries_tried": {
                    k: {str(b): n for b, n in sorted(c.items())} for k, c in tried.items()
                },
                "rounds_by_kind": {k: sum(c.values()) for k, c in tried.items()},
                "edits": dict(sorted(edits.items())),
                "cells_put_back": moved,
                "unrepaired": unrepaired,
                "failures_by_check": dict(Counter(f["check"] for f in failures)),
                "failures": failures,
                "seconds": round(time.perf_counter() - began, 1),
                "machine": machine(),
            }
        ),
        flush=True,
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
