"""Bench inputs: the X Education leads (../shared/data) replicated to any size, with distinct
emails and phones, plus the b2b-en rule tabs and 30 scoring / 10 routing rules over them."""

from __future__ import annotations

import platform
import sys
from datetime import datetime
from pathlib import Path

from sheetcrm.engine.schema import LEADS, ROUTING, SCORING
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.files.exports import read_table
from sheetcrm.files.templates import load_template

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SOURCE = SHARED / "data" / "xeducation-leads" / "Leads.csv"
AMOUNTS = SHARED / "data" / "maven-crm" / "sales_pipeline.csv"  # real deal values
NOW = datetime(2026, 11, 23, 10, 0)
EXTRA = [
    "Lead Origin",
    "TotalVisits",
    "Total Time Spent on Website",
    "Page Views Per Visit",
    "Last Activity",
    "What is your current occupation",
    "City",
]
FREE = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com"]
PHONE_FORMATS = ["({a}) {b}-{c}", "+1 {a} {b} {c}", "{a}.{b}.{c}", "1-{a}-{b}-{c}"]


def require_data() -> None:
    for path in (SOURCE, AMOUNTS):
        if not path.exists():
            sys.exit(f"bench needs {path} (the shared datasets beside the repository)")


def machine() -> dict[str, object]:
    import os

    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "system": platform.system(),
    }


def rss_mb(key: str = "VmRSS") -> int:
    """The process's resident memory now (``VmHWM``: its peak since :func:`reset_peak`), MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024
    return 0


def reset_peak() -> None:
    """Start the peak RSS (VmHWM) afresh from the current RSS (Linux: clear_refs 5), so that
    each figure gets the peak of its own work, not of the whole run before it."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def peaked(fn):
    """``fn()``, its seconds, and the process's peak RSS (MB) while it ran."""
    import time

    reset_peak()
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start, rss_mb("VmHWM")


