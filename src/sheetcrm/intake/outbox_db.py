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
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
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
from sheetcrm.intake.outbox_tables import kept_index
from sheetcrm.intake.outbox_tables import metadata as metadata
from sheetcrm.intake.outbox_tables import notifications as notifications
from sheetcrm.intake.outbox_tables import runs as runs
from sheetcrm.intake.outbox_tables import submissions as submissions
from sheetcrm.intake.outbox_tables import unsubscribed as unsubscribed
from sheetcrm.intake.timeouts import Timeouts

try:
    import fcntl
except ImportError:  # Windows: SQLite's own locking alone
    fcntl = None  # type: ignore[assignment]

# Rows per INSERT of store_new. On SQLite each value is a placeholder of a multi-VALUES INSERT
# (SQLite takes at most 32,766; a notification has 16 columns). On PostgreSQL each column is one
# array parameter, so a statement's size costs no parsing: psycopg re-parses a query of more
# than 50 placeholders at every execution, which was 2.2 s of 3 s for 13,790 notifications in
# chunks of 500 (docs/benchmarks.md, "Alerts"); the chunk only bounds one statement's memory.
VALUES_ROWS = 500
ARRAY_ROWS = 5_000
GLANCE = "sheetcrm_glance"  # the execution option of OutboxDB.glance's connections
TURN_POLL = 0.05  # seconds between looks at a turn another process holds
SCHEMA_LOCK = 0x5EE7C4A  # PostgreSQL's advisory lock while the tables are created


def default_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'sheetcrm-outbox.sqlite3'}"


class NoOutboxError(ConfigError):
    """An outbox asked for to read or to work on, that does not exist: opening it would make
    a new, empty one, and answer "0 pending" while the real one holds the work."""


class OutboxDB:
    def __init__(self, url: str, create: bool = True, timeouts: Timeouts | None = None) -> None:
        """Open the outbox at ``url``, creating its tables; with ``create=False``, refuse
        (:class:`NoOutboxError`) where there is none yet, and create nothing. ``timeouts``:
        the database's (service/database_variables.py), today's defaults when not given."""
        self.url = url
        self.timeouts = timeouts or Timeouts()
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
            self.engine: Engine = _engine(url, self.timeouts)
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

    def glance(self) -> Connection:
        """A connection for a short read that must not hold up the webhooks' commits (the
        background work's look at the outbox every second while a burst comes in): on
        SQLite its transaction is deferred. Other reads stay IMMEDIATE: a deferred claim
        read let the flusher run unthrottled through a burst (docs/benchmarks.md)."""
        return self.engine.connect().execution_options(**{GLANCE: True})

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

    def store_new(
        self, conn: Connection, table: SQLTable, rows: Sequence[dict[str, Any]]
    ) -> list[str]:
        """Insert, in ``conn``'s transaction and in the order given, those of ``rows`` (dicts
        of the same columns) whose key is not stored yet: the keys of the rows it stored."""
        if not rows:
            return []
        names = tuple(rows[0])
        stored: list[str] = []
        if self.engine.dialect.name != "postgresql":
            values = self.insert_new(table)
            for start in range(0, len(rows), VALUES_ROWS):
                stored += conn.execute(values, rows[start : start + VALUES_ROWS]).scalars()
            return stored
        keys = {c.name for c in table.primary_key.columns}
        for start in range(0, len(rows), ARRAY_ROWS):
            part = rows[start : start + ARRAY_ROWS]
            columns = {name: [row[name] for row in part] for name in names}
            # a value every row has (a hold's state, time, token) goes once, not as a list
            same = frozenset(
                name
                for name, values in columns.items()
                if name not in keys and values.count(values[0]) == len(values)
            )
            params = {
                name: values[0] if name in same else values for name, values in columns.items()
            }
            query = _unnest_insert(conn, table, names, same)
            stored += conn.exec_driver_sql(query, params).scalars()
        return stored

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
            # claims live on pending rows only: the state's index keeps this look cheap on an
            # outbox of many done rows, which the service makes every few seconds
            claimed = (c.state == "pending") & c.claimed_by.is_not(None)
            holders = conn.execute(select(c.claimed_by).where(claimed).distinct()).scalars()
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


def _unnest_insert(
    conn: Connection, table: SQLTable, names: tuple[str, ...], same: frozenset[str]
) -> str:
    """PostgreSQL's INSERT of the columns ``names``, each given as one list of its values
    (``%(name)b``), or as one value for all rows for those in ``same``, skipping stored keys,
    returning the keys stored. The rows go in in the lists' order (WITH ORDINALITY): writers
    lock shared keys in one order. For psycopg itself (exec_driver_sql): ``%b`` sends the lists
    as binary arrays, whereas in text it quotes each string with a regex, in Python (0.26 of
    0.44 s for 13,790 notifications), and what is the same in every row is sent once."""
    quote = conn.dialect.identifier_preparer.quote

    def cast(name: str, suffix: str = "") -> str:
        return f"CAST(%({name})b AS {table.c[name].type.compile(dialect=conn.dialect)}{suffix})"

    listed = [name for name in names if name not in same]
    picked = [quote(name) if name not in same else cast(name) for name in names]
    keys = ", ".join(quote(c.name) for c in table.primary_key.columns)
    return (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in names)}) "
        f"SELECT {', '.join(picked)} "
        f"FROM unnest({', '.join(cast(name, '[]') for name in listed)}) "
        f"WITH ORDINALITY AS given({', '.join(quote(name) for name in listed)}, _at) "
        f"ORDER BY _at ON CONFLICT ({keys}) DO NOTHING RETURNING {keys}"
    )


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


def _engine(url: str, timeouts: Timeouts) -> Engine:
    if not url.startswith("sqlite"):
        # A database that hangs must not hang every webhook with it: give up after seconds,
        # and the webhook is answered 503, which vendors retry.
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_timeout=timeouts.connect,
            connect_args=timeouts.connect_args(),
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
        # A glance (OutboxDB.glance) takes no lock a writer waits for: in WAL, a deferred
        # read transaction never blocks a commit, whereas an IMMEDIATE one held by the niced
        # background process, preempted, left webhooks' commits in SQLite's busy handler.
        glance = conn.get_execution_options().get(GLANCE, False)
        conn.exec_driver_sql("BEGIN DEFERRED" if glance else "BEGIN IMMEDIATE")

    return engine
