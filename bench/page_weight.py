"""Page weight of the tablet pages (issue #7), in Debian's Chromium against a live server.

    .venv/bin/python bench/page_weight.py [--database-url URL] [--budget-kb 50] [--detail]

For `/lobby` and `/checklist`, signed in as lobby1, prints a Markdown table:

- first load: every byte the page's own load pulls over the network with an
  empty HTTP cache and no service worker (document, CSS, JS, icons, manifest,
  fonts, htmx fragments and API calls fired on load), by kind, against the
  budget (50 KB a page, KB = 1,024 bytes); plus, in a column of its own, what
  the service worker's first install pulls at the same time (its precache of
  the app shell and its warm-up of the screens), which is not the page's;
- repeat load: a reload once the service worker controls the page: the bytes
  that still went over the network (the page's own requests the worker does
  not handle, e.g. /api; the worker's own fetches: the network-first document
  and htmx fragments; the browser's update check of /sw.js), and how many of
  the page's requests the worker answered from its cache;
- DOMContentLoaded of both loads (`performance` navigation entry, ms from
  navigation start). A single run: expect ±100 ms between runs.
- below the table, per page: every first-load resource by size, a gzip
  estimate, what was fetched twice, and a cross-check against the server.

How it measures
---------------
Sign-in happens once, in a throw-away browser context (it lands on /lobby, so
that context's cache and service worker are spoiled). Each page's first load
then runs in a *new* context built from that context's storage state (the
session cookie only): a Playwright context is an incognito profile, so its HTTP
cache is empty and no service worker is registered in it. On top of that the
page's CDP session clears the browser cache (`Network.clearBrowserCache`) and
bypasses service workers (`Network.setBypassServiceWorker`) during the first
load: the worker that pwa.js registers mid-load claims the page on activation,
and without the bypass the later requests of the same load (icons, fragments)
would race between network and worker. The bypass is lifted for the repeat load.

Bytes are Chromium's own count: `Network.loadingFinished.encodedDataLength`
from a CDP session on the page, the "transferred" column of DevTools, i.e. the
bytes received for the request on the wire: **response status line and headers
included** (HTTP/1.1, so uncompressed headers; the script checks this against
`Network.responseReceivedExtraInfo.headersText` and Content-Length and says so
under the table). Bodies as sent (the app does not compress; the gzip figure is
an estimate from the bodies, via `Network.getResponseBody`). Request bytes
(upload: request line, headers with the cookie) are *not* in the figures; an
estimate of the first load's upload is printed per page.

Three instruments, because none sees everything:
- the page's CDP session: the page's requests (and whether the worker or the
  HTTP cache answered them);
- Playwright's service-worker network events (`request.service_worker`,
  Chromium): the worker's own fetches (precache, warm-up, network-first), with
  `request.sizes()` (response headers + body, from the same Chromium counters);
- the server's log: the server runs in a subprocess as testbed/serve.py does
  (this file with `--serve`: the same create_app/create_all/seed_demo, plus a
  WSGI wrapper that writes one JSON line per request answered). It is the only
  view of the browser's own fetches of /sw.js (the install, and the update check
  Chromium makes ~1.5 s after every navigation), counted at the size of a plain
  fetch of /sw.js (status line, headers, body), and it cross-checks the request
  counts of the other two.

A load is over when the page's load event has fired, the worker (first load)
has finished installing and warming (`Datang.pwa.isWarm`) or (repeat load) the
update check of /sw.js has reached the server (6 s at most), and nothing has
been in flight or answered for 1.5 s. The outbox's first flush (300 ms after
start-up) is inside the window; a repeat of /lobby usually also catches one
3-second poll of the board (a 204, 0.6 KB), listed as such.

The database is a fresh SQLite file in a temp dir unless --database-url is
given. A PostgreSQL URL gets a schema of its own (created, used through
`search_path`, dropped at the end), so the database may be non-empty or shared
with other runs; any other URL is emptied first (`drop_all`). The server then
creates the schema and the demo data as testbed/serve.py does.

Exits 1 when a page is over budget. Not a test; results go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from testbed.browser import CHROMIUM, CHROMIUM_ARGS, LiveServer, sign_in, wait_until  # noqa: E402

PAGES = ["/lobby", "/checklist"]
KINDS = ["document", "css", "js", "image", "other"]
CDP_KIND = {"Document": "document", "Stylesheet": "css", "Script": "js", "Image": "image"}
PW_KIND = {"document": "document", "stylesheet": "css", "script": "js", "image": "image"}
QUIET = 1.5  # seconds with nothing in flight that end a load
UPDATE_CHECK_WAIT = 6.0  # a repeat load waits this long at most for the worker's update check
MAX_WAIT = 30.0


def serve(database_url: str, port: int, log_path: str) -> None:
    """testbed/serve.py, plus a log of every request the server answers (JSON lines)."""
    import json
    import logging

    from werkzeug.serving import make_server

    from app import create_app
    from app.demo import seed_demo
    from app.extensions import db
    from testbed.serve import PASSWORD

    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=database_url,
        DEMO_PASSWORD=PASSWORD,
        LOGIN_RATE_LIMIT="1000 per minute",
    )
    with app.app_context():
        db.create_all()
        seed_demo(PASSWORD)
        db.session.remove()
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - the server's, while it runs

    def logged(environ, start_response):
        seen = {}

        def start(status, headers, exc_info=None):
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        body = 0
        iterable = app.wsgi_app_logged(environ, start)
        try:
            for chunk in iterable:
                body += len(chunk)
                yield chunk
        finally:
            if hasattr(iterable, "close"):
                iterable.close()
            log.write(
                json.dumps(
                    {
                        "t": time.time(),
                        "method": environ["REQUEST_METHOD"],
                        "path": environ["PATH_INFO"]
                        + ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else ""),
                        "status": int(seen.get("status", "0").split()[0]),
                        "body": body,
                        "sw_script": environ.get("HTTP_SERVICE_WORKER") == "script",
                    }
                )
                + "\n"
            )

    app.wsgi_app_logged, app.wsgi_app = app.wsgi_app, logged
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", port, app, threaded=True)
    print(f"serving on {port}", flush=True)
    server.serve_forever()


class BenchServer(LiveServer):
    """LiveServer running this file's `serve` (serve.py plus a request log)."""

    def __init__(self, database_url: str, log_path: str):
        super().__init__(database_url)
        self.log_path = log_path
        open(log_path, "w").close()

    def command(self) -> list[str]:
        return [
            sys.executable,
            os.path.abspath(__file__),
            "--serve",
            "--database-url",
            self.database_url,
            "--port",
            str(self.port),
            "--log",
            self.log_path,
        ]