def leads(n: int) -> Table:
    """``n`` leads: the 9,240 real ones over and over, each with its own email and phone."""
    source = read_table(SOURCE)
    deals = read_table(AMOUNTS)
    amounts = [v for v in deals.column("close_value") if v]
    col = {h: i for i, h in enumerate(source.header)}
    header = LEADS.headers + EXTRA
    at = {h: i for i, h in enumerate(header)}
    rows = []
    for i in range(n):
        src = source.rows[i % len(source.rows)]
        row = [""] * len(header)
        company = f"company{i % 20000}"
        domain = FREE[i % 4] if i % 10 < 3 else f"{company}.example"
        row[at["Email"]] = f"lead{i}@{domain}" if i % 50 else f" Lead{i}@{domain.upper()} "
        a, b, c = 201 + (i // 10_000) % 700, 200 + (i // 100) % 100, 1000 + i % 10_000 // 2
        row[at["Phone"]] = PHONE_FORMATS[i % 4].format(a=a, b=b, c=f"{c:04d}") if i % 7 else ""
        row[at["Company"]] = "" if i % 13 == 0 else company.title()
        row[at["Country"]] = src[col["Country"]] or ("India" if i % 3 else "United States")
        row[at["Industry"]] = src[col["Specialization"]]
        row[at["Source"]] = src[col["Lead Source"]]
        row[at["Stage"]] = ["Prospecting", "Qualified", "Meeting", "Proposal", "Won", "Lost"][i % 6]
        amount = int(amounts[i % len(amounts)])
        row[at["Amount"]] = "" if i % 4 == 0 else f"{amount:,}" if i % 4 == 1 else str(amount)
        row[at["Created at"]] = f"2026-{1 + i % 11:02d}-{1 + i % 28:02d} 09:00"
        row[at["Next action date"]] = (
            f"2026-{1 + (i * 7) % 12:02d}-{1 + i % 27:02d}" if i % 5 == 0 else ""
        )
        row[at["Owner"]] = "" if i % 3 else ["Sofia Marin", "Jordan Lee", "Maya Patel"][i % 9 // 3]
        for h in EXTRA:
            row[at[h]] = src[col[h]]
        rows.append(row)
    return Table(header, rows)


SCORING_ROWS = [
    (
        "Target specialisation",
        "Industry",
        "in list",
        "Finance Management, Human Resource Management, Marketing Management",
        "20",
    ),
    ("Operations", "Industry", "contains", "operations", "10"),
    ("IT", "Industry", "starts with", "IT", "5"),
    ("Management", "Industry", "ends with", "Management", "5"),
    ("Not select", "Industry", "not equals", "Select", "2"),
    ("No specialisation", "Industry", "is empty", "", "-5"),
    ("India", "Country", "equals", "India", "5"),
    ("Abroad", "Country", "not in list", "India", "5"),
    ("Gulf", "Country", "in list", "United Arab Emirates, Saudi Arabia, Qatar, Oman, Kuwait", "8"),
    ("Google", "Source", "equals", "Google", "10"),
    ("Reference", "Source", "in list", "Reference, Welingak Website", "25"),
    ("Olark", "Source", "contains", "chat", "-5"),
    ("Direct", "Source", "not contains", "search", "1"),
    ("Many visits", "TotalVisits", "at least", "5", "10"),
    ("Few visits", "TotalVisits", "less than", "2", "-5"),
    ("Long sessions", "Total Time Spent on Website", "greater than", "1000", "15"),
    ("Browsing", "Page Views Per Visit", "between", "2 and 6", "5"),
    ("Short pages", "Page Views Per Visit", "at most", "1", "-3"),
    ("Working", "What is your current occupation", "equals", "Working Professional", "20"),
    ("Student", "What is your current occupation", "equals", "Student", "-10"),
    ("SMS", "Last Activity", "matches", "^SMS|Email Opened", "10"),
    ("Form", "Lead Origin", "in list", "Lead Add Form, Landing Page Submission", "10"),
    ("Free mail", "Email", "email domain in list", "gmail.com, yahoo.com, hotmail.com", "-10"),
    ("Phone", "Phone", "is not empty", "", "5"),
    ("Big deal", "Amount", "at least", "50000", "15"),
    ("Recent", "Created at", "within last N days", "30", "10"),
    ("Old", "Created at", "more than N days ago", "200", "-10"),
    ("This year", "Created at", "after", "2026-01-01", "2"),
    ("Legacy", "Created at", "before", "2026-03-01", "-2"),
    ("Hot", "Source", "equals", "Google", "5"),
    ("Hot", "TotalVisits", "at least", "3", ""),
]
ROUTING_ROWS = [
    ("1", "Country", "in list", "United States, Canada", "Americas", "round robin"),
    ("2", "Country", "in list", "United Kingdom, Germany, France", "EMEA", "round robin"),
    (
        "3",
        "Industry",
        "in list",
        "Finance Management, Banking, Investment And Insurance",
        "Enterprise",
        "weighted",
    ),
    ("4", "Source", "equals", "Reference", "Avery Chen", ""),
    ("5", "TotalVisits", "at least", "10", "Americas", "least loaded"),
    ("6", "Email", "email domain in list", "gmail.com", "EMEA", "round robin"),
    ("7", "City", "equals", "Mumbai", "Americas", "round robin"),
    ("8", "Amount", "at least", "80000", "Enterprise", "least loaded"),
    ("9", "Last Activity", "contains", "Email", "EMEA", "weighted"),
    ("10", "Lead Origin", "equals", "API", "Americas", "round robin"),
]


def snapshot(n: int) -> Snapshot:
    """The b2b-en workbook with ``n`` bench leads and the bench's 30 + 10 rules."""
    tabs = load_template(now=NOW)
    tabs[LEADS.name] = leads(n)
    tabs[SCORING.name] = Table(SCORING.headers, [[*r, ""] for r in SCORING_ROWS])
    tabs[ROUTING.name] = Table(ROUTING.headers, [list(r) for r in ROUTING_ROWS])
    return Snapshot(tabs, "bench")
