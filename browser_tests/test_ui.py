"""multilock as a newcomer meets it: a real Home Assistant in Debian's Chromium.

The steps run in order on one browser page (harness.py starts what runs behind it):
log in; operate a lock from the dashboard; add a The Keys gateway and a lock through the UI
(first with a wrong share code); sign in to Doordeck with a second factor; open every multilock
device page. Each step leaves screenshots in .artifacts/browser/.
"""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.sync_api import Page, expect

from browser_tests.harness import (
    DOORDECK_EMAIL,
    DOORDECK_PASSWORD,
    FRONT_DOOR,
    NEW_LOCKS,
    PASSWORD,
    USER,
    WRONG_SHARE_CODE,
    Browser,
    Stack,
)
from browser_tests.pages import (
    assert_no_raw_keys,
    check_device_page,
    check_flow_step,
    flow_dialog,
    next_step,
    pick_menu_option,
    settled,
)

STATE_SECONDS = 15  # the simulated lock takes 1 s; Home Assistant shows it at once
THEKEYS_MENU_ITEM = "The Keys (local Wi-Fi gateway)"
DOORDECK_MENU_ITEM = "Doordeck (cloud account)"
SHARE_CODE_REJECTED = "The gateway rejected this share code"


def test_log_in(browser: Browser, stack: Stack) -> None:
    """The login page takes dev / multilock and opens the UI."""
    page = browser.page
    page.goto(stack.url)
    username = page.get_by_role("textbox", name="Username")
    expect(username, "the login page did not show").to_be_visible(timeout=60_000)
    username.fill(USER)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    browser.screenshot("login")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Settings")).to_be_visible(timeout=60_000)
    expect(page).not_to_have_url(re.compile(r"/auth/"))
    browser.screenshot("logged-in")


def _open_more_info(page: Page, name: str) -> None:
    """Open the more-info dialog of the dashboard row ``name``."""
    page.locator("hui-lock-entity-row").filter(has_text=name).get_by_text(name).first.click()
    # (the dialog's host element has no box of its own: wait for its lock control)
    expect(page.locator("ha-more-info-dialog").get_by_role("switch")).to_be_visible()


def _close_more_info(page: Page) -> None:
    dialog = page.locator("ha-more-info-dialog")
    dialog.get_by_role("button", name="Close").first.click()
    expect(dialog.get_by_role("switch")).to_be_hidden()


def _expect_state(page: Page, state: str, within: float, since: float) -> None:
    dialog = page.locator("ha-more-info-dialog")
    expect(
        dialog.get_by_text(state, exact=True),
        f"the more-info dialog did not show {state!r} within {within:.0f} s",
    ).to_be_visible(timeout=within * 1000)
    print(f"{state} after {time.monotonic() - since:.1f} s")


def test_operate_lock_from_dashboard(ui: Browser) -> None:
    """Overview → Devices: unlock the Front door from its row, lock it again from its dialog."""
    page = ui.page
    name = FRONT_DOOR[0]
    page.get_by_role("link", name="Overview").click()
    page.get_by_role("button", name="Devices", exact=True).click()
    row = page.locator("hui-lock-entity-row").filter(has_text=name)
    expect(row, f"the dashboard shows no {name!r} lock row").to_be_visible()

    _open_more_info(page, name)  # the lock starts locked (the simulator's demo state)
    _expect_state(page, "Locked", 60, time.monotonic())
    _close_more_info(page)
    ui.screenshot("dashboard-locked")

    start = time.monotonic()
    row.get_by_role("button", name="Unlock").click()
    _open_more_info(page, name)
    _expect_state(page, "Unlocked", STATE_SECONDS, start)
    ui.screenshot("front-door-unlocked")

    start = time.monotonic()
    page.locator("ha-more-info-dialog").get_by_role("switch", name="Lock").click()
    _expect_state(page, "Locked", STATE_SECONDS, start)
    ui.screenshot("front-door-locked")
    _close_more_info(page)
    expect(row.get_by_role("button", name="Unlock")).to_be_visible()


