"""What a write needs of the notification outbox, so that the notifications a plan carries
reach it exactly once (sheetcrm.notify.outbox implements it; a layer above this one).

Around one write of a plan: take the turn (:meth:`Notices.writing`), read the sheet, settle
what an earlier write left held, hold this plan's notifications, write, then release them
(the write landed) or drop them (it surely did not). A write that failed in a way that
leaves its landing unknown keeps them held: the next write's settle finds out from the sheet.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from contextlib import AbstractContextManager
from typing import Protocol

from sheetcrm.engine.notifications import SentRecord
from sheetcrm.engine.plan import Plan
from sheetcrm.engine.table import Snapshot


class Notices(Protocol):
    def writing(self) -> AbstractContextManager[None]:
        """One writer at a time per outbox, across processes, from before the read that
        settles to after the release: a settle never sees another live writer's held rows."""
        ...

    def settle(self, snapshot: Snapshot) -> tuple[int, int]:
        """Held notifications of earlier writes: released where ``snapshot`` (read under
        :meth:`writing`) shows their write landed, dropped elsewhere. (released, dropped)."""
        ...

    def hold(self, plan: Plan, new_leads: Collection[str] = ()) -> int:
        """Store the plan's notifications, held, under its write token, each key at most once;
        ``new_leads``: Lead IDs the write appends. How many were new."""
        ...

    def release(self, plan: Plan) -> int:
        """The plan's write landed: its held notifications are due."""
        ...

    def drop(self, plan: Plan) -> int:
        """The plan's write surely did not land: forget its held notifications."""
        ...

    def log_records(self, limit: int = 500) -> list[SentRecord]:
        """Sent, failed and folded notifications the Notifications tab does not show yet."""
        ...

    def mark_logged(self, keys: Iterable[str]) -> int:
        """These are on the Notifications tab now (a write that logged them landed)."""
        ...
