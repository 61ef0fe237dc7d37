"""sheetcrm: a spreadsheet turned into a lead-management system."""

__version__ = "0.1.0"
