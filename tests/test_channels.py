"""The channels a notification goes out by (issue 12), against real parts on loopback: an SMTP
server (aiosmtpd) that takes, delays or refuses mail as a real one does, and an HTTP receiver
for the chat webhooks; every failure classified as the outbox needs it (temporary: try again
later; permanent: set aside), and no password or token in a reason, a status line or a log."""

from __future__ import annotations

import email
import json
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message as Mail
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from loopback_tls import make_certificate
from sheetcrm.errors import ConfigError
from sheetcrm.notify.channels import Channels
from sheetcrm.notify.message import DeliveryError, Message
from sheetcrm.service import environment, logs
from sheets import free_port

PASSWORD = "PASSWORD-of-the-smtp-login"
TOKEN = "T0kenOfTheWebhookUrl42"  # letters and digits: a Slack token must be
FROM = "Sheet CRM <crm@example.com>"
SHORT = "0.5"  # seconds: every timeout here, so a fault costs a test well under a second


def mail_to(recipient: str, **fields: str) -> Message:
    given = {
        "key": "3f2a9c0d1e4b5a67",
        "channel": "email",
        "recipient": recipient,
        "subject": "Lead L-0042 is yours",
        "text": "Acme Corp (Leads row 42) was assigned to you.",
        "link": "https://docs.google.com/spreadsheets/d/ID/edit#gid=0&range=A42",
    }
    return Message(**{**given, **fields})


# --- an SMTP server on loopback ----------------------------------------------------------------


class Mailbox:
    """aiosmtpd's handler: keeps what it takes; the recipient's name says what to refuse."""

    def __init__(self) -> None:
        self.received: list[Envelope] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, _: Any
    ) -> str:
        if address.startswith("refused@"):
            return "550 5.1.1 no such mailbox here"
        if address.startswith("greylisted@"):
            return "451 4.7.1 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if envelope.rcpt_tos[0].startswith("busy@"):
            return "451 4.3.0 local problem, try again later"
        if envelope.rcpt_tos[0].startswith("spam@"):
            return "554 5.7.1 message refused as spam"
        self.received.append(envelope)
        return "250 OK queued"

    def login(self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str,
              data: Any) -> AuthResult:  # fmt: skip
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        # handled=False: aiosmtpd answers 535 itself
        return AuthResult(success=data.password == PASSWORD.encode(), handled=False)

    def only(self) -> Mail:
        (envelope,) = self.received
        content = envelope.content
        assert isinstance(content, bytes)
        return email.message_from_bytes(content, policy=default_policy)


def smtp_env(port: int, security: str = "none", **more: str) -> dict[str, str]:
    return {
        "SHEETCRM_SMTP_HOST": "127.0.0.1",
        "SHEETCRM_SMTP_PORT": str(port),
        "SHEETCRM_SMTP_SECURITY": security,
        "SHEETCRM_SMTP_FROM": FROM,
        "SHEETCRM_SMTP_TIMEOUT": SHORT,
        **more,
    }


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def test_an_email_arrives_with_its_subject_text_link_sender_and_key(
    mailbox: tuple[Mailbox, int],
) -> None:
    box, port = mailbox
    channels = Channels.from_env(smtp_env(port))
    channels.send(mail_to("Sofia Marin <sofia@example.com>", subject="Lead L-0042\r\nBcc: x@y.z"))
    (envelope,) = box.received
    assert envelope.mail_from == "crm@example.com" and envelope.rcpt_tos == ["sofia@example.com"]
    got = box.only()
    assert got["Message-ID"] == "<3f2a9c0d1e4b5a67@sheetcrm>"
    assert len(got.get_all("Message-ID", [])) == 1  # a second one would make Gmail refuse it
    assert got["Subject"] == "Lead L-0042 Bcc: x@y.z" and got["Bcc"] is None
    assert got["From"] == FROM and got["To"] == "sofia@example.com"
    assert got["Auto-Submitted"] == "auto-generated"
    body = got.get_content().splitlines()
    assert body[0] == "Acme Corp (Leads row 42) was assigned to you."
    assert body[-1] == "https://docs.google.com/spreadsheets/d/ID/edit#gid=0&range=A42"
    channels.send(mail_to("sofia@example.com", link=""))  # a workbook's: the text names the row
    assert box.received[1].content.rstrip().endswith(b"was assigned to you.")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("recipient", "code", "permanent"),
    [
        ("refused@example.com", "550", True),  # no such mailbox: retrying cannot help
        ("spam@example.com", "554", True),  # the message itself refused
        ("greylisted@example.com", "451", False),  # greylisting: the next try passes
        ("busy@example.com", "451", False),
    ],
)
def test_what_the_smtp_server_answers_says_whether_to_try_again(
    mailbox: tuple[Mailbox, int], recipient: str, code: str, permanent: bool
) -> None:
    box, port = mailbox
    with pytest.raises(DeliveryError) as failed:
        Channels.from_env(smtp_env(port)).send(mail_to(recipient))
    assert failed.value.permanent is permanent
    assert code in failed.value.reason and box.received == []


