"""A real headless browser for the tests of pages people open (the unsubscribe page):
Debian's chromium driven by its chromedriver through Selenium (requirements-test.txt), and
the app served on a loopback port by the same werkzeug server ``sheetcrm serve`` uses.

Tests that use the ``chromium`` fixture are skipped, saying what to install, where chromium
or chromedriver is missing (CI installs both: .ci/run). Nothing is downloaded: Selenium is
given both paths, so its driver manager never looks for a browser of its own.
"""

from __future__ import annotations

import shutil
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from selenium import webdriver
from selenium.webdriver.remote.webdriver import WebDriver

from sheetcrm.service import dev_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL_HINT = "apt-get install chromium chromium-driver (Debian), as .ci/run does"
FLAGS = (
    "--headless",
    "--no-sandbox",  # containers and CI run as root, where the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # no call home: loopback only
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # small /dev/shm in containers
)


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """A headless chromium session (a selenium WebDriver), one per test module."""
    with started_chromium(tmp_path_factory) as driver:
        yield driver


@contextmanager
def started_chromium(
    tmp_path_factory: pytest.TempPathFactory, flags: tuple[str, ...] = ()
) -> Iterator[WebDriver]:
    """A headless chromium session with ``flags`` besides FLAGS; skips the test, saying what
    to install, where chromium or chromedriver is missing."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not found: {INSTALL_HINT}")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in (*FLAGS, *flags, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(10)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@contextmanager
def served(app: Flask, port: int = 0, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """``app`` on a loopback port (``port``, else a free one) for the length of the block,
    over https with ``tls``: its base URL."""
    server = dev_server.make("127.0.0.1", port, app, ssl_context=tls)
    thread = threading.Thread(target=server.serve_forever, name="test-server", daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
