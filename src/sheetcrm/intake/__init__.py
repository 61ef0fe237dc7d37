"""Web-form intake, the pure part: vendor payloads -> submissions -> Leads rows.

``adapters`` reads each vendor's payload, ``signatures`` checks that a post comes from the
vendor, ``fields`` maps the answers onto Leads columns. No I/O, no clock, no environment:
the web layer passes everything in.
"""

from sheetcrm.intake.adapters import SOURCES, adapt
from sheetcrm.intake.signatures import verify
from sheetcrm.intake.submission import Answer, Submission

__all__ = ["SOURCES", "Answer", "Submission", "adapt", "verify"]
