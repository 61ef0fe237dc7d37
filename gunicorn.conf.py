"""gunicorn's hooks for sheetcrm (app.yaml's entrypoint passes ``-c gunicorn.conf.py``).

When SHEETCRM_BACKGROUND is on (the default), the master keeps one ``sheetcrm background``
process running beside the workers: it flushes the outbox and runs the scheduled syncs, so
that reading and planning the sheet never holds the GIL a worker's webhooks need. The
workers themselves then leave that work alone. See src/sheetcrm/service/background.py.
"""

import os
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


def when_ready(server: Any) -> None:
    """The master has bound its sockets; its workers are forked next. (Not called again on
    a reload, SIGHUP: the process and its supervisor go on.)"""
    from sheetcrm.service import background

    if background.wanted(os.environ):
        # kept on the master, not in this module: a reload runs this file afresh
        server.sheetcrm_supervisor = background.Supervisor(os.environ, log=server.log.warning)
        server.sheetcrm_supervisor.start()


def post_fork(server: Any, worker: Any) -> None:
    """In each new worker, before it loads the app: no background thread of its own. Set
    here rather than in the master's environment, which a USR2 re-exec hands on."""
    os.environ["SHEETCRM_BACKGROUND"] = "0"


def on_exit(server: Any) -> None:
    supervisor = getattr(server, "sheetcrm_supervisor", None)
    if supervisor is not None:
        supervisor.stop()
