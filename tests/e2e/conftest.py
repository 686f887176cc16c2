"""Browser tests: Debian's Chromium driven by Playwright, against a live server.

`live_server` runs tests/e2e/serve.py in its own process (so a test may kill
and restart it); `browser` is headless Chromium from /usr/bin/chromium;
`tablet` opens a new context (a tablet) signed in as a given user.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from .serve import PASSWORD

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, database_url: str):
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.serve", "--database-url", self.database_url,
             "--port", str(self.port)], cwd=ROOT, env={**os.environ, "DATANG_ENV": "testing"})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the live server did not start")

    def kill(self) -> None:
        """kill -9: no clean shutdown, as a crash would be."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        self.kill()
        self.start()


@pytest.fixture
def live_server(database_url):
    server = LiveServer(database_url)
    server.start()
    yield server
    server.kill()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium is not at {CHROMIUM}: install Debian's chromium package")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def sign_in(page, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("domcontentloaded")


@pytest.fixture
def tablet(browser, live_server):
    """tablet('lobby1') -> a page in a fresh browser context, signed in."""
    contexts = []

    def open_tablet(username: str, *, lang: str = "zh", viewport=(1024, 768)):
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                      base_url=live_server.url, has_touch=True)
        contexts.append(context)
        page = context.new_page()
        sign_in(page, live_server.url, username)
        if lang == "en":
            page.goto(page.url.split("?")[0] + "?lang=en")
        return page

    yield open_tablet
    for context in contexts:
        context.close()


def wait_until(page, expression: str, arg=None, timeout: float = 10.0):
    """Poll a JS expression until it is truthy; returns its value.

    page.wait_for_function evaluates strings with eval, which the app's strict
    CSP (rightly) refuses; page.evaluate is not subject to it.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {expression}")
        time.sleep(0.05)