class ServerLog:
    """What the server answered, read from its log: the ground truth for request counts,
    and the only view of the browser's own fetches of /sw.js (the service worker's
    install and its update check after every navigation), which neither the page's
    CDP session nor Playwright's service-worker events report."""

    def __init__(self, path: str):
        self.path, self.offset = path, 0
        self.last_activity = time.monotonic()
        self.entries: list[dict] = []

    def poll(self) -> None:
        import json

        with open(self.path) as log:
            log.seek(self.offset)
            data = log.read()
        complete = data[: data.rfind("\n") + 1]
        self.offset += len(complete.encode())
        new = [json.loads(line) for line in complete.splitlines() if line.strip()]
        if new:
            self.entries += new
            self.last_activity = time.monotonic()

    def reset(self) -> None:
        self.poll()
        self.entries = []
        self.last_activity = time.monotonic()


def kb(n: float) -> str:
    return f"{n / 1024:.1f}"


class PageNetwork:
    """The page's requests as Chromium's network stack reports them (CDP, page target)."""

    def __init__(self, page):
        self.cdp = page.context.new_cdp_session(page)
        self.reqs: dict[str, dict] = {}
        self.last_activity = time.monotonic()
        for name in (
            "requestWillBeSent",
            "requestWillBeSentExtraInfo",
            "responseReceived",
            "responseReceivedExtraInfo",
            "loadingFinished",
            "loadingFailed",
            "requestServedFromCache",
        ):
            self.cdp.on(f"Network.{name}", getattr(self, f"_{name}"))
        self.cdp.send("Network.enable")

    def reset(self) -> None:
        self.reqs = {}
        self.last_activity = time.monotonic()

    def _req(self, rid: str) -> dict:
        self.last_activity = time.monotonic()
        return self.reqs.setdefault(
            rid,
            {
                "id": rid,
                "url": "",
                "type": "Other",
                "done": False,
                "bytes": 0,
                "headers_text": 0,
                "from_sw": False,
                "from_cache": False,
                "status": None,
                "up": 0,
                "redirect_bytes": 0,
                "failed": None,
            },
        )

    def _requestWillBeSent(self, e):
        r = self._req(e["requestId"])
        if e.get("redirectResponse"):  # a hop of a redirect chain
            r["redirect_bytes"] += int(e["redirectResponse"].get("encodedDataLength") or 0)
        r["url"], r["type"] = e["request"]["url"], e.get("type", "Other")
        r["method"] = e["request"]["method"]

    def _requestWillBeSentExtraInfo(self, e):
        r = self._req(e["requestId"])
        # Request line + headers as sent (HTTP/1.1): an estimate of the upload.
        r["up"] += 30 + sum(len(k) + len(str(v)) + 4 for k, v in e.get("headers", {}).items())

    def _responseReceived(self, e):
        r = self._req(e["requestId"])
        resp = e["response"]
        r["status"] = resp.get("status")
        r["from_sw"] = bool(resp.get("fromServiceWorker"))
        r["from_cache"] = (
            r["from_cache"]
            or bool(resp.get("fromDiskCache"))
            or bool(resp.get("fromPrefetchCache"))
        )
        r["mime"] = resp.get("mimeType")
        r["content_length"] = {k.lower(): v for k, v in resp.get("headers", {}).items()}.get(
            "content-length"
        )
        if e.get("type"):
            r["type"] = e["type"]

    def _responseReceivedExtraInfo(self, e):
        r = self._req(e["requestId"])
        r["headers_text"] = len((e.get("headersText") or "").encode())

    def _requestServedFromCache(self, e):
        self._req(e["requestId"])["from_cache"] = True

    def _loadingFinished(self, e):
        r = self._req(e["requestId"])
        r["bytes"] = int(e.get("encodedDataLength") or 0) + r["redirect_bytes"]
        r["done"] = True

    def _loadingFailed(self, e):
        r = self._req(e["requestId"])
        r["failed"], r["done"] = e.get("errorText"), True

    def inflight(self) -> int:
        return sum(1 for r in self.reqs.values() if not r["done"])

    def over_network(self) -> list[dict]:
        return [
            r
            for r in self.reqs.values()
            if not r["from_sw"] and not r["from_cache"] and not r["url"].startswith("data:")
        ]


