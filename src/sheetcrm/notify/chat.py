"""Chat channels (Slack, Google Chat, Microsoft Teams, any JSON webhook) through apprise,
one plugin per channel variable (:data:`sheetcrm.service.environment.CHANNEL_URL`).

apprise says only whether a send went through; why it did not is in what it logs (a
webhook's answer as ``error=<status>``). So apprise's logger gets one handler, ours, which
keeps the records of the send running on the current thread to classify the failure, and
lets nothing through to any other handler: at DEBUG apprise writes whole webhook URLs,
tokens and all, and its warnings name hosts and channels.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus

import apprise
from apprise.logger import LOGGER_NAME
from apprise.plugins.base import NotifyBase
from apprise.plugins.custom_json import NotifyJSON
from apprise.plugins.workflows import NotifyWorkflows

from sheetcrm.errors import ConfigError
from sheetcrm.notify.message import DeliveryError, Message

# Slack and Google Chat take about one message a second per webhook; apprise waits 5.5 s
# between two sends to Google Chat or Teams, which would hold the whole outbox up.
MOST_SECONDS_BETWEEN = 1.0
# how every apprise web plugin logs a webhook's answer that is not 2xx
STATUS = re.compile(r"\berror=(\d{3})\b")
# a webhook's 4xx that later may pass: 408 Request Timeout, 429 Too Many Requests
RETRY_LATER = (408, 429)
URL_FORMS = (
    "write slack://…, gchat://…, workflows://… (Teams), json://host/path or jsons://…, or "
    "the webhook's https:// URL from Slack, Google Chat or Teams (docs/alerts.md)"
)


_LOCK = threading.Lock()  # two senders setting apprise's logger up at once add one handler


class _Records(logging.Handler):
    """apprise's records for the sends under way, per thread; the others are dropped."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        kept: list[logging.LogRecord] | None = getattr(self.local, "records", None)
        if kept is not None:
            kept.append(record)

    @contextmanager
    def collect(self) -> Iterator[list[logging.LogRecord]]:
        kept: list[logging.LogRecord] = []
        self.local.records = kept
        try:
            yield kept
        finally:
            self.local.records = None


def quiet_apprise() -> _Records:
    """Make our handler apprise's only way out (once per process); returns it."""
    logger = logging.getLogger(LOGGER_NAME)
    with _LOCK:
        found = next((h for h in logger.handlers if isinstance(h, _Records)), None)
        if found is None:
            found = _Records()
            logger.addHandler(found)
        logger.propagate = False  # never to the root's handlers, nor Python's last resort
        logger.setLevel(logging.INFO)  # its DEBUG lines are the ones with whole URLs
        return found


@dataclass(frozen=True)
class ChatChannel:
    variable: str  # which holds its URL: SHEETCRM_CHANNEL_SALES_WINS_URL for sales-wins
    plugin: NotifyBase

    @classmethod
    def from_url(cls, variable: str, url: str) -> ChatChannel:
        quiet_apprise()
        asset = apprise.AppriseAsset(app_id="sheetcrm", app_desc="sheetcrm alerts")
        plugin = apprise.Apprise.instantiate(url, asset=asset)
        if not isinstance(plugin, NotifyBase):
            # never the value: it holds the webhook's token
            raise ConfigError(f"{variable} is not a chat URL sheetcrm can send to", URL_FORMS)
        plugin.request_rate_per_sec = min(plugin.request_rate_per_sec, MOST_SECONDS_BETWEEN)
        return cls(variable, plugin)

    def describe(self) -> str:
        """The service and, for a webhook of one's own, its host: never the path, the
        query or the password, where the tokens are."""
        where = ""
        if isinstance(self.plugin, NotifyJSON | NotifyWorkflows):
            port = f":{self.plugin.port}" if self.plugin.port else ""
            where = f" at {self.plugin.host}{port}"
        return f"chat ({self.variable}): {self.plugin.service_name}{where}"

    def send(self, message: Message) -> None:
        """Post ``message``; a person's name as recipient starts it (``@Sofia Marin: …``)."""
        body = message.text.strip()
        if message.recipient:
            body = f"@{message.recipient}: {body}"
        if message.link:
            body += "\n" + message.link
        with quiet_apprise().collect() as records:
            try:
                sent = self.plugin.notify(
                    body=body,
                    title=" ".join(message.subject.split()),
                    body_format=apprise.NotifyFormat.TEXT,
                )
            except Exception as exc:  # a plugin's own bug: say what, not its text (URLs)
                raise DeliveryError(
                    f"{self._who()} failed: {type(exc).__name__} in apprise"
                ) from None
        if not sent:
            raise self._failure(records)

    def _who(self) -> str:
        return f"the {self.plugin.service_name} webhook of {self.variable}"

    def _failure(self, records: list[logging.LogRecord]) -> DeliveryError:
        statuses = [int(m[1]) for r in records if (m := STATUS.search(r.getMessage()))]
        if not statuses:
            seconds = max(_seconds(self.plugin.request_timeout))
            return DeliveryError(
                f"{self._who()} could not be reached or did not answer within {seconds:g} s"
            )
        status = statuses[-1]
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        answered = f"{self._who()} answered {status} {phrase}".rstrip()
        if 400 <= status < 500 and status not in RETRY_LATER:
            return DeliveryError(f"{answered}; check {self.variable}", permanent=True)
        return DeliveryError(answered)


def _seconds(timeout: object) -> tuple[float, ...]:
    """requests' timeout as apprise keeps it: (connect, read) or one number."""
    if isinstance(timeout, tuple):
        return tuple(float(t) for t in timeout if t is not None) or (0.0,)
    return (float(timeout),) if isinstance(timeout, int | float) else (0.0,)
