"""The README's "Trying it" walked as a newcomer walks it, in Debian's Chromium.

In the README's order, on one page: operate the The Keys Front door from Overview → Devices and
add a lock by hand; set up from the The Keys account (a lock without gateway first); sign in to
Doordeck with the account that asks for a second factor; add the 2N device and the InVue account
(the flows scripts/develop walks over the API) and enrol the InVue lock left for the user; then
one action of each vendor from Settings → Tools → Actions, each picker offering only what the
action acts on. Screenshots of each step go to .artifacts/browser/.

What this module adds to Home Assistant is deleted at its end, and the page logged out, so that
the other browser tests find the stack as it started.
"""

from __future__ import annotations

from collections.abc import Iterator
import re
import time

from playwright.sync_api import Locator, Page, expect
import pytest

from browser_tests.harness import FRONT_DOOR, Browser, Stack, log_in
from browser_tests.pages import (
    assert_no_raw_keys,
    check_flow_step,
    composed_text,
    flow_dialog,
    next_step,
    pick_menu_option,
    settled,
)
from browser_tests.test_ui import (
    SHARE_CODE_REJECTED,
    THEKEYS_MENU_ITEM,
    _expect_form,
    _finish_flow,
    _open_integration_page,
    _start_multilock_flow,
    _submit,
)
from custom_components.multilock.vendors.doordeck.flow import account_title
from simulators.doordeck import GUEST_ACCOUNT, OFFICE_ACCOUNT, OFFICE_LOCK
from simulators.invue import DEFAULT_OWNER, derived_api_key, derived_enrolment_code
from simulators.thekeys import DEMO_LOCKS
from simulators.thekeys_cloud import DEMO_PASSWORD, DEMO_PHONE
from simulators.two_n import DEFAULT_PASSWORD as TWO_N_PASSWORD, DEFAULT_USER as TWO_N_USER

STATE_SECONDS = 15  # the simulated lock takes 1 s
BACK_DOOR = ("Back door", *map(str, DEMO_LOCKS[1]))
DOORDECK_MENU_ITEM = "Doordeck (cloud account)"
TWO_N_MENU_ITEM = "2N (intercom or access unit)"
INVUE_MENU_ITEM = "InVue LIVE Lock (Key Certificates for the mobile app)"
ACCOUNT_LOCKS = ("Porte d'entrée · Passerelle salon", "Porte du garage · Passerelle salon")
CELLAR = "Cave"
STORES = ("Shop front", "Stockroom")  # as scripts/develop_setup.py creates them
WAITING_LOCK = ("0000051a00000000", "CAM", "Watch display", "Shop front")

# What multilock's devices and entities are, read from the frontend's own registries: the
# names each action's picker may offer.
DOORDECK_LOCKS_JS = """() => {
  const hass = document.querySelector('home-assistant').hass;
  return Object.values(hass.entities)
    .filter((e) => e.platform === 'multilock' && e.entity_id.startsWith('lock.') &&
                   hass.devices[e.device_id]?.manufacturer === 'Doordeck')
    .map((e) => hass.states[e.entity_id].attributes.friendly_name);
}"""
DEVICES_JS = """([manufacturer, model]) => {
  const hass = document.querySelector('home-assistant').hass;
  return Object.values(hass.devices)
    .filter((d) => d.manufacturer === manufacturer && (!model || d.model === model))
    .map((d) => d.name_by_user || d.name);
}"""
INVUE_STORES_JS = """() => {
  const hass = document.querySelector('home-assistant').hass;
  const ids = new Set(Object.values(hass.devices)
    .filter((d) => d.manufacturer === 'InVue' && d.model === 'LIVE Lock' && d.area_id)
    .map((d) => d.area_id));
  return [...ids].map((id) => hass.areas[id].name);
}"""
MULTILOCK_ENTRIES_JS = """async () => {
  const hass = document.querySelector('home-assistant').hass;
  const entries = await hass.callWS({type: 'config_entries/get', domain: 'multilock'});
  return entries.map((entry) => entry.entry_id);
}"""


# -- the stack as the module found it ------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def leave_the_stack_as_found(browser: Browser, stack: Stack) -> Iterator[None]:
    """Delete the entries this module adds and log the page out (the other tests log in)."""
    page = browser.page
    log_in(browser, stack)
    before = set(page.evaluate(MULTILOCK_ENTRIES_JS))
    assert before, "multilock has no entry: the stack did not set up The Keys"
    yield
    stack.check_running()
    for entry_id in sorted(set(page.evaluate(MULTILOCK_ENTRIES_JS)) - before):
        page.evaluate(
            "(id) => document.querySelector('home-assistant').hass"
            ".callApi('DELETE', `config/config_entries/entry/${id}`)",
            entry_id,
        )
    page.evaluate("() => localStorage.clear()")
    page.goto(stack.url)
    expect(page.get_by_role("textbox", name="Username")).to_be_visible(timeout=60_000)