class WorkerNetwork:
    """The service worker's own fetches (Playwright's service-worker network events)."""

    def __init__(self, context):
        self.reqs: list = []
        self.pending = set()
        self.last_activity = time.monotonic()
        context.on("request", self._request)
        context.on("requestfinished", self._finished)
        context.on("requestfailed", self._finished)

    def reset(self) -> None:
        self.reqs, self.pending = [], set()
        self.last_activity = time.monotonic()

    def _request(self, request):
        # The worker's script fetch shows here with its headers only: ServerLog counts it.
        if request.service_worker is None or request.url.endswith("/sw.js"):
            return
        self.reqs.append(request)
        self.pending.add(id(request))
        self.last_activity = time.monotonic()

    def _finished(self, request):
        if request.service_worker is None or request.url.endswith("/sw.js"):
            return
        self.pending.discard(id(request))
        self.last_activity = time.monotonic()

    def inflight(self) -> int:
        return len(self.pending)

    def entries(self) -> list[dict]:
        out = []
        for request in self.reqs:
            try:
                response = request.response()
            except Exception:  # noqa: BLE001
                response = None
            if response is None:
                out.append(
                    {
                        "url": request.url,
                        "kind": "other",
                        "bytes": 0,
                        "headers": 0,
                        "failed": request.failure,
                        "from_cache": False,
                        "status": None,
                        "body": 0,
                    }
                )
                continue
            sizes = request.sizes()
            out.append(
                {
                    "url": request.url,
                    "kind": PW_KIND.get(request.resource_type, "other"),
                    "bytes": sizes["responseHeadersSize"] + sizes["responseBodySize"],
                    "headers": sizes["responseHeadersSize"],
                    "failed": None,
                    "up": sizes["requestHeadersSize"] + sizes["requestBodySize"],
                    "from_cache": response.from_service_worker,
                    "status": response.status,
                    "body": sizes["responseBodySize"],
                }
            )
        return out


