"""The last syncs and flushes, kept in the outbox's database so that every worker and
instance sees them: /status shows the last of each and the last few errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select

from sheetcrm.intake.outbox_db import OutboxDB, runs

KEEP_RUNS = 200


class RunLog:
    def __init__(self, db: OutboxDB) -> None:
        self.db = db

    def record(
        self, kind: str, at: float, seconds: float, summary: dict[str, Any], error: str = ""
    ) -> None:
        with self.db.begin() as conn:
            conn.execute(
                runs.insert().values(
                    kind=kind,
                    at=at,
                    seconds=seconds,
                    ok=int(not error),
                    summary=json.dumps(summary, sort_keys=True),
                    error=error or None,
                )
            )
            newest = conn.execute(select(func.max(runs.c.id))).scalar() or 0
            conn.execute(delete(runs).where(runs.c.id <= newest - KEEP_RUNS))

    def latest(self, errors: int = 5) -> dict[str, Any]:
        """The last sync and flush, and the last few errors, newest first."""
        c = runs.c
        with self.db.engine.connect() as conn:
            last = {
                kind: conn.execute(
                    select(runs).where(c.kind == kind).order_by(c.id.desc()).limit(1)
                ).first()
                for kind in ("sync", "flush")
            }
            failed = conn.execute(
                select(runs).where(c.ok == 0).order_by(c.id.desc()).limit(errors)
            ).all()
        return {
            "last_sync": _run(last["sync"]),
            "last_flush": _run(last["flush"]),
            "last_errors": [_run(r) for r in failed],
        }


def _run(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "kind": row.kind,
        "at": datetime.fromtimestamp(row.at, UTC).isoformat(timespec="seconds"),
        "seconds": round(row.seconds, 3),
        "ok": bool(row.ok),
        "summary": json.loads(row.summary),
        "error": row.error or "",
    }
