"""The suppression list: addresses that asked for no more nurture e-mail.

Kept in the outbox's database, which every instance shares, so that the unsubscribe page
(any instance) and the sender (any instance) agree the moment a person confirms, before the
sheet's next sync writes Unsubscribed at on the lead. The sheet stays the record people read;
this is what makes the stop immediate, whatever row or duplicate holds the address.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from sheetcrm.intake.outbox_db import OutboxDB, unsubscribed

HOW = ("page", "one-click", "sheet")  # the page's button, a mail client's RFC 8058 POST, the sheet


def normal(address: str) -> str:
    """How an address is compared: trimmed and casefolded (``Ana@X.com`` is ``ana@x.com``)."""
    return address.strip().casefold()


def suppress(db: OutboxDB, address: str, lead_id: str, at: float, how: str) -> bool:
    """Record that ``address`` asked to stop; whether it is new (a second click changes
    nothing: the first time and way are kept)."""
    if how not in HOW:
        raise ValueError(f"how must be one of {HOW}, not {how!r}")
    row = {"address": normal(address), "lead_id": lead_id, "at": at, "how": how}
    with db.begin() as conn:
        return bool(list(conn.execute(db.insert_new(unsubscribed), [row]).scalars()))


def suppressed(db: OutboxDB, addresses: Iterable[str]) -> set[str]:
    """Those of ``addresses`` (as normal() gives them) on the list."""
    wanted = sorted({normal(a) for a in addresses if a.strip()})
    found: set[str] = set()
    with db.engine.connect() as conn:
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            query = select(unsubscribed.c.address).where(unsubscribed.c.address.in_(part))
            found.update(conn.execute(query).scalars())
    return found


def since(db: OutboxDB, address: str) -> float | None:
    """When ``address`` first asked to stop (the time :func:`suppress` kept), or None."""
    query = select(unsubscribed.c.at).where(unsubscribed.c.address == normal(address))
    with db.engine.connect() as conn:
        at = conn.execute(query).scalar()
    return None if at is None else float(at)
