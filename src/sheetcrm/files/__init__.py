"""Files people hand sheetcrm: CRM exports to import, and the sheet templates."""
