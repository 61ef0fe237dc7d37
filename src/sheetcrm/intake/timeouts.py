"""How long the outbox waits on its database: the defaults here, set by the variables of
service/database_variables.py (which gunicorn's master imports: the standard library only,
here).

With several instances on one database, each of these bounds what a stuck or dead one
costs the others: a server that does not answer (connect), a statement stuck behind
another's locks (statement), and an instance that holds the turn to write to the sheet for
too long (the writing turn's wait, after which a sync or flush is "busy" and tried again)."""

from __future__ import annotations

from dataclasses import dataclass

CONNECT_SECONDS = 10.0
STATEMENT_SECONDS = 30.0
TURN_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Timeouts:
    connect: float = CONNECT_SECONDS  # to open a connection (and to wait for one of the pool)
    statement: float = STATEMENT_SECONDS  # the longest statement, locks waited for included
    turn_wait: float = TURN_WAIT_SECONDS  # for the writing turn another instance holds

    def connect_args(self) -> dict[str, object]:
        """psycopg's: libpq takes whole seconds (at least 2), the server milliseconds."""
        return {
            "connect_timeout": max(2, round(self.connect)),
            "options": f"-c statement_timeout={round(self.statement * 1000)}",
        }