def _start_multilock_flow(ui: Browser, stack: Stack, menu_item: str) -> dict[str, Any]:
    """Settings → Devices & services → Add integration → multilock → ``menu_item``.

    Return the step that follows the vendor menu.
    """
    page = ui.page
    page.goto(f"{stack.url}/config/integrations/dashboard")
    page.get_by_role("button", name="Add integration").click()
    page.get_by_placeholder("Search for a brand name").fill("multilock")
    step = next_step(page, page.get_by_role("button", name="multilock", exact=True).click)
    assert (step["type"], step["step_id"]) == ("menu", "user"), f"not the vendor menu: {step}"
    flow = flow_dialog(page)
    check_flow_step(page, "config")
    expect(flow.get_by_text(THEKEYS_MENU_ITEM)).to_be_visible()
    expect(flow.get_by_text(DOORDECK_MENU_ITEM)).to_be_visible()
    ui.screenshot(f"add-integration-{re.sub(r'[^a-z]+', '-', menu_item.lower()).strip('-')}")
    return next_step(page, flow.get_by_text(menu_item).click)


def _expect_form(step: dict[str, Any], *step_ids: str) -> None:
    wanted = f"expected the form {' or '.join(step_ids)}, the flow shows {step}"
    assert step["type"] == "form", wanted
    assert step["step_id"] in step_ids, wanted


def _submit(ui: Browser) -> dict[str, Any]:
    """Press the flow's Submit; return the step that follows."""
    page = ui.page
    return next_step(page, flow_dialog(page).get_by_role("button", name="Submit").click)


def _fill_lock(ui: Browser, identifier: str, share_code: str, name: str) -> None:
    flow = flow_dialog(ui.page)
    flow.get_by_role("textbox", name="Lock identifier").fill(identifier)
    flow.get_by_role("textbox", name="Share code").fill(share_code)
    flow.get_by_role("textbox", name="Name").fill(name)


def _finish_flow(ui: Browser, step: dict[str, Any], name: str) -> None:
    """Check that the flow created its entry (or sub-entry) and close its dialog."""
    page = ui.page
    flow = flow_dialog(page)
    assert step["type"] == "create_entry", f"{name}: the flow did not create it, it shows {step}"
    assert_no_raw_keys(flow, f"The success dialog of {name}")
    ui.screenshot(f"{name}-created")
    finish = flow.get_by_role("button", name=re.compile(r"finish", re.IGNORECASE))
    finish.click()
    expect(finish).to_have_count(0)


def _open_integration_page(ui: Browser, stack: Stack) -> None:
    page = ui.page
    page.goto(f"{stack.url}/config/integrations/integration/multilock")
    expect(page.locator("ha-config-entry-row").first).to_be_visible()


def test_add_gateway_and_lock(ui: Browser, stack: Stack) -> None:
    """Add a second gateway through the UI, then a lock with "Add lock": a wrong code first."""
    page = ui.page
    flow = flow_dialog(page)
    step = _start_multilock_flow(ui, stack, THEKEYS_MENU_ITEM)
    if step["type"] == "menu":  # sign in with a The Keys account, or enter the address
        check_flow_step(page, "config")
        ui.screenshot("thekeys-menu")
        step = next_step(page, lambda: pick_menu_option(page, "thekeys_gateway"))
    _expect_form(step, "thekeys_gateway", "thekeys")
    check_flow_step(page, "config")
    flow.get_by_role("textbox", name="Host").fill(stack.new_gateway_host)
    ui.screenshot("gateway-form")
    step = _submit(ui)
    added = []
    if step["type"] == "form":  # the gateway's first lock
        check_flow_step(page, "config")
        _fill_lock(ui, *_lock_fields(NEW_LOCKS[0]))
        ui.screenshot("gateway-first-lock-form")
        step = _submit(ui)
        added.append(NEW_LOCKS[0][0])
    _finish_flow(ui, step, "gateway")

    _open_integration_page(ui, stack)
    # The new gateway: the entry without the pre-configured locks.
    new_gateway = (
        page.locator("ha-config-entry-row")
        .filter(has_not_text=FRONT_DOOR[0])
        .filter(has_not_text="Demo lock")
    )
    expect(new_gateway, "the new gateway's entry is not on the integration page").to_have_count(1)
    ui.screenshot("integration-page-new-gateway")
    new_gateway.get_by_role("button", name="Menu").first.click()
    step = next_step(page, page.get_by_role("menuitem", name="Add lock").click)

    name, identifier, share_code = NEW_LOCKS[1]
    _expect_form(step, "user")
    check_flow_step(page, "config_subentries.thekeys_lock")
    _fill_lock(ui, identifier, WRONG_SHARE_CODE, name)
    ui.screenshot("lock-form")
    step = _submit(ui)
    expect(
        flow.get_by_text(SHARE_CODE_REJECTED),
        f"the form did not say {SHARE_CODE_REJECTED!r} for a wrong share code",
    ).to_be_visible()
    ui.screenshot("lock-form-wrong-share-code")
    _expect_form(step, "user")
    check_flow_step(page, "config_subentries.thekeys_lock")

    flow.get_by_role("textbox", name="Share code").fill(share_code)
    _finish_flow(ui, _submit(ui), "lock")
    added.append(name)
    for lock in added:
        expect(new_gateway.get_by_text(lock).first).to_be_visible()
    expect(new_gateway.get_by_text("Initializing")).to_have_count(0)  # reloaded with the lock
    new_gateway.scroll_into_view_if_needed()
    ui.screenshot("integration-page-new-locks")


