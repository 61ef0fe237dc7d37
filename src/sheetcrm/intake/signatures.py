"""Is this post really from the form vendor? Checked when ``SHEETCRM_SECRET_<SOURCE>`` is set.

- Typeform: ``Typeform-Signature: sha256=<base64 HMAC-SHA256(secret, body)>``.
- Tally: ``Tally-Signature: <base64 HMAC-SHA256(secret, body)>``.
- Every other source (generic, jotform, google-forms): ``X-Signature: sha256=<hex HMAC>``
  (or the bare hex), or the secret itself as a shared token in ``Authorization: Bearer`` or
  ``X-Sheetcrm-Token``. Jotform and plain HTML forms cannot set headers: the web layer
  passes a ``?token=`` query parameter on as ``query_token``. Every credential presented
  must be right: a wrong one refuses the post whatever good one comes with it.

Signatures are computed over the raw body, before any decoding, and compared in constant
time. Pure: the web layer passes the secret, the body and the headers in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from sheetcrm.errors import IntakeError

_HINTS = {
    "typeform": "set the same secret on the Typeform webhook (Connect > Webhooks > Edit)",
    "tally": "set the same signing secret on the Tally webhook (Integrations > Webhooks)",
}
_GENERIC_HINT = (
    "send X-Signature: sha256=<hex HMAC-SHA256 of the body>, or the secret in "
    "'Authorization: Bearer <secret>' or X-Sheetcrm-Token"
)


@dataclass(frozen=True)
class Door:
    """How a form source takes posts: ``kind`` is signed, token (a shared token or a
    signature), open (anyone) or closed (its secret is set but empty); ``says`` in words."""

    kind: str
    says: str


def protection(source: str, secret: str | None) -> Door:
    """How ``/hooks/<source>`` is guarded with ``secret`` (None: not set)."""
    variable = secret_variable(source)
    if secret is None:
        what = "a touch" if source == "activity" else "a lead"
        return Door("open", f"open: anyone can post {what}; set {variable} to check posts")
    if not secret:
        return Door("closed", f"closed: {variable} is set but empty, every post is refused")
    if source in _HINTS:
        header = "Typeform-Signature" if source == "typeform" else "Tally-Signature"
        return Door("signed", f"signed: each post's {header} is checked ({variable})")
    return Door(
        "token",
        "token-protected: each post needs the shared token (bearer, X-Sheetcrm-Token or "
        f"?token=) or an X-Signature of its body ({variable})",
    )


def secret_variable(source: str) -> str:
    """The environment variable holding ``source``'s secret: google-forms ->
    SHEETCRM_SECRET_GOOGLE_FORMS."""
    return "SHEETCRM_SECRET_" + source.upper().replace("-", "_")


def verify(
    source: str,
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    query_token: str | None = None,
) -> None:
    """Raise IntakeError(401) unless ``headers`` (or ``query_token``, the ``?token=``) carry
    a valid signature of ``body`` or the shared token for ``secret``, and nothing wrong
    beside it. Header names are matched whatever their case."""
    if not secret:
        # fail closed: an empty secret would let an empty token through
        raise IntakeError(
            401, f"{secret_variable(source)} is set but empty", "set it to the shared secret"
        )
    lower = {str(k).casefold(): str(v) for k, v in headers.items()}
    key = secret.encode("utf-8")
    digest = hmac.new(key, body, hashlib.sha256).digest()
    if source in ("typeform", "tally"):
        name = "Typeform-Signature" if source == "typeform" else "Tally-Signature"
        sent = lower.get(name.casefold())
        if sent is None:
            raise IntakeError(401, f"no {name} header", _HINTS[source])
        sent = sent.strip()
        if source == "typeform":
            scheme, _, sent = sent.partition("=")
            if scheme.strip().casefold() != "sha256" or not sent:
                raise IntakeError(
                    401, f"{name} is not 'sha256=<signature>'", "only sha256 is supported"
                )
        if not _same(sent, base64.b64encode(digest).decode("ascii")):
            raise IntakeError(401, f"{name} does not match the body", _HINTS[source])
        return
    _verify_generic(secret, digest.hex(), lower, query_token)


def _verify_generic(
    secret: str, hex_digest: str, headers: dict[str, str], query_token: str | None
) -> None:
    signature = headers.get("x-signature")
    bearer = headers.get("authorization")
    token = headers.get("x-sheetcrm-token")
    if signature is None and bearer is None and token is None and query_token is None:
        raise IntakeError(401, "no signature and no token", _GENERIC_HINT)
    # One rule for every form: a wrong credential is someone guessing, whatever else is sent.
    checks: dict[str, bool] = {}
    if signature is not None:
        sent = signature.strip()
        scheme, equals, rest = sent.partition("=")
        if equals:
            if scheme.strip().casefold() != "sha256":
                raise IntakeError(
                    401, "X-Signature is not 'sha256=<hex>'", "only sha256 is supported"
                )
            sent = rest
        checks["X-Signature"] = _same(sent.strip().lower(), hex_digest)
    if bearer is not None:
        scheme, _, credential = bearer.strip().partition(" ")
        checks["the Authorization bearer token"] = scheme.casefold() == "bearer" and _same(
            credential.strip(), secret
        )
    if token is not None:
        checks["the X-Sheetcrm-Token header"] = _same(token.strip(), secret)
    if query_token is not None:
        checks["the ?token= in the URL"] = _same(query_token.strip(), secret)
    if wrong := [name for name, ok in checks.items() if not ok]:
        raise IntakeError(401, f"{' and '.join(wrong)} does not match", _GENERIC_HINT)


def _same(sent: str, expected: str) -> bool:
    """Constant-time comparison; bytes, so that any text a client sends can be compared."""
    return hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8"))
