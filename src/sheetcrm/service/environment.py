"""The environment variables sheetcrm reads, each declared once, here: its default, how its
value is read and what it is for. Everything else is derived from this list: the service's
settings (:func:`read`), the gunicorn hooks (:func:`value`), the CLI's service commands, and
docs/environment.md (:func:`reference`; ``python -m sheetcrm.service.environment`` prints it,
and a test fails when the file is out of date). Adding a variable is adding one entry.

A ``SHEETCRM_*`` name that is not declared is a typo until shown otherwise
(``SHEETCRM_FLUSH_SECOND``): the service warns about it as it starts, and one that looks like
a form's secret (``SHEETCRM_SECRET_TYPEFROM``) stops it, as it would leave the form open.

Imported by gunicorn's master through background.py: the standard library only, here.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from sheetcrm.errors import ConfigError
from sheetcrm.intake.retention import RETENTION_DAYS
from sheetcrm.service.database_variables import DATABASE
from sheetcrm.service.flush_variables import FLUSHING
from sheetcrm.service.variables import (
    Family,
    Variable,
    address,
    as_text,
    choice,
    port,
    public_url,
    seconds,
    secret_key,
    switch,
    whole,
)

PREFIX = "SHEETCRM_"

MAX_BODY_BYTES = 1024 * 1024
# The most SHEETCRM_MAX_BODY_BYTES may be: App Engine refuses requests over 32 MB anyway, and
# each of a worker's threads may hold a body of that size in memory.
MAX_BODY_LIMIT = 32 * 1024 * 1024
MIN_TOKEN_CHARS = 16
PLACEHOLDER_TOKEN = "change-me"  # secret.example.yaml's
CLOUD_SQL_URL = (
    "postgresql+psycopg://USER:PASSWORD@/DATABASE?host=/cloudsql/PROJECT:REGION:INSTANCE"
)


def _sheet(name: str, text: str) -> str:
    if not text:
        raise ConfigError(
            f"{name} is not set",
            f"set it to the sheet's URL or ID, or a workbook path: {name}=crm.xlsx",
        )
    return text


def _task_token(name: str, text: str) -> str:
    """Empty turns the task endpoints off; anything else must be hard to guess: the token
    lets a caller flush, sync and read /status, and the example file's placeholder is public."""
    if text and (text == PLACEHOLDER_TOKEN or len(text) < MIN_TOKEN_CHARS):
        what = "is the example's placeholder" if text == PLACEHOLDER_TOKEN else "is too short"
        raise ConfigError(
            f"{name} {what} (at least {MIN_TOKEN_CHARS} characters)",
            'make one with: python3 -c "import secrets; print(secrets.token_urlsafe(32))"',
        )
    return text


def _form_secret(source: str, checks: str) -> Variable:
    name = PREFIX + "SECRET_" + source.upper().replace("-", "_")
    return Variable(
        name,
        "",
        as_text,
        f"The secret of the `{source}` webhook: {checks}. Unset, `/hooks/{source}` takes "
        "posts from anyone (the start-up log says so); set but empty, it refuses every post.",
        secret=True,
        empty_counts=True,
    )


_SHARED = (
    "`X-Signature: sha256=<hex HMAC-SHA256 of the body>`, or the secret itself as "
    "`Authorization: Bearer`, `X-Sheetcrm-Token` or `?token=`"
)

