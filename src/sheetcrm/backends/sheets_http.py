"""Talking to the Google Sheets API: credentials, a bounded retry, a timeout, clear errors.

gspread's own BackOffHTTPClient retries forever; this client gives up after a bounded number
of jittered, exponentially spaced attempts and says what went wrong. With the environment
variable SHEETS_EMULATOR_HOST set (Google's convention for emulators), every request goes to
that host instead, with anonymous credentials: the local stand-in in sheetcrm.emulator.
"""

from __future__ import annotations

import codecs
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import google.auth
import requests
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.exceptions import DefaultCredentialsError, GoogleAuthError
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient
from gspread.urls import (
    SPREADSHEET_BATCH_UPDATE_URL,
    SPREADSHEET_VALUES_APPEND_URL,
    SPREADSHEET_VALUES_BATCH_UPDATE_URL,
    SPREADSHEET_VALUES_BATCH_URL,
)
from gspread.utils import quote as url_quote
from requests.utils import guess_json_utf

from sheetcrm.backends.batch_get import batch_get
from sheetcrm.errors import BackendError, SheetUnreachableError

GOOGLE = "https://sheets.googleapis.com"
PIECE_BYTES = 1 << 20  # of an answer read as it arrives: a read holds this much of its text
SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
RETRIED = frozenset({408, 429, 500, 502, 503, 504})
NOT_CARRIED_OUT = frozenset({408, 429})  # the request was refused before any work


def credentials(emulator_host: str | None) -> Credentials:
    """Application Default Credentials (a service-account key in GOOGLE_APPLICATION_CREDENTIALS
    locally, the attached service account on App Engine or Cloud Run); none for the emulator."""
    if emulator_host:
        return AnonymousCredentials()  # type: ignore[no-untyped-call]
    key = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS", "")
    if key:
        _check_key_path(key)
    try:
        found, _project = google.auth.default(scopes=SCOPES)  # type: ignore[no-untyped-call]
    except DefaultCredentialsError as exc:
        if key:  # google-auth's reason: names the file and what is wrong, never its content
            reason = str(exc.args[0]) if exc.args else type(exc).__name__
            raise BackendError(
                f"GOOGLE_APPLICATION_CREDENTIALS names {key}, which is not a service-account "
                f"key: {reason}",
                _KEY_HINT,
            ) from exc
        raise BackendError(
            "no Google credentials found",
            "set GOOGLE_APPLICATION_CREDENTIALS to the path of a service-account key (JSON); "
            "on App Engine or Cloud Run, attach a service account to the service",
        ) from exc
    return found  # type: ignore[no-any-return]


_KEY_HINT = (
    "point it at the JSON key of a service account (Cloud console > IAM > Service accounts > "
    "Keys > Add key > JSON); on App Engine or Cloud Run, leave it unset: the service's own "
    "service account is used"
)


def _check_key_path(key: str) -> None:
    """A path that is not there would otherwise read "no Google credentials found", as if
    the variable were not set at all."""
    path = Path(key).expanduser()
    if not path.exists():
        raise BackendError(
            f"GOOGLE_APPLICATION_CREDENTIALS names {key}, which does not exist", _KEY_HINT
        )
    if not path.is_file():
        raise BackendError(
            f"GOOGLE_APPLICATION_CREDENTIALS names {key}, which is a folder, not a key file",
            _KEY_HINT,
        )


def service_account(creds: Credentials) -> str:
    return str(getattr(creds, "service_account_email", "") or "")


