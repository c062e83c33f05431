"""What the browser test reads from Home Assistant's frontend, and its checks of multilock's texts.

The frontend is made of web components with open shadow roots: Playwright's locators pierce
them, and the JavaScript below walks them itself. When a text is missing from multilock's
translations, the frontend shows the raw key or name, or falls back to another text (a flow step
without a title shows the integration's name; an entity without a name shows its device's):
these checks look for both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
import re
import time
from typing import Any

from playwright.sync_api import Locator, Page, expect

INTEGRATION_TITLE = "multilock"  # what the frontend shows for a flow step without a title

# How long a check waits for the frontend to show what it reads (it renders in several passes,
# slower on a loaded machine): a reading is asserted on only once it settled or this passed.
SETTLE_SECONDS = 20.0


def settled[T](read: Callable[[], T], done: Callable[[T], bool]) -> T:
    """Read until ``done`` holds for the reading or SETTLE_SECONDS passed; return the last one.

    Playwright's ``expect`` does this for what a locator can express; this does it for the
    readings a check computes (composed texts across shadow roots, lists of problems).
    """
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        reading = read()
        if done(reading) or time.monotonic() >= deadline:
            return reading
        time.sleep(0.25)


# Every text of an element and its shadow roots: text nodes and the attributes people read.
COMPOSED_TEXT_JS = """(root) => {
  const out = [];
  const skip = new Set(['SCRIPT', 'STYLE', 'TEMPLATE', 'NOSCRIPT']);
  const walk = (node) => {
    for (const child of node.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) {
        const text = child.textContent.trim();
        if (text) out.push(text);
      } else if (child.nodeType === Node.ELEMENT_NODE && !skip.has(child.tagName)) {
        for (const name of ['aria-label', 'title', 'label', 'placeholder', 'alt']) {
          const value = child.getAttribute(name);
          if (value) out.push(value.trim());
        }
        if (child.shadowRoot) walk(child.shadowRoot);
        walk(child);
      }
    }
  };
  if (root.shadowRoot) walk(root.shadowRoot);
  walk(root);
  return out;
}"""

# The fields of the open flow step whose label the frontend could not translate (it then
# shows the field's name): each ha-form's own label callback, as the dialog renders it.
UNTRANSLATED_FIELDS_JS = """(root) => {
  const forms = [];
  const walk = (node) => {
    for (const el of node.querySelectorAll('*')) {
      if (el.tagName === 'HA-FORM') forms.push(el);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(root.shadowRoot || root);
  const missing = [];
  for (const form of forms) {
    if (!Array.isArray(form.schema) || typeof form.computeLabel !== 'function') continue;
    for (const field of form.schema) {
      const label = form.computeLabel(field, form.data);
      if (!label || label === field.name) missing.push(field.name);
    }
  }
  return missing;
}"""

# multilock's entities of one device: how the frontend names and formats them.
DEVICE_ENTITIES_JS = """(deviceId) => {
  const hass = document.querySelector('home-assistant').hass;
  const out = [];
  for (const [entityId, entry] of Object.entries(hass.entities)) {
    if (entry.device_id !== deviceId || entry.platform !== 'multilock') continue;
    const stateObj = hass.states[entityId];
    const options = (stateObj && stateObj.attributes.options) || [];
    const domain = entityId.split('.')[0];
    out.push({
      entity_id: entityId,
      translation_key: entry.translation_key || null,
      name_text: entry.translation_key ? hass.localize(
        `component.multilock.entity.${domain}.${entry.translation_key}.name`) : null,
      state: stateObj ? stateObj.state : null,
      untranslated_options: options.filter(
        (option) => hass.formatEntityState(stateObj, option) === option),
    });
  }
  return out;
}"""

# The entity rows of a device page (the disabled ones too, once shown): entity id and the
# name the row shows.
ENTITY_ROWS_JS = """(root) => {
  const rows = [];
  const walk = (node) => {
    for (const el of node.querySelectorAll('*')) {
      if ((/^HUI-.*-ENTITY-ROW$/.test(el.tagName) && el.tagName !== 'HUI-GENERIC-ENTITY-ROW') ||
          el.classList.contains('disabled-entry')) {
        rows.push(el);
      }
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(root.shadowRoot || root);
  return rows.map((row) => {
    if (row.classList.contains('disabled-entry')) {  // shown by "+N disabled entities"
      const name = row.querySelector('.name');
      return {
        entity_id: (row.entry && row.entry.entity_id) || null,
        name: name ? name.textContent.trim() : null,
        disabled: true,
      };
    }
    const info = row.shadowRoot && (row.shadowRoot.querySelector('.info') ||
      row.shadowRoot.querySelector('hui-generic-entity-row')?.shadowRoot?.querySelector('.info'));
    return {
      entity_id: row._config ? row._config.entity : null,
      name: info ? (info.getAttribute('title') || info.textContent).trim() : null,
      disabled: false,
    };
  });
}"""

# multilock's brand images on the page: their address and whether they loaded.
BRAND_IMAGES_JS = """(root) => {
  const images = [];
  const walk = (node) => {
    for (const el of node.querySelectorAll('*')) {
      if (el.tagName === 'IMG') images.push(el);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(root);
  return images
    .filter((img) => (img.currentSrc || img.src).includes('/brands/') &&
                     (img.currentSrc || img.src).includes('multilock'))
    .map((img) => ({src: (img.currentSrc || img.src).split('?')[0],
                    loaded: img.complete && img.naturalWidth > 0}));
}"""

RAW_KEY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an unresolved [%key:...%] reference", re.compile(r"\[%key:")),
    (
        "a translation key the frontend could not translate",
        re.compile(r"\b(?:component|ui|state_attributes)\.[a-z0-9_]+\.[a-z0-9_.]+"),
    ),
    (
        "a key of strings.json",
        re.compile(
            r"(?<![\w/])(?:config|config_subentries|entity|issues|exceptions|selector|services)"
            r"\.[a-z0-9_]+\.[a-z0-9_.]+"
        ),
    ),
    (
        "a vendor's key (thekeys_..., doordeck_...)",
        re.compile(r"(?<![\w./:@-])(?:thekeys|doordeck|invue|two_n)_[a-z0-9_]+\b"),
    ),
    (
        "a raw name (a field, error or state without its text)",
        re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$"),
    ),
)


def composed_text(locator: Locator) -> list[str]:
    """Return every text of ``locator``'s element, shadow roots included."""
    texts: list[str] = locator.evaluate(COMPOSED_TEXT_JS)
    return texts


def raw_keys(texts: Iterable[str]) -> list[str]:
    """Return a line per text that looks like an untranslated key."""
    found = []
    for text in dict.fromkeys(texts):  # each text once, in order
        for what, pattern in RAW_KEY_PATTERNS:
            if match := pattern.search(text):
                found.append(f"{match.group(0)!r} ({what}) in {text[:120]!r}")
                break
    return found


def assert_no_raw_keys(locator: Locator, where: str) -> None:
    """Fail when the element still shows a raw translation key once the page settled."""
    found = settled(lambda: raw_keys(composed_text(locator)), lambda found: not found)
    assert not found, f"{where} shows raw translation keys:\n  " + "\n  ".join(found)


# --- Config and subentry flows (dialog-data-entry-flow) ---------------------------------


def flow_dialog(page: Page) -> Locator:
    """Return the config (or subentry) flow dialog."""
    return page.locator("dialog-data-entry-flow")


# The open flow dialog, wherever it is in the shadow roots.
FIND_FLOW_JS = """() => {
  const find = (node) => {
    for (const el of node.querySelectorAll('*')) {
      if (el.tagName === 'DIALOG-DATA-ENTRY-FLOW') return el;
      if (el.shadowRoot) { const found = find(el.shadowRoot); if (found) return found; }
    }
    return null;
  };
  return find(document);
}"""


def flow_step(page: Page) -> dict[str, Any] | None:
    """Return the flow dialog's current step (type, step_id, errors); None while loading."""
    step: dict[str, Any] | None = page.evaluate(
        f"""() => {{
            const flow = ({FIND_FLOW_JS})();
            if (!flow || !flow._step || flow._loading) return null;
            const s = flow._step;
            return {{type: s.type, step_id: s.step_id || null, errors: s.errors || null}};
        }}"""
    )
    return step


def next_step(page: Page, action: Callable[[], None], timeout: float = 30_000) -> dict[str, Any]:
    """Run ``action`` (a click that moves the flow on); return the step the dialog then shows.

    A step counts as new when the dialog holds another step object than before, so a form
    shown again with an error counts too.
    """
    page.evaluate(
        f"() => {{ const flow = ({FIND_FLOW_JS})(); "
        "window.__browserTestStep = flow && flow._step; }"
    )
    action()
    try:
        page.wait_for_function(
            f"""() => {{
                const flow = ({FIND_FLOW_JS})();
                return !!(flow && flow._step && !flow._loading &&
                          flow._step !== window.__browserTestStep);
            }}""",
            timeout=timeout,
        )
    except Exception as err:
        raise AssertionError(
            f"The flow dialog showed no new step in {timeout / 1000:.0f} s "
            f"(it shows {flow_step(page)})"
        ) from err
    step = flow_step(page)
    assert step is not None
    return step


def pick_menu_option(page: Page, option: str) -> None:
    """Click the option ``option`` (its key, not its text) of the flow's menu step."""
    items = flow_dialog(page).locator("step-flow-menu ha-list-item")
    expect(items.first).to_be_visible()
    keys = items.evaluate_all("(items) => items.map((item) => item.step)")
    assert option in keys, f"The menu offers {keys}, not {option!r}"
    items.nth(keys.index(option)).click()


def check_flow_step(page: Page, strings_prefix: str) -> str:
    """Check the flow dialog's current multilock step; return its title.

    The step must have a title of its own and (a form) a description, every field a label,
    and no raw key may show. ``strings_prefix`` (``config`` or
    ``config_subentries.thekeys_lock``) names where strings.json keeps the step's texts, for
    the failure message.
    """
    flow = flow_dialog(page)
    step = flow_step(page) or {}
    key = f"{strings_prefix}.step.{step.get('step_id')}"
    header = flow.locator('[slot="headerTitle"]').first
    expect(header).to_be_visible()
    title = settled(
        lambda: header.inner_text().strip(),
        lambda title: bool(title) and title != INTEGRATION_TITLE,
    )
    assert title, f"The {step.get('type')} step {key} has no title (missing {key}.title?)"
    assert title != INTEGRATION_TITLE, (
        f"The {step.get('type')} step {key} is titled {title!r}: the frontend's fallback when "
        f"the step has no title, so the text {key}.title is missing from the translations"
    )
    if step.get("type") == "form":
        description = flow.locator("step-flow-form .content > ha-markdown").first
        text = settled(
            lambda: " ".join(composed_text(description)) if description.count() else "",
            lambda text: bool(text.strip()),
        )
        assert text.strip(), (
            f"The form step {key} ({title!r}) has no description ({key}.description)"
        )
        missing = settled(lambda: flow.evaluate(UNTRANSLATED_FIELDS_JS), lambda names: not names)
        assert not missing, (
            f"The form step {key} ({title!r}) shows raw field names {missing}: "
            f"{key}.data.<field> missing"
        )
    assert_no_raw_keys(flow, f"The step {key} ({title!r})")
    return title


# --- Device pages ----------------------------------------------------------------------


def check_device_page(page: Page, device_name: str) -> list[str]:
    """Check the open device page of multilock; return its entity rows' names.

    No raw key; multilock's brand image loads; every entity has a name of its own (only a
    device's lock may be named after the device); every state of an enum sensor is translated.
    """
    device_id = page.url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    body = page.locator("body")
    try:
        page.wait_for_function(
            f"() => {{ const imgs = ({BRAND_IMAGES_JS})(document); "
            "return imgs.length > 0 && imgs.every((img) => img.loaded); }",
            timeout=20_000,
        )
    except Exception as err:
        images = body.evaluate(BRAND_IMAGES_JS)
        raise AssertionError(
            f"The device page of {device_name!r} shows no loaded multilock brand image "
            f"(/api/brands/integration/multilock/...): {images or 'no such <img> at all'}"
        ) from err

    rows, problems = settled(
        lambda: _device_page_problems(page, device_id, device_name),
        lambda reading: bool(reading[0]) and not reading[1],
    )
    assert rows, f"The device page of {device_name!r} lists no entity"
    assert not problems, f"The device page of {device_name!r}:\n  " + "\n  ".join(problems)
    return [row["name"] for row in rows]


def _device_page_problems(
    page: Page, device_id: str, device_name: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """Return the device page's entity rows and what is wrong with its texts."""
    body = page.locator("body")
    entities = {
        entity["entity_id"]: entity for entity in page.evaluate(DEVICE_ENTITIES_JS, device_id)
    }
    rows: list[dict[str, Any]] = body.evaluate(ENTITY_ROWS_JS)
    problems = []
    for row in rows:
        entity_id, name = row["entity_id"], row["name"]
        entity = entities.get(entity_id, {})
        key = entity.get("translation_key") or "<translation_key>"
        text = f"entity.{str(entity_id).split('.', 1)[0]}.{key}.name"
        # A lock named after its device is the device's main feature (its name is None).
        main_lock = name == device_name and str(entity_id).startswith("lock.")
        if not name:
            problems.append(f"{entity_id} shows no name ({text} missing?)")
        elif entity.get("translation_key") and not entity.get("name_text") and not main_lock:
            problems.append(
                f"{entity_id} shows {name!r}, not a name of its own: {text} is missing from the "
                "translations (Home Assistant then names it after its device or device class)"
            )
        elif name == device_name and (row["disabled"] or not main_lock):
            problems.append(
                f"{entity_id} is named {name!r} like its device: the frontend's fallback when "
                f"an entity has no name of its own, so {text} is missing from the translations"
            )
    for entity in entities.values():
        if entity["untranslated_options"]:
            problems.append(
                f"{entity['entity_id']} (translation key {entity['translation_key']}) has states "
                f"without a text: {entity['untranslated_options']}"
            )
    problems.extend(raw_keys(composed_text(body)))
    return rows, problems