# -- 1. The Keys gateway, already set up ---------------------------------------------------


def test_unlock_front_door_from_the_devices_overview(ui: Browser) -> None:
    """Overview → Devices: Unlock on Front door's card, Unlocked in its dialog, Lock there."""
    page = ui.page
    name = FRONT_DOOR[0]
    page.get_by_role("link", name="Overview").click()
    page.get_by_role("button", name="Devices", exact=True).click()
    row = page.locator("hui-lock-entity-row").filter(has_text=name)
    expect(row, f"Overview → Devices shows no {name!r} row").to_be_visible()
    ui.screenshot("newcomer-devices-overview")
    row.get_by_role("button", name="Unlock").click()
    row.get_by_text(name).first.click()
    dialog = page.locator("ha-more-info-dialog")
    expect(dialog.get_by_text("Unlocked", exact=True)).to_be_visible(timeout=STATE_SECONDS * 1000)
    ui.screenshot("newcomer-front-door-unlocked")
    dialog.get_by_role("switch", name="Lock").click()
    expect(dialog.get_by_text("Locked", exact=True)).to_be_visible(timeout=STATE_SECONDS * 1000)
    dialog.get_by_role("button", name="Close").first.click()
    expect(row.get_by_role("button", name="Unlock")).to_be_visible()


def test_delete_back_door_and_add_it_by_hand(ui: Browser, stack: Stack) -> None:
    """⋮ of Back door → Delete; ⋮ of The Keys gateway → Add lock: a wrong code, then its own."""
    page = ui.page
    flow = flow_dialog(page)
    name, identifier, share_code = BACK_DOOR
    _open_integration_page(ui, stack)
    gateway = page.locator("ha-config-entry-row").filter(has_text=FRONT_DOOR[0])
    expect(gateway).to_have_count(1)
    lock_row = gateway.locator("ha-config-sub-entry-row").filter(has_text=name)
    expect(lock_row, f"{name!r} is not a sub-entry row of the gateway").to_have_count(1)
    lock_row.get_by_role("button", name="Menu").first.click()
    page.get_by_role("menuitem", name="Delete").click()
    ui.screenshot("newcomer-delete-back-door")
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(lock_row).to_have_count(0)

    gateway.get_by_role("button", name="Menu").first.click()
    step = next_step(page, page.get_by_role("menuitem", name="Add lock").click)
    _expect_form(step, "user")
    check_flow_step(page, "config_subentries.thekeys_lock")
    flow.get_by_role("textbox", name="Lock identifier").fill(identifier)
    flow.get_by_role("textbox", name="Share code").fill("AAAAAAAAAAAAAAAA")
    flow.get_by_role("textbox", name="Name").fill(name)
    _expect_form(_submit(ui), "user")
    expect(flow.get_by_text(SHARE_CODE_REJECTED)).to_be_visible()
    ui.screenshot("newcomer-add-lock-wrong-code")
    flow.get_by_role("textbox", name="Share code").fill(share_code)
    _finish_flow(ui, _submit(ui), "newcomer-back-door")
    expect(gateway.locator("ha-config-sub-entry-row").filter(has_text=name)).to_have_count(1)


# -- 2. The Keys account -------------------------------------------------------------------


