"""A branch's own setup in Chromium: the admin's product catalogue, the branch head's focus
of the day and its target, as the lobby manager meets them in the recommend dialog."""

from __future__ import annotations

from playwright.sync_api import expect

from .conftest import wait_until
from .test_lobby import card, events_on_server, synced


def greet_and_learn_need(page, purpose: str, need: str) -> str:
    """Greet a customer, talk to them and record `need`; the visit's id once on the server."""
    wait_until(page, "window.Datang !== undefined")
    page.get_by_test_id(f"purpose-{purpose}").click()
    synced(page)
    visit = page.locator("[data-testid=visit-card]:not(.pending)")
    expect(visit).to_have_count(1)
    visit_id = visit.get_attribute("data-visit-id")
    card(page, visit_id).get_by_test_id("act-engage").click()
    page.get_by_test_id(f"need-{need}").click()
    page.get_by_test_id("engage-save").click()
    return visit_id


def recommended_on_server(page, visit_id: str) -> list[dict]:
    """The server's visit.recommended events, once the visit's has reached it (the dialog
    draws the step at once and the outbox sends it a moment later)."""
    wait_until(
        page,
        "id => fetch('/api/v1/events').then(r => r.json()).then(d => d.events.some("
        "e => e.type === 'visit.recommended' && e.subject_id === id))",
        visit_id,
    )
    synced(page)
    return [e for e in events_on_server(page) if e["type"] == "visit.recommended"]


def test_a_product_added_and_one_retired_reach_the_recommend_dialog(tablet, server_events):
    admin = tablet("admin", lang="en")
    admin.goto("/admin/products/new")
    admin.locator("#code").fill("save-3y")
    admin.locator("#name").fill("三年稳盈存")
    admin.locator("#name_en").fill("Three-year saver")
    admin.locator("#pitch").fill("三年定期，利率锁定")
    admin.locator("#pitch_en").fill("Rate locked for three years")
    admin.get_by_label("Deposits", exact=True).check()
    admin.locator("#risk_level").select_option("R2")
    admin.get_by_label("Demo Branch", exact=True).check()  # in the reader's language
    admin.get_by_test_id("save-product").click()
    added = admin.locator('[data-testid=product-row][data-product-code="save-3y"]')
    expect(added).to_contain_text("Demo Branch")
    expect(added).to_contain_text("R2")

    retired = admin.locator('[data-testid=product-row][data-product-code="loan-home"]')
    retired.get_by_test_id("retire-product").click()
    expect(retired).to_contain_text("Retired")
    expect(retired.get_by_test_id("retire-product")).to_have_count(0)

    page = tablet("lobby1", lang="en")
    visit_id = greet_and_learn_need(page, "wealth", "deposits")
    card(page, visit_id).get_by_test_id("act-recommend").click()
    dialog = page.get_by_test_id("dialog-recommend")
    new_product = dialog.get_by_test_id("product-save-3y")
    expect(new_product).to_be_visible()
    expect(new_product).to_contain_text("Three-year saver")
    expect(new_product.locator(".risk")).to_have_text("R2")
    expect(new_product.locator(".pitch")).to_have_text("Rate locked for three years")
    expect(new_product).to_have_class("chip product matches")  # it answers the customer's need
    expect(dialog.get_by_test_id("product-loan-home")).to_have_count(0)
    assert "Home loan" not in dialog.inner_text()

    new_product.click()
    page.get_by_test_id("response-interested").click()

    (recommended,) = recommended_on_server(page, visit_id)
    assert recommended["payload"]["products"] == ["save-3y"]
    assert [row[2:] for row in server_events("visit.recommended")] == [(visit_id, "lobby1")]


def test_the_days_focus_comes_first_and_its_target_counts_the_recommendation(tablet, server_events):
    head = tablet("super1", lang="en")
    head.goto("/supervisor/focus")
    head.locator("#product").select_option("pension-plan")
    head.locator("#priority").select_option("focus")
    head.locator("#daily_recommendations").fill("2")
    head.get_by_test_id("save-focus").click()
    expect(
        head.locator('[data-testid=focus-row][data-product="pension-plan"][data-priority=focus]')
    ).to_have_count(1)

    page = tablet("lobby1", lang="en")
    goal = page.locator('[data-testid=target-line][data-key="rec:pension-plan"]')
    expect(goal).to_have_attribute("data-target", "2")
    expect(goal).to_have_attribute("data-done", "0")
    expect(goal.locator(".target-figure")).to_have_text("2 / 0")

    # The customer wants wealth management, which the focus product does not answer:
    # the branch head's focus still comes first, marked as such.
    visit_id = greet_and_learn_need(page, "wealth", "wealth_management")
    card(page, visit_id).get_by_test_id("act-recommend").click()
    chips = page.locator("[data-testid=dialog-recommend] .products [data-product]")
    first = chips.first
    expect(first).to_have_attribute("data-product", "pension-plan")
    expect(first.locator("[data-focus]")).to_have_attribute("data-focus", "focus")
    expect(first.locator("[data-focus]")).to_be_visible()
    expect(chips.nth(1)).to_have_class("chip product matches")  # then what matches the need

    first.click()
    page.get_by_test_id("response-interested").click()
    (recommended,) = recommended_on_server(page, visit_id)
    assert recommended["payload"]["products"] == ["pension-plan"]
    assert [row[2:] for row in server_events("visit.recommended")] == [(visit_id, "lobby1")]

    page.reload()
    expect(goal).to_have_attribute("data-done", "1")
    expect(goal.locator(".target-figure")).to_have_text("2 / 1")
    expect(goal.locator(".target-mine")).to_contain_text("1")


def test_lobby_settings_saved_say_so_once(tablet):
    """The lobby settings form posts through htmx: its "saved" toast comes with the answer
    (out of band, into the layout's live region), goes after a while, and the next page does
    not show it again."""
    admin = tablet("admin", lang="en")
    admin.goto("/lobby/settings?branch=demo")
    admin.get_by_test_id("settings-save").click()
    toast = admin.locator("#toasts [data-testid=toast]")
    expect(toast).to_have_text("Lobby settings saved.")
    expect(admin.locator("#toasts")).to_have_attribute("aria-live", "polite")
    expect(admin.locator("#lobby-settings")).to_have_count(1)
    expect(toast).to_have_count(0, timeout=10_000)
    admin.goto("/lobby/settings?branch=demo")
    expect(admin.get_by_test_id("settings-save")).to_be_visible()
    expect(admin.get_by_test_id("toast")).to_have_count(0)
