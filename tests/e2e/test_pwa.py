"""The installable app: manifest, icons, service worker, offline fallback, updates."""

from __future__ import annotations

import struct

from .conftest import ready, record_visits, sign_in, wait_badge, wait_until


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_installable(persistent_tablet, live_server):
    page = persistent_tablet.new_page()
    sign_in(page, live_server.url, "lobby1")
    ready(page)
    assert page.url.endswith("/lobby")

    response = page.request.get("/manifest.webmanifest")
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert "大堂" in manifest["name"] and "Datang" in manifest["name"]
    assert manifest["short_name"] and manifest["start_url"] == "/lobby"
    assert manifest["display"] == "standalone" and manifest["theme_color"]
    sizes = {(icon["sizes"], icon["purpose"]): icon["src"] for icon in manifest["icons"]}
    assert set(sizes) == {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")}
    for (size, _purpose), src in sizes.items():
        icon = page.request.get(src)
        assert icon.status == 200 and icon.headers["content-type"] == "image/png"
        assert png_size(icon.body()) == tuple(int(n) for n in size.split("x"))

    sw = page.request.get("/sw.js")
    assert sw.headers["service-worker-allowed"] == "/"
    assert "no-cache" in sw.headers["cache-control"]
    assert "javascript" in sw.headers["content-type"]

    # Chromium's own verdict: no installability errors at all.
    cdp = persistent_tablet.new_cdp_session(page)
    assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    assert page.evaluate("navigator.serviceWorker.controller.scriptURL").endswith("/sw.js")
    assert page.evaluate("Datang.pwa.version()")


def test_a_page_loaded_past_the_worker_is_taken_over(tablet):
    """A load the worker did not see (it was still installing when the load began, or a
    hard reload) leaves the page uncontrolled. The page asks the active worker to take
    it: its fragments then come from the worker's cache offline, without another load."""
    page = tablet("lobby1")
    ready(page)
    fragment = """() => fetch('/lobby', {headers: {'HX-Request': 'true'}}).then(r => r.status)"""
    assert page.evaluate(fragment) == 200  # online: cached by the worker on the way
    # As Shift+reload: the load skips the service worker.
    with page.expect_navigation():
        page.context.new_cdp_session(page).send("Page.reload", {"ignoreCache": True})
    wait_until(page, "window.Datang !== undefined && window.Datang.pwa !== undefined")
    wait_until(page, "navigator.serviceWorker.controller !== null")
    page.context.set_offline(True)
    assert page.evaluate(fragment) == 200


def test_offline_fallback_and_fragments_kept_apart(tablet, live_server):
    page = tablet("lobby1")
    ready(page)
    fetch = """async (hx) => {
        const r = await fetch('/lobby', hx ? {headers: {'HX-Request': 'true'}} : {});
        return {status: r.status, text: await r.text()};
    }"""
    online_page, online_fragment = page.evaluate(fetch, False), page.evaluate(fetch, True)
    assert "<html" in online_page["text"] and "<html" not in online_fragment["text"]
    page.context.set_offline(True)
    # Each from its own cache: the page for a page, the fragment for htmx.
    assert page.evaluate(fetch, False) == online_page
    assert page.evaluate(fetch, True)["text"] == online_fragment["text"]
    # ...but a poll never gets a copy: it is older than what the page shows.
    assert (
        page.evaluate("""() => fetch('/lobby', {headers: {'HX-Request': 'true', 'X-Datang-Background': '1'}})
        .then(r => r.status)""")
        == 503
    )
    # A screen this tablet never opened: the offline page, in both languages.
    page.goto("/supervisor")
    assert page.locator('[data-testid="offline-page"]').count() == 1
    assert page.locator("section[lang=en]").count() == 1
    page.goto("/lobby")
    ready(page)
    wait_badge(page, state="offline")


def test_update_keeps_the_outbox(tablet, live_server, server_events):
    page = tablet("lobby1")
    ready(page)
    old_version = page.evaluate("Datang.pwa.version()")
    page.context.route("**/api/v1/sync", lambda route: route.abort())
    subjects = record_visits(page, 3)
    wait_badge(page, pending=3)

    # A deploy: the same database, a new build of the app.
    live_server.env["DATANG_BUILD_ID"] = "next"
    live_server.restart()
    page.evaluate("Datang.pwa.update()")
    banner = page.locator('[data-testid="update-banner"]')
    banner.wait_for(state="visible", timeout=10000)
    with page.expect_navigation():
        page.click('[data-testid="update-reload"]')
    ready(page)
    assert page.evaluate("Datang.pwa.version()") != old_version
    assert len(page.evaluate("Datang.pending()")) == 3  # the outbox survived the new worker

    page.context.unroute("**/api/v1/sync")
    page.evaluate("Datang.syncNow()")
    wait_until(page, "Datang.pending().then(p => p.length === 0)")
    mine = [e for e in server_events("visit.greeted") if e[2] in subjects]
    assert sorted(e[2] for e in mine) == sorted(subjects)
    assert {e[3] for e in mine} == {"lobby1"}


# --- server side, no browser -------------------------------------------------


def test_offline_page_speaks_both_languages_and_names_nobody(client):
    text = client.get("/offline").get_data(as_text=True)
    assert "网络已断开" in text and "You are offline" in text
    assert "lobby1" not in text and 'name="csrf-token"' not in text


def test_service_worker_version_follows_the_build(app, client, monkeypatch):
    first = client.get("/sw.js")
    assert first.headers["Service-Worker-Allowed"] == "/"
    body = first.get_data(as_text=True)
    assert "/static/js/outbox.js" in body and "/static/js/outbox-ui.js" in body
    assert "/offline" in body
    monkeypatch.setenv("DATANG_BUILD_ID", "another")
    app.extensions.pop("datang_shell_version", None)
    assert client.get("/sw.js").get_data(as_text=True) != body


def test_session_endpoint_and_owner_check(sign_in):
    tablet = sign_in("lobby1")
    info = tablet.get("/api/v1/session").get_json()
    assert info["user"] == "lobby1" and info["csrf_token"]
    answer = tablet.sync([], headers={"X-Datang-User": "lobby2", "X-CSRFToken": tablet.csrf})
    assert answer.status_code == 409 and answer.get_json()["error"]["code"] == "wrong_user"
    assert (
        tablet.sync([], headers={"X-Datang-User": "lobby1", "X-CSRFToken": tablet.csrf}).status_code
        == 200
    )


def test_tablet_strings_are_translated(sign_in):
    import json
    import re

    page = sign_in("lobby1").get("/lobby?lang=zh").get_data(as_text=True)
    assert "立即同步" in page and 'data-testid="sync-status"' in page
    strings = json.loads(re.search(r'id="datang-strings">(.*?)</script>', page, re.S).group(1))
    assert strings["offline"] == "离线" and strings["types"]["visit.greeted"] == "新客户"
