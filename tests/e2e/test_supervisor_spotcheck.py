"""A supervisor runs a blind spot-check in a real browser (strict CSP, htmx swaps)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from .conftest import wait_until

SYNC = """async (events) => {
  const token = document.querySelector('meta[name=csrf-token]').content;
  const response = await fetch('/api/v1/sync', {method: 'POST', credentials: 'same-origin',
    headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
    body: JSON.stringify({device_id: 'e2e-lobby', events})});
  return (await response.json()).results.map(r => r.status);
}"""


def event(type_, subject, payload, seq):
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "id": str(uuid.uuid4()),
        "type": type_,
        "occurred_at": now,
        "subject_id": subject,
        "branch": "demo",
        "device_id": "e2e-lobby",
        "seq": seq,
        "payload": payload,
    }


def test_blind_spot_check(tablet):
    lobby = tablet("lobby1")
    visit = str(uuid.uuid4())
    statuses = lobby.evaluate(
        SYNC,
        [
            event("visit.greeted", visit, {"purpose": "cash", "ticket": "E77"}, 1),
            event("visit.closed", visit, {"outcome": "walked_away"}, 2),
        ],
    )
    assert statuses == ["accepted", "accepted"]

    page = tablet("super1", lang="en", viewport=(1280, 800))
    page.goto("/supervisor/spotchecks")
    target = page.locator(f'[data-testid=spotcheck-target][data-target-id="{visit}"]')
    assert target.count() == 1
    target.locator("[data-testid=check-this]").click()
    form = page.locator(f'[data-testid=spotcheck-form][data-target-id="{visit}"]')
    form.wait_for()
    # Blind: nothing on the page says what the lobby manager recorded.
    assert page.locator("[data-testid=lobby-answer]").count() == 0
    form.locator("[data-testid=answer-served]").check()
    form.locator("[data-testid=spotcheck-note]").fill("Saw the customer served at counter 3")
    form.locator("[data-testid=record-spotcheck]").click()
    wait_until(page, "!!document.querySelector('[data-testid=spotcheck-result]')")
    result = page.locator("[data-testid=spotcheck-result]")
    assert result.get_attribute("data-verdict") == "disagree"
    assert result.locator("[data-testid=lobby-answer]").inner_text().strip() == "Walked away"
    assert result.locator("[data-testid=supervisor-answer]").inner_text().strip() == "Served"

    # It is recorded: the page, loaded again, lists it and no longer offers the visit.
    page.goto("/supervisor/spotchecks")
    assert page.locator(f'[data-testid=spotcheck-target][data-target-id="{visit}"]').count() == 0
    assert "Saw the customer served" in page.locator("[data-testid=spotchecks-done]").inner_text()

    # The figures page draws its charts as inline SVG under the strict CSP.
    page.goto("/supervisor/figures")
    assert page.locator("svg.chart").count() >= 4
    page.locator("details.sv-numbers summary").first.click()
    assert page.locator("details.sv-numbers table").first.is_visible()
