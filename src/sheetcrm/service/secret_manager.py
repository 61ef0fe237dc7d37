"""Settings kept in Secret Manager. A ``SHEETCRM_*`` variable whose value is a reference,
``secretmanager:projects/PROJECT/secrets/NAME/versions/VERSION``, stands for that secret's
value, read when the service starts: by gunicorn.conf.py in gunicorn's master, before the
workers and the background process inherit its environment, and by ``create_app`` for any
other way of starting it.

App Engine needs this: it has no binding from Secret Manager to environment variables, and
the values in app.yaml or secret.yaml are stored in the deployed version, for anyone who may
view it to read. A reference is not a secret. (Cloud Run binds secrets itself: --set-secrets.)
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Mapping

import google.auth
import requests
from google.auth.exceptions import GoogleAuthError
from google.auth.transport.requests import AuthorizedSession

from sheetcrm.errors import ConfigError

PREFIX = "secretmanager:"
ENDPOINT = "https://secretmanager.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
VERSION_NAME = re.compile(r"projects/[^/\s]+/secrets/[^/\s]+/versions/[^/\s]+")
ATTEMPTS = 3  # a start-up that fails is retried by the platform; a brief outage is not fatal


def references(env: Mapping[str, str]) -> dict[str, str]:
    """variable -> the secret version it names, for every ``SHEETCRM_*`` reference."""
    found = {}
    for variable, value in env.items():
        if variable.startswith("SHEETCRM_") and value.strip().startswith(PREFIX):
            version = value.strip().removeprefix(PREFIX)
            if not VERSION_NAME.fullmatch(version):
                raise ConfigError(
                    f"{variable}={value.strip()!r} does not name a secret version",
                    f"write {PREFIX}projects/PROJECT/secrets/SECRET/versions/latest",
                )
            found[variable] = version
    return found


def resolve(
    env: Mapping[str, str],
    session: requests.Session | None = None,
    endpoint: str = ENDPOINT,
) -> dict[str, str]:
    """variable -> the secret's value, for every reference in ``env`` (none: no request and
    no credentials needed). ``session`` defaults to one signed with the service account."""
    wanted = references(env)
    if not wanted:
        return {}
    session = session or _session()
    return {variable: _access(session, endpoint, variable, v) for variable, v in wanted.items()}


def _session() -> requests.Session:
    try:
        found, _project = google.auth.default(scopes=SCOPES)  # type: ignore[no-untyped-call]
    except GoogleAuthError as exc:
        raise ConfigError(
            f"settings name Secret Manager secrets, but Google credentials failed: {exc}",
            "on App Engine and Cloud Run the service's account is used; elsewhere set "
            "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file",
        ) from exc
    return AuthorizedSession(found)  # type: ignore[no-untyped-call]


def _access(session: requests.Session, endpoint: str, variable: str, version: str) -> str:
    where = f"{variable}: the secret {version}"
    for attempt in range(1, ATTEMPTS + 1):
        try:
            answer = session.get(f"{endpoint}/v1/{version}:access", timeout=10)
        except (requests.RequestException, GoogleAuthError) as exc:
            if attempt < ATTEMPTS:
                time.sleep(attempt)
                continue
            raise ConfigError(
                f"{where} could not be read: {type(exc).__name__}",
                "check the network and the service account; the service starts once it can",
            ) from exc
        if answer.status_code in (429, 500, 502, 503, 504) and attempt < ATTEMPTS:
            time.sleep(attempt)
            continue
        if answer.status_code != 200:
            said = f"{where}: Secret Manager answered {answer.status_code}"
            raise ConfigError(said, _hint(answer))
        data = answer.json().get("payload", {}).get("data", "")
        return base64.b64decode(data).decode("utf-8").strip()
    raise AssertionError("unreachable")  # pragma: no cover


def _hint(answer: requests.Response) -> str:
    if answer.status_code in (401, 403):
        return (
            "give the service account the Secret Manager Secret Accessor role on it: "
            "gcloud secrets add-iam-policy-binding SECRET --member=serviceAccount:ACCOUNT "
            "--role=roles/secretmanager.secretAccessor"
        )
    if answer.status_code == 404:
        return "check the project and secret names, and that the version exists and is enabled"
    return "try again; if it persists, see the Secret Manager status page"