def test_thekeys_account_set_up(ui: Browser, stack: Stack) -> None:
    """Sign in, tick Cave too (refused, ticks kept), untick it, confirm the address: added."""
    page = ui.page
    flow = flow_dialog(page)
    step = _start_multilock_flow(ui, stack, THEKEYS_MENU_ITEM)
    step = next_step(page, lambda: pick_menu_option(page, "thekeys_account"))
    _expect_form(step, "thekeys_account")
    check_flow_step(page, "config")
    flow.get_by_role("textbox", name="Phone number").fill(DEMO_PHONE)
    flow.get_by_role("textbox", name="Password").fill(DEMO_PASSWORD)
    _fill_server(flow, stack.thekeys_cloud_url)
    ui.screenshot("newcomer-thekeys-account")
    step = _submit(ui)

    _expect_form(step, "thekeys_account_locks")
    check_flow_step(page, "config")
    _expect_ticked(flow, {**dict.fromkeys(ACCOUNT_LOCKS, True), CELLAR: False})
    ui.screenshot("newcomer-thekeys-account-locks")
    flow.get_by_text(CELLAR, exact=True).click()
    _expect_form(_submit(ui), "thekeys_account_locks")
    expect(
        flow.get_by_text(f"No gateway in your The Keys account serves {CELLAR}.")
    ).to_be_visible()
    _expect_ticked(flow, {**dict.fromkeys(ACCOUNT_LOCKS, True), CELLAR: True})
    ui.screenshot("newcomer-thekeys-account-no-gateway")
    flow.get_by_text(CELLAR, exact=True).click()
    step = _submit(ui)

    _expect_form(step, "thekeys_account_address")
    check_flow_step(page, "config")
    expect(flow.get_by_role("textbox", name="Host")).not_to_have_value("")
    ui.screenshot("newcomer-thekeys-account-address")
    _finish_flow(ui, _submit(ui), "newcomer-thekeys-account")
    _open_integration_page(ui, stack)
    added = page.locator("ha-config-entry-row").filter(has_text="The Keys gateway 2")
    for lock in ACCOUNT_LOCKS:
        expect(added.get_by_text(lock.split(" · ")[0]).first).to_be_visible()


# -- 3. Doordeck ---------------------------------------------------------------------------


def test_doordeck_account_with_a_second_factor(ui: Browser, stack: Stack) -> None:
    """office@example.com: the method, the code the simulator printed; its Office door."""
    page = ui.page
    flow = flow_dialog(page)
    email, password = OFFICE_ACCOUNT
    _expect_form(_start_multilock_flow(ui, stack, DOORDECK_MENU_ITEM), "doordeck")
    flow.get_by_role("textbox", name="Email").fill(email)
    flow.get_by_role("textbox", name="Password").fill(password)
    _fill_server(flow, stack.doordeck_url)
    step = _submit(ui)
    _expect_form(step, "doordeck_method")
    check_flow_step(page, "config")
    ui.screenshot("newcomer-doordeck-second-factor")
    codes_before = len(stack.second_factor_codes(email))
    _expect_form(_submit(ui), "doordeck_code")
    deadline = time.monotonic() + 30
    while len(codes := stack.second_factor_codes(email)) <= codes_before:
        assert time.monotonic() < deadline, f"no second-factor code in {stack.doordeck_log}"
        time.sleep(0.2)
    flow.get_by_role("textbox", name="Code").fill(codes[-1])
    _finish_flow(ui, _submit(ui), "newcomer-doordeck-office")
    _open_integration_page(ui, stack)
    account = page.locator("ha-config-entry-row").filter(has_text=account_title(email))
    expect(account.get_by_text(OFFICE_LOCK).first).to_be_visible()


# -- 4. and 5. The flows scripts/develop walks over the API: 2N, InVue -------------------------


def test_two_n_device(ui: Browser, stack: Stack) -> None:
    """The 2N IP Verso over HTTP with Digest: its entry and device."""
    page = ui.page
    flow = flow_dialog(page)
    _expect_form(_start_multilock_flow(ui, stack, TWO_N_MENU_ITEM), "two_n")
    check_flow_step(page, "config")
    flow.get_by_role("textbox", name="Host").fill(stack.two_n_hosts[0])
    flow.get_by_role("radio", name="HTTP", exact=True).check()
    flow.get_by_role("textbox", name="Username").fill(TWO_N_USER)
    flow.get_by_role("textbox", name="Password").fill(TWO_N_PASSWORD)
    ui.screenshot("newcomer-two-n")
    _finish_flow(ui, _submit(ui), "newcomer-two-n")
    _open_integration_page(ui, stack)
    expect(page.locator("ha-config-entry-row").filter(has_text="2N IP Verso")).to_have_count(1)