def settle(
    page, net: PageNetwork, sw: WorkerNetwork, log: ServerLog, *, warm: bool, update_check: bool
) -> None:
    """Wait until the load is over (see the module's docstring)."""
    deadline = time.monotonic() + MAX_WAIT
    if warm:
        wait_until(
            page,
            "window.Datang !== undefined && Datang.pwa !== undefined && Datang.pwa.isWarm === true",
            timeout=MAX_WAIT,
        )
    check_deadline = time.monotonic() + UPDATE_CHECK_WAIT
    while time.monotonic() < deadline:
        page.wait_for_timeout(100)
        log.poll()
        if (
            update_check
            and time.monotonic() < check_deadline
            and not any(e["sw_script"] for e in log.entries)
        ):
            continue
        last = max(net.last_activity, sw.last_activity, log.last_activity)
        if net.inflight() == 0 and sw.inflight() == 0 and time.monotonic() - last >= QUIET:
            return
    print(f"warning: {page.url}: network not quiet after {MAX_WAIT:.0f} s", file=sys.stderr)


def dcl_ms(page) -> float:
    return page.evaluate("performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")


def kind_of(r: dict) -> str:
    """By CDP resource type; the favicon (type Other) by its MIME type."""
    if r["type"] == "Other" and (r.get("mime") or "").startswith("image/"):
        return "image"
    return CDP_KIND.get(r["type"], "other")


def short(url: str, base: str) -> str:
    return url[len(base) :] if url.startswith(base) else url


def window(net: PageNetwork, sw: WorkerNetwork, log: ServerLog, sw_script: int) -> dict:
    """One load's figures, from the three instruments."""
    page_all = list(net.reqs.values())
    page_net = net.over_network()
    worker = sw.entries()
    worker_net = [e for e in worker if not e["from_cache"]]
    script_fetches = [e for e in log.entries if e["sw_script"]]
    return {
        "page_all": page_all,
        "page_net": page_net,
        "worker": worker_net,
        "sw_script_fetches": len(script_fetches),
        "sw_script_bytes": sw_script,
        "server": list(log.entries),
        "net_bytes": sum(r["bytes"] for r in page_net)
        + sum(e["bytes"] for e in worker_net)
        + sw_script * len(script_fetches),
        "net_requests": len(page_net) + len(worker_net) + len(script_fetches),
    }


COMPRESSIBLE = (
    "text/",
    "application/javascript",
    "application/json",
    "application/manifest+json",
    "image/svg+xml",
)


