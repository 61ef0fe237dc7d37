"""The outbox's database: its tables, its engine, and the locks that keep writers in order.

Written against SQLAlchemy Core so that the store is a URL: SQLite (WAL mode) by default, one
file beside the service; ``postgresql+psycopg://...`` when several instances share the work.
What waits in it (:mod:`sheetcrm.intake.outbox`, :mod:`sheetcrm.intake.run_log`) reads and
writes through an :class:`OutboxDB`: write transactions that queue fairly across processes,
an INSERT that skips what is stored already, and turns that one process at a time may take.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    create_engine,
    event,
    func,
    inspect,
    make_url,
    select,
    text,
    update,
)
from sqlalchemy import Table as SQLTable
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.expression import Executable

from sheetcrm.errors import ConfigError

try:
    import fcntl
except ImportError:  # Windows: SQLite's own locking alone
    fcntl = None  # type: ignore[assignment]

TURN_POLL = 0.05  # seconds between looks at a turn another process holds
SCHEMA_LOCK = 0x5EE7C4A  # PostgreSQL's advisory lock while the tables are created

metadata = MetaData()
submissions = SQLTable(
    "submissions",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("source", String(40), nullable=False),
    Column("body", Text, nullable=False),
    Column("state", String(10), nullable=False),
    Column("received_at", Float, nullable=False),  # Unix time, UTC
    Column("attempts", Integer, nullable=False),
    Column("next_try_at", Float, nullable=False),
    Column("claimed_by", String(100)),
    Column("claimed_until", Float),
    Column("last_error", Text),
    Column("lead_id", String(40)),
    Column("done_at", Float),
    # Submission.digest() of the answers: a known key with another digest is another
    # submission (stored under a derived key), not a replay. NULL in rows stored before.
    Column("digest", String(64)),
)
Index("submissions_due", submissions.c.state, submissions.c.next_try_at)
# Submissions whose answers are still kept, by state and when done: what the retention
# erases, oldest first. Partial, so that an hourly purge costs what it erases, not the whole
# history of erased ones (their rows stay, holding the key that recognises a vendor's late
# retry as a duplicate). The state leads so that SQLite prefers it to submissions_due.
KEPT = text("body <> ''")
kept_index = Index(
    "submissions_kept",
    submissions.c.state,
    submissions.c.done_at,
    sqlite_where=KEPT,
    postgresql_where=KEPT,
)

# The last syncs and flushes, shared by every worker and instance, for /status.
runs = SQLTable(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(10), nullable=False),  # sync | flush
    Column("at", Float, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("ok", Integer, nullable=False),
    Column("summary", Text, nullable=False),  # JSON; lead IDs at most, no personal data
    Column("error", Text),
)


# The notifications a sync planned (sheetcrm.notify): one row per Notification.key. Held
# while the sheet write that planned them is in flight, pending once it landed, then sent,
# dead, or folded into a summary when the recipient's hourly cap is reached.
notifications = SQLTable(
    "notifications",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("lead_id", String(40), nullable=False),
    Column("event", String(60), nullable=False),
    Column("channel", String(100), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("subject", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("leads_row", Integer, nullable=False),
    Column("state", String(10), nullable=False),  # held | pending | sent | dead | folded
    Column("created_at", Float, nullable=False),  # Unix time, UTC
    Column("next_try_at", Float, nullable=False),  # quiet hours, then backoff
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("sent_at", Float),
    # which write planned it (engine.notifications.write_token): the proof of landing
    Column("sync_stamp", String(64), nullable=False),
    # a lead appended by that write: its row in the sheet proves the append landed
    Column("new_lead", Integer, nullable=False),
    Column("cap", Integer, nullable=False),  # most messages per recipient per hour; 0: none
    Column("claimed_by", String(100)),
    Column("claimed_until", Float),
    Column("summary_key", String(64)),  # folded: the summary message that told it
    Column("logged", Integer, nullable=False),  # written to the sheet's log tab
    # the sheet's Language when planned: a summary of it is written in it ("" or NULL: en)
    Column("language", String(10)),
)
Index("notifications_due", notifications.c.state, notifications.c.next_try_at)
Index("notifications_recipient", notifications.c.recipient, notifications.c.sent_at)
Index("notifications_held", notifications.c.state, notifications.c.sync_stamp)


def default_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'sheetcrm-outbox.sqlite3'}"


class NoOutboxError(ConfigError):
    """An outbox asked for to read or to work on, that does not exist: opening it would make
    a new, empty one, and answer "0 pending" while the real one holds the work."""


class OutboxDB:
    def __init__(self, url: str, create: bool = True) -> None:
        """Open the outbox at ``url``, creating its tables; with ``create=False``, refuse
        (:class:`NoOutboxError`) where there is none yet, and create nothing."""
        self.url = url
        backend = make_url(url).get_backend_name()
        dialect = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}.get(backend)
        if dialect is None:
            raise ConfigError(
                f"the outbox cannot use {backend} databases",
                "use SQLite (the default) or PostgreSQL: postgresql+psycopg://...",
            )
        self._dialect_insert = dialect
        shown = make_url(url).render_as_string(hide_password=True)
        missing = _missing_file(url)
        if missing is not None and not create:
            raise NoOutboxError(f"there is no outbox at {missing}")
        try:
            self.engine: Engine = _engine(url)
        except ImportError as exc:  # SQLAlchemy loads the driver as the engine is made
            raise ConfigError(
                f"the outbox {shown} needs the database driver {exc.name or exc}, which is "
                "not installed",
                "pip install 'sheetcrm[postgres]' (psycopg), and write the URL as "
                "postgresql+psycopg://...",
            ) from exc
        self._lock_file = _lock_file(url)
        try:
            if create:
                self._create(backend)
            elif not self._exists():
                raise NoOutboxError(f"{shown} holds no outbox (no table {submissions.name})")
        except (SQLAlchemyError, OSError) as exc:  # OSError: the lock file's folder
            self.engine.dispose()
            raise ConfigError(
                f"cannot open the outbox {shown}: {getattr(exc, 'orig', exc)}",
                "check SHEETCRM_OUTBOX (or --outbox): a SQLite file's folder must exist and "
                "be writable; a PostgreSQL server must be reachable, with that database and user",
            ) from exc
        except NoOutboxError:
            self.engine.dispose()
            raise

    def _create(self, backend: str) -> None:
        # Instances starting together on an empty database: one creates the tables, the
        # others wait and find them. On a SQLite file they queue on the writers' file
        # lock: the first connection also switches the file to WAL, and two at once
        # could fail "database is locked" without waiting (1 start in 20 in a test).
        with self.begin() as conn:
            if backend == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK)))
            metadata.create_all(conn)
            # an outbox made before this column or index existed gets it now: create_all
            # leaves the columns and indexes of a table it finds alone
            for table in (submissions, notifications):
                _add_missing_columns(conn, table)
            kept_index.create(conn, checkfirst=True)

    def _exists(self) -> bool:
        with self.engine.connect() as conn:
            return inspect(conn).has_table(submissions.name)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A write transaction. On a SQLite file, writers of every process first queue on a
        file lock beside it: the kernel hands it on the moment it is released, whereas
        SQLite's own busy handler polls with sleeps of up to 100 ms, so that under load
        one gunicorn worker's commits could starve another's for hundreds of ms."""
        if self._lock_file is None:
            with self.engine.begin() as conn:
                yield conn
            return
        fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with self.engine.begin() as conn:
                yield conn
        finally:
            os.close(fd)  # closing lets go of the lock

    def insert_new(self, table: SQLTable) -> Executable:
        """An INSERT that skips a row whose primary key is stored already and returns the
        keys of the rows it stored."""
        keys = list(table.primary_key.columns)
        # both dialects' insert() has on_conflict_do_nothing; mypy sees only their union.
        # RETURNING tells whether the row is new: psycopg's rowcount here is -1, not 0 or 1.
        return (
            self._dialect_insert(table)
            .on_conflict_do_nothing(index_elements=keys)  # type: ignore[attr-defined]
            .returning(*keys)
        )

    @contextmanager
    def turn(self, name: str, key: int, wait: float = 0.0) -> Iterator[bool]:
        """Whether this process has the turn ``name`` now, refused while another process
        holds it (after waiting up to ``wait`` seconds for it): a file lock
        ``<database>-<name>.lock`` beside a SQLite file, PostgreSQL's advisory lock ``key``;
        always granted to a SQLite without a file. A killed holder's turn is free at once."""
        deadline = time.monotonic() + wait
        if self._lock_file is not None:
            fd = os.open(
                self._lock_file.replace("-writer.lock", f"-{name}.lock"),
                os.O_RDWR | os.O_CREAT,
                0o600,
            )
            try:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            yield False
                            return
                        time.sleep(TURN_POLL)
                yield True
            finally:
                os.close(fd)
        elif self.engine.dialect.name == "postgresql":
            with self.engine.connect() as conn:
                lock = text("SELECT pg_try_advisory_lock(:k)")
                got = conn.execute(lock, {"k": key}).scalar()
                while not got and time.monotonic() < deadline:
                    time.sleep(TURN_POLL)
                    got = conn.execute(lock, {"k": key}).scalar()
                conn.commit()  # end the reads' transaction: the session lock outlives it
                try:
                    yield bool(got)
                finally:
                    if got:
                        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                        conn.commit()
        else:
            yield True

    def retry_dead(self, table: SQLTable, keys: Iterable[str] | None, now: float) -> int:
        """Make the dead rows of ``table`` (submissions or notifications; all of them, or
        those named) pending again, due now, with their count of tries started over."""
        c = table.c
        query = update(table).where(c.state == "dead")
        if keys is not None:
            query = query.where(c.key.in_(list(keys)))
        with self.begin() as conn:
            return conn.execute(
                query.values(state="pending", attempts=0, next_try_at=now, last_error=None)
            ).rowcount

    def release_claims(self, table: SQLTable, gone: Callable[[str], bool]) -> int:
        """End the claims on ``table`` (submissions or notifications) of holders for which
        ``gone(holder)`` is true (a process killed): their rows are due again now rather
        than when the claims run out. Only a dead holder's: a live one may be mid-work."""
        c = table.c
        with self.begin() as conn:
            holders = conn.execute(
                select(c.claimed_by).where(c.claimed_by.is_not(None)).distinct()
            ).scalars()
            dead = [h for h in holders if gone(h)]
            if not dead:
                return 0
            return int(
                conn.execute(
                    update(table)
                    .where(c.claimed_by.in_(dead))
                    .values(claimed_by=None, claimed_until=None)
                ).rowcount
            )

    def close(self) -> None:
        self.engine.dispose()