def test_an_address_that_is_not_one_is_set_aside_without_a_connection() -> None:
    channels = Channels.from_env(smtp_env(free_port()))  # nothing listens: no try is made
    for wrong in ("Sofia Marin", "sofia@example.com\r\nBcc: all@example.com"):
        with pytest.raises(DeliveryError, match="not an e-mail address") as failed:
            channels.send(mail_to(wrong))
        assert failed.value.permanent


def test_a_server_that_is_down_is_tried_again_later() -> None:
    port = free_port()
    with pytest.raises(DeliveryError, match=f"127.0.0.1:{port} could not be reached") as failed:
        Channels.from_env(smtp_env(port)).send(mail_to("sofia@example.com"))
    assert not failed.value.permanent


def test_a_server_that_does_not_answer_is_given_up_on_within_the_timeout() -> None:
    with socket.socket() as silent:  # takes the connection (backlog), never says hello
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        channels = Channels.from_env(smtp_env(silent.getsockname()[1]))
        started = time.monotonic()
        with pytest.raises(DeliveryError, match=r"did not answer within 0\.5 s") as failed:
            channels.send(mail_to("sofia@example.com"))
        assert time.monotonic() - started < 1.5
    assert not failed.value.permanent


# --- TLS: STARTTLS with a login, and SSL from the first byte -----------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, trusted below through SSL_CERT_FILE."""
    made = make_certificate(tmp_path_factory.mktemp("tls"))
    return made.cert, made.key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def test_starttls_secures_the_session_before_the_login(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    box, port = Mailbox(), free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_context(certificate),
        require_starttls=True,  # a login in clear is refused
        authenticator=box.login,
        auth_required=True,
    )
    controller.start()
    try:
        settings = smtp_env(port, "starttls", SHEETCRM_SMTP_USER="crm@example.com")
        channels = Channels.from_env({**settings, "SHEETCRM_SMTP_PASSWORD": PASSWORD})
        # the system's CAs do not know our certificate: refused, and tried again later
        with pytest.raises(DeliveryError, match="TLS with the SMTP server") as failed:
            channels.send(mail_to("sofia@example.com"))
        assert not failed.value.permanent
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
        channels.send(mail_to("sofia@example.com"))
        assert box.logins == [(b"crm@example.com", PASSWORD.encode())]
        assert box.only()["Subject"] == "Lead L-0042 is yours"
        wrong = Channels.from_env({**settings, "SHEETCRM_SMTP_PASSWORD": "not-" + PASSWORD})
        with pytest.raises(DeliveryError, match="refused the login") as failed:
            wrong.send(mail_to("sofia@example.com"))
        assert not failed.value.permanent and PASSWORD not in failed.value.reason
        assert PASSWORD not in " ".join(channels.describe())
        assert channels.describe() == [
            f"email: SMTP 127.0.0.1:{port} (starttls, login crm@example.com), from {FROM}"
        ]
    finally:
        controller.stop()