def gzip_estimate(net: PageNetwork, requests: list[dict]) -> None:
    """What each response would weigh gzipped (level 6, as nginx's gzip_comp_level 6): sets
    r["gzip"] to headers + gzipped body for text responses, else to the bytes as received."""
    import base64
    import gzip

    for r in requests:
        r["gzip"] = r["bytes"]
        if not r["bytes"] or not (r.get("mime") or "").startswith(COMPRESSIBLE):
            continue
        try:
            body = net.cdp.send("Network.getResponseBody", {"requestId": r["id"]})
        except Exception:  # noqa: BLE001, S112 - a body Chromium no longer holds is skipped
            continue
        data = (
            base64.b64decode(body["body"]) if body.get("base64Encoded") else body["body"].encode()
        )
        if data:
            r["gzip"] = (
                r["headers_text"] + len("Content-Encoding: gzip\r\n") + len(gzip.compress(data, 6))
            )


def measure(browser, base: str, state: dict, path: str, log: ServerLog, sw_script: int) -> dict:
    context = browser.new_context(
        base_url=base, storage_state=state, has_touch=True, viewport={"width": 1024, "height": 768}
    )
    page = context.new_page()
    net, sw = PageNetwork(page), WorkerNetwork(context)
    result: dict = {"path": path}
    try:
        # --- first load: empty cache, no worker in the way ----------------------
        net.cdp.send("Network.clearBrowserCache")
        net.cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})
        net.cdp.send("Network.setBypassServiceWorker", {"bypass": True})
        net.reset(), sw.reset(), log.reset()
        response = page.goto(path, wait_until="load")
        assert response is not None and response.status == 200 and page.url.endswith(path), (
            f"{path}: landed on {page.url} ({response and response.status})"
        )
        assert not response.from_service_worker
        settle(page, net, sw, log, warm=True, update_check=False)
        result["first"] = window(net, sw, log, sw_script)
        gzip_estimate(net, result["first"]["page_net"])
        result["first_dcl"] = dcl_ms(page)

        # --- repeat load: the worker controls the page --------------------------
        net.cdp.send("Network.setBypassServiceWorker", {"bypass": False})
        wait_until(page, "navigator.serviceWorker.controller !== null", timeout=MAX_WAIT)
        page.wait_for_timeout(QUIET * 1000)
        net.reset(), sw.reset(), log.reset()
        page.reload(wait_until="load")
        settle(page, net, sw, log, warm=False, update_check=True)
        assert page.evaluate("navigator.serviceWorker.controller !== null")
        result["repeat"] = window(net, sw, log, sw_script)
        result["repeat_dcl"] = dcl_ms(page)
    finally:
        context.close()
    return result