def test_invue_account_and_enrolment(ui: Browser, stack: Stack) -> None:
    """The account (API key, owner, pasted certificate), then the waiting lock enrolled."""
    page = ui.page
    flow = flow_dialog(page)
    for store in STORES:
        page.evaluate(
            "(name) => document.querySelector('home-assistant').hass"
            ".callWS({type: 'config/area_registry/create', name})",
            store,
        )
    _expect_form(_start_multilock_flow(ui, stack, INVUE_MENU_ITEM), "invue")
    check_flow_step(page, "config")
    flow.get_by_role("textbox", name="API key").fill(derived_api_key(DEFAULT_OWNER))
    flow.get_by_role("textbox", name="Certificate owner").fill(DEFAULT_OWNER)
    flow.get_by_role("textbox", name="Customer Intermediate Certificate").fill(
        stack.invue_intermediate.read_text(encoding="utf-8")
    )
    _fill_server(flow, stack.invue_url)
    step = _submit(ui)
    check_flow_step(page, "config")
    assert (step["type"], step["step_id"]) == ("form", "invue_certificate"), step
    expect(flow.get_by_text(re.compile(r"expires on .* \(in 36\d days\)"))).to_be_visible()
    ui.screenshot("newcomer-invue-certificate")
    _finish_flow(ui, _submit(ui), "newcomer-invue-account")

    serial, lock_type, name, store = WAITING_LOCK
    _open_integration_page(ui, stack)
    account = page.locator("ha-config-entry-row").filter(has_text=f"InVue {DEFAULT_OWNER}")
    account.get_by_role("button", name="Menu").first.click()
    step = next_step(page, page.get_by_role("menuitem", name="Enrol lock").click)
    _expect_form(step, "user")
    check_flow_step(page, "config_subentries.invue_lock")
    flow.get_by_role("textbox", name="Serial number").fill(serial)
    flow.get_by_role("textbox", name="Lock type").fill(lock_type)
    flow.get_by_role("textbox", name="Enrolment code").fill(derived_enrolment_code(serial))
    flow.get_by_role("textbox", name="Name").fill(name)
    _pick_store(flow, store)
    ui.screenshot("newcomer-invue-enrol")
    _finish_flow(ui, _submit(ui), "newcomer-invue-lock")
    expect(account.get_by_text(name).first).to_be_visible()


def _pick_store(flow: Locator, store: str) -> None:
    """Pick ``store`` in the enrol form's area picker, until the picker shows it.

    On a loaded machine the list may still be rendering when its item is clicked, and the
    click then selects nothing: the picker is opened and the item clicked again.
    """
    picker = flow.locator("ha-area-picker").first
    for _ in range(3):
        flow.get_by_text("Store (area)").first.click()
        item = flow.locator("ha-combo-box-item").filter(has_text=store).first
        expect(item).to_be_visible()
        item.click()
        if settled(lambda: store in " ".join(composed_text(picker)), bool):
            return
    raise AssertionError(f"the store picker does not show {store!r} after three picks")


# -- 6. Actions ----------------------------------------------------------------------------


def test_share_a_doordeck_lock(ui: Browser) -> None:
    """Locks offers the Doordeck locks only; shared with the guest: done."""
    page = ui.page
    control = _open_action(ui, "Share a Doordeck lock")
    offered = _picker_options(page, control.get_by_text("Select an entity").first)
    expected = page.evaluate(DOORDECK_LOCKS_JS)
    assert OFFICE_LOCK in expected
    _expect_offers(offered, expected, "Share a Doordeck lock: Locks")
    ui.screenshot("newcomer-share-locks-offered")
    _pick(page, OFFICE_LOCK)
    control.get_by_role("button", name="Add", exact=True).click()
    control.get_by_role("textbox").first.fill(GUEST_ACCOUNT[0])
    _perform(ui, "newcomer-share", "status: done")


def test_rotate_a_2n_mobile_key(ui: Browser) -> None:
    """Devices offers the 2N device only; the response has the new key."""
    page = ui.page
    control = _open_action(ui, "Rotate a 2N mobile key")
    offered = _picker_options(page, control.get_by_text("Select a device").first)
    _expect_offers(offered, page.evaluate(DEVICES_JS, ["2N", None]), "Rotate: Devices")
    _pick(page, "2N IP Verso")
    _perform(ui, "newcomer-rotate", "new_key:")


def test_get_invue_key_certificates(ui: Browser) -> None:
    """Stores offers the areas with InVue locks; Shop front's bundle has the enrolled lock."""
    page = ui.page
    serial, lock_type, name, store = WAITING_LOCK
    control = _open_action(ui, "Get InVue Key Certificates")
    control.get_by_text("Stores (areas)", exact=True).click()  # the optional field, ticked
    offered = _picker_options(page, control.get_by_text("Area", exact=True).first)
    expected = page.evaluate(INVUE_STORES_JS)
    assert store in expected
    _expect_offers(offered, expected, "Get InVue Key Certificates: Stores (areas)")
    _pick(page, store)
    response = _perform(ui, "newcomer-key-certificates", f"name: {name}")
    assert serial in response, response
    assert f"lock_type: {lock_type}" in response, response