WHERE: tuple[Variable, ...] = (
    Variable(
        "SHEETCRM_SHEET",
        "",
        _sheet,
        "The sheet: its Google Sheets URL or ID, or a workbook path (`crm.xlsx`). Required by "
        "the service; the commands take `--sheet` instead.",
    ),
    Variable(
        "SHEETCRM_OUTBOX",
        "",
        as_text,
        "Where web-form submissions wait until they are in the sheet: a SQLAlchemy URL. Unset, "
        "a SQLite file beside the workbook (`crm.outbox.sqlite3`), or `sheetcrm-outbox.sqlite3` "
        "in the working folder for a Google Sheet. On App Engine and Cloud Run the disk goes "
        "with the instance, so a SQLite outbox is refused there: use Cloud SQL for PostgreSQL, "
        f"`{CLOUD_SQL_URL}` (the password URL-encoded), with `pip install 'sheetcrm[postgres]'`. "
        "`sheetcrm outbox` reads it too, unless given `--outbox`.",
    ),
    Variable(
        "SHEETCRM_ALLOW_SQLITE_OUTBOX",
        "0",
        switch,
        "1: a SQLite outbox may run on App Engine or Cloud Run, for a single-instance trial: "
        "submissions already answered 202 are lost when the instance is recycled. Every start "
        "logs a warning while it is on.",
    ),
)

SECRETS: tuple[Variable, ...] = (
    Variable(
        "SHEETCRM_TASK_TOKEN",
        "",
        _task_token,
        "The bearer token of `/tasks/sync`, `/tasks/flush` and `/status` (and the Apps "
        f"Script's `SHEETCRM_TOKEN`), at least {MIN_TOKEN_CHARS} characters. Unset, those "
        "endpoints are off (App Engine's cron still reaches the tasks).",
        secret=True,
    ),
    _form_secret("generic", _SHARED),
    _form_secret("typeform", "checks `Typeform-Signature`"),
    _form_secret("tally", "checks `Tally-Signature`"),
    _form_secret("jotform", _SHARED + " (Jotform can only send `?token=`)"),
    _form_secret("google-forms", _SHARED + " (the Apps Script sends its `SHEETCRM_TOKEN`)"),
    _form_secret("activity", _SHARED + " (the dialer's or e-mail tool's touches)"),
)

TUNING: tuple[Variable, ...] = (
    Variable(
        "SHEETCRM_BACKGROUND",
        "1",
        switch,
        "1: flush submissions within seconds and sync every `Sync every minutes` (Settings), in "
        "a thread under `sheetcrm serve`, in a process beside gunicorn's workers "
        "(gunicorn.conf.py). 0: only when `/tasks/flush` and `/tasks/sync` are called (cron).",
    ),
    *FLUSHING,
    Variable(
        "SHEETCRM_MAX_BODY_BYTES",
        str(MAX_BODY_BYTES),
        whole(MAX_BODY_LIMIT),
        f"The largest webhook body taken (413 past it), at most {MAX_BODY_LIMIT} (32 MB).",
    ),
    Variable(
        "SHEETCRM_OUTBOX_RETENTION_DAYS",
        str(RETENTION_DAYS),
        whole(),
        "Days a submission that reached the sheet keeps its answers; then only its key, "
        "source, dates and Lead ID stay (a vendor's retry is still known). See docs/outbox.md.",
    ),
)

SMTP_SECURITY = ("starttls", "ssl", "none")

