"""Benchmark of the offline client, in Debian's Chromium against a live server.

    .venv/bin/python bench/offline_bench.py [--entries 1000] [--database-url URL]

Prints three figures (targets in brackets) and exits non-zero when one misses:

- drain:  N entries queued offline reach the server after reconnect   [<= 3 s for 1,000]
- client: the same with the server's ingest answered by a stub, i.e.
          the outbox's own share of the drain                          [<= 3 s for 1,000]
- reload: a repeat load of /lobby offline, to DOMContentLoaded         [<= 100 ms]
- tap:    a purpose tap until the new customer is on the board         [<= 50 ms]

Not a test: the figures depend on the machine. Results go in docs/performance.md.
The database is a fresh SQLite file unless --database-url is given (e.g. a
PostgreSQL URL whose schema may be dropped afterwards).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from testbed.browser import CHROMIUM, CHROMIUM_ARGS, LiveServer, ready, sign_in, wait_until  # noqa: E402

TARGETS = {"drain": 3.0, "client": 3.0, "reload": 0.100, "tap": 0.050}


def queue(page, count: int) -> None:
    """Queue `count` greetings straight into the outbox, as taps over a morning would."""
    page.evaluate(
        """async n => {
        for (let i = 0; i < n; i++)
            await Datang.record('visit.greeted', Datang.newId(),
                                {purpose: 'cash', ticket: 'B' + (i % 1000)});
    }""",
        count,
    )


def drain(page, count: int) -> float:
    page.context.set_offline(True)
    queue(page, count)
    assert page.evaluate("Datang.pending()").__len__() >= count
    start = time.perf_counter()
    page.context.set_offline(False)
    wait_until(page, "Datang.pending().then(p => p.length === 0)", timeout=60)
    return time.perf_counter() - start


def drain_client_only(page, count: int) -> float:
    """The same drain with the server's ingest answered by a stub: the client's own share."""
    import json

    def accept_all(route):
        events = json.loads(route.request.post_data)["events"]
        route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps(
                {
                    "results": [{"id": e["id"], "status": "accepted"} for e in events],
                    "server_time": "2026-11-29T01:00:00.000Z",
                }
            ),
        )

    page.context.route("**/api/v1/sync", accept_all)
    try:
        return drain(page, count)
    finally:
        page.context.unroute("**/api/v1/sync")


def reload_offline(page, runs: int = 7) -> float:
    page.context.set_offline(True)
    page.reload()  # the first offline load warms the worker
    times = []
    for _ in range(runs):
        page.reload(wait_until="domcontentloaded")
        times.append(
            page.evaluate("performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")
            / 1000
        )
    page.context.set_offline(False)
    return statistics.median(times)


def tap(page, runs: int = 7) -> float:
    """Tap a purpose button; time until a new visit card is in the board (median)."""
    has_buttons = page.locator('[data-testid="purpose-cash"]').count() > 0
    times = []
    for _ in range(runs):
        if has_buttons:
            elapsed = page.evaluate("""() => new Promise(resolve => {
                const before = document.querySelectorAll('[data-testid=visit-card]').length;
                const observer = new MutationObserver(() => {
                    if (document.querySelectorAll('[data-testid=visit-card]').length > before) {
                        observer.disconnect(); resolve(performance.now() - t0);
                    }
                });
                observer.observe(document.body, {childList: true, subtree: true});
                const t0 = performance.now();
                document.querySelector('[data-testid=purpose-cash]').click();
            })""")
        else:  # no lobby buttons yet: Datang.record until its renderer has drawn
            elapsed = page.evaluate("""() => new Promise(resolve => {
                const t0 = performance.now();
                Datang.renderers['visit.greeted'] = () => resolve(performance.now() - t0);
                Datang.record('visit.greeted', Datang.newId(), {purpose: 'cash'});
            })""")
        times.append(elapsed / 1000)
        time.sleep(0.2)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--database-url")
    parser.add_argument(
        "--only",
        choices=sorted(TARGETS),
        action="append",
        help="run only this figure (may be repeated)",
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(args.database_url or f"sqlite:///{tmp}/bench.sqlite3")
        server.start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                context = browser.new_context(
                    base_url=server.url, has_touch=True, viewport={"width": 1024, "height": 768}
                )
                page = context.new_page()
                sign_in(page, server.url, "lobby1")
                ready(page)
                wanted = set(args.only or TARGETS)
                figures = {}
                if "reload" in wanted:
                    figures["reload"] = reload_offline(page)
                    ready(page)
                if "tap" in wanted:
                    figures["tap"] = tap(page)
                    page.wait_for_timeout(500)
                if "client" in wanted:
                    figures["client"] = drain_client_only(page, args.entries)
                if "drain" in wanted:
                    page.goto("/checklist")  # no waiting board to redraw: time the sync alone
                    ready(page)
                    figures["drain"] = drain(page, args.entries)
                browser.close()
        finally:
            server.kill()

    ok = True
    labels = {
        "drain": f"{args.entries} queued entries drained after reconnect",
        "client": f"{args.entries} entries drained, server ingest stubbed (client share)",
        "reload": "repeat load of /lobby offline to DOMContentLoaded (median of 7)",
        "tap": "tap to new customer on the board (median of 7)",
    }
    for key, value in figures.items():
        target = TARGETS[key] * (args.entries / 1000 if key in ("drain", "client") else 1)
        passed = value <= target
        ok &= passed
        print(
            f"{labels[key]:<68} {value * 1000:8.0f} ms   (target {target * 1000:.0f} ms)"
            f" {'ok' if passed else 'MISSED'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
