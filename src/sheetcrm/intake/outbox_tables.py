"""The outbox database's tables (SQLAlchemy Core): web-form submissions, the runs /status
shows, and the notifications the syncs plan. :mod:`sheetcrm.intake.outbox_db` makes them."""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Text, text
from sqlalchemy import Table as SQLTable

metadata = MetaData()
submissions = SQLTable(
    "submissions",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("source", String(40), nullable=False),
    Column("body", Text, nullable=False),
    Column("state", String(10), nullable=False),
    Column("received_at", Float, nullable=False),  # Unix time, UTC
    Column("attempts", Integer, nullable=False),
    Column("next_try_at", Float, nullable=False),
    Column("claimed_by", String(100)),
    Column("claimed_until", Float),
    Column("last_error", Text),
    Column("lead_id", String(40)),
    Column("done_at", Float),
    # Submission.digest() of the answers: a known key with another digest is another
    # submission (stored under a derived key), not a replay. NULL in rows stored before.
    Column("digest", String(64)),
)
Index("submissions_due", submissions.c.state, submissions.c.next_try_at)
# Submissions whose answers are still kept, by state and when done: what the retention
# erases, oldest first. Partial, so that an hourly purge costs what it erases, not the whole
# history of erased ones (their rows stay, holding the key that recognises a vendor's late
# retry as a duplicate). The state leads so that SQLite prefers it to submissions_due.
KEPT = text("body <> ''")
kept_index = Index(
    "submissions_kept",
    submissions.c.state,
    submissions.c.done_at,
    sqlite_where=KEPT,
    postgresql_where=KEPT,
)

# The last syncs and flushes, shared by every worker and instance, for /status.
runs = SQLTable(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(10), nullable=False),  # sync | flush
    Column("at", Float, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("ok", Integer, nullable=False),
    Column("summary", Text, nullable=False),  # JSON; lead IDs at most, no personal data
    Column("error", Text),
)


# The notifications a sync planned (sheetcrm.notify): one row per Notification.key. Held
# while the sheet write that planned them is in flight, pending once it landed, then sent,
# dead, or folded into a summary when the recipient's hourly cap is reached.
notifications = SQLTable(
    "notifications",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("lead_id", String(40), nullable=False),
    Column("event", String(60), nullable=False),
    Column("channel", String(100), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("subject", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("leads_row", Integer, nullable=False),
    Column("state", String(10), nullable=False),  # held | pending | sent | dead | folded
    Column("created_at", Float, nullable=False),  # Unix time, UTC
    Column("next_try_at", Float, nullable=False),  # quiet hours, then backoff
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("sent_at", Float),
    # which write planned it (engine.notifications.write_token): the proof of landing
    Column("sync_stamp", String(64), nullable=False),
    # a lead appended by that write: its row in the sheet proves the append landed
    Column("new_lead", Integer, nullable=False),
    Column("cap", Integer, nullable=False),  # most messages per recipient per hour; 0: none
    Column("claimed_by", String(100)),
    Column("claimed_until", Float),
    Column("summary_key", String(64)),  # folded: the summary message that told it
    Column("logged", Integer, nullable=False),  # written to the sheet's log tab
    # the sheet's Language when planned: a summary of it is written in it ("" or NULL: en)
    Column("language", String(10)),
    # nurture e-mails (Notification.sender_name, reply_to, unsubscribe); NULL on alerts
    Column("sender_name", String(200)),
    Column("reply_to", String(320)),
    Column("unsubscribe", String(320)),
    Column("step", String(200)),  # a nurture e-mail's sequence and step: "Nurture C#2"
)
Index("notifications_due", notifications.c.state, notifications.c.next_try_at)
Index("notifications_recipient", notifications.c.recipient, notifications.c.sent_at)
Index("notifications_held", notifications.c.state, notifications.c.sync_stamp)


# Addresses that asked for no more nurture e-mail (notify/suppression.py): written the moment
# a person confirms on the unsubscribe page, read by the sender before every nurture e-mail,
# so that none goes out in the minutes before the sheet's next sync records it on the lead.
unsubscribed = SQLTable(
    "unsubscribed",
    metadata,
    Column("address", String(320), primary_key=True),  # casefolded
    Column("lead_id", String(40), nullable=False),
    Column("at", Float, nullable=False),  # Unix time, UTC
    Column("how", String(20), nullable=False),  # page | one-click | sheet
)
