"""Real headless Chromium for the pages' tests: Debian's `chromium` (installed by `make
test`), driven by Playwright through `executable_path`, so no browser is ever downloaded.
Import the fixtures into a test module: `from tests.browser import browser_fixture,
page_fixture  # noqa: F401` (pytest knows them as `browser` and `page`)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
HALL_SCREEN = {"width": 1920, "height": 1080}


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    raise RuntimeError("no chromium on PATH: `make test` installs Debian's chromium")


@pytest.fixture(name="browser")
async def browser_fixture() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox will not start.
        browser = await playwright.chromium.launch(executable_path=chromium_path(),
                                                   args=["--no-sandbox"])
        yield browser
        await browser.close()


@pytest.fixture(name="page")
async def page_fixture(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=HALL_SCREEN, locale="zh-CN")
    page = await context.new_page()
    yield page
    await context.close()


async def screenshot(page: Page, name: str) -> None:
    """What the page looks like. Taken on every run (the page must render); kept in
    docs/screenshots/ only by `make screenshots`, so a test run leaves the tree as it was."""
    image = await page.screenshot()
    if os.environ.get("GIGLINE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / f"{name}.png").write_bytes(image)