def _lock_fields(lock: tuple[str, str, str]) -> tuple[str, str, str]:
    """(identifier, share code, name) of a (name, identifier, share code)."""
    name, identifier, share_code = lock
    return identifier, share_code, name


def test_doordeck_sign_in_with_second_factor(ui: Browser, stack: Stack) -> None:
    """Sign in to the Doordeck simulator: email and password, a method, the code it "sent"."""
    page = ui.page
    flow = flow_dialog(page)
    step = _start_multilock_flow(ui, stack, DOORDECK_MENU_ITEM)
    _expect_form(step, "doordeck")
    check_flow_step(page, "config")
    flow.get_by_role("textbox", name="Email").fill(DOORDECK_EMAIL)
    flow.get_by_role("textbox", name="Password").fill(DOORDECK_PASSWORD)
    flow.get_by_role("button", name="Server").click()  # the collapsed section
    flow.get_by_role("textbox", name="Server").fill(stack.doordeck_url)
    ui.screenshot("doordeck-form")
    step = _submit(ui)

    _expect_form(step, "doordeck_method")
    check_flow_step(page, "config")
    flow.get_by_role("radio", name="Text message (SMS)").click()
    ui.screenshot("doordeck-second-factor-method")
    codes_before = len(stack.second_factor_codes(DOORDECK_EMAIL))
    step = _submit(ui)

    _expect_form(step, "doordeck_code")
    check_flow_step(page, "config")
    deadline = time.monotonic() + 30
    while len(codes := stack.second_factor_codes(DOORDECK_EMAIL)) <= codes_before:
        assert time.monotonic() < deadline, (
            f"the Doordeck simulator logged no new second-factor code in {stack.doordeck_log}"
        )
        time.sleep(0.2)
    flow.get_by_role("textbox", name="Code").fill(codes[-1])
    ui.screenshot("doordeck-second-factor-code")
    _finish_flow(ui, _submit(ui), "doordeck-account")

    _open_integration_page(ui, stack)
    account = page.locator("ha-config-entry-row").filter(has_text="Demo lock 1")
    expect(
        account, "the Doordeck entry and its locks are not on the integration page"
    ).to_have_count(1)
    ui.screenshot("integration-page-doordeck")


def test_device_pages(ui: Browser, stack: Stack) -> None:
    """Every multilock device page: no raw translation key, names and states translated, icon."""
    page = ui.page
    _open_integration_page(ui, stack)
    page.get_by_role("link", name=re.compile(r"^\d+ devices?$")).click()
    expect(page).to_have_url(re.compile(r"/config/devices/dashboard"))
    devices = page.get_by_role("rowheader")
    expect(devices.first).to_be_visible()
    assert_no_raw_keys(page.locator("body"), "The list of multilock devices")
    ui.screenshot("devices")
    dashboard = page.url
    names = settled(
        lambda: [devices.nth(i).inner_text().strip() for i in range(devices.count())],
        lambda names: FRONT_DOOR[0] in names,
    )
    assert FRONT_DOOR[0] in names, f"{FRONT_DOOR[0]!r} is not among the devices {names}"

    failures = []
    for index, name in enumerate(names):
        if index:
            page.goto(dashboard)
        devices.nth(index).click()
        expect(page).to_have_url(re.compile(r"/config/devices/device/"))
        expect(page.locator("ha-device-entities-card").first).to_be_visible()
        for more in page.get_by_role("button", name=re.compile(r"^\+\d+ disabled entit")).all():
            more.click()
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        try:
            rows = check_device_page(page, name)
        except AssertionError as err:
            failures.append(str(err))
            ui.screenshot(f"device-{slug}-FAILED")
        else:
            print(f"{name}: {rows}")
            ui.screenshot(f"device-{slug}")

    broken = [
        f"{response.status} {response.url.split('?')[0]}"
        for response in ui.responses
        if "/brands/" in response.url and "multilock" in response.url and response.status != 200
    ]
    if broken:
        failures.append("multilock's brand images failed to load: " + ", ".join(broken))
    assert not failures, "\n".join(failures)
