"""The plain-address fast path agrees with email-validator on everything it accepts."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from sheetcrm.engine.validation import _PLAIN_EMAIL, normalise_email, plain_email

LABEL = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?", fullmatch=True)


def _slow(text: str) -> str | None:
    try:
        info = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return None
    local, _, domain = info.normalized.rpartition("@")
    return f"{local.casefold()}@{domain.casefold()}"


@settings(max_examples=400, deadline=None)
@given(st.from_regex(_PLAIN_EMAIL, fullmatch=True))
def test_every_plain_address_is_valid_for_email_validator(text):
    if plain_email(text):
        assert _slow(text) == text.lower()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(LABEL, min_size=1, max_size=3),
    st.sampled_from(["com", "COM", "test", "local", "example", "xn--p1ai", "io", "c"]),
)
def test_domains_near_the_edges(labels, tld):
    text = "a.b+c@" + ".".join([*labels, tld])
    if plain_email(text):
        assert _slow(text) == text.lower()


def test_fast_and_slow_paths_give_the_same_answers():
    for text in [
        "John.Doe@Example.COM",
        "a@b.test",
        "x@xn--bcher-kva.example",
        "ü@bücher.de",
        "a..b@x.com",
        "a@x--y.com",
        "a@localhost",
        '"quoted"@x.com',
        "a@1.2.3.4",
    ]:
        assert normalise_email(text)[0] == (_slow(text) or "")