NOTIFY: tuple[Variable, ...] = (
    Variable(
        "SHEETCRM_SMTP_HOST",
        "",
        as_text,
        "The SMTP server that sends the Alerts tab's e-mails (`smtp.example.com`). Unset, "
        "there is no e-mail channel: an e-mail notification is set aside with the reason. "
        "See docs/alerts.md.",
    ),
    Variable(
        "SHEETCRM_SMTP_PORT",
        "",
        port,
        "Its port. Unset: 587 for `starttls`, 465 for `ssl`, 25 for `none`.",
    ),
    Variable(
        "SHEETCRM_SMTP_SECURITY",
        "starttls",
        choice(*SMTP_SECURITY),
        "`starttls` (the connection is made secure before logging in), `ssl` (TLS from the "
        "first byte, usually port 465), or `none` (a relay on a private network only: the "
        "password would travel in clear).",
    ),
    Variable("SHEETCRM_SMTP_USER", "", as_text, "The SMTP login. Unset: no login."),
    Variable(
        "SHEETCRM_SMTP_PASSWORD",
        "",
        as_text,
        "The SMTP password (or app password), with `SHEETCRM_SMTP_USER`.",
        secret=True,
    ),
    Variable(
        "SHEETCRM_SMTP_FROM",
        "",
        address,
        "Who the e-mails are from: `crm@example.com` or `Sheet CRM <crm@example.com>`. "
        "Required with `SHEETCRM_SMTP_HOST`.",
    ),
    Variable(
        "SHEETCRM_SMTP_TIMEOUT",
        "10",
        seconds(120),
        "Seconds the SMTP server may take to answer each step before the send is given up "
        "and tried again later.",
    ),
    Variable(
        "SHEETCRM_PUBLIC_URL",
        "",
        public_url,
        "The service's public https address (`https://crm.example.com`), which nurture "
        "e-mails' unsubscribe links point to. Unset: no nurture e-mail is sent (each waits, "
        "with this reason): a marketing e-mail without a working unsubscribe link is unlawful "
        "in the EU. See docs/sequences.md.",
    ),
    Variable(
        "SHEETCRM_UNSUBSCRIBE_SECRET",
        "",
        secret_key,
        "The key that signs unsubscribe links (32 random characters or more). Changing it "
        "voids the links of every e-mail already sent: keep it in `secret.yaml` or Secret "
        "Manager.",
        secret=True,
    ),
    Variable(
        "SHEETCRM_UNSUBSCRIBE_DAYS",
        "365",
        whole(3650),
        "Days an unsubscribe link works; after, its page says so and how to stop the e-mails "
        "(reply to one).",
    ),
)


CHANNEL_URL = Family(
    PREFIX + "CHANNEL_",
    "_URL",
    PREFIX + "CHANNEL_SALES_WINS_URL",
    "The URL of the chat channel an Alerts row names (`sales-wins`: "
    "`SHEETCRM_CHANNEL_SALES_WINS_URL`; letters, digits, and `_` for anything else): an "
    "apprise URL, `slack://…`, `gchat://…`, `workflows://…` (Teams), `json://host/path` or "
    "`jsons://…`, or the webhook's own `https://` URL from Slack, Google Chat or Teams. "
    "It holds the webhook's token: keep it in `secret.yaml` or Secret Manager.",
    secret=True,
)
FAMILIES: tuple[Family, ...] = (CHANNEL_URL,)

ENVIRONMENT: tuple[Variable, ...] = (*WHERE, *SECRETS, *TUNING, *DATABASE, *NOTIFY)
_BY_NAME = {v.name: v for v in ENVIRONMENT}

# Set by the platform, read to know where the service runs; documented beside ours.
PLATFORMS: dict[str, tuple[str, ...]] = {
    "App Engine": ("GAE_ENV", "GAE_APPLICATION"),
    "Cloud Run": ("K_SERVICE",),
}
OTHERS: dict[str, str] = {
    "GAE_ENV, GAE_APPLICATION": "Set by App Engine: the service is on App Engine (a SQLite "
    "outbox is refused; the cron header is trusted).",
    "K_SERVICE": "Set by Cloud Run: the service is on Cloud Run (a SQLite outbox is refused).",
    "PORT": "Set by App Engine and Cloud Run: app.yaml's entrypoint binds gunicorn to it.",
    "GOOGLE_APPLICATION_CREDENTIALS": "The path of a service-account key (JSON) for a Google "
    "Sheet, read by google-auth. Unset on App Engine and Cloud Run: the service's attached "
    "service account is used.",
    "SHEETS_EMULATOR_HOST": "Tests and benchmarks only: send every Sheets API request to the "
    "local stand-in (`python -m sheetcrm.emulator`) at this host:port.",
}


def value(env: Mapping[str, str], name: str) -> Any:
    """The declared variable ``name`` as ``env`` sets it, parsed; its default when unset or
    empty (None when unset, for one whose empty value counts)."""
    variable = _BY_NAME[name]
    raw = env.get(name)
    if variable.empty_counts:
        return None if raw is None else variable.parse(name, raw.strip())
    return variable.parse(name, (raw or "").strip() or variable.default)