def test_every_action_shows_its_icon(ui: Browser) -> None:
    """In the action picker each multilock action has an icon drawn (none blank)."""
    page = ui.page
    _open_actions_page(ui)
    page.locator("ha-service-picker").click()
    page.locator("ha-picker-combo-box").get_by_role("textbox").first.fill("multilock.")
    items = page.locator("ha-picker-combo-box ha-combo-box-item").filter(has_text="multilock.")
    expect(items).to_have_count(7)
    deadline = time.monotonic() + 10  # each icon is drawn once its set has loaded
    drawn = items.evaluate_all(ICON_PATHS_JS)
    while not all(length for _, length in drawn) and time.monotonic() < deadline:
        time.sleep(0.2)
        drawn = items.evaluate_all(ICON_PATHS_JS)
    ui.screenshot("newcomer-actions-icons")
    blank = [name for name, length in drawn if not length]
    assert not blank, f"actions whose icon shows blank: {blank}"
    page.keyboard.press("Escape")


# The length of the SVG path each item's icon draws (0: nothing drawn).
ICON_PATHS_JS = """(items) => items.map((item) => {
  const name = item.innerText.split('\\n')[0];
  const icon = item.querySelector('ha-service-icon');
  const haIcon = icon && icon.shadowRoot && icon.shadowRoot.querySelector('ha-icon');
  const svg = haIcon && haIcon.shadowRoot && haIcon.shadowRoot.querySelector('ha-svg-icon');
  const path = svg && svg.shadowRoot && svg.shadowRoot.querySelector('path');
  return [name, path ? (path.getAttribute('d') || '').length : 0];
})"""


# -- helpers -------------------------------------------------------------------------------


def _fill_server(flow: Locator, url: str) -> None:
    """Open the collapsed Server section and enter the simulator's address."""
    flow.get_by_role("button", name="Server").click()
    flow.get_by_role("textbox", name="Server").fill(url)


def _expect_ticked(flow: Locator, ticked: dict[str, bool]) -> None:
    for label, checked in ticked.items():
        box = flow.get_by_role("checkbox", name=label)
        if checked:
            expect(box, f"{label!r} is not ticked").to_be_checked()
        else:
            expect(box, f"{label!r} is ticked").not_to_be_checked()


def _open_actions_page(ui: Browser) -> None:
    """Settings → Tools → Actions, as the README says."""
    page = ui.page
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name=re.compile(r"^Tools")).click()
    page.get_by_role("tab", name="Actions").click()
    expect(page).to_have_url(re.compile(r"/tools/action$"))
    expect(page.locator("ha-service-picker")).to_be_visible()


def _open_action(ui: Browser, name: str) -> Locator:
    """Pick the action ``name`` (by its name, as a newcomer finds it); return its form."""
    page = ui.page
    _open_actions_page(ui)
    page.locator("ha-service-picker").click()
    page.locator("ha-picker-combo-box").get_by_role("textbox").first.fill(name)
    page.locator("ha-picker-combo-box ha-combo-box-item").filter(has_text=name).first.click()
    control = page.locator("ha-service-control")
    expect(control.locator("ha-service-picker")).to_contain_text(name)
    assert_no_raw_keys(control, f"The action {name!r}")
    return control


def _picker_options(page: Page, field: Locator) -> list[str]:
    """Open a picker; return the first line of each option it lists."""
    field.click()
    options = page.locator("ha-picker-combo-box ha-combo-box-item")
    expect(options.first).to_be_visible()
    return [text.split("\n")[0].strip() for text in options.all_inner_texts()]


def _expect_offers(offered: list[str], expected: list[str], what: str) -> None:
    assert expected, f"{what}: nothing to offer, the check would prove nothing"
    assert sorted(offered) == sorted(expected), f"{what} offers {offered}, not {expected}"


def _pick(page: Page, name: str) -> None:
    option = page.locator("ha-picker-combo-box ha-combo-box-item").filter(has_text=name).first
    option.click()
    expect(option).to_be_hidden()


def _perform(ui: Browser, shot: str, wanted: str) -> str:
    """Press Perform action; wait for the response holding ``wanted``; return its text."""
    page = ui.page
    page.get_by_role("button", name="Perform action").click()
    response = page.locator("ha-code-editor").last
    expect(response, f"the response did not show {wanted!r}").to_contain_text(
        wanted, timeout=30_000
    )
    response.scroll_into_view_if_needed()
    ui.screenshot(shot)
    text: str = response.evaluate("(editor) => editor.value")
    print(f"{shot}:\n{text}")
    return text