def report(results: list[dict], base: str, budget: int, detail: bool) -> bool:
    ok = True
    print(
        "| page | document | css | js | image | other | first load | budget "
        f"{budget // 1024} KB | + SW install (not the page's) | repeat: over the network | "
        "repeat: from the SW | DCL first | DCL repeat |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|:---:|---:|---:|---:|---:|---:|")
    for res in results:
        first, repeat = res["first"], res["repeat"]
        by_kind = Counter()
        for r in first["page_net"]:
            by_kind[kind_of(r)] += r["bytes"]
        total = sum(by_kind.values())
        passed = total <= budget
        ok &= passed
        install = first["net_bytes"] - total
        # The worker answered these; those it fetched in the same window (network first:
        # the document, htmx fragments) it did not answer from its cache.
        fetched = Counter(e["url"] for e in repeat["worker"])
        answered = passed_on = 0
        for r in repeat["page_all"]:
            if r["from_sw"]:
                answered += 1
                if fetched[r["url"]]:
                    fetched[r["url"]] -= 1
                    passed_on += 1
        print(
            f"| `{res['path']}` | "
            + " | ".join(kb(by_kind[k]) for k in KINDS)
            + f" | **{kb(total)}** ({len(first['page_net'])} req) | "
            f"{'pass' if passed else '**FAIL**'} | {kb(install)} "
            f"({first['net_requests'] - len(first['page_net'])} req) | {kb(repeat['net_bytes'])} "
            f"({repeat['net_requests']} req) | {answered - passed_on} of {len(repeat['page_all'])} "
            f"from its cache (+{passed_on} fetched by it) | "
            f"{res['first_dcl']:.0f} ms | {res['repeat_dcl']:.0f} ms |"
        )
    print(
        "\nKB = 1,024 bytes received, response headers included; request (upload) bytes not in "
        "these figures. No HTTP compression is involved unless the server compresses."
    )

    for res in results:
        first, repeat = res["first"], res["repeat"]
        page_net = first["page_net"]
        headers = sum(r["headers_text"] for r in page_net)
        up = sum(r["up"] for r in page_net)
        print(f"\n### `{res['path']}`\n")
        print(
            f"First load, the page: {len(page_net)} requests, "
            f"{kb(sum(r['bytes'] for r in page_net))} KB"
            f" down (of which {kb(headers)} KB response headers), ~{kb(up)} KB up."
        )
        print(
            f"Gzipped (estimate, level 6, text responses): "
            f"{kb(sum(r.get('gzip', r['bytes']) for r in page_net))} KB; the largest: "
            + ", ".join(
                f"`{short(r['url'], base)}` {kb(r['bytes'])} → {kb(r['gzip'])} KB"
                for r in sorted(page_net, key=lambda r: -r["bytes"])[:4]
                if "gzip" in r
            )
        )
        mismatched = [
            r
            for r in page_net
            if r.get("content_length")
            and r["bytes"]
            and r["bytes"] - r["headers_text"] != int(r["content_length"])
        ]
        print(
            "Check: encodedDataLength = headersText + Content-Length for every response "
            "that has one."
            if not mismatched
            else "Note: encodedDataLength != headersText + Content-Length for: "
            + ", ".join(short(r["url"], base) for r in mismatched)
        )
        print(
            "\n| first load, largest first | kind (CDP type) | status | bytes (of which headers) |"
            "\n|---|---|---:|---:|"
        )
        for r in sorted(page_net, key=lambda r: -r["bytes"]):
            print(
                f"| `{short(r['url'], base)}` | {kind_of(r)} ({r['type']}) | "
                f"{r['status'] or r['failed']} | {r['bytes']:,} ({r['headers_text']:,}) |"
            )
        urls = Counter(r["url"] for r in first["page_all"])
        dup = {u: n for u, n in urls.items() if n > 1}
        if dup:
            print(
                "\nRequested more than once by the page in its first load: "
                + ", ".join(f"`{short(u, base)}` ×{n}" for u, n in dup.items())
            )
        worker = first["worker"]
        again = sorted({e["url"] for e in worker} & {r["url"] for r in page_net})
        if again:
            print(
                f"\nFetched again by the service worker right after the page had them ({len(again)}"
                f" URLs, {kb(sum(e['bytes'] for e in worker if e['url'] in again))} KB): "
                + ", ".join(f"`{short(u, base)}`" for u in again)
            )
        wdup = {u: n for u, n in Counter(e["url"] for e in worker).items() if n > 1}
        if wdup:
            print(
                "Fetched more than once by the service worker: "
                + ", ".join(f"`{short(u, base)}` ×{n}" for u, n in wdup.items())
            )
        if detail:
            print(
                "\n| SW install and warm-up | status | bytes (of which headers) |\n|---|---:|---:|"
            )
            print(
                f"| `/sw.js` ×{first['sw_script_fetches']} (server log × plain fetch) | 200 | "
                f"{first['sw_script_bytes'] * first['sw_script_fetches']:,} |"
            )
            for e in sorted(worker, key=lambda e: -e["bytes"]):
                print(
                    f"| `{short(e['url'], base)}` | {e['status'] or e['failed']} | "
                    f"{e['bytes']:,} ({e['headers']:,}) |"
                )
        parts = [f"`{short(r['url'], base)}` {r['bytes']:,} B (page)" for r in repeat["page_net"]]
        parts += [f"`{short(e['url'], base)}` {e['bytes']:,} B (worker)" for e in repeat["worker"]]
        parts += [f"`/sw.js` {repeat['sw_script_bytes']:,} B (update check)"] * repeat[
            "sw_script_fetches"
        ]
        print("\nRepeat load, over the network: " + (", ".join(parts) or "nothing"))
        not_sw = [r for r in repeat["page_all"] if not r["from_sw"]]
        if not_sw:
            print(
                "Repeat load, the page's requests not answered by the worker: "
                + ", ".join(
                    f"`{short(r['url'], base)}` ({'HTTP cache' if r['from_cache'] else 'network'})"
                    for r in not_sw
                )
            )
        kinds = Counter(kind_of(r) for r in repeat["page_all"] if r["from_sw"])
        print(
            "Repeat load, answered by the worker: "
            + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        )
        for name, w in (("first load", first), ("repeat load", repeat)):
            server = Counter(e["path"] for e in w["server"])
            browser_seen = Counter(short(r["url"], base) for r in w["page_net"])
            browser_seen.update(short(e["url"], base) for e in w["worker"])
            browser_seen.update(["/sw.js"] * w["sw_script_fetches"])
            if server != browser_seen:
                print(
                    f"Cross-check, {name}: server answered {sum(server.values())} requests, "
                    f"browser counted {sum(browser_seen.values())}; differences: "
                    f"{dict((server - browser_seen) + (browser_seen - server))}"
                )
            else:
                print(
                    f"Cross-check, {name}: the server answered the same {sum(server.values())} "
                    f"requests the browser counted ({kb(sum(e['body'] for e in w['server']))} KB "
                    "of bodies)."
                )
    return ok


