"""Whether a holder on another machine is alive, asked of the PostgreSQL outbox they share.

A service process holds, on a connection of its own, a session advisory lock keyed by its
holder token. PostgreSQL lets go of it the moment that session ends: the process killed
(the kernel closes its socket), or its machine gone (the server's TCP keepalives, set below,
end the session within about a minute). Another instance that finds a claim or the sheet's
lease held by it tries the lock: when it gets it, the holder is dead, and what it held is
freed at once rather than when it expires. The PID probe of :mod:`sheetcrm.backends.holders`
cannot tell that across machines, nor a host name (Cloud Run's may be the same for all).

The token says which server incarnation and database its lock lives in (``pg`` and a digest of
the database's name and the server's start time): a token of another outbox, of a server that
restarted since (every lock is gone then), or of a process that never held one (a ``sheetcrm
sync`` at a command line) is never judged here, only by its expiry.

A process whose own liveness session dropped (a network blip) looks dead meanwhile and may
lose its claims: harmless, since flushes take turns on PostgreSQL's advisory locks and find
in the sheet what was appended already; :meth:`Liveness.keep` takes the lock again.
"""

from __future__ import annotations

import hashlib
import threading
import time
from contextlib import suppress

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from sheetcrm.backends.holders import new_holder, parts
from sheetcrm.intake.outbox_db import OutboxDB

HOLDER_CLASS = 0x5EE7  # first key of the two-key advisory locks: one per holder
# The server ends the session of a machine that vanished without closing its socket after
# idle + interval * count seconds of silence (about a minute), freeing its lock.
KEEPALIVES = {"tcp_keepalives_idle": 30, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 3}
TAKE_TRIES = 20  # a witness probing us holds our lock for an instant: try again
TAKE_PAUSE = 0.05


class Liveness:
    def __init__(self, db: OutboxDB) -> None:
        """This process's holder token, witnessed through ``db`` when it is PostgreSQL."""
        self.db = db
        self.tag = _server_tag(db) if db.engine.dialect.name == "postgresql" else ""
        self.holder = new_holder(self.tag)
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def keep(self) -> bool:
        """Hold our lock (again, after a lost connection); call it before the holder token
        claims or leases anything. Whether it is held (always True without PostgreSQL)."""
        if not self.tag:
            return True
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute(text("SELECT 1"))
                    self._conn.commit()
                    return True
                except SQLAlchemyError:
                    self._drop()
            try:
                conn = self.db.engine.connect()
                for name, value in KEEPALIVES.items():
                    conn.execute(text(f"SET {name} = {int(value)}"))
                take = text("SELECT pg_try_advisory_lock(:c, :k)")
                for _ in range(TAKE_TRIES):
                    if conn.execute(take, {"c": HOLDER_CLASS, "k": _key(self.holder)}).scalar():
                        conn.commit()  # the session lock outlives the transaction
                        self._conn = conn
                        return True
                    conn.commit()
                    time.sleep(TAKE_PAUSE)
                conn.close()  # held by another live holder (keys of 32 bits): it looks alive
            except SQLAlchemyError:
                pass  # the database is unreachable: the flush or the send says so itself
            return False

    def verdict(self, holder: str) -> bool | None:
        """True when ``holder`` is dead, False alive, None when this outbox cannot tell."""
        fields = parts(holder)
        if not self.tag or len(fields) < 5 or fields[4] != self.tag:
            return None
        key = {"c": HOLDER_CLASS, "k": _key(holder)}
        try:
            with self.db.engine.connect() as conn:
                got = conn.execute(text("SELECT pg_try_advisory_lock(:c, :k)"), key).scalar()
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:c, :k)"), key)
                conn.commit()
        except SQLAlchemyError:
            return None  # in doubt: alive
        return bool(got)

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            with suppress(SQLAlchemyError):  # closed, not pooled: the lock goes with it
                self._conn.invalidate()
            self._conn = None


def _key(holder: str) -> int:
    """The holder's lock key: a signed 32-bit digest (the second key of a two-key lock)."""
    return int.from_bytes(hashlib.sha256(holder.encode()).digest()[:4], "big", signed=True)


def _server_tag(db: OutboxDB) -> str:
    """``pg`` and a digest of the database and the server's start: where the lock lives."""
    query = text("SELECT current_database(), pg_postmaster_start_time()::text")
    with db.engine.connect() as conn:
        name, started = conn.execute(query).one()
    return "pg" + hashlib.sha256(f"{name}\0{started}".encode()).hexdigest()[:8]
