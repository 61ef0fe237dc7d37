"""Issue 12's benchmark: 10,000 leads assigned in one import. How long the sync's alert steps
take to plan their notifications (target: at most 1 s of the sync), how long the outbox takes
to store them (hold, then release, as sync_once does around the write), and how many messages
the hourly cap lets through, sent for real to an SMTP server (aiosmtpd) and a chat webhook
receiver on loopback.

The sheet: ``--rows`` bench leads (bench/leads.py), none with an owner, a Team tab with no
daily capacity (so routing assigns every lead), and four Alerts rules: lead assigned → the
owner by e-mail; lifecycle reaches SQL → the owner's manager; stage entered Proposal → the
EMEA team; a lead assigned with an Amount of at least 5,000 → the chat channel ``sales-wins``.
Beside it, in the same run, the same sheet with an empty Alerts tab. A lead added with its stage
has no ``stage entered`` event (it entered no stage in this sync), so the import plans none;
``--moved`` leads moved to Proposal by a person afterwards show that rule on the next sync.

The sender runs with a fixed clock (the whole run is one hour), once with Settings' *Alerts
per person per hour* at its default and once at 0 (no cap).
With ``--against REV``, the enqueue of this tree and of revision REV's, each in fresh processes,
alternately (bench/against.py's way): the before/after of a change to the outbox.
Run: .venv/bin/python bench/alerts.py [--rows 10000 --rounds 5 --postgres] [--against REV]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import delete

from against import alternately, timed_steps
from leads import NOW, ROOT, machine, require_data, snapshot
from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.bulk import gc_paused
from sheetcrm.engine.plan import Plan
from sheetcrm.engine.schema import ALERTS, LEADS, SETTINGS, TEAM
from sheetcrm.engine.sync import STEPS, begin, plan_sync
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.intake.outbox_db import OutboxDB, notifications
from sheetcrm.notify.channels import Channels
from sheetcrm.notify.hourly_cap import HOUR
from sheetcrm.notify.outbox import FOLDED, PENDING, NotificationOutbox
from sheetcrm.notify.sender import Sender

RULES = [  # When, Stage, Field, Operator, Value, Send to, Channel, Message
    ["lead assigned", "", "", "", "", "owner", "email", "A new lead is yours."],
    ["lifecycle reaches SQL", "", "", "", "", "manager", "email", ""],
    ["stage entered", "Proposal", "", "", "", "EMEA", "email", "A proposal is out."],
    ["lead assigned", "", "Amount", "at least", "5000", "", "sales-wins", "A big one."],
]
NEW_STEPS = ("sla", "alerts", "digest", "hold", "sent")  # the steps issue 12 added
CAP = "Alerts per person per hour"
CLOCK = datetime(2026, 11, 23, 15, 0, tzinfo=UTC).timestamp()  # the sender's fixed hour


def sheet(rows: int, rules: bool, cap: str | None = None) -> Snapshot:
    snap = snapshot(rows)
    tabs = snap.tabs
    leads = tabs[LEADS.name]
    owner = leads.col("Owner")
    for row in leads.rows:
        row[owner] = ""  # an import of new leads: routing assigns every one
    team = tabs[TEAM.name]
    capacity = team.col("Daily capacity")
    for row in team.rows:
        row[capacity] = ""  # nobody full: all of them assigned in this one sync
    tabs[ALERTS.name] = Table(list(ALERTS.headers), [list(r) for r in RULES] if rules else [])
    if cap is not None:
        settings = tabs[SETTINGS.name]
        for row in settings.rows:
            if row[settings.col("Key")] == CAP:
                row[settings.col("Value")] = cap
    return snap


def paused_steps(snap: Snapshot) -> tuple[dict[str, float], Plan]:
    """The sync step by step, with the collector paused as plan_sync pauses it."""
    with gc_paused():
        return timed_steps(snap)


def whole_sync(snap: Snapshot) -> tuple[float, Plan]:
    start = time.perf_counter()
    plan = plan_sync(snap, NOW)
    return time.perf_counter() - start, plan


def rss_mb() -> float:
    """Peak resident memory of this process so far (Linux: ru_maxrss is in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def median(values: list[float]) -> float:
    return round(statistics.median(values), 4)


# --- planning -------------------------------------------------------------------------------


def planning(rows: int, rounds: int) -> tuple[dict[str, Any], Plan]:
    """Each round plans both sheets, alternately: step times and the whole plan_sync."""
    sheets = {"alerts": sheet(rows, True), "empty": sheet(rows, False)}
    steps: dict[str, dict[str, list[float]]] = {k: {} for k in sheets}
    whole: dict[str, list[float]] = {k: [] for k in sheets}
    plan: Plan | None = None
    for _ in range(rounds):
        for kind, snap in sheets.items():
            times, _plan = paused_steps(snap)
            for name, seconds in times.items():
                steps[kind].setdefault(name, []).append(seconds)
            seconds, planned = whole_sync(snap)
            whole[kind].append(seconds)
            if kind == "alerts":
                plan = planned
    assert plan is not None
    med = {k: {n: median(v) for n, v in s.items()} for k, s in steps.items()}
    extra = {n: round(med["alerts"][n] - med["empty"][n], 4) for n in NEW_STEPS}
    new_steps_s = round(sum(med["alerts"][n] for n in NEW_STEPS), 4)
    sync_s = {k: median(v) for k, v in whole.items()}
    # peak Python allocations of the alert steps alone, in a run of their own (tracemalloc
    # slows what it watches: never in a timed run)
    state = begin(sheets["alerts"], NOW, None, True)
    for name, step in STEPS:
        if name == "alerts":
            break
        state = step(state)
    tracemalloc.start()
    for name, step in STEPS:
        if name in ("alerts", "hold"):
            state = step(state)
    alerts_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    notes = plan.notifications
    figures = {
        "steps_s": med,
        "new_steps_s": new_steps_s,
        "alerts_and_hold_s": round(med["alerts"]["alerts"] + med["alerts"]["hold"], 4),
        "new_steps_extra_s": extra,
        "sync_s": sync_s,
        "sync_extra_s": round(sync_s["alerts"] - sync_s["empty"], 4),
        "sync_ratio": round(sync_s["alerts"] / sync_s["empty"], 3),
        "share_of_sync": round(new_steps_s / sync_s["alerts"], 3),
        "assigned": plan.summary.routed,
        "notifications": len(notes),
        "by_rule": dict(Counter(f"{n.rule_row}: {n.event} → {n.channel}" for n in notes)),
        "alerts_steps_peak_mb": round(alerts_peak / 2**20, 1),
        "rss_mb": rss_mb(),
    }
    return figures, plan


def moved(rows: int, count: int) -> dict[str, Any]:
    """The sync after a person moved ``count`` of the imported leads to Proposal: what the
    ``stage entered`` rule plans, and the alert steps' time on it."""
    backend = MemoryBackend(sheet(rows, True).tabs)
    first = backend.read()
    apply(plan_sync(first, NOW), backend, first)
    leads = backend.tabs[LEADS.name]
    stage = leads.col("Stage")
    turned = 0
    for row in leads.rows:
        if turned < count and row[stage] != "Proposal":
            row[stage] = "Proposal"
            turned += 1
    times, plan = paused_steps(backend.read())
    return {
        "moved": turned,
        "notifications": len(plan.notifications),
        "by_rule": dict(Counter(f"{n.rule_row}: {n.event}" for n in plan.notifications)),
        "alerts_and_hold_s": round(times["alerts"] + times["hold"], 4),
        "sync_s": round(sum(times.values()), 4),
    }


# --- the outbox -------------------------------------------------------------------------------


def enqueue(url: str, plan: Plan, rounds: int) -> dict[str, Any]:
    """hold + release of the plan's notifications into an empty outbox, ``rounds`` times."""
    hold_s, release_s, stored, released = [], [], 0, 0
    db = OutboxDB(url)
    box = NotificationOutbox(db, lambda: CLOCK)
    for _ in range(rounds):
        with db.begin() as conn:
            conn.execute(delete(notifications))  # each round starts from an empty outbox
        start = time.perf_counter()
        stored = box.hold(plan)
        hold_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        released = box.release(plan)
        release_s.append(time.perf_counter() - start)
    db.close()
    total = median([h + r for h, r in zip(hold_s, release_s, strict=True)])
    return {
        "hold_s": median(hold_s),
        "release_s": median(release_s),
        "total_s": total,
        "rows": stored,
        "released": released,
        "rows_per_s": round(stored / total),
    }


# Runs inside either tree: its own plan of the import, then its own outbox code's enqueue.
ENQUEUE_PROBE = """
import json, sys, tempfile
from alerts import enqueue, sheet, whole_sync
rows, url = int(sys.argv[1]), sys.argv[2]
plan = whole_sync(sheet(rows, True))[1]
with tempfile.TemporaryDirectory() as tmp:
    got = {"sqlite": enqueue(f"sqlite:///{tmp}/enqueue.sqlite3", plan, 3)}
    if url:
        got["postgresql"] = enqueue(url, plan, 3)
print(json.dumps(got))
"""


def against(rev: str, rows: int, rounds: int, url: str | None) -> dict[str, Any]:
    """Enqueue's hold and total, this tree's and ``rev``'s, ``rounds`` fresh processes each,
    alternately, on SQLite and (given its ``url``) on one PostgreSQL: the medians, and the
    ratio of this tree's over ``rev``'s."""
    runs = alternately(rev, rounds, ENQUEUE_PROBE, rows, url or "")
    figures: dict[str, Any] = {}
    for store in runs["this"][0]:
        got = {
            name: {f: median([r[store][f] for r in got]) for f in ("hold_s", "total_s")}
            for name, got in runs.items()
        }
        ratio = round(got["this"]["hold_s"] / got[rev]["hold_s"], 3)
        figures[store] = {**got, "hold_ratio": ratio, "rows": runs["this"][0][store]["rows"]}
    return figures


# --- sending ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """aiosmtpd's handler: counts what it takes, by recipient."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.received.update(envelope.rcpt_tos)
        return "250 OK queued"


@contextmanager
def receivers() -> Iterator[tuple[Mailbox, Counter[str], dict[str, str]]]:
    """An SMTP server and a chat webhook receiver on loopback, and the environment that
    points sheetcrm's channels at them."""
    mailbox, posts, lock = Mailbox(), Counter[str](), threading.Lock()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                posts[self.path] += 1
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    smtp_port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=hook.serve_forever, daemon=True)
    thread.start()
    env = {
        "SHEETCRM_SMTP_HOST": "127.0.0.1",
        "SHEETCRM_SMTP_PORT": str(smtp_port),
        "SHEETCRM_SMTP_SECURITY": "none",
        "SHEETCRM_SMTP_FROM": "Sheet CRM <crm@quillstack.example>",
        "SHEETCRM_CHANNEL_SALES_WINS_URL": f"json://127.0.0.1:{hook.server_port}/sales-wins",
    }
    try:
        yield mailbox, posts, env
    finally:
        hook.shutdown()
        hook.server_close()
        controller.stop()


