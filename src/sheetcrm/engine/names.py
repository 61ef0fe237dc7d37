"""A person's whole name, in one column of an export or one answer of a form, split into the
First name and Last name columns of Leads."""

from __future__ import annotations

WHOLE_NAME = (
    "name",
    "full name",
    "fullname",
    "contact name",
    "person - name",  # Pipedrive
    "deal - contact person",  # Pipedrive's deals
    "nom complet",
    "nom et prénom",
    "prénom et nom",
)
"""Headers and labels that hold a person's whole name; not a column of Leads."""


def split_name(full: str) -> tuple[str, str]:
    """ "Jane van der Berg" -> (Jane, van der Berg); "Doe, Jane" -> (Jane, Doe); "Cher" ->
    (Cher, "")."""
    if "," in full:
        last, _, first = full.partition(",")
        return first.strip(), last.strip()
    first, _, last = full.strip().partition(" ")
    return first, last.strip()
