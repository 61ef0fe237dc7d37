"""gunicorn's hooks for sheetcrm (app.yaml's entrypoint passes ``-c gunicorn.conf.py``).

When SHEETCRM_BACKGROUND is on (the default), the master keeps one ``sheetcrm background``
process running beside the workers: it flushes the outbox and runs the scheduled syncs, so
that reading and planning the sheet never holds the GIL a worker's webhooks need. The
workers themselves then leave that work alone. See src/sheetcrm/service/background.py.
"""

import os
import sys
from typing import Any

# gunicorn's own lines as JSON lines, like the app's (sheetcrm.service.logs, which takes out
# query strings and bearer tokens: gunicorn quotes a request line it cannot parse). No access
# log: the app logs each request itself, by its path alone, and gunicorn's access line would
# carry the query string, where Jotform puts its token.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "sheetcrm.service.logs.JSONLines"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": "WARNING", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "propagate": False},  # level: --log-level
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
    },
}


def on_starting(server: Any) -> None:
    """Before anything is started: settings that name Secret Manager secrets get their values,
    here once, for the workers and the background process to inherit."""
    from sheetcrm.errors import ConfigError
    from sheetcrm.service import secret_manager

    try:
        os.environ.update(secret_manager.resolve(os.environ))
    except ConfigError as exc:
        server.log.error("cannot start: %s", exc)
        sys.exit(1)


def when_ready(server: Any) -> None:
    """The master has bound its sockets; its workers are forked next. (Not called again on
    a reload, SIGHUP: the process and its supervisor go on.)"""
    from sheetcrm.errors import ConfigError
    from sheetcrm.service import background

    try:
        wanted = background.wanted(os.environ)
    except ConfigError as exc:  # said as a JSON line, not as the master's traceback
        server.log.critical(f"sheetcrm cannot start: {exc}")
        raise SystemExit(1) from exc
    if wanted:
        # kept on the master, not in this module: a reload runs this file afresh
        server.sheetcrm_supervisor = background.Supervisor(os.environ, log=server.log.warning)
        server.sheetcrm_supervisor.start()


def post_fork(server: Any, worker: Any) -> None:
    """In each new worker, before it loads the app: no background thread of its own; its
    /status asks whether the master's background process runs."""
    from sheetcrm.service import background

    background.beside(server.pid)


def on_exit(server: Any) -> None:
    supervisor = getattr(server, "sheetcrm_supervisor", None)
    if supervisor is not None:
        supervisor.stop()
