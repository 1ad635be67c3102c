"""The dashboard in a real browser (Debian's chromium through Playwright): it loads
without console errors, a trade made through the API shows within a second, and
a surveillance alert shows as it is raised."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@contextlib.contextmanager
def dashboard(url: str) -> Iterator[Any]:
    """The page at `url` in Debian's chromium; no console error by the time it closes."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        yield page
        browser.close()
    assert errors == []


def test_the_dashboard_shows_a_trade_made_through_the_api_within_a_second(
    serve: type[Server],
) -> None:
    from playwright.sync_api import expect

    server = serve()
    fund_and_mark(server.url)
    with VenueClient(server.url, signer_for("maker-a")) as maker:
        maker.submit(PlaceOrder("maker-a", "BTC-PERP", Side.SELL, 40, price=100_500 * USD))
    with dashboard(server.url + "/dashboard?accounts=alice") as page:
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


def test_the_dashboard_shows_an_alert(serve: type[Server], tmp_path: Path) -> None:
    from playwright.sync_api import expect
    from test_alerts import ALERT_WAIT_S, wash

    server = serve(tmp_path / "venue", surveillance=True)
    with dashboard(server.url + "/dashboard") as page:
        expect(page.locator("#alert-counts")).to_have_text("none", timeout=10_000)
        wash(server.url)
        row = page.locator("#alerts tbody tr").first
        expect(row).to_contain_text("wash trading", timeout=ALERT_WAIT_S * 1000)
        expect(row).to_contain_text("alice, alice:desk-2")
        expect(page.locator("#alert-counts")).to_contain_text("wash trading 1")
