"""A session's pages do not outlive it: no HTTP cache keeps a signed-in page, and the
service worker learns where the sign-in page is (the browser half is in
tests/e2e/test_session_end.py)."""

from __future__ import annotations

import json
import re

import pytest


@pytest.mark.parametrize(
    "path, htmx",
    [
        ("/lobby", False),
        ("/lobby", True),
        ("/lobby/board", True),
        ("/checklist", False),
        ("/checklist", True),
        ("/checklist/history", False),
    ],
)
def test_signed_in_pages_and_fragments_are_not_stored(lobby1, path, htmx):
    response = lobby1.get(path, headers={"HX-Request": "true"} if htmx else {})
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"


def test_pages_for_everybody_keep_their_own_rule(client, lobby1):
    assert lobby1.get("/offline").headers["Cache-Control"] == "no-cache"  # shared, no user's data
    assert "no-store" not in client.get("/login").headers.get("Cache-Control", "")
    assert "no-store" not in lobby1.get("/static/js/app.js").headers.get("Cache-Control", "")


def test_the_service_worker_knows_the_sign_in_and_sign_out_paths(client):
    body = client.get("/sw.js").get_data(as_text=True)
    config = json.loads(re.search(r"var SW = (\{.*?\});", body).group(1))
    assert config["login"] == "/login" and config["logout"] == "/logout"


def test_the_sign_in_page_tells_the_tablet_to_forget_the_screens(client):
    assert "data-signed-out" in client.get("/login").get_data(as_text=True)


def test_htmx_is_sent_to_sign_in_and_back_to_its_page_not_to_the_fragment(client):
    response = client.get(
        "/lobby/board?since=0",
        headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/lobby?lang=en"},
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/lobby?lang%3Den"