def sending(url: str, plan: Plan, max_seconds: float) -> dict[str, Any]:
    """Store the plan's notifications, then run the sender until nothing is due in this hour
    (or ``max_seconds`` passed), then the same in the next hour: what went out, per recipient,
    what was folded into summaries, and what waited for the hour to turn."""
    now = [CLOCK]
    db = OutboxDB(url)
    box = NotificationOutbox(db, lambda: now[0])
    box.hold(plan)
    box.release(plan)
    planned = Counter(n.recipient or n.channel for n in plan.notifications)
    figures: dict[str, Any] = {
        "cap": plan.notifications[0].cap if plan.notifications else None,
        "planned": len(plan.notifications),
    }
    per: dict[str, dict[str, int]] = {who: {"planned": planned[who]} for who in sorted(planned)}
    with receivers() as (mailbox, posts, env):
        sender = Sender(db, Channels.from_env(env).send, "bench", clock=lambda: now[0])
        for hour in ("first_hour", "next_hour"):
            before = Counter({**mailbox.received, "sales-wins": posts["/sales-wins"]})
            folded_before = _by_recipient(box, FOLDED)
            sent = folded = dead = rounds = 0
            start = time.perf_counter()
            while time.perf_counter() - start < max_seconds:
                report = sender.run_once()
                if not report.claimed:
                    break
                rounds += 1
                sent, folded, dead = sent + report.sent, folded + report.folded, dead + report.dead
            seconds = time.perf_counter() - start
            after = Counter({**mailbox.received, "sales-wins": posts["/sales-wins"]})
            folded_after, waiting = _by_recipient(box, FOLDED), _by_recipient(box, PENDING)
            figures[hour] = {
                "messages": sent,  # the summaries included
                "folded": folded,
                "waiting_after": sum(waiting.values()),
                "dead": dead,
                "rounds": rounds,
                "seconds": round(seconds, 3),
                "messages_per_s": round(sent / seconds, 1) if seconds else None,
                "drained": not sender.has_due(now[0]),
            }
            for who, counts in per.items():
                counts[f"{hour}_received"] = after[who] - before[who]
                counts[f"{hour}_folded"] = folded_after[who] - folded_before[who]
                counts[f"{hour}_waiting_after"] = waiting[who]
            now[0] += HOUR + 1  # the hour turned: what waited for it is due
    db.close()
    figures["per_recipient"] = per
    return figures


