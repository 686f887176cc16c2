"""Zero serious or critical axe-core findings, and a level-one heading, on every tablet page.

axe-core is vendored under tests/e2e/vendor/axe-core (see its SOURCE.md); it is
evaluated in the page through the DevTools protocol, which the app's strict
CSP does not govern, so the pages are checked exactly as they are served.
"""

from __future__ import annotations

import json
import pathlib

import pytest
from playwright.sync_api import expect

from .conftest import wait_until

AXE = (pathlib.Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
SERIOUS = ("serious", "critical")


def axe_findings(page) -> list[dict]:
    page.evaluate(AXE + "\n;true")
    result = page.evaluate("""() => axe.run(document).then(r => ({
        passes: r.passes.length,
        violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))}))""")
    assert result["passes"] > 10, result  # axe really ran its rules on this page
    print(
        f"{page.url}: {result['passes']} rules passed, "
        f"{[(v['id'], v['impact']) for v in result['violations']]}"
    )
    # Serious and critical findings; and a page without a level-one heading (moderate
    # in axe), which leaves a screen reader no name for where the person is.
    return [
        v
        for v in result["violations"]
        if v["impact"] in SERIOUS or v["id"] == "page-has-heading-one"
    ]


def busy_lobby(page) -> None:
    """A few waiting customers with steps and a referral, so the cards are checked too."""
    wait_until(page, "window.Datang !== undefined")
    page.evaluate("""async () => {
        const ids = [];
        for (const [purpose, ticket] of [['wealth', 'A001'], ['cash', 'A002'], ['transfer', 'A003']]) {
            const id = Datang.newId();
            await Datang.record('visit.greeted', id, {purpose, ticket, segment: 'high_value'});
            ids.push(id);
        }
        await Datang.record('visit.engaged', ids[0], {needs: ['deposits']});
        const referral = Datang.newId();
        await Datang.record('visit.referred', ids[0], {referral_id: referral, to: 'wealth'});
        await Datang.record('referral.created', referral, {visit_id: ids[0], to: 'wealth', consent: true});
    }""")
    expect(page.locator("[data-testid=referral-state]")).to_have_count(1, timeout=10000)


PAGES = [
    ("lobby1", "/lobby", busy_lobby),
    ("lobby1", "/checklist", None),
    ("wealth1", "/referrals", None),
    ("wealth1", "/waiting", None),
    ("teller1", "/counter?ticket=A001", None),
    ("teller1", "/referrals", None),
    ("super1", "/supervisor", None),
    ("super1", "/supervisor/figures", None),
]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_serious_axe_findings_on_the_tablet_pages(tablet, lang):
    lobby = tablet("lobby1", lang=lang)
    busy_lobby(lobby)
    found = {}
    for user, path, prepare in PAGES:
        page = lobby if user == "lobby1" else tablet(user, lang=lang)
        page.goto(f"{path}{'&' if '?' in path else '?'}lang={lang}")
        page.wait_for_load_state("load")
        if prepare and path != "/lobby":
            prepare(page)
        if path == "/lobby":
            expect(page.locator("[data-testid=referral-state]")).to_have_count(1, timeout=10000)
        findings = axe_findings(page)
        if findings:
            found[path] = findings
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)
