"""gunicorn's hooks for sheetcrm (app.yaml's entrypoint passes ``-c gunicorn.conf.py``).

When SHEETCRM_BACKGROUND is on (the default), the master keeps one ``sheetcrm background``
process running beside the workers: it flushes the outbox and runs the scheduled syncs, so
that reading and planning the sheet never holds the GIL a worker's webhooks need. The
workers themselves then leave that work alone. See src/sheetcrm/background.py.
"""

import os
from typing import Any

_supervisor: Any = None


def when_ready(server: Any) -> None:
    """The master has bound its sockets; its workers are forked next."""
    global _supervisor
    from sheetcrm import background

    if background.wanted(os.environ):
        _supervisor = background.Supervisor(os.environ, log=server.log.warning)
        _supervisor.start()
    os.environ["SHEETCRM_BACKGROUND"] = "0"  # read by the workers, forked after this


def on_exit(server: Any) -> None:
    if _supervisor is not None:
        _supervisor.stop()