def _by_recipient(box: NotificationOutbox, state: str) -> Counter[str]:
    return Counter(e.recipient or e.channel for e in box.entries(state, 10**6))


@contextmanager
def postgres() -> Iterator[str | None]:
    """A throwaway PostgreSQL cluster (tests/pgcluster.py), or None without its binaries."""
    sys.path.insert(0, str(ROOT / "tests"))
    import pgcluster

    found = pgcluster.server_bin()
    if found is None:
        yield None
        return
    with pgcluster.cluster(found) as url:
        yield url


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--moved", type=int, default=1_000)
    parser.add_argument("--postgres", action="store_true", help="also enqueue on PostgreSQL")
    parser.add_argument("--against", metavar="REV", help="enqueue of this tree against REV's")
    parser.add_argument("--send-seconds", type=float, default=300.0, help="per sender run")
    args = parser.parse_args()
    require_data()
    load = os.getloadavg()
    figures: dict[str, Any] = {"bench": "alerts", "rows": args.rows, "rounds": args.rounds}
    plan_figures, plan = planning(args.rows, args.rounds)
    figures["plan"] = plan_figures
    print(
        f"plan_sync, {args.rows:,} leads ({plan_figures['assigned']:,} assigned, "
        f"{plan_figures['notifications']:,} notifications): with Alerts "
        f"{plan_figures['sync_s']['alerts']} s, empty Alerts tab {plan_figures['sync_s']['empty']}"
        f" s (ratio {plan_figures['sync_ratio']}); the new steps "
        f"{plan_figures['new_steps_s']} s, alerts + hold {plan_figures['alerts_and_hold_s']} s"
    )
    figures["moved"] = moved(args.rows, args.moved)
    print(f"next sync after {args.moved:,} leads moved to Proposal: {figures['moved']}")
    with tempfile.TemporaryDirectory() as tmp:
        figures["enqueue"] = {"sqlite": enqueue(f"sqlite:///{tmp}/enqueue.sqlite3", plan, 3)}
        with postgres() if args.postgres else nullcontext(None) as url:
            if url is not None:
                figures["enqueue"]["postgresql"] = enqueue(url, plan, 3)
            print(f"enqueue: {figures['enqueue']}")
            if args.against:
                figures["enqueue_against"] = against(args.against, args.rows, 3, url)
                print(f"enqueue against {args.against}: {figures['enqueue_against']}")
        uncapped = whole_sync(sheet(args.rows, True, cap="0"))[1]
        figures["send"] = {}
        for name, which in (("default_cap", plan), ("no_cap", uncapped)):
            got = sending(f"sqlite:///{tmp}/send-{name}.sqlite3", which, args.send_seconds)
            figures["send"][name] = got
            for hour in ("first_hour", "next_hour"):
                h = got[hour]
                print(
                    f"sender, cap {got['cap']}, {hour}: {h['messages']:,} messages for "
                    f"{got['planned']:,} notifications ({h['folded']:,} folded, "
                    f"{h['waiting_after']:,} waiting after) in {h['seconds']} s, "
                    f"{h['messages_per_s']}/s"
                )
    figures["rss_mb"] = rss_mb()
    figures["machine"] = {
        **machine(),
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "load_average_at_start": [round(x, 2) for x in load],
        "command": " ".join(["python", "bench/alerts.py", *sys.argv[1:]]),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