def prepare_database(url: str | None, tmp: str):
    """The URL the server gets, and a clean-up function."""
    from sqlalchemy import create_engine, text

    if not url:
        return f"sqlite:///{tmp}/page_weight.sqlite3", lambda: None
    if url.startswith("postgresql"):
        schema = f"page_weight_{uuid.uuid4().hex[:8]}"
        admin = create_engine(url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))

        def drop():
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()

        return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}", drop
    from app import create_app
    from app.extensions import db

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        db.drop_all()
        db.session.remove()
        db.engine.dispose()
    return url, lambda: None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url")
    parser.add_argument("--budget-kb", type=int, default=50)
    parser.add_argument(
        "--detail",
        action="store_true",
        help="also list the service worker's install and warm-up fetches",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--log", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:  # the server's own process (BenchServer)
        serve(args.database_url, args.port, args.log)
        return 0
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        url, cleanup = prepare_database(args.database_url, tmp)
        server = BenchServer(url, os.path.join(tmp, "requests.jsonl"))
        log = ServerLog(server.log_path)
        try:
            server.start()
            with urllib.request.urlopen(f"{server.url}/sw.js") as answer:
                # Status line, headers (the ones Werkzeug adds included) and body.
                sw_script = (
                    len(f"HTTP/1.1 {answer.status} {answer.reason}\r\n\r\n")
                    + sum(len(k) + len(v) + 4 for k, v in answer.getheaders())
                    + len(answer.read())
                )
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                signin = browser.new_context(base_url=server.url)
                sign_in(signin.new_page(), server.url, "lobby1")
                state = signin.storage_state()
                signin.close()
                results = [
                    measure(browser, server.url, state, path, log, sw_script) for path in PAGES
                ]
                browser.close()
        finally:
            server.kill()
            cleanup()
    where = (
        "PostgreSQL, a schema of its own (dropped)"
        if url.startswith("postgresql")
        else ("SQLite in a temp dir" if not args.database_url else url)
    )
    print(f"Page weight, signed in as lobby1; database: {where}.\n")
    return 0 if report(results, server.url, args.budget_kb * 1024, args.detail) else 1


if __name__ == "__main__":
    sys.exit(main())
