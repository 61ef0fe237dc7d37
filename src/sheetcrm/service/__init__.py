"""The web service: the Flask app (web.py), its background work (tasks.py) and the process
that runs it beside gunicorn's workers (background.py, imported by gunicorn's master: keep
this package's import free of anything but the standard library)."""
