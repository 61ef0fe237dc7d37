"""A Problem: what is wrong, in which cell, and a hint to fix it. Rule tabs and lead rows
report them alike; the sync writes them to the Problems tab. A lead's problem names the lead
too: a person who sorts Leads moves every cell address onto another lead."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    tab: str
    cell: str  # A1 reference, "Leads!E12", or the tab alone
    problem: str
    hint: str = ""
    lead: str = ""  # the lead's Lead ID, else its e-mail; "" when not about a lead
