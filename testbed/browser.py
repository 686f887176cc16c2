"""A live Datang server in a process of its own, and Chromium to drive it.

Shared by the browser tests (tests/e2e) and the benchmarks that use a browser
(bench/page_weight.py, bench/offline_bench.py).
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import time
import urllib.request

from .serve import PASSWORD, serve

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Servers are forked from one process that imported the app once: importing it
# costs ~1.5 s, and every browser test starts a server (some restart it).
_FORKS = multiprocessing.get_context("forkserver")
_FORKS.set_forkserver_preload(["testbed.serve"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """testbed/serve.py's server on a port of its own. A subclass may give `command()`
    to run a program of its own instead."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | multiprocessing.process.BaseProcess | None = None
        # Extra environment for the next start(), e.g. {"DATANG_BUILD_ID": "2"}
        # to serve a new service-worker version.
        self.env: dict[str, str] = {}

    def command(self) -> list[str] | None:
        return None

    def start(self) -> None:
        environ = {**os.environ, "DATANG_ENV": "testing", **self.env}
        command = self.command()
        if command is None:
            self.process = _FORKS.Process(
                target=serve, args=(self.database_url, self.port, environ), daemon=True
            )
            self.process.start()
        else:
            self.process = subprocess.Popen(command, cwd=ROOT, env=environ)
        deadline = time.monotonic() + 30
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
        if isinstance(self.process, subprocess.Popen):
            self.process.kill()
            self.process.wait()
        elif self.process is not None:
            self.process.kill()
            self.process.join()

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        self.kill()


def sign_in(page, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("domcontentloaded")


def wait_until(page, expression: str, arg=None, timeout: float = 20.0):
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


def ready(page, timeout: float = 15.0) -> None:
    """The page is controlled by the service worker and the outbox has loaded."""
    try:
        wait_until(
            page,
            "window.Datang !== undefined && window.Datang.pwa !== undefined"
            " && navigator.serviceWorker.controller !== null"
            " && (Datang.pwa.isWarm || !navigator.onLine)",
            timeout=timeout,
        )
    except AssertionError:
        # Which step stalled: the worker's registration says whether it is still
        # installing (precaching), waiting, or active but not yet controlling.
        state = page.evaluate("""async () => {
            const reg = await navigator.serviceWorker.getRegistration();
            const worker = (w) => w ? w.state : null;
            return {url: location.href, datang: !!window.Datang,
              pwa: !!(window.Datang && Datang.pwa),
              controller: !!navigator.serviceWorker.controller,
              warm: !!(window.Datang && Datang.pwa && Datang.pwa.isWarm),
              online: navigator.onLine,
              installing: reg ? worker(reg.installing) : 'no registration',
              waiting: reg ? worker(reg.waiting) : null, active: reg ? worker(reg.active) : null};
        }""")
        raise AssertionError(f"page not ready: {state}") from None
