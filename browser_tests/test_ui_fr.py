"""multilock for a French-speaking user: the real Home Assistant, the user's language French.

Home Assistant's language and the user's are set to French, as a French household's are.
Then multilock's config flows (the vendor menu, each vendor's first form, The Keys' gateway and
first-lock forms with their errors, Doordeck's sign-in with a second factor, "Add lock") and
every multilock device page must show multilock's French texts, and none of its English ones
(a text whose French differs, from translations/en.json). The language goes back to English at
the end, for any test that follows.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
import json
from pathlib import Path
import re
import time
from typing import Any

from playwright.sync_api import Page, expect
import pytest

from browser_tests.harness import (
    DOORDECK_EMAIL,
    DOORDECK_PASSWORD,
    FRONT_DOOR,
    NEW_LOCKS,
    ROOT,
    WRONG_SHARE_CODE,
    Browser,
    Stack,
    free_port,
    log_in,
)
from browser_tests.pages import (
    COMPOSED_TEXT_JS,
    FIND_FLOW_JS,
    check_device_page,
    check_flow_step,
    flow_dialog,
    next_step,
    pick_menu_option,
)
from scripts.translations import flatten

TRANSLATIONS = ROOT / "custom_components" / "multilock" / "translations"
# Home Assistant's own French for the frontend's controls the test presses.
SETTINGS, SUBMIT, FINISH = "Paramètres", "Valider", "Terminer"
PLACEHOLDER = re.compile(r"\{\w+\}")
FRAGMENT = 20  # English sentences are looked for by their pieces of at least this length
WAIT_MS = 30_000
DOORDECK_LOCKS = ("Demo lock 1", "Demo lock 2", "Demo lock 3")  # the Doordeck simulator's


def _load(path: Path) -> dict[str, str]:
    texts: dict[str, str] = flatten(json.loads(path.read_text(encoding="utf-8")))
    return texts


ENGLISH, FRENCH = _load(TRANSLATIONS / "en.json"), _load(TRANSLATIONS / "fr.json")
# multilock's English texts a French user must not see: those whose French differs.
ENGLISH_ONLY = sorted({text for key, text in ENGLISH.items() if FRENCH.get(key) != text})


def _text_pattern(text: str) -> str:
    """Return a regular expression (JavaScript's too) of ``text`` with its placeholders filled."""
    return ".+".join(re.escape(part) for part in PLACEHOLDER.split(text))


def fr(key: str) -> re.Pattern[str]:
    """Return the French text ``key`` of multilock (placeholders filled with anything)."""
    assert key in FRENCH, f"{key} has no French in translations/fr.json"
    return re.compile(_text_pattern(FRENCH[key]))


# A whole text of the page that is one of multilock's English texts (a required field's
# label ends in "*"), or a long piece of one (markdown splits a description into pieces).
# (Not a text of placeholders and punctuation, "{name}: {error}.": any text matches that.)
ENGLISH_PATTERNS = [
    f"^{_text_pattern(text)}$"
    for text in ENGLISH_ONLY
    if len(re.findall(r"[A-Za-z]", PLACEHOLDER.sub("", text))) >= 3
]
ENGLISH_PIECES = sorted(
    {
        piece.strip()
        for text in ENGLISH_ONLY
        for piece in re.split(r"\{\w+\}|\*\*|`|\n", text)
        if len(piece.strip()) >= FRAGMENT
    }
)
ENGLISH_LEFT_JS = f"""({{where, patterns, pieces}}) => {{
  const root = where === 'flow' ? ({FIND_FLOW_JS})() : document.body;
  if (!root) return ['(no flow dialog)'];
  const texts = ({COMPOSED_TEXT_JS})(root).map((text) => text.replace(/\\s*\\*$/, ''));
  // A device's name is the user's (given once, in Home Assistant's language), not a text.
  const hass = document.querySelector('home-assistant').hass;
  const names = new Set(Object.values(hass.devices).map((d) => d.name_by_user || d.name));
  const found = new Set();
  const expressions = patterns.map((pattern) => new RegExp(pattern));
  for (const text of texts) {{
    if (names.has(text)) continue;
    if (expressions.some((expression) => expression.test(text))) found.add(text);
  }}
  const joined = texts.join('\\n');
  for (const piece of pieces) if (joined.includes(piece)) found.add(piece);
  return [...found];
}}"""

# multilock's entities of one device whose name or state is not the French one.
NOT_FRENCH_ENTITIES_JS = """({deviceId, french}) => {
  const hass = document.querySelector('home-assistant').hass;
  const wrong = [];
  for (const [entityId, entry] of Object.entries(hass.entities)) {
    if (entry.device_id !== deviceId || entry.platform !== 'multilock') continue;
    if (!entry.translation_key) continue;
    const key = `entity.${entityId.split('.')[0]}.${entry.translation_key}`;
    const name = french[`${key}.name`];
    const shown = hass.localize(`component.multilock.${key}.name`);
    if (name !== undefined && !name.includes('{') && shown !== name) {
      wrong.push(`${entityId}: named ${JSON.stringify(shown)}, not ${JSON.stringify(name)}`);
    }
    const stateObj = hass.states[entityId];
    const state = stateObj && french[`${key}.state.${stateObj.state}`];
    if (state !== undefined && hass.formatEntityState(stateObj) !== state) {
      wrong.push(`${entityId}: shows ${JSON.stringify(hass.formatEntityState(stateObj))}, ` +
                 `not ${JSON.stringify(state)}`);
    }
  }
  return wrong;
}"""


def expect_no_english(page: Page, where: str, what: str) -> None:
    """Wait until ``where`` (``flow``: the flow dialog; ``page``) shows no English of multilock."""
    arg = {"where": where, "patterns": ENGLISH_PATTERNS, "pieces": ENGLISH_PIECES}
    try:
        page.wait_for_function(
            f"(arg) => ({ENGLISH_LEFT_JS})(arg).length === 0", arg=arg, timeout=WAIT_MS
        )
    except Exception as err:
        found = page.evaluate(ENGLISH_LEFT_JS, arg)
        raise AssertionError(f"{what} still shows multilock's English texts: {found}") from err


def set_language(page: Page, language: str, settings: str) -> None:
    """Choose ``language`` as the profile page does; wait until it is stored and shown."""
    page.evaluate(
        """(language) => document.querySelector('home-assistant').dispatchEvent(
               new CustomEvent('hass-language-select', {detail: language}))""",
        language,
    )
    page.wait_for_function(
        """async (language) => {
             const hass = document.querySelector('home-assistant').hass;
             const data = await hass.callWS({type: 'frontend/get_user_data', key: 'language'});
             return !!(data.value && data.value.language === language);
           }""",
        arg=language,
        timeout=WAIT_MS,
    )
    page.reload()  # the stored choice, as at the user's next visit
    expect(page.locator("html")).to_have_attribute("lang", language, timeout=60_000)
    expect(page.get_by_role("link", name=settings, exact=True)).to_be_visible(timeout=60_000)


def set_home_language(page: Page, language: str) -> None:
    """Set Home Assistant's own language, as Settings → System → General does.

    Home Assistant names entities in its own language when it sets them up (the user's
    language translates the rest), so multilock's entries are reloaded with the new one.
    """
    page.evaluate(
        """async (language) => {
             const hass = document.querySelector('home-assistant').hass;
             await hass.callWS({type: 'config/core/update', language});
             const entries = await hass.callWS({type: 'config_entries/get', domain: 'multilock'});
             for (const entry of entries) {
               await hass.callApi('POST', `config/config_entries/entry/${entry.entry_id}/reload`);
             }
           }""",
        language,
    )
    page.wait_for_function(
        """async (language) => {
             const hass = document.querySelector('home-assistant').hass;
             const entries = await hass.callWS({type: 'config_entries/get', domain: 'multilock'});
             return hass.config.language === language &&
                    entries.every((entry) => entry.state === 'loaded');
           }""",
        arg=language,
        timeout=WAIT_MS,
    )


@pytest.fixture(scope="module")
def french(browser: Browser, stack: Stack) -> Iterator[Browser]:
    """The shared page, logged in, French: Home Assistant's language and its user's.

    (A French household's: onboarding sets both from the browser.) English again afterwards.
    """
    stack.check_running()
    log_in(browser, stack)
    set_home_language(browser.page, "fr")
    set_language(browser.page, "fr", SETTINGS)
    yield browser
    set_home_language(browser.page, "en")
    set_language(browser.page, "en", "Settings")


def _start_flow(ui: Browser, stack: Stack) -> dict[str, Any]:
    """Open multilock's config flow (Home Assistant's "add integration" link); check its menu."""
    page = ui.page

    def open_add_integration() -> None:
        page.goto(f"{stack.url}/config/integrations/dashboard/add?domain=multilock")
        page.get_by_role("button", name="OK", exact=True).click()  # "Configure multilock?"

    step = next_step(page, open_add_integration)
    assert (step["type"], step["step_id"]) == ("menu", "user"), f"not the vendor menu: {step}"
    flow = flow_dialog(page)
    expect(flow.locator('[slot="headerTitle"]')).to_have_text(fr("config.step.user.title"))
    for vendor in ("thekeys", "doordeck", "two_n", "invue"):
        option = fr(f"config.step.user.menu_options.{vendor}")
        expect(flow.get_by_text(option)).to_be_visible()
    return step


def _check_step(page: Page, prefix: str, step_id: str, name: str) -> None:
    """The open step ``step_id``: its French title and description, complete, no English."""
    flow = flow_dialog(page)
    key = f"{prefix}.step.{step_id}"
    expect(flow.locator('[slot="headerTitle"]')).to_have_text(fr(f"{key}.title"))
    if description := FRENCH.get(f"{key}.description"):
        # Its longest piece without placeholders or markdown.
        piece = max(re.split(r"\{\w+\}|\*\*|`|\n", description), key=len).strip()
        expect(flow.get_by_text(piece).first).to_be_visible()
    check_flow_step(page, prefix)
    expect_no_english(page, "flow", name)


def _submit(page: Page) -> dict[str, Any]:
    return next_step(page, flow_dialog(page).get_by_role("button", name=SUBMIT).click)


def _close_flow(page: Page) -> None:
    """Close the flow dialog (which ends the flow)."""
    flow = flow_dialog(page)
    flow.locator('ha-icon-button[data-dialog="close"]').first.click()
    expect(flow.locator('[slot="headerTitle"]')).to_have_count(0)


def test_vendor_forms_in_french(french: Browser, stack: Stack) -> None:
    """The vendor menu and the first form of 2N and InVue: French titles, labels, choices."""
    page = french.page
    _start_flow(french, stack)
    _check_step(page, "config", "user", "The vendor menu")
    french.screenshot("fr-vendor-menu")
    for vendor, field, choice in (
        ("two_n", "host", "two_n_certificate.options.pin"),
        ("invue", "owner", None),
    ):
        if vendor != "two_n":
            _start_flow(french, stack)
        step = next_step(page, partial(pick_menu_option, page, vendor))
        assert (step["type"], step["step_id"]) == ("form", vendor), step
        _check_step(page, "config", vendor, f"The {vendor} form")
        flow = flow_dialog(page)
        label = fr(f"config.step.{vendor}.data.{field}")
        expect(flow.get_by_role("textbox", name=label)).to_be_visible()
        if choice:
            expect(flow.get_by_text(fr(f"selector.{choice}"))).to_be_visible()
        french.screenshot(f"fr-{vendor}-form")
        _close_flow(page)


def test_thekeys_gateway_in_french(french: Browser, stack: Stack) -> None:
    """The Keys' menu, its gateway form and first-lock form, with their errors, in French."""
    page = french.page
    flow = flow_dialog(page)
    _start_flow(french, stack)
    step = next_step(page, lambda: pick_menu_option(page, "thekeys"))
    assert step["type"] == "menu", step
    _check_step(page, "config", "thekeys", "The Keys' menu")
    for option in ("thekeys_account", "thekeys_gateway"):
        expect(flow.get_by_text(fr(f"config.step.thekeys.menu_options.{option}"))).to_be_visible()
    step = next_step(page, lambda: pick_menu_option(page, "thekeys_gateway"))
    assert (step["type"], step["step_id"]) == ("form", "thekeys_gateway"), step
    _check_step(page, "config", "thekeys_gateway", "The gateway form")

    host = flow.get_by_role("textbox", name=fr("config.step.thekeys_gateway.data.host"))
    host.fill(f"127.0.0.1:{free_port()}")  # nothing answers there
    step = _submit(page)
    expect(flow.get_by_text(fr("config.error.cannot_connect"))).to_be_visible()
    _check_step(page, "config", "thekeys_gateway", "The gateway form's error")
    french.screenshot("fr-thekeys-gateway-error")

    host.fill(stack.new_gateway_host)
    step = _submit(page)
    if step["type"] == "abort":  # test_ui.py added this gateway before
        expect(flow.get_by_text(fr("config.abort.already_configured"))).to_be_visible()
        expect_no_english(page, "flow", "The gateway's abort")
    else:
        assert (step["type"], step["step_id"]) == ("form", "thekeys_gateway_lock"), step
        lock_step = "thekeys_gateway_lock"
        _check_step(page, "config", lock_step, "The first-lock form")
        name, identifier, _ = NEW_LOCKS[0]
        data = "config.step.thekeys_gateway_lock.data"
        flow.get_by_role("textbox", name=fr(f"{data}.identifier")).fill(identifier)
        flow.get_by_role("textbox", name=fr(f"{data}.share_code")).fill(WRONG_SHARE_CODE)
        flow.get_by_role("textbox", name=fr(f"{data}.name")).fill(name)
        _submit(page)
        expect(
            flow.get_by_text(FRENCH["config.error.thekeys_invalid_share_code"].format(lock=name))
        ).to_be_visible()
        _check_step(page, "config", lock_step, "The first-lock form's error")
    french.screenshot("fr-thekeys-gateway-next")
    _close_flow(page)


def test_add_lock_in_french(french: Browser, stack: Stack) -> None:
    """The gateway entry's "Add lock", its form and an error, in French."""
    page = french.page
    flow = flow_dialog(page)
    page.goto(f"{stack.url}/config/integrations/integration/multilock")
    gateway = page.locator("ha-config-entry-row").filter(has_text=FRONT_DOOR[0])
    expect(gateway).to_have_count(1)
    gateway.get_by_role("button", name="Menu").first.click()
    add_lock = page.get_by_role(
        "menuitem", name=fr("config_subentries.thekeys_lock.initiate_flow.user")
    )
    step = next_step(page, add_lock.click)
    assert (step["type"], step["step_id"]) == ("form", "user"), step
    prefix = "config_subentries.thekeys_lock"
    _check_step(page, prefix, "user", 'The "Add lock" form')
    data = f"{prefix}.step.user.data"
    flow.get_by_role("textbox", name=fr(f"{data}.identifier")).fill("45961999")  # no such lock
    flow.get_by_role("textbox", name=fr(f"{data}.share_code")).fill(WRONG_SHARE_CODE)
    _submit(page)
    expect(flow.get_by_text(fr(f"{prefix}.error.not_seen"))).to_be_visible()
    _check_step(page, prefix, "user", 'The "Add lock" form\'s error')
    french.screenshot("fr-add-lock-error")
    _close_flow(page)


def _doordeck_sign_in(ui: Browser, stack: Stack, password: str) -> dict[str, Any]:
    """Open Doordeck's sign-in form, check it, fill it (the simulator as server), submit it."""
    page = ui.page
    flow = flow_dialog(page)
    _start_flow(ui, stack)
    step = next_step(page, lambda: pick_menu_option(page, "doordeck"))
    assert (step["type"], step["step_id"]) == ("form", "doordeck"), step
    _check_step(page, "config", "doordeck", "The Doordeck form")
    form = "config.step.doordeck"
    flow.get_by_role("textbox", name=fr(f"{form}.data.email")).fill(DOORDECK_EMAIL)
    flow.get_by_role("textbox", name=fr(f"{form}.data.password")).fill(password)
    flow.get_by_role("button", name=fr(f"{form}.sections.server.name")).click()  # collapsed
    flow.get_by_role("textbox", name=fr(f"{form}.sections.server.data.url")).fill(
        stack.doordeck_url
    )
    return _submit(page)


def test_doordeck_sign_in_in_french(french: Browser, stack: Stack) -> None:
    """Doordeck's sign-in: a wrong password, then the second factor, in French."""
    page = french.page
    flow = flow_dialog(page)
    step = _doordeck_sign_in(french, stack, "not-the-password")
    if step["type"] == "abort":  # test_ui.py signed this account in before
        expect(flow.get_by_text(fr("config.abort.doordeck_already_configured"))).to_be_visible()
        expect_no_english(page, "flow", "The Doordeck abort")
        french.screenshot("fr-doordeck-already-configured")
        _close_flow(page)
        return
    expect(flow.get_by_text(fr("config.error.doordeck_invalid_auth"))).to_be_visible()
    _check_step(page, "config", "doordeck", "The Doordeck form's error")
    french.screenshot("fr-doordeck-wrong-password")
    _close_flow(page)

    step = _doordeck_sign_in(french, stack, DOORDECK_PASSWORD)
    assert (step["type"], step["step_id"]) == ("form", "doordeck_method"), step
    _check_step(page, "config", "doordeck_method", "The second-factor form")
    flow.get_by_role("radio", name=fr("selector.verification_method.options.sms")).click()
    codes_before = len(stack.second_factor_codes(DOORDECK_EMAIL))
    step = _submit(page)

    assert (step["type"], step["step_id"]) == ("form", "doordeck_code"), step
    _check_step(page, "config", "doordeck_code", "The code form")
    deadline = time.monotonic() + 30
    while len(codes := stack.second_factor_codes(DOORDECK_EMAIL)) <= codes_before:
        assert time.monotonic() < deadline, f"no new second-factor code in {stack.doordeck_log}"
        time.sleep(0.2)
    flow.get_by_role("textbox", name=fr("config.step.doordeck_code.data.code")).fill(codes[-1])
    step = _submit(page)
    assert step["type"] == "create_entry", f"the account was not added: {step}"
    expect_no_english(page, "flow", "The Doordeck success dialog")
    french.screenshot("fr-doordeck-added")
    finish = flow.get_by_role("button", name=FINISH)
    finish.click()
    expect(finish).to_have_count(0)


def test_device_pages_in_french(french: Browser, stack: Stack) -> None:
    """Every multilock device page: French entity names and states, no English of multilock."""
    page = french.page
    dashboard = f"{stack.url}/config/devices/dashboard?historyBack=1&domain=multilock"
    page.goto(dashboard)
    devices = page.get_by_role("rowheader")
    # The devices of the gateway set up at start and of the Doordeck account signed in above.
    for device in (FRONT_DOOR[0], *DOORDECK_LOCKS):
        expect(devices.filter(has_text=device)).to_be_visible(timeout=WAIT_MS)
    expect_no_english(page, "page", "The list of multilock devices")
    names = [name.strip() for name in devices.all_inner_texts()]

    failures = []
    french_entities = {key: text for key, text in FRENCH.items() if key.startswith("entity.")}
    for index, name in enumerate(names):
        if index:
            page.goto(dashboard)
            expect(devices.nth(index)).to_have_text(name, timeout=WAIT_MS)
        devices.nth(index).click()
        expect(page).to_have_url(re.compile(r"/config/devices/device/"))
        expect(page.locator("ha-device-entities-card").first).to_be_visible(timeout=WAIT_MS)
        for more in (
            page.locator("ha-device-entities-card")
            .get_by_role("button", name=re.compile(r"^\+\d+ "))
            .all()
        ):  # the disabled entities, shown
            more.click()
        device_id = page.url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        try:
            arg = {"deviceId": device_id, "french": french_entities}
            try:
                page.wait_for_function(
                    f"(arg) => ({NOT_FRENCH_ENTITIES_JS})(arg).length === 0",
                    arg=arg,
                    timeout=WAIT_MS,
                )
            except Exception as err:
                wrong = page.evaluate(NOT_FRENCH_ENTITIES_JS, arg)
                raise AssertionError(f"The device page of {name!r}: {wrong}") from err
            expect_no_english(page, "page", f"The device page of {name!r}")
            rows = check_device_page(page, name)
        except AssertionError as err:
            failures.append(str(err))
            french.screenshot(f"fr-device-{slug}-FAILED")
        else:
            print(f"{name}: {rows}")
            french.screenshot(f"fr-device-{slug}")
    assert not failures, "\n".join(failures)
