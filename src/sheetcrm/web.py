"""Kept for deployments started as ``sheetcrm.web:create_app()`` before the service had a
package of its own; the app lives in :mod:`sheetcrm.service.web`."""

from sheetcrm.service.web import create_app

__all__ = ["create_app"]
