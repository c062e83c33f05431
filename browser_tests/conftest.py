"""Fixtures of the browser test: the running stack, Debian's Chromium, the logged-in page.

The machinery is in harness.py; a failed test leaves a screenshot of the page in
``.artifacts/browser/`` beside the screenshots of each step.
"""

from __future__ import annotations

from collections.abc import Iterator
import shutil
from typing import Any

from playwright.sync_api import BrowserContext, sync_playwright
import pytest

from browser_tests.harness import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    Browser,
    Stack,
    chromium_path,
    log_in,
    running_stack,
)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The simulators and Home Assistant, for the whole session."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    with running_stack(tmp_path_factory.mktemp("hass-config")) as running:
        yield running


@pytest.fixture(scope="session")
def browser_context(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowserContext]:
    """Debian's Chromium, headless, with a fresh profile."""
    executable = chromium_path()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
            locale="en-US",
            timezone_id="UTC",
        )
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="session")
def browser(browser_context: BrowserContext) -> Browser:
    """The one page all the steps share (logged in by the first test)."""
    page = browser_context.pages[0] if browser_context.pages else browser_context.new_page()
    result = Browser(page)
    page.on("response", result.record)
    return result


@pytest.fixture
def ui(browser: Browser, stack: Stack) -> Browser:
    """The shared page, logged in."""
    stack.check_running()
    log_in(browser, stack)
    return browser


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests marked ``last`` after the others (they share one Home Assistant)."""
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test item, for the screenshot on failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def screenshot_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """Save a screenshot of the page when a test fails."""
    yield
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed and "browser" in request.fixturenames:
        browser: Browser = request.getfixturevalue("browser")
        path = browser.screenshot(f"FAILED-{request.node.name}")
        print(f"Screenshot of the failure: {path}")
