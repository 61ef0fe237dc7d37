"""The tabs and Leads columns of nurture sequences (issue 19), declared apart from schema.py
(which re-exports them) so that each module stays small: the Sequences tab (the e-mails),
the Enrolment tab (who enters and leaves a sequence) and the five Leads columns they use."""

from __future__ import annotations

from dataclasses import replace

from sheetcrm.engine.header_aliases import RULE_TAB_ALIASES
from sheetcrm.engine.tab_types import Column, Kind, Owner, TabSpec, aka

_P, _S = Owner.PERSON, Owner.SERVICE

NURTURE_COLUMNS = (
    Column(
        "Consent",
        owner=_P,
        help="opt-in, legitimate interest or none (empty: none): who may get sequences.",
        width=14,
    ),
    Column(
        "Sequence",
        owner=_S,
        help="The sequence the lead is in; type a name to enrol it, or Stop to end it.",
        width=14,
    ),
    Column(
        "Sequence step",
        owner=_S,
        help="The last step sent: 1, 2...; done; or stopped: why.",
        width=14,
    ),
    Column("Next send at", Kind.DATETIME, _S, "When the next step of its sequence is due.", 16),
    Column("Unsubscribed at", Kind.DATETIME, _S, "When the lead asked for no more e-mail.", 16),
)
"""Leads columns, at the right of the others. Consent is the person's; a sheet made before
them gets them from its next sync, as every column the sync writes."""


def _aliased(tab: TabSpec) -> TabSpec:
    names = RULE_TAB_ALIASES.get(tab.name, {})
    return replace(
        tab,
        columns=tuple(
            replace(c, aliases=aka(names[c.header])) if c.header in names else c
            for c in tab.columns
        ),
    )


SEQUENCES = _aliased(
    TabSpec(
        "Sequences",
        (
            Column("Sequence", help="The sequence's name; its rows are its steps.", width=16),
            Column("Step", Kind.NUMBER, help="1, 2, 3...: each once per sequence.", width=6),
            Column("Wait", help='Days before this step: "3" or "3 business days".', width=14),
            Column("After", help="enrolment or previous step (empty: step 1 enrolment).", width=14),
            Column("Subject", help="{{First name}}, {{Company}}... by Leads header.", width=30),
            Column("Body", help="The e-mail's text, with the same merge fields.", width=50),
            Column("Status", help="draft (previewed, never sent) or active.", width=8),
        ),
        "Nurture e-mail sequences, one step per row (docs/sequences.md).",
        "managers",
    )
)

ENROLMENT = _aliased(
    TabSpec(
        "Enrolment",
        (
            Column("Sequence", help="A sequence of the Sequences tab.", width=16),
            Column("When", help="enrol if or exit if.", width=10),
            Column(
                "Field",
                help="A Leads header, or Activity type / Activity outcome.",
                width=16,
            ),
            Column("Operator", help="equals, in list, at least, ...", width=14),
            Column("Value", width=22),
        ),
        "Who enters a sequence (enrol if rows of one sequence are ANDed) and who leaves it "
        "(each exit if row on its own) (docs/sequences.md).",
        "managers",
    )
)

NURTURE_TABS = (SEQUENCES, ENROLMENT)