def test_ssl_speaks_tls_from_the_first_byte(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    box, port = Mailbox(), free_port()
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # also for the controller's probe
    controller = Controller(
        box, hostname="127.0.0.1", port=port, ssl_context=server_context(certificate)
    )
    controller.start()
    try:
        Channels.from_env(smtp_env(port, "ssl")).send(mail_to("sofia@example.com"))
        assert box.only()["To"] == "sofia@example.com"
        # the same server, spoken to in clear: it never greets in clear, so: later
        with pytest.raises(DeliveryError) as failed:
            Channels.from_env(smtp_env(port, "none")).send(mail_to("sofia@example.com"))
        assert not failed.value.permanent
    finally:
        controller.stop()


@pytest.mark.parametrize(("security", "port"), [("starttls", 587), ("ssl", 465), ("none", 25)])
def test_the_port_follows_the_security_unless_set(security: str, port: int) -> None:
    env = smtp_env(0, security)
    del env["SHEETCRM_SMTP_PORT"]
    (line,) = Channels.from_env(env).describe()
    assert line.startswith(f"email: SMTP 127.0.0.1:{port} ({security}, no login)")


@pytest.mark.parametrize(
    ("more", "said"),
    [
        ({"SHEETCRM_SMTP_FROM": ""}, "SHEETCRM_SMTP_HOST is set but not SHEETCRM_SMTP_FROM"),
        ({"SHEETCRM_SMTP_FROM": "Sheet CRM"}, "SHEETCRM_SMTP_FROM='Sheet CRM' is not an e-mail"),
        ({"SHEETCRM_SMTP_USER": "crm"}, "SMTP_USER is set but not SHEETCRM_SMTP_PASSWORD"),
        ({"SHEETCRM_SMTP_PASSWORD": PASSWORD}, "SMTP_PASSWORD is set but not SHEETCRM_SMTP_USER"),
        ({"SHEETCRM_SMTP_SECURITY": "tls"}, "SECURITY='tls' is not one of starttls, ssl, none"),
        ({"SHEETCRM_SMTP_PORT": "smtp"}, "SHEETCRM_SMTP_PORT='smtp' is not a port"),
        ({"SHEETCRM_SMTP_TIMEOUT": "0"}, "SHEETCRM_SMTP_TIMEOUT='0' is not a number of seconds"),
    ],
)
def test_smtp_settings_that_cannot_work_stop_the_start(more: dict[str, str], said: str) -> None:
    with pytest.raises(ConfigError, match=said) as failed:
        Channels.from_env({**smtp_env(25), **more})
    assert PASSWORD not in str(failed.value)


# --- chat webhooks: a local HTTP receiver ------------------------------------------------------


class Receiver(BaseHTTPRequestHandler):
    """Answers ``/answer/<status>`` with that status, ``/slow`` after a second."""

    posts: list[tuple[str, dict[str, Any]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.posts.append((self.path, json.loads(body)))
        if self.path.startswith("/slow"):
            time.sleep(1)
        answer = re.search(r"answer/?(\d{3})", self.path)
        status = int(answer[1]) if answer else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


Posts = list[tuple[str, dict[str, Any]]]


@contextmanager
def serving(tls: ssl.SSLContext | None = None) -> Iterator[tuple[Posts, int]]:
    posts: Posts = []
    handler = type("Handler", (Receiver,), {"posts": posts})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield posts, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[tuple[Posts, int]]:
    with serving() as served:
        yield served


def chat_to(channel: str, recipient: str = "") -> Message:
    return mail_to(recipient, channel=channel, subject="Deal won", text="Acme Corp: 60,000 won.")


def json_env(port: int, path: str) -> dict[str, str]:
    url = f"json://hook:{TOKEN}@127.0.0.1:{port}{path}?cto={SHORT}&rto={SHORT}"
    return {"SHEETCRM_CHANNEL_SALES_WINS_URL": url}


def test_a_chat_message_names_its_person_and_ends_with_the_link(
    receiver: tuple[Posts, int],
) -> None:
    posts, port = receiver
    channels = Channels.from_env(json_env(port, "/answer/200"))
    channels.send(chat_to("Sales-Wins", recipient="Sofia Marin"))  # the name as the tab writes it
    channels.send(chat_to("sales_wins"))
    assert [path for path, _ in posts] == ["/answer/200", "/answer/200"]
    (_, first), (_, second) = posts
    assert first["title"] == "Deal won"
    assert first["message"] == (
        "@Sofia Marin: Acme Corp: 60,000 won.\n"
        "https://docs.google.com/spreadsheets/d/ID/edit#gid=0&range=A42"
    )
    assert second["message"].startswith("Acme Corp: 60,000 won.")
    assert channels.known("SALES WINS") and not channels.known("email")


@pytest.mark.parametrize(
    ("path", "permanent", "said"),
    [
        ("/answer/500", False, "answered 500 Internal Server Error"),
        ("/answer/503", False, "answered 503 Service Unavailable"),
        ("/answer/429", False, "answered 429 Too Many Requests"),
        ("/answer/408", False, "answered 408 Request Timeout"),
        ("/answer/400", True, "answered 400 Bad Request; check SHEETCRM_CHANNEL_SALES_WINS_URL"),
        ("/answer/404", True, "answered 404 Not Found; check SHEETCRM_CHANNEL_SALES_WINS_URL"),
        ("/slow", False, r"did not answer within 0\.5 s"),
    ],
)
def test_what_the_webhook_answers_says_whether_to_try_again(
    receiver: tuple[Posts, int], path: str, permanent: bool, said: str
) -> None:
    _posts, port = receiver
    channels = Channels.from_env(json_env(port, path))
    started = time.monotonic()
    with pytest.raises(DeliveryError, match=said) as failed:
        channels.send(chat_to("sales-wins"))
    assert failed.value.permanent is permanent and time.monotonic() - started < 1.5
    assert TOKEN not in failed.value.reason and "/answer" not in failed.value.reason


def test_a_webhook_that_is_down_is_tried_again_later() -> None:
    channels = Channels.from_env(json_env(free_port(), "/hook"))
    with pytest.raises(DeliveryError, match="could not be reached") as failed:
        channels.send(chat_to("sales-wins"))
    assert not failed.value.permanent


def test_an_unknown_channel_is_set_aside_and_names_the_variable_to_set() -> None:
    channels = Channels.from_env({})
    with pytest.raises(DeliveryError) as failed:
        channels.send(chat_to("Team Leads"))
    assert failed.value.permanent
    assert "set SHEETCRM_CHANNEL_TEAM_LEADS_URL to its webhook URL" in failed.value.reason
    with pytest.raises(DeliveryError, match="set SHEETCRM_SMTP_HOST") as failed:
        channels.send(mail_to("sofia@example.com"))
    assert failed.value.permanent
    assert not channels.known("email") and not channels.known("team-leads")
    (line,) = channels.describe()
    assert line.startswith("no notification channel is set up")


def test_teams_workflows_can_be_pointed_at_any_host_so_it_is_sent_to_here(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Teams' Workflows URLs name their host; the other services' hosts are fixed in apprise.
    Workflows is HTTPS only: requests is told to trust our certificate."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    with serving(server_context(certificate)) as (posts, port):

        def to(workflow: str) -> Channels:
            url = f"workflows://127.0.0.1:{port}/{workflow}/S{TOKEN}?rto={SHORT}"
            return Channels.from_env({"SHEETCRM_CHANNEL_MANAGERS_URL": url})

        to("wf0a1b").send(chat_to("managers", recipient="Sofia Marin"))
        with pytest.raises(DeliveryError, match="answered 404 Not Found") as gone:
            to("answer404").send(chat_to("managers"))
        with pytest.raises(DeliveryError, match="answered 503") as busy:
            to("answer503").send(chat_to("managers"))
    assert gone.value.permanent and not busy.value.permanent
    path, card = posts[0]
    assert path.startswith("/workflows/wf0a1b/triggers/manual/paths/invoke?")
    texts = [block.get("text", "") for block in card["attachments"][0]["content"]["body"]]
    assert "Deal won" in texts and any(t.startswith("@Sofia Marin: Acme Corp") for t in texts)
    assert TOKEN not in gone.value.reason + busy.value.reason


SLACK = "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/" + "x" * 8 + TOKEN
GCHAT = f"https://chat.googleapis.com/v1/spaces/AAQAbc/messages?key=KEY{TOKEN}&token=T{TOKEN}"
TEAMS = (
    "https://prod-01.westus.logic.azure.com:443/workflows/0a1b2c3d/triggers/manual/paths/"
    f"invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=S{TOKEN}"
)


def test_slack_google_chat_and_teams_webhook_urls_are_known_and_never_shown() -> None:
    """Their hosts are fixed in apprise (hooks.slack.com…), so only json:// is sent to here."""
    channels = Channels.from_env(
        {
            "SHEETCRM_CHANNEL_SALES_WINS_URL": SLACK,
            "SHEETCRM_CHANNEL_SUPPORT_URL": GCHAT,
            "SHEETCRM_CHANNEL_MANAGERS_URL": TEAMS,
            "SHEETCRM_CHANNEL_OPS_URL": f"json://hook:{TOKEN}@127.0.0.1:8080/{TOKEN}",
        }
    )
    assert channels.describe() == [
        "chat (SHEETCRM_CHANNEL_MANAGERS_URL): Power Automate / Workflows (for MSTeams) "
        "at prod-01.westus.logic.azure.com:443",
        "chat (SHEETCRM_CHANNEL_OPS_URL): JSON at 127.0.0.1:8080",
        "chat (SHEETCRM_CHANNEL_SALES_WINS_URL): Slack",
        "chat (SHEETCRM_CHANNEL_SUPPORT_URL): Google Chat",
    ]
    assert all(channels.known(c) for c in ("sales-wins", "Support", "managers", "ops"))


def test_a_url_apprise_does_not_know_stops_the_start_without_showing_it() -> None:
    for url in ("https://example.com/hooks/" + TOKEN, "msteams://a/b/" + TOKEN, TOKEN):
        with pytest.raises(ConfigError, match="SHEETCRM_CHANNEL_OPS_URL is not a chat URL"):
            try:
                Channels.from_env({"SHEETCRM_CHANNEL_OPS_URL": url})
            except ConfigError as failed:
                assert TOKEN not in str(failed) and "jsons://" in failed.hint
                raise
    with pytest.raises(ConfigError, match="names the e-mail channel"):
        Channels.from_env({"SHEETCRM_CHANNEL_EMAIL_URL": "json://127.0.0.1/x"})


def test_apprise_writes_nothing_to_the_logs(
    receiver: tuple[Posts, int],
) -> None:
    """Not through our JSON lines, nor any handler of the root logger, at any level: its
    DEBUG lines hold whole URLs and its warnings name the webhook's host."""
    _posts, port = receiver
    logs.setup()
    records: list[logging.LogRecord] = []
    handler = Kept(records)
    root = logging.getLogger()
    level, root.level = root.level, logging.DEBUG
    root.addHandler(handler)
    try:
        Channels.from_env(json_env(port, "/answer/200")).send(chat_to("sales-wins"))
        with pytest.raises(DeliveryError):
            Channels.from_env(json_env(port, "/answer/500")).send(chat_to("sales-wins"))
        with pytest.raises(ConfigError):
            Channels.from_env({"SHEETCRM_CHANNEL_OPS_URL": f"foo://{TOKEN}"})
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    # urllib3's own DEBUG lines (the request line) are there: proof that the handler hears
    assert any(r.name.startswith("urllib3") for r in records)
    assert [r.getMessage() for r in records if r.name.startswith("apprise")] == []
    assert not [r for r in records if TOKEN in logs.JSONLines().format(r)]


class Kept(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_the_channel_variables_are_declared_and_named_alike() -> None:
    assert environment.channel_variable("sales-wins") == "SHEETCRM_CHANNEL_SALES_WINS_URL"
    assert environment.channel_variable(" Sales Wins ") == "SHEETCRM_CHANNEL_SALES_WINS_URL"
    assert environment.declared("SHEETCRM_CHANNEL_SALES_WINS_URL")
    assert environment.undeclared({"SHEETCRM_CHANNEL_SALES_WINS": "x"}) == [
        ("SHEETCRM_CHANNEL_SALES_WINS", "did you mean SHEETCRM_CHANNEL_<NAME>_URL?")
    ]
