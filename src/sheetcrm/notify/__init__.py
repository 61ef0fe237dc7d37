"""Telling people: the notifications the sync plans (:mod:`sheetcrm.engine.notifications`)
are kept in the outbox's database, sent by the background process over e-mail or chat
webhooks, retried, and logged back into the sheet."""