def read(env: Mapping[str, str]) -> dict[str, Any]:
    """Every declared variable, parsed. An undeclared ``SHEETCRM_SECRET_*`` name is an
    error (named, never its value): the form it was meant for would take anyone's posts."""
    for name, hint in undeclared(env):
        if name.startswith(PREFIX + "SECRET_"):
            raise ConfigError(f"{name} is not a sheetcrm setting", hint)
    return {name: value(env, name) for name in _BY_NAME}


def declared(name: str) -> bool:
    return name in _BY_NAME or any(family.holds(name) for family in FAMILIES)


def undeclared(env: Mapping[str, str]) -> list[tuple[str, str]]:
    """The ``SHEETCRM_*`` names in ``env`` that are not declared, each with a hint."""
    found = []
    for name in sorted(env):
        if name.startswith(PREFIX) and not declared(name):
            close = difflib.get_close_matches(name, list(_BY_NAME), n=1, cutoff=0.6)
            family = next((f for f in FAMILIES if name.startswith(f.prefix)), None)
            if family:
                hint = f"did you mean {family.prefix}<NAME>{family.suffix}?"
            else:
                hint = f"did you mean {close[0]}?" if close else "docs/environment.md lists them"
            found.append((name, hint))
    return found


def channel_variable(channel: str) -> str:
    """The variable that holds the URL of the chat channel named ``channel`` on the Alerts
    tab: ``sales-wins``, ``Sales Wins`` and ``SALES_WINS`` all name the same one."""
    name = re.sub(r"[^A-Z0-9]+", "_", channel.upper()).strip("_")
    return CHANNEL_URL.prefix + name + CHANNEL_URL.suffix


def channel_urls(env: Mapping[str, str]) -> dict[str, str]:
    """variable -> URL, for every chat channel ``env`` sets (not empty)."""
    return {
        name: text.strip()
        for name, text in sorted(env.items())
        if CHANNEL_URL.holds(name) and text.strip()
    }


def platform(env: Mapping[str, str]) -> str:
    """ "App Engine", "Cloud Run", or "" elsewhere, as the platform's own variables say."""
    for name, variables in PLATFORMS.items():
        if any(env.get(v, "").strip() for v in variables):
            return name
    return ""


def reference() -> str:
    """docs/environment.md, from the declarations above."""
    lines = [
        "# Environment variables",
        "",
        "Generated from `src/sheetcrm/service/environment.py` by",
        "`python -m sheetcrm.service.environment > docs/environment.md`; a test fails when",
        "this page and the code disagree.",
        "",
        "The service (`sheetcrm serve`, gunicorn as app.yaml runs it, `sheetcrm background`)",
        "reads these as it starts. A `SHEETCRM_*` name not listed here is a typo until shown",
        "otherwise: it is logged as a warning, and one that looks like a form's secret stops",
        "the start. Its first lines say which form sources anyone may post to. The",
        "sheet commands (`init`, `sync`, `import`) take `--sheet` and read none of these.",
        "Secrets belong in `secret.yaml` (App Engine) or Secret Manager, never in the sheet",
        "or a committed file.",
    ]
    sections = (
        ("Where", WHERE),
        ("Secrets", SECRETS),
        ("Tuning", TUNING),
        ("The outbox's database, with several instances (docs/outbox.md)", DATABASE),
        ("Notifications (docs/alerts.md)", NOTIFY),
    )
    for title, variables in sections:
        lines += ["", f"## {title}", "", "| variable | default | what |", "| --- | --- | --- |"]
        for v in variables:
            default = f"`{v.default}`" if v.default else "unset"
            lines.append(f"| `{v.name}` | {default} | {v.help} |")
        if variables is NOTIFY:
            for f in FAMILIES:
                lines.append(f"| `{f.prefix}<NAME>{f.suffix}` | unset | {f.help} |")
    lines += ["", "## Set by others", "", "| variable | what |", "| --- | --- |"]
    lines += [f"| `{name}` | {what} |" for name, what in OTHERS.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(reference(), end="")
