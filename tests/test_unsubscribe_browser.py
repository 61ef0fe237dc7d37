"""The unsubscribe page in a real headless browser (Debian's chromium, through Selenium; see
browser.py), against the real app served on loopback with a workbook and a SQLite outbox:
a person opens the link an e-mail carries, sees the address and the button, clicks, sees the
confirmation; the address is on the suppression list at once, and the flush through
/tasks/flush appends the unsubscribe row to the Activities tab exactly once, however often
the button is pressed. A tampered link shows the error page and stores nothing."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from browser import chromium, served  # noqa: F401 (chromium: the fixture)
from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.engine.activity_tab import KEY_COLUMN
from sheetcrm.notify.suppression import suppressed
from sheetcrm.notify.unsubscribe import link
from sheetcrm.service.tasks import Service
from test_web import AUTH, make_app

SECRET = "unsubscribe-secret-for-the-browser-test"
ADDRESS = "camille.dubois@atelierlumen.example"
LEAD = "L-00007"
KEY = f"unsubscribe:{LEAD}:{ADDRESS}"


def _flush(base: str) -> dict[str, object]:
    """The flush the scheduler runs: POST /tasks/flush with the task token."""
    request = urllib.request.Request(f"{base}/tasks/flush", method="POST", headers=AUTH)
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
        report: dict[str, object] = json.load(answer)
    return report


def _unsubscribe_rows(sheet: Path) -> list[dict[str, str]]:
    rows = WorkbookBackend(sheet).read().table("Activities").records()
    return [row for row in rows if row["Type"] == "unsubscribe"]


def _click_and_wait(driver: WebDriver, words: str) -> str:
    driver.find_element(By.CSS_SELECTOR, "form button").click()
    # the h1 found may be the page the click is leaving: stale once the answer replaces it,
    # or, read while chromium swaps the documents, an "unhandled inspector error" (seen in CI)
    leaving = (StaleElementReferenceException, WebDriverException)
    wait = WebDriverWait(driver, 5, ignored_exceptions=leaving)
    wait.until(lambda d: words in d.find_element(By.TAG_NAME, "h1").text)
    return str(driver.find_element(By.TAG_NAME, "body").text)


def test_a_person_unsubscribes_in_a_real_browser(chromium: WebDriver, sheet: Path) -> None:  # noqa: F811
    app = make_app(sheet, SHEETCRM_UNSUBSCRIBE_SECRET=SECRET)
    svc: Service = app.extensions["sheetcrm"]
    db = svc.outbox.db
    try:
        with served(app) as base:
            url = link(base, SECRET, LEAD, ADDRESS, "fr")
            chromium.get(url)
            page = chromium.find_element(By.TAG_NAME, "body").text
            assert f"Ne plus envoyer ces e-mails à {ADDRESS} ?" in page
            assert chromium.find_element(By.CSS_SELECTOR, "form button").text == "Me désinscrire"
            assert not suppressed(db, [ADDRESS]) and svc.outbox.entries() == []  # a GET

            done = _click_and_wait(chromium, "Votre désinscription est confirmée")
            assert f"Plus aucun de ces e-mails ne sera envoyé à {ADDRESS}." in done
            assert chromium.current_url == url  # the form posted back to the link itself
            assert suppressed(db, [ADDRESS]) == {ADDRESS}
            [entry] = svc.outbox.entries()
            assert (entry.key, entry.source, entry.state) == (KEY, "activity", "pending")

            report = _flush(base)
            assert (report["claimed"], report["activities"]) == (1, 1), report
            [row] = _unsubscribe_rows(sheet)
            assert (row["Lead ID"], row["Notes"], row[KEY_COLUMN]) == (
                LEAD,
                f"unsubscribed from {ADDRESS} by the link",
                KEY,
            )

            chromium.get(url)  # the person clicks the e-mail's link again, and the button
            _click_and_wait(chromium, "Votre désinscription est confirmée")
            assert [e.key for e in svc.outbox.entries()] == [KEY]
            assert _flush(base)["claimed"] == 0
            assert len(_unsubscribe_rows(sheet)) == 1

            other = "bob@example.com"
            tampered = link(base, SECRET, LEAD, other, "en")
            tampered = tampered[:-2] + ("AA" if not tampered.endswith("AA") else "BB")
            chromium.get(tampered)
            page = chromium.find_element(By.TAG_NAME, "body").text
            assert "This unsubscribe link does not work" in page
            assert "Ce lien de désinscription ne fonctionne pas" in page
            assert "reply to one of them and ask" in page
            assert chromium.find_elements(By.CSS_SELECTOR, "form") == []
            assert not suppressed(db, [other])
            assert [e.key for e in svc.outbox.entries()] == [KEY]
    finally:
        svc.stop()
