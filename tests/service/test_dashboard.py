"""The dashboard in a real browser (Debian's chromium through Playwright): it loads
without console errors, and a trade made through the API shows within a second."""

from __future__ import annotations

import os
import shutil

import pytest
from served import Server
from test_serve import USD, fund_and_mark, lift

from clearhouse.client import VenueClient
from clearhouse.core import PlaceOrder, Side
from clearhouse.testing import signer_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and os.environ.get("CI") != "true",
    reason="chromium is not installed (make test installs it as root)",
)


def test_the_dashboard_shows_a_trade_made_through_the_api_within_a_second(
    serve: type[Server],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    server = serve()
    fund_and_mark(server.url)
    with VenueClient(server.url, signer_for("maker-a")) as maker:
        maker.submit(PlaceOrder("maker-a", "BTC-PERP", Side.SELL, 40, price=100_500 * USD))
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url + "/dashboard?accounts=alice")
        expect(page.locator("#stream")).to_have_text("live", timeout=10_000)
        expect(page.locator("#venue")).to_have_text("clearhouse-dev")
        expect(page.locator("#book")).to_contain_text("100,500.00", timeout=5_000)
        fill = lift(server.url, "alice", 15, 100_500 * USD)
        trade = page.locator("#trades tbody tr").first
        expect(trade).to_contain_text(f"{fill.seq:,}", timeout=1_000)
        expect(trade).to_contain_text("100,500.00")
        expect(page.locator("#book")).to_contain_text("25", timeout=2_000)
        expect(page.locator("#positions")).to_contain_text("BTC-PERP", timeout=3_000)
        expect(page.locator("#record")).to_contain_text("latest checkpoint", timeout=3_000)
        browser.close()
    assert errors == []
