"""The source document's rules on the tablet: large cash to the counter, a large transfer
to another bank with its talking points, and the funds kept recorded on closing."""

from __future__ import annotations

from playwright.sync_api import expect

from .conftest import wait_until
from .test_lobby import card, events_on_server, synced


def test_large_cash_and_a_transfer_to_another_bank_kept(tablet, live_server):
    page = tablet("lobby1")
    wait_until(page, "window.Datang !== undefined")
    page.get_by_test_id("purpose-cash").click()
    page.get_by_test_id("purpose-transfer").click()
    expect(page.get_by_test_id("visit-card")).to_have_count(2)
    synced(page)
    wait_until(
        page, "document.querySelectorAll('[data-testid=visit-card]:not(.pending)').length === 2"
    )
    cash, transfer = page.eval_on_selector_all(
        "[data-testid=visit-card]", "els => els.map(e => e.dataset.visitId)"
    )

    # Cash: the amount is asked; ¥50,000 or more is suggested to the counter, not a machine.
    card(page, cash).get_by_test_id("act-triage").click()
    expect(page.locator("[data-testid=dialog-triage] [data-band-field]")).not_to_have_class(
        "choice quiet"
    )
    expect(page.get_by_test_id("route-self_service")).to_have_class("button route suggested")
    page.get_by_test_id("band-50k_200k").click()
    expect(page.get_by_test_id("route-counter")).to_have_class("button route suggested")
    page.get_by_test_id("route-counter").click()

    # A large transfer to another bank: the talking points, then funds kept on closing.
    card(page, transfer).get_by_test_id("act-triage").click()
    page.get_by_test_id("band-200k_1m").click()
    page.get_by_test_id("to-other-bank").click()
    points = page.get_by_test_id("talking-points")
    points.locator("summary").click()
    expect(points.locator("li")).to_have_count(4)
    page.get_by_test_id("route-wealth").click()
    card(page, transfer).get_by_test_id("act-close").click()
    page.get_by_test_id("kept-200k_1m").click()
    page.get_by_test_id("outcome-served").click()
    # The close is drawn at once and sent afterwards: wait until the server has it.
    wait_until(
        page,
        "id => fetch('/api/v1/events').then(r => r.json()).then(d => d.events.some("
        "e => e.type === 'visit.closed' && e.subject_id === id))",
        transfer,
    )
    synced(page)

    events = {(e["subject_id"], e["type"]): e["payload"] for e in events_on_server(page)}
    assert events[(cash, "visit.triaged")]["amount_band"] == "50k_200k"
    assert events[(cash, "visit.triaged")]["route"] == "counter"
    assert events[(transfer, "visit.triaged")]["to_other_bank"] is True
    assert events[(transfer, "visit.funds_kept")] == {"amount_band": "200k_1m"}
    assert events[(transfer, "visit.closed")]["outcome"] == "served"

    # The wealth managers see the large cash waiting at the counter.
    desk = tablet("wealth1")
    expect(desk.get_by_test_id("large-cash-alert")).to_have_attribute("data-count", "1")