class SheetsHTTP(HTTPClient):
    """gspread's HTTP client with a timeout, a bounded jittered retry and request counts."""

    def __init__(
        self,
        creds: Credentials,
        emulator_host: str | None = None,
        timeout: float = 30.0,
        attempts: int = 6,
        base_delay: float = 0.5,
        max_delay: float = 16.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(creds)
        self.emulator_host = emulator_host
        self.set_timeout(timeout)
        self.attempts, self.base_delay, self.max_delay = attempts, base_delay, max_delay
        self.sleep = sleep
        self.counts: Counter[str] = Counter()  # "read" / "write", per request sent
        self._once = False

    @contextmanager
    def at_most_once(self) -> Iterator[None]:
        """For a request that must not happen twice (an append): retry only the answers
        that say it was not carried out (429 quota, 408), never a 5xx or a lost answer."""
        self._once = True
        try:
            yield
        finally:
            self._once = False

    def batch_update_fields(self, id: str, body: Mapping[str, Any], fields: str) -> Any:
        """spreadsheets.batchUpdate with a field mask on its answer: with the spreadsheet in
        the answer, Google would otherwise send every format of every cell it names."""
        url = SPREADSHEET_BATCH_UPDATE_URL % id
        return self.request("post", url, params={"fields": fields}, json=body).json()

    def values_batch_update_text(self, id: str, body: bytes) -> Any:
        """values.batchUpdate with a body already JSON (backends/sheets_parts.py sized it)."""
        return self._post(SPREADSHEET_VALUES_BATCH_UPDATE_URL % id, body)

    def values_append_text(
        self, id: str, range: str, params: Mapping[str, Any], body: bytes
    ) -> Any:
        """values.append with a body already JSON."""
        return self._post(SPREADSHEET_VALUES_APPEND_URL % (id, url_quote(range)), body, params)

    def _post(self, url: str, body: bytes, params: Mapping[str, Any] | None = None) -> Any:
        headers = {"Content-Type": "application/json; charset=UTF-8"}
        return self.request("post", url, params=params, data=body, headers=headers).json()

    def values_batch_get_shared(
        self,
        id: str,
        ranges: list[str],
        params: Mapping[str, Any],
        seen: dict[str, str],
        each: Callable[[int, list[Any]], Any] | None = None,
    ) -> Any:
        """values.batchGet, its rows parsed a row at a time and each distinct text held once
        in ``seen`` (backends/batch_get.py): what the read leaves is what it holds. With
        ``each``, each row is handed to it as it is parsed (batch_get's ``each``)."""
        url = SPREADSHEET_VALUES_BATCH_URL % id
        asked = {**params, "ranges": ranges}
        for attempt in range(1, self.attempts + 1):
            answer = self.request("get", url, params=asked, stream=True)
            try:
                return batch_get(_pieces(answer), seen, each)  # parsed as it arrives
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                if attempt == self.attempts:  # cut off as it came, every time
                    raise SheetUnreachableError(
                        f"Google Sheets' answer was cut off {attempt} times ({exc})",
                        "check the network; the sync can simply be run again",
                    ) from exc
            finally:
                answer.close()
            self.sleep(self.base_delay)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _streamed(self, method: str, endpoint: str, params: Any, headers: Any) -> requests.Response:
        answer = self.session.request(
            method=method,
            url=endpoint,
            params=params,
            headers=headers,
            timeout=self.timeout,
            stream=True,
        )
        if not answer.ok:
            raise APIError(answer)  # which reads its body: Google's error, in full
        return answer

    def request(
        self,
        method: str,
        endpoint: str,
        params: Any = None,
        data: Any = None,
        json: Mapping[str, Any] | None = None,
        files: Any = None,
        headers: Any = None,
        stream: bool = False,
    ) -> requests.Response:
        """gspread's request, retried; with ``stream``, the answer's body is left to be
        read as it arrives (an error's is read whole)."""
        if self.emulator_host:
            endpoint = endpoint.replace(GOOGLE, f"http://{self.emulator_host}")
        if params is None or isinstance(params, Mapping):
            # Google indents its answers unless told not to: a read of a sheet's cells, or
            # the write's check of every service cell, is twice the text to receive and parse
            params = {**(params or {}), "prettyPrint": "false"}
        kind = "read" if method.lower() == "get" else "write"
        for attempt in range(1, self.attempts + 1):
            self.counts[kind] += 1
            try:
                if stream:
                    return self._streamed(method, endpoint, params, headers)
                return super().request(method, endpoint, params, data, json, files, headers)
            except APIError as exc:
                if exc.code not in RETRIED or attempt == self.attempts:
                    raise
                if self._once and exc.code not in NOT_CARRIED_OUT:
                    raise BackendError(
                        f"Google Sheets answered {exc.code} to an append, which may or may "
                        "not have been carried out",
                        "nothing is sent twice: the next try checks the sheet first",
                    ) from exc
                wait = _retry_after(exc.response)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if self._once:
                    raise BackendError(
                        f"the answer to an append was lost ({type(exc).__name__})",
                        "nothing is sent twice: the next try checks the sheet first",
                    ) from exc
                if attempt == self.attempts:
                    raise SheetUnreachableError(
                        f"Google Sheets did not answer after {attempt} tries ({exc})",
                        "check the network; the sync can simply be run again",
                    ) from exc
                wait = None
            except GoogleAuthError as exc:
                raise BackendError(
                    f"the Google credentials were refused: {exc}",
                    "check that the service-account key is current and not revoked",
                ) from exc
            delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
            self.sleep(wait if wait is not None else delay * (0.5 + random.random() / 2))
        raise AssertionError("unreachable")  # the loop returns or raises


def _pieces(answer: requests.Response) -> Iterator[str]:
    """The answer's body as text as it arrives, decoded as requests' own json() decodes it:
    the charset said, else guessed from the JSON's first bytes."""
    blocks = answer.iter_content(PIECE_BYTES)
    first = next(blocks, b"")
    decoder = codecs.getincrementaldecoder(answer.encoding or guess_json_utf(first) or "utf-8")()
    yield decoder.decode(first)
    for block in blocks:
        yield decoder.decode(block)
    yield decoder.decode(b"", final=True)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return min(float(value), 60.0)
    except ValueError:
        return None


def explain(exc: APIError, spreadsheet_id: str, account: str) -> BackendError:
    """Google's error, in words that say what to do."""
    if exc.code == 403:
        who = account or "the service account (its email is in the key file, client_email)"
        return BackendError(
            f"no permission to open spreadsheet {spreadsheet_id}",
            f"share the sheet with {who} as Editor",
        )
    if exc.code == 404:
        return BackendError(
            f"no spreadsheet with ID {spreadsheet_id}",
            "copy the ID (or the whole URL) from the address bar: "
            "https://docs.google.com/spreadsheets/d/<ID>/edit",
        )
    if exc.code == 429:
        return SheetUnreachableError(
            "Google Sheets' request quota is used up, and retrying did not help",
            "wait a minute (the quota is 60 requests a minute per user), then sync again",
        )
    message = exc.error.get("message", str(exc))
    kind = SheetUnreachableError if exc.code in RETRIED else BackendError
    return kind(
        f"Google Sheets answered {exc.code}: {message}",
        "run the sync again; if it persists, check the sheet",
    )
