"""Render the Leads tab of a freshly synced demo workbook as docs/leads-after-sync.svg.

Run: .venv/bin/python docs/make_picture.py  (it runs the real demo into a temporary folder)
"""

from __future__ import annotations

import tempfile
from html import escape
from pathlib import Path

from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.cli import main

COLUMNS = [
    ("Lead ID", 70),
    ("First name", 80),
    ("Company", 150),
    ("Country", 105),
    ("Stage", 88),
    ("Amount", 62),
    ("Owner", 96),
    ("Score", 46),
    ("Grade", 46),
    ("Score reasons", 330),
    ("Status", 250),
    ("Duplicate of", 86),
]
ROWS, ROW_H, FONT = 16, 22, 11
SERVICE = {"Lead ID", "Owner", "Score", "Grade", "Score reasons", "Status", "Duplicate of"}


def clip(text: str, width: int) -> str:
    room = int(width / (FONT * 0.56))
    return text if len(text) <= room else text[: room - 1] + "…"


def render(rows: list[dict[str, str]]) -> str:
    width = sum(w for _, w in COLUMNS) + 1
    height = (ROWS + 1) * ROW_H + 28
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="Helvetica, Arial, sans-serif" font-size="{FONT}">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        '<text x="6" y="17" font-size="12" fill="#444">sheetcrm-demo.xlsx — Leads, after '
        "`sheetcrm sync` (grey columns are written by sheetcrm)</text>",
    ]
    y = 26
    x = 0
    for name, w in COLUMNS:
        fill = "#5f6368" if name in SERVICE else "#1a73e8"
        out.append(
            f'<rect x="{x}" y="{y}" width="{w}" height="{ROW_H}" fill="{fill}" stroke="#ffffff"/>'
        )
        out.append(
            f'<text x="{x + 4}" y="{y + 15}" fill="#fff" font-weight="bold">{escape(name)}</text>'
        )
        x += w
    for i, row in enumerate(rows[:ROWS]):
        y += ROW_H
        x = 0
        for name, w in COLUMNS:
            value = row.get(name, "")
            fill = "#f1f3f4" if name in SERVICE else "#ffffff"
            color = "#202124"
            out.append(
                f'<rect x="{x}" y="{y}" width="{w}" height="{ROW_H}" fill="{fill}" '
                'stroke="#dadce0"/>'
            )
            out.append(
                f'<text x="{x + 4}" y="{y + 15}" fill="{color}">{escape(clip(value, w))}</text>'
            )
            x += w
        if i == ROWS - 1:
            break
    out.append("</svg>")
    return "\n".join(out)


def main_() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sheetcrm-demo.xlsx"
        main(["demo", "--sheet", str(path), "--now", "2026-11-23T10:00"])
        leads = WorkbookBackend(path).read().table("Leads")
    picked = [r for r in leads.records() if r["Status"] != "OK" or r["Duplicate of"]][:6]
    rest = [r for r in leads.records() if r not in picked]
    rows = sorted(picked + rest[: ROWS - len(picked)], key=lambda r: r["Lead ID"])
    target = Path(__file__).with_name("leads-after-sync.svg")
    target.write_text(render(rows), encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main_()
