"""The service's settings: read once from ``SHEETCRM_*`` environment variables through their
declaration (:mod:`sheetcrm.service.environment`), secrets included (they never live in the
sheet), and what a process says about them as it starts."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sheetcrm.backends.sheets_address import check_location, spreadsheet_id
from sheetcrm.errors import ConfigError
from sheetcrm.intake.activity import ACTIVITY
from sheetcrm.intake.adapters import SOURCES
from sheetcrm.intake.retention import RETENTION_DAYS
from sheetcrm.intake.signatures import protection, secret_variable
from sheetcrm.intake.timeouts import Timeouts
from sheetcrm.notify.channels import Channels
from sheetcrm.notify.nurture import NurtureSettings
from sheetcrm.notify.sender import Send, no_channels
from sheetcrm.service import environment, logs
from sheetcrm.service.environment import MAX_BODY_BYTES
from sheetcrm.service.flush_variables import BURST_RATE, FLUSH_BATCH, FLUSH_HOLD_SECONDS


@dataclass
class ServiceConfig:
    sheet: str
    outbox_url: str
    task_token: str = ""
    secrets: dict[str, str] = field(default_factory=dict)  # source -> secret
    max_body: int = MAX_BODY_BYTES
    background: bool = True
    flush_every: float = 5.0  # seconds between flushes at most: 3 write requests each
    burst_rate: int = BURST_RATE  # submissions a second that hold flushes back (pacing.py)
    flush_hold: float = FLUSH_HOLD_SECONDS  # the longest a flush is held back in a burst
    batch: int = FLUSH_BATCH
    trust_cron_header: bool = False  # only on App Engine, which strips it from outside requests
    platform: str = ""  # "App Engine", "Cloud Run", or "" (environment.platform)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # undeclared names, hints
    retention_days: int = RETENTION_DAYS  # done submissions' bodies are erased after this
    send: Send = no_channels  # how notifications go out: the channels of the environment
    channels: list[str] = field(default_factory=list)  # what is set up, without secrets
    # what nurture e-mails' unsubscribe links need (SHEETCRM_PUBLIC_URL, the secret)
    nurture: NurtureSettings = field(default_factory=NurtureSettings)
    timeouts: Timeouts = field(default_factory=Timeouts)  # the database_variables (PostgreSQL)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServiceConfig:
        """The service's settings from ``env``, read through the declaration
        (:mod:`sheetcrm.service.environment`); a setting that would lose data or that
        cannot work stops the start here, not at the first webhook."""
        values = environment.read(env)
        sheet = values["SHEETCRM_SHEET"]
        check_location(sheet, "SHEETCRM_SHEET")
        outbox_url = values["SHEETCRM_OUTBOX"] or default_outbox(sheet)
        where = environment.platform(env)
        allowed = values["SHEETCRM_ALLOW_SQLITE_OUTBOX"]
        if where and outbox_url.startswith("sqlite") and not allowed:
            raise ConfigError(
                f"a SQLite outbox on {where} loses web-form submissions: its disk goes with "
                "the instance, and with it every submission already answered 202",
                "point SHEETCRM_OUTBOX at Cloud SQL for PostgreSQL, "
                f"{environment.CLOUD_SQL_URL} (see docs/environment.md); for a "
                "single-instance trial only, SHEETCRM_ALLOW_SQLITE_OUTBOX=1",
            )
        secrets = {s: values[secret_variable(s)] for s in (*SOURCES, ACTIVITY)}
        channels = Channels.from_env(env)
        return cls(
            sheet=sheet,
            outbox_url=outbox_url,
            task_token=values["SHEETCRM_TASK_TOKEN"],
            secrets={s: secret for s, secret in secrets.items() if secret is not None},
            max_body=values["SHEETCRM_MAX_BODY_BYTES"],
            background=values["SHEETCRM_BACKGROUND"],
            flush_every=float(values["SHEETCRM_FLUSH_SECONDS"]),
            burst_rate=values["SHEETCRM_BURST_RATE"],
            flush_hold=values["SHEETCRM_FLUSH_HOLD_SECONDS"],
            batch=values["SHEETCRM_FLUSH_BATCH"],
            trust_cron_header=where == "App Engine",
            platform=where,
            ignored=environment.undeclared(env),
            retention_days=values["SHEETCRM_OUTBOX_RETENTION_DAYS"],
            send=channels.send,
            channels=channels.describe(),
            nurture=NurtureSettings.from_env(env),
            timeouts=Timeouts(
                connect=values["SHEETCRM_PG_CONNECT_TIMEOUT"],
                statement=values["SHEETCRM_PG_STATEMENT_TIMEOUT"],
                turn_wait=values["SHEETCRM_WRITING_TURN_WAIT"],
            ),
        )

    def announce(self, serves: bool) -> None:
        """What a process says as it starts: an outbox that will not survive the instance,
        and, where webhooks are answered, which form sources anyone may post to."""
        for name, hint in self.ignored:
            logs.event(
                f"{name} is not a sheetcrm setting; ignored — {hint}",
                logging.WARNING,
                kind="config",
                variable=name,
            )
        if self.platform and self.outbox_url.startswith("sqlite"):
            logs.event(
                f"the outbox is SQLite on {self.platform} (SHEETCRM_ALLOW_SQLITE_OUTBOX): "
                "submissions already answered 202 are lost when the instance is recycled; "
                "for a single-instance trial only",
                logging.WARNING,
                kind="config",
                outbox="sqlite",
                platform=self.platform,
            )
        for line in self.channels:  # said by every process: any of them may send
            logs.event(f"alerts: {line}", kind="config", channel=line.split(":", 1)[0])
        if not serves:
            return
        for source in (*SOURCES, ACTIVITY):
            door = protection(source, self.secrets.get(source))
            logs.event(
                f"/hooks/{source}: {door.says}",
                logging.INFO if door.kind in ("signed", "token") else logging.WARNING,
                kind="config",
                source=source,
                protection=door.kind,
            )


def default_outbox(sheet: str) -> str:
    """Beside a workbook, ``crm.xlsx`` -> ``crm.outbox.sqlite3``; for a Google Sheet, in the
    working folder. (On App Engine and Cloud Run, from_env refuses it: use PostgreSQL.)"""
    check_location(sheet)  # else a web address would make folders named https: and so on
    if spreadsheet_id(sheet):
        return f"sqlite:///{Path('sheetcrm-outbox.sqlite3').resolve()}"
    path = Path(sheet).resolve()
    return f"sqlite:///{path.with_name(path.stem + '.outbox.sqlite3')}"
