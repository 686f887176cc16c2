"""At the door: a busy lobby fits a 1024×768 landscape tablet - at least ten waiting
customers visible on /lobby without scrolling, actions one tap away (48 px)."""

from __future__ import annotations

from playwright.sync_api import expect

from .conftest import wait_until

VISIBLE = """() => {
    const h = window.innerHeight, w = window.innerWidth;
    return [...document.querySelectorAll('[data-testid=visit-card]')].filter(el => {
        const r = el.getBoundingClientRect();
        return r.top >= 0 && r.bottom <= h && r.left >= 0 && r.right <= w;
    }).length;
}"""
SMALL_TARGETS = """() => [...document.querySelectorAll('[data-testid=visit-card] button')]
    .filter(b => { const r = b.getBoundingClientRect(); return r.width < 48 || r.height < 48; })
    .map(b => b.dataset.testid + ' ' + b.getBoundingClientRect().width + 'x' + b.getBoundingClientRect().height)"""


def test_ten_waiting_customers_fit_a_landscape_tablet(tablet):
    page = tablet("lobby1")
    wait_until(page, "window.Datang !== undefined")
    page.evaluate("""async () => {
        const purposes = ['cash', 'transfer', 'wealth', 'card', 'account', 'loan'];
        for (let i = 0; i < 12; i++) {
            await Datang.record('visit.greeted', Datang.newId(),
                                {purpose: purposes[i % purposes.length], ticket: 'A0' + (10 + i),
                                 segment: i % 3 === 0 ? 'high_value' : undefined});
        }
    }""")
    expect(page.locator("[data-testid=visit-card]:not(.pending)")).to_have_count(12, timeout=10000)
    # Busy cards: a route, a conversation and a referral on the first ones.
    ids = page.eval_on_selector_all(
        "[data-testid=visit-card]", "els => els.map(e => e.dataset.visitId)"
    )
    page.evaluate(
        """async (ids) => {
        for (const id of ids.slice(0, 4)) {
            await Datang.record('visit.triaged', id, {route: 'counter'});
            await Datang.record('visit.engaged', id, {needs: ['deposits']});
            const referral = Datang.newId();
            await Datang.record('visit.referred', id, {referral_id: referral, to: 'wealth'});
            await Datang.record('referral.created', referral, {visit_id: id, to: 'wealth', consent: true});
        }
    }""",
        ids,
    )
    expect(page.locator("[data-testid=referral-state]")).to_have_count(4, timeout=10000)
    page.evaluate("window.scrollTo(0, 0)")
    visible = page.evaluate(VISIBLE)
    print(f"\n{visible} of 12 waiting customers visible at 1024x768")
    assert visible >= 10
    assert page.evaluate(SMALL_TARGETS) == []
