"""E-mail over SMTP, with Python's smtplib rather than apprise's mailto:// plugin, which
cannot do what the outbox needs (apprise 2.3.0, plugins/email):

- it adds its own Message-ID after any ``+Message-ID=`` header, so the message would carry
  two (RFC 5322 allows one; Gmail refuses such mail), and the key could not be the
  Message-ID a receiver drops a resend by;
- ``send()`` catches every SMTP error and returns False: a 451 and a 550 are told apart only
  by the text of a DEBUG log line, and the outbox must retry one and set the other aside.

smtplib raises the server's reply code, so the classification below reads it directly.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default
from email.utils import formatdate, parseaddr

from sheetcrm.engine.catalog import speaking
from sheetcrm.engine.notifications import nurture_footer, one_line
from sheetcrm.errors import ConfigError
from sheetcrm.notify.message import DeliveryError, Message
from sheetcrm.service import environment

PORTS = {"starttls": 587, "ssl": 465, "none": 25}
# Message-IDs are made of the key; anything else (a dot-atom's specials) is left out
KEY_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
HOST_NAME = "Sheet CRM"  # the From's "via ..." when SHEETCRM_SMTP_FROM shows no name
# A nurture e-mail's List-Unsubscribe is set raw and never refolded: folded, the email package
# turns a URL longer than a line into RFC 2047 encoded words, which no mail client reads as
# a link. Every other header is a header object, folded as usual.
NURTURE_POLICY = default.clone(refold_source="none")


@dataclass(frozen=True)
class SMTPSettings:
    host: str
    port: int
    security: str  # "starttls", "ssl" or "none"
    sender: str  # the From header, display name and all
    user: str = ""
    password: str = ""
    timeout: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SMTPSettings | None:
        """None when SHEETCRM_SMTP_HOST is unset: no e-mail channel."""

        def value(name: str) -> str:
            return str(environment.value(env, name))

        host = value("SHEETCRM_SMTP_HOST")
        if not host:
            return None
        security, sender = value("SHEETCRM_SMTP_SECURITY"), value("SHEETCRM_SMTP_FROM")
        user, password = value("SHEETCRM_SMTP_USER"), value("SHEETCRM_SMTP_PASSWORD")
        if not sender:
            raise ConfigError(
                "SHEETCRM_SMTP_HOST is set but not SHEETCRM_SMTP_FROM",
                "set it to the address the e-mails come from: Sheet CRM <crm@example.com>",
            )
        if bool(user) != bool(password):
            names = ("SHEETCRM_SMTP_USER", "SHEETCRM_SMTP_PASSWORD")
            given, missing = names if user else names[::-1]
            raise ConfigError(
                f"{given} is set but not {missing}",
                "a login needs both; for a relay that takes no login, set neither",
            )
        port = int(value("SHEETCRM_SMTP_PORT")) or PORTS[security]
        timeout = float(value("SHEETCRM_SMTP_TIMEOUT"))
        return cls(host, port, security, sender, user, password, timeout)

    def describe(self) -> str:
        """For start-up lines and /status: never the password."""
        login = f", login {self.user}" if self.user else ", no login"
        return f"email: SMTP {self.host}:{self.port} ({self.security}{login}), from {self.sender}"


def send(settings: SMTPSettings, message: Message) -> None:
    """Hand ``message`` to the SMTP server, or raise DeliveryError: permanent when the
    server refuses the recipient or the message itself (5xx), otherwise temporary."""
    mail = compose(settings, message)
    recipient = mail["To"]
    try:
        smtp = _connect(settings)
    except (OSError, smtplib.SMTPException) as exc:  # refused, reset, timed out, an answer
        raise _failure(settings, recipient, exc) from None
    try:
        if settings.user:
            smtp.login(settings.user, settings.password)
        smtp.send_message(mail, to_addrs=[recipient])
    except (OSError, smtplib.SMTPException) as exc:
        smtp.close()
        raise _failure(settings, recipient, exc) from None
    # The 250 to the message was the acceptance: whatever the QUIT gets (a 421 from a server
    # shutting down, a reset), it is sent. Counted a failure, it would be sent again: a copy.
    with suppress(OSError, smtplib.SMTPException):
        smtp.quit()
    smtp.close()


def _failure(settings: SMTPSettings, recipient: str, exc: Exception) -> DeliveryError:
    """Why the send failed, and whether trying again may help."""
    server = f"the SMTP server {settings.host}:{settings.port}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, said = next(iter(exc.recipients.values()))
        return _refusal(settings, f"refused {recipient}", code, said)
    if isinstance(exc, smtplib.SMTPDataError):  # a 4xx or 5xx to the message itself
        return _refusal(settings, "refused the message", exc.smtp_code, exc.smtp_error)
    # The login and the From are every message's problem, not this one's: tried again, the
    # queue drains once ops fix them, instead of each message being set aside meanwhile.
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        why = _reply(settings, "refused the login", exc.smtp_code, exc.smtp_error)
        return DeliveryError(f"{why}; check SHEETCRM_SMTP_USER and SHEETCRM_SMTP_PASSWORD")
    if isinstance(exc, smtplib.SMTPSenderRefused):
        why = _reply(settings, f"refused the sender {exc.sender}", exc.smtp_code, exc.smtp_error)
        return DeliveryError(f"{why}; check SHEETCRM_SMTP_FROM")
    if isinstance(exc, smtplib.SMTPResponseException):  # to the greeting or HELO
        return DeliveryError(_reply(settings, "would not talk", exc.smtp_code, exc.smtp_error))
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"{server} does not offer STARTTLS; check SHEETCRM_SMTP_SECURITY")
    # smtplib turns a reply that came too late into "Connection unexpectedly closed"
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return DeliveryError(f"{server} did not answer within {settings.timeout:g} s")
    if isinstance(exc, ssl.SSLError):
        return DeliveryError(f"TLS with {server} failed: {exc.reason}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return DeliveryError(f"{server} hung up: {_said(settings, exc)}")
    return DeliveryError(f"{server} could not be reached: {_said(settings, exc)}")


def compose(settings: SMTPSettings, message: Message) -> EmailMessage:
    """The e-mail: the key as its Message-ID, the subject on one line, the text and then
    the link on a line of its own. A nurture e-mail (``unsubscribe_url`` set) comes from the
    owner's name at the mail host's address, replies go to the owner, and it carries the
    RFC 8058 one-click headers and a footer that names the sender and the link."""
    nurture = bool(message.unsubscribe_url)
    _shown, address = parseaddr(message.recipient)
    if "@" not in address or any(c in message.recipient for c in "\r\n"):
        where = (
            "the lead's Email"
            if nurture
            else "the Alerts row's Send to, or the person's e-mail on the Team tab"
        )
        raise DeliveryError(
            f"{message.recipient!r} is not an e-mail address: {where}",
            permanent=True,
            bounced=nurture,  # a lead's address no mail can reach: its sequence ends
        )
    mail = EmailMessage(policy=NURTURE_POLICY if nurture else default)
    mail["From"] = _nurture_from(settings, message.sender_name) if nurture else settings.sender
    mail["To"] = address
    mail["Subject"] = " ".join(message.subject.split())  # no CR/LF: one header, no injection
    key = "".join(c for c in message.key if c in KEY_CHARACTERS) or "sheetcrm"
    mail["Message-ID"] = f"<{key}@sheetcrm>"
    mail["Date"] = formatdate(localtime=False)
    body = message.text.rstrip()
    if message.link:
        body += "\n\n" + message.link
    if nurture:
        # a person's message, not an auto-reply: no Auto-Submitted (RFC 3834 would have
        # robots and some clients treat it as one)
        _nurture_headers(mail, message)
        with speaking(message.language):
            body += "\n\n" + nurture_footer(one_line(message.sender_name), message.unsubscribe_url)
    else:
        # RFC 3834: out-of-office replies and other robots leave it unanswered
        mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(body + "\n")
    return mail


def _nurture_from(settings: SMTPSettings, sender_name: str) -> Address:
    """``"Ana Martin via Sheet CRM" <crm@example.com>``: the owner's name, at the address of
    SHEETCRM_SMTP_FROM (the mail host's domain, which SPF, DKIM and DMARC vouch for; an
    owner's own address there would be spoofing). The name is data: control characters
    become spaces, and the header object quotes or encodes whatever else it holds."""
    shown, address = parseaddr(settings.sender)
    host = one_line(shown) or HOST_NAME
    name = one_line(sender_name, 100)
    try:
        return Address(display_name=f"{name} via {host}" if name else host, addr_spec=address)
    except (ValueError, IndexError) as exc:  # the set-up's problem: every e-mail waits
        raise DeliveryError(f"SHEETCRM_SMTP_FROM has no usable address ({exc})") from None


def _nurture_headers(mail: EmailMessage, message: Message) -> None:
    """Reply-To the owner, and RFC 8058's one-click unsubscribe headers."""
    if message.reply_to:
        mail["Reply-To"] = _reply_to(message.reply_to)
    url = message.unsubscribe_url
    if not url.startswith("https://") or any(not 32 < ord(c) < 127 or c in "<>" for c in url):
        raise DeliveryError("the unsubscribe link is not an https URL: check SHEETCRM_PUBLIC_URL")
    mail.set_raw("List-Unsubscribe", f"<{url}>")
    mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"


def _reply_to(reply_to: str) -> Address:
    """The owner's address, or a refusal: a Reply-To that is not one plain address (a line
    break, a list, a header smuggled in) is never sent, so that no reply goes astray."""
    refused = DeliveryError(
        f"the owner's e-mail {one_line(reply_to, 80)!r} is not an e-mail address (the "
        "nurture e-mail's Reply-To, so it is not sent): correct it on the Team tab",
        permanent=True,
    )
    if any(ord(c) < 32 or c in "\x7f\u2028\u2029" for c in reply_to):
        raise refused
    try:
        parsed = default.header_factory("Reply-To", reply_to)
    except (ValueError, IndexError, HeaderParseError):
        raise refused from None
    addresses: list[Address] = list(getattr(parsed, "addresses", []))
    if len(addresses) != 1 or parsed.defects or not addresses[0].domain:
        raise refused
    only = addresses[0]
    return Address(one_line(only.display_name), only.username, only.domain)


def _connect(settings: SMTPSettings) -> smtplib.SMTP:
    """An open session, secured as set; each step may take ``timeout`` seconds."""
    if settings.security == "ssl":
        context = ssl.create_default_context()
        return smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        if settings.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
    except BaseException:
        smtp.close()
        raise
    return smtp


def _refusal(settings: SMTPSettings, what: str, code: int, said: bytes | str) -> DeliveryError:
    """5xx: this message will never pass (a bounce); 4xx (greylisting, a full queue): later
    it may."""
    return DeliveryError(_reply(settings, what, code, said), bounced=500 <= code < 600)


def _reply(settings: SMTPSettings, what: str, code: int, said: bytes | str) -> str:
    return f"the SMTP server {what}: {code} {_said(settings, said)}"


def _said(settings: SMTPSettings, said: object) -> str:
    """A server's answer, for a reason shown to people: one line, without the password
    (a server that echoes what it was sent must not put it in the outbox's list)."""
    text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
    text = " ".join(text.split())
    return text.replace(settings.password, "<redacted>") if settings.password else text
