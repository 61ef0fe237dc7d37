"""The environment variables of the outbox's database that matter once several instances
share one PostgreSQL outbox: how long each waits on it, and so what a stuck or dead instance
can cost the others. Declared as :mod:`sheetcrm.service.environment` declares the rest (and
read by it): the standard library only, here. Their defaults are today's values,
:mod:`sheetcrm.intake.timeouts`."""

from __future__ import annotations

from sheetcrm.intake.timeouts import CONNECT_SECONDS, STATEMENT_SECONDS, TURN_WAIT_SECONDS
from sheetcrm.service.variables import Variable, seconds

DATABASE: tuple[Variable, ...] = (
    Variable(
        "SHEETCRM_PG_CONNECT_TIMEOUT",
        f"{CONNECT_SECONDS:g}",
        seconds(300),
        "Seconds to open a connection to a PostgreSQL outbox, or to wait for a free one of "
        "the process's pool: past it the webhook is answered 503 (vendors retry), rather "
        "than every worker hanging on a database that does not answer.",
    ),
    Variable(
        "SHEETCRM_PG_STATEMENT_TIMEOUT",
        f"{STATEMENT_SECONDS:g}",
        seconds(3600),
        "Seconds a statement of a PostgreSQL outbox may run, waits for locks included, "
        "before the server cancels it: what an instance stuck mid-transaction can cost the "
        "others.",
    ),
    Variable(
        "SHEETCRM_WRITING_TURN_WAIT",
        f"{TURN_WAIT_SECONDS:g}",
        seconds(3600),
        "Seconds a sync or flush waits while another process of the same outbox (on any "
        "instance) writes to the sheet, before it gives up as busy and is tried again. A "
        'killed writer\'s turn is free at once (docs/outbox.md, "Several instances").',
    ),
)