def _add_missing_columns(conn: Connection, table: SQLTable) -> None:
    """ALTER TABLE ... ADD COLUMN for each nullable column the stored table lacks (run under
    the schema lock: instances opening one outbox at once add it once)."""
    have = {c["name"] for c in inspect(conn).get_columns(table.name)}
    for column in table.columns:
        if column.name not in have and column.nullable:
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))


def _missing_file(url: str) -> str | None:
    """The path of a SQLite outbox's file when that file does not exist (or is in memory)."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database.startswith("file:"):
        return None
    if database in ("", ":memory:"):
        return ":memory:"
    return None if Path(database).exists() else str(Path(database).resolve())


def _lock_file(url: str) -> str | None:
    """``<database>-writer.lock`` for a SQLite file where file locks exist; else None."""
    parsed = make_url(url)
    database = parsed.database or ""
    if fcntl is None or parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):
        return None  # a URI filename: leave locking to SQLite
    return f"{database}-writer.lock"


def _engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        # A database that hangs must not hang every webhook with it: give up after seconds,
        # and the webhook is answered 503, which vendors retry.
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_timeout=10,
            connect_args={"connect_timeout": 10, "options": "-c statement_timeout=30000"},
        )
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Transactions begin explicitly (below), so that a claim takes the write lock at
        # once instead of upgrading a read lock and failing as "database is locked".
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # writers do not block readers
        # FULL: a submission answered 202 survives a power cut, not only a killed process.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
