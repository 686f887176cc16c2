"""The iron triangle in Chromium: a referral made on the lobby tablet reaches the wealth
manager's device, is taken there, and the lobby card shows who took it, each within 5 s;
the same with the lobby tablet offline; two wealth managers racing for one referral."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from .conftest import ready, wait_badge, wait_until

WITHIN = 5000  # ms: the contract's "every other device shows the new state within 5 seconds"
SERVER_CARDS = "document.querySelectorAll('[data-testid=visit-card]:not(.pending)').length"


def greet_and_refer(page, ticket: str, assignee: str | None = None) -> str:
    """Greet a wealth customer and refer them to a wealth manager, with consent; the visit id."""
    page.get_by_test_id("ticket-input").fill(ticket)
    page.get_by_test_id("purpose-wealth").click()
    card = page.locator(f'[data-testid=visit-card][data-ticket="{ticket}"]')
    expect(card).to_have_count(1)
    visit_id = card.get_attribute("data-visit-id")
    card.get_by_test_id("act-refer").click()
    page.get_by_test_id("refer-save").click()  # no consent yet: refused on the tablet
    expect(page.locator("[data-testid=dialog-refer] [data-consent-error]")).to_be_visible()
    if assignee:
        page.get_by_test_id(f"refer-assignee-{assignee}").click()
    page.get_by_test_id("refer-consent").click()
    page.get_by_test_id("refer-save").click()
    return visit_id


def lobby_state(page, visit_id: str):
    return page.locator(
        f'[data-testid=visit-card][data-visit-id="{visit_id}"] [data-testid=referral-state]'
    )


def referral_card(page, state: str | None = None):
    selector = "[data-testid=referral-card]"
    if state:
        selector += f"[data-state={state}]"
    return page.locator(selector)


def timed(check) -> float:
    start = time.monotonic()
    check()
    return time.monotonic() - start


def test_referral_from_the_lobby_taken_on_the_wealth_managers_device(tablet):
    lobby = tablet("lobby1", lang="en")
    wait_until(lobby, "window.Datang !== undefined")
    desk = tablet("wealth1", lang="en")
    assert desk.url.split("?")[0].endswith("/referrals")

    visit_id = greet_and_refer(lobby, "W101")
    seen = timed(lambda: expect(referral_card(desk, "open")).to_have_count(1, timeout=WITHIN))
    card = referral_card(desk, "open")
    expect(card).to_contain_text("W101")
    referral_id = card.get_attribute("data-referral-id")
    expect(lobby_state(lobby, visit_id)).to_have_attribute("data-state", "open", timeout=WITHIN)

    card.get_by_test_id("accept-referral").click()
    expect(desk.locator(f'[data-referral-id="{referral_id}"]')).to_have_attribute(
        "data-state", "accepted"
    )
    shown = timed(
        lambda: expect(lobby_state(lobby, visit_id)).to_have_attribute(
            "data-state", "accepted", timeout=WITHIN
        )
    )
    expect(lobby_state(lobby, visit_id)).to_have_text("Taken by 理财经理")
    print(
        f"\nreferral on the wealth device after {seen:.1f} s; taken on the lobby card "
        f"after {shown:.1f} s"
    )


def test_a_referral_made_offline_arrives_when_the_tablet_is_back(tablet, server_events):
    lobby = tablet("lobby1", lang="en")
    ready(lobby)
    desk = tablet("wealth2", lang="en")
    expect(referral_card(desk)).to_have_count(0)

    lobby.context.set_offline(True)
    visit_id = greet_and_refer(lobby, "W202", assignee="wealth2")
    wait_badge(lobby, pending=3, rejected=0, state="offline")
    assert not [e for e in server_events() if e[2] == visit_id]
    expect(referral_card(desk)).to_have_count(0)

    lobby.context.set_offline(False)  # the browser's "online" event flushes
    seen = timed(lambda: expect(referral_card(desk, "open")).to_have_count(1, timeout=WITHIN))
    card = referral_card(desk, "open")
    expect(card.get_by_test_id("referral-assignee")).to_be_visible()
    card.get_by_test_id("accept-referral").click()
    expect(referral_card(desk, "accepted")).to_have_count(1)
    shown = timed(
        lambda: expect(lobby_state(lobby, visit_id)).to_have_attribute(
            "data-state", "accepted", timeout=WITHIN
        )
    )
    expect(lobby_state(lobby, visit_id)).to_have_text("Taken by 理财经理二")
    wait_badge(lobby, pending=0, rejected=0)
    print(
        f"\nafter reconnecting: on the wealth device in {seen:.1f} s; taken on the lobby "
        f"card after {shown:.1f} s"
    )


def test_two_wealth_managers_race_for_one_referral_one_wins(tablet, server_events):
    lobby = tablet("lobby1", lang="en")
    wait_until(lobby, "window.Datang !== undefined")
    first, second = tablet("wealth1", lang="en"), tablet("wealth2", lang="en")
    greet_and_refer(lobby, "W303")
    for desk in (first, second):
        expect(referral_card(desk, "open")).to_have_count(1, timeout=WITHIN)
    buttons = [desk.get_by_test_id("accept-referral") for desk in (first, second)]
    # Both tap at once: each request is sent before either answer arrives.
    for desk in (first, second):
        desk.evaluate(
            "document.querySelector('[data-testid=accept-referral]')"
            ".closest('form').requestSubmit()"
        )
    for desk in (first, second):
        expect(referral_card(desk, "accepted")).to_have_count(1, timeout=WITHIN)
    accepted = server_events("referral.accepted")
    assert len(accepted) == 1, accepted
    winner = accepted[0][3]
    loser = second if winner == "wealth1" else first
    expect(loser.locator("[data-testid=referral-card] [role=alert]")).to_contain_text(
        "Another wealth manager has taken this referral"
    )
    name = {"wealth1": "理财经理", "wealth2": "理财经理二"}[winner]
    for desk in (first, second):
        expect(desk.get_by_test_id("taken-by")).to_have_text(f"Taken by {name}")
    assert all(b.count() == 0 for b in buttons)


def test_the_tellers_call_pitch_and_referral_appear_on_the_visit(tablet):
    lobby = tablet("lobby1", lang="en")
    wait_until(lobby, "window.Datang !== undefined")
    lobby.get_by_test_id("ticket-input").fill("T404")
    lobby.get_by_test_id("purpose-transfer").click()
    card = lobby.locator('[data-testid=visit-card][data-ticket="T404"]:not(.pending)')
    expect(card).to_have_count(1, timeout=WITHIN)

    teller = tablet("teller1", lang="en")
    teller.goto("/counter?lang=en")
    teller.get_by_test_id("counter-ticket").fill("T404")
    teller.get_by_test_id("counter-find").click()
    expect(teller.get_by_test_id("counter-visit-card")).to_contain_text("T404")
    teller.get_by_test_id("counter-number").fill("5")
    teller.get_by_test_id("counter-call").click()
    expect(teller.get_by_test_id("counter-called")).to_contain_text("counter 5")
    teller.get_by_test_id("pitch-product").select_option("card-gold")
    teller.get_by_test_id("pitch-interested").click()
    expect(teller.get_by_test_id("counter-pitch")).to_contain_text("Gold credit card")
    teller.get_by_test_id("counter-assignee").select_option("wealth2")
    teller.get_by_test_id("counter-consent").check()
    teller.get_by_test_id("counter-refer").click()
    expect(teller.get_by_test_id("referral-state")).to_have_attribute("data-state", "open")

    expect(card.get_by_test_id("step-called")).to_contain_text("5", timeout=WITHIN)
    expect(card.locator(".step-rec")).to_contain_text("Gold credit card", timeout=WITHIN)
    expect(card.get_by_test_id("referral-state")).to_have_attribute(
        "data-state", "open", timeout=WITHIN
    )
    # The named wealth manager takes it; the teller's page and the lobby card follow.
    desk = tablet("wealth2", lang="en")
    referral_card(desk, "open").get_by_test_id("accept-referral").click()
    expect(card.get_by_test_id("referral-state")).to_have_text(
        "Taken by 理财经理二", timeout=WITHIN
    )
    expect(teller.get_by_test_id("referral-state")).to_have_text(
        "Taken by 理财经理二", timeout=WITHIN
    )


def test_the_lobby_tablet_marks_a_visit_called(tablet):
    lobby = tablet("lobby1", lang="en")
    wait_until(lobby, "window.Datang !== undefined")
    lobby.get_by_test_id("ticket-input").fill("C505")
    lobby.get_by_test_id("purpose-cash").click()
    card = lobby.locator('[data-testid=visit-card][data-ticket="C505"]')
    card.get_by_test_id("act-more").click()
    lobby.get_by_test_id("mark-called").click()
    expect(card.get_by_test_id("step-called")).to_have_count(1, timeout=WITHIN)


def test_the_wealth_managers_page_on_a_phone(tablet):
    """Installable (service worker in control) and usable at 390×844: nothing wider than
    the screen, "on my way" one tap away at 48 px."""
    lobby = tablet("lobby1", lang="en")
    wait_until(lobby, "window.Datang !== undefined")
    greet_and_refer(lobby, "P606")
    phone = tablet("wealth1", lang="en", viewport=(390, 844))
    ready(phone)
    expect(referral_card(phone, "open")).to_have_count(1, timeout=WITHIN)
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    button = referral_card(phone, "open").get_by_test_id("accept-referral")
    box = button.bounding_box()
    assert box["width"] >= 48 and box["height"] >= 48
    button.tap()
    expect(referral_card(phone, "accepted")).to_have_count(1)
