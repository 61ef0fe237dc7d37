"""How a notification goes out: the channels the environment sets up, by the name an Alerts
row gives them. ``email`` is SMTP (:mod:`sheetcrm.notify.mail`); any other name is the chat
channel whose URL is in its variable, ``sales-wins``: ``SHEETCRM_CHANNEL_SALES_WINS_URL``
(:mod:`sheetcrm.notify.chat`).

Settings come from the environment only, never the sheet: they hold the SMTP password and
the webhooks' tokens. :meth:`Channels.describe` says what is set up without them.
"""

from __future__ import annotations

from collections.abc import Mapping

from sheetcrm.errors import ConfigError
from sheetcrm.notify import mail
from sheetcrm.notify.chat import ChatChannel
from sheetcrm.notify.message import DeliveryError, Message
from sheetcrm.service import environment

EMAIL = ("email", "e-mail", "")  # what an Alerts row's Channel may say for e-mail


def is_email(channel: str) -> bool:
    return channel.strip().casefold() in EMAIL


class Channels:
    def __init__(self, email: mail.SMTPSettings | None, chats: Mapping[str, ChatChannel]):
        self.email = email
        self.chats = dict(chats)  # by the variable that holds the URL

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Channels:
        """Every channel ``env`` sets up. A setting that cannot work (a URL apprise does not
        know, a host without a From) is a ConfigError naming the variable, never its value."""
        chats = {}
        for variable, url in environment.channel_urls(env).items():
            if variable == environment.channel_variable("email"):
                raise ConfigError(
                    f"{variable} names the e-mail channel, which is SMTP",
                    "set SHEETCRM_SMTP_HOST, SHEETCRM_SMTP_FROM and the others instead, or give "
                    "the chat channel another name",
                )
            chats[variable] = ChatChannel.from_url(variable, url)
        return cls(mail.SMTPSettings.from_env(env), chats)

    def known(self, channel: str) -> bool:
        """Whether a message to ``channel`` (an Alerts row's Channel) has a way out."""
        if is_email(channel):
            return self.email is not None
        return environment.channel_variable(channel) in self.chats

    def send(self, message: Message) -> None:
        """Send ``message`` once, or raise DeliveryError (permanent: trying again cannot
        help). The reason never holds a password or a webhook's URL."""
        if is_email(message.channel):
            if self.email is None:
                raise DeliveryError(
                    "e-mail is not set up: set SHEETCRM_SMTP_HOST and SHEETCRM_SMTP_FROM "
                    "(docs/alerts.md)",
                    permanent=True,
                )
            mail.send(self.email, message)
            return
        variable = environment.channel_variable(message.channel)
        chat = self.chats.get(variable)
        if chat is None:
            raise DeliveryError(
                f"no chat channel {message.channel!r}: set {variable} to its webhook URL "
                "(docs/alerts.md)",
                permanent=True,
            )
        chat.send(message)

    def describe(self) -> list[str]:
        """One line per channel, for start-up and /status; no secret in any."""
        lines = [self.email.describe()] if self.email else []
        lines += [chat.describe() for chat in self.chats.values()]
        if not lines:
            family = environment.CHANNEL_URL
            lines.append(
                "no notification channel is set up: SHEETCRM_SMTP_HOST for e-mail, "
                f"{family.prefix}<NAME>{family.suffix} for chat (docs/alerts.md)"
            )
        return lines
