"""Each action's pickers offer exactly what the action can act on.

Home Assistant is set up against the four vendors' simulators, as each vendor's own tests set
it up (a The Keys gateway, a Doordeck account, two 2N devices, an InVue account with locks in
two stores), beside a device and a lock of another integration, made by "2N" and modelled
"LIVE Lock" so that a filter on the maker or the model alone would let them through.

For every action of services.yaml, every field whose selector picks something of Home
Assistant (entities, devices, areas) is read the way the frontend reads it (the rules of
``offered`` are the frontend's filters), and compared with what the action accepts: each
entity, device or area is given to the action alone, which either acts on it or refuses it
with a ServiceValidationError naming it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
import contextlib
from dataclasses import dataclass
from functools import partial
import json
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import (
    area_registry as ar,
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.helpers.service import async_get_all_descriptions
from homeassistant.helpers.translation import async_get_translations
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import yaml

from custom_components.multilock.const import DOMAIN
from custom_components.multilock.vendors.doordeck import (
    coordinator as doordeck_coordinator,
    flow as doordeck_flow,
)
from custom_components.multilock.vendors.doordeck.client import DoordeckClient
from custom_components.multilock.vendors.thekeys import gateways as thekeys_gateways
from custom_components.multilock.vendors.thekeys.client import TheKeysGateway
from simulators.doordeck import DoordeckSimulator
from simulators.invue import SEED_ENROLMENT_CODE, InVueApiSimulator
from simulators.thekeys import TheKeysGatewaySimulator
from simulators.two_n import TwoNDeviceSimulator
from tests.clock import FakeClock
from tests.doordeck import conftest as doordeck
from tests.invue import conftest as invue
from tests.thekeys import conftest as thekeys
from tests.two_n import conftest as two_n

SERVICES_YAML = Path(__file__).parent.parent / "custom_components" / DOMAIN / "services.yaml"
ICONS_JSON = SERVICES_YAML.with_name("icons.json")
SERVICES = yaml.safe_load(SERVICES_YAML.read_text(encoding="utf-8"))
OFFICE = "Office"  # an area without any InVue lock, with the other integration's device

# Whose each action is: its name must say so (several vendors have locks and devices).
VENDOR_NAMES = {
    "share_lock": "Doordeck",
    "revoke_lock_access": "Doordeck",
    "rotate_mobile_key": "2N",
    "set_mobile_key_location": "2N",
    "copy_mobile_keys": "2N",
    "get_key_certificates": "InVue",
    "unenroll_lock": "InVue",
}
# The errors with which an action refuses something it cannot act on.
REFUSALS = frozenset(
    {
        "no_lock_targeted",
        "not_a_multilock_lock",
        "action_not_supported",
        "two_n_not_a_device",
        "two_n_copy_needs_targets",  # the source device given as the only target
        "invue_not_a_lock",
    }
)


@dataclass
class Stack:
    """What is set up: the two 2N devices' ids (each action of copying needs the other)."""

    two_n_devices: tuple[str, str]

    def other_two_n(self, device_id: str) -> str:
        """A 2N device other than ``device_id``."""
        first, second = self.two_n_devices
        return second if device_id == first else first


@dataclass(frozen=True)
class Probe:
    """What an action needs beside the candidate given through one of its pickers."""

    data: Callable[[Stack, str, str], dict[str, Any]]  # (stack, field, candidate) -> data
    # Whether the action acted on the candidate, from its response (default: it answered).
    acted: Callable[[Any], bool] = lambda response: True


def _copy_data(stack: Stack, field: str, candidate: str) -> dict[str, Any]:
    """Copying needs a source and a target: the other 2N device is the other one."""
    other = stack.other_two_n(candidate)
    return {"device_id": [other]} if field == "source" else {"source": other}


USERS = {"users": ["guest@example.com"]}
PROBES: dict[str, Probe] = {
    "share_lock": Probe(lambda stack, field, candidate: USERS),
    "revoke_lock_access": Probe(lambda stack, field, candidate: USERS),
    "rotate_mobile_key": Probe(lambda stack, field, candidate: {}),
    "set_mobile_key_location": Probe(lambda stack, field, candidate: {"location": "Hall"}),
    "copy_mobile_keys": Probe(_copy_data),
    "get_key_certificates": Probe(
        lambda stack, field, candidate: {},
        acted=lambda response: any(account["locks"] for account in response["accounts"]),
    ),
    # Each lock it acts on is unenrolled for good: the other probes come first.
    "unenroll_lock": Probe(lambda stack, field, candidate: {"confirm": True}),
}


def pickers(description: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The fields of an action description that pick entities, devices or areas.

    A target picker counts as its entity and device fields: its entity filter, when it has
    none, lets every entity through (the frontend applies the device filter to devices only).
    """
    found = {
        field: spec["selector"]
        for field, spec in description.get("fields", {}).items()
        if set(spec.get("selector") or {}) & {"entity", "device", "area"}
    }
    if (target := description.get("target")) is not None:
        found["entity_id"] = {"entity": {"multiple": True, "filter": target.get("entity", {})}}
        found["device_id"] = {"device": {"multiple": True, "filter": target.get("device", {})}}
    return found


# -- the frontend's filters ----------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def all_devices(hass: HomeAssistant) -> list[dr.DeviceEntry]:
    """Every device (each belongs to a config entry here)."""
    registry = dr.async_get(hass)
    return [
        device
        for entry in hass.config_entries.async_entries()
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
    ]


def _device_integrations(hass: HomeAssistant, device: dr.DeviceEntry) -> set[str]:
    """The integrations of a device: of its config entry and of its entities."""
    entry = hass.config_entries.async_get_entry(device.config_entry_id or "")
    entities = er.async_entries_for_device(er.async_get(hass), device.id, True)
    return {entity.platform for entity in entities} | ({entry.domain} if entry else set())


def _device_matches(hass: HomeAssistant, device: dr.DeviceEntry, rule: Mapping[str, Any]) -> bool:
    assert set(rule) <= {"integration", "manufacturer", "model", "model_id"}, rule
    return (
        ("manufacturer" not in rule or device.manufacturer == rule["manufacturer"])
        and ("model" not in rule or device.model == rule["model"])
        and ("model_id" not in rule or device.model_id == rule["model_id"])
        and ("integration" not in rule or rule["integration"] in _device_integrations(hass, device))
    )


def _entity_matches(hass: HomeAssistant, entity_id: str, rule: Mapping[str, Any]) -> bool:
    assert set(rule) <= {"integration", "domain", "device"}, rule
    entity = er.async_get(hass).async_get(entity_id)
    device = dr.async_get(hass).async_get(entity.device_id) if entity and entity.device_id else None
    if "domain" in rule and entity_id.partition(".")[0] not in _as_list(rule["domain"]):
        return False
    if "integration" in rule and (entity is None or entity.platform != rule["integration"]):
        return False
    return "device" not in rule or (
        device is not None and _device_matches(hass, device, rule["device"])
    )


def offered(hass: HomeAssistant, selector: Mapping[str, Any]) -> set[str]:
    """What a field's picker lists: entity ids, device ids or area ids."""
    (kind, config), *_ = selector.items()
    config = config or {}
    devices = all_devices(hass)
    if kind == "entity":
        rules = _as_list(config.get("filter", {}))
        return {
            entity_id
            for entity_id in hass.states.async_entity_ids()
            if any(_entity_matches(hass, entity_id, rule) for rule in rules)
        }
    if kind == "device":
        assert "entity" not in config, config
        legacy = {
            key: config[key] for key in ("integration", "manufacturer", "model") if key in config
        }
        rules = _as_list(config.get("filter") or legacy)
        return {
            device.id for device in devices if any(_device_matches(hass, device, r) for r in rules)
        }
    assert kind == "area", selector
    assert "entity" not in config, config
    rules = _as_list(config.get("device", {}))
    return {
        device.area_id
        for device in devices
        if device.area_id and any(_device_matches(hass, device, rule) for rule in rules)
    }


# -- what the actions accept ---------------------------------------------------------------


def candidates(hass: HomeAssistant, selector: Mapping[str, Any]) -> list[str]:
    """Everything of the selector's kind in Home Assistant."""
    kind = next(iter(selector))
    if kind == "entity":
        return sorted(hass.states.async_entity_ids())
    if kind == "device":
        return sorted(device.id for device in all_devices(hass))
    return sorted(area.id for area in ar.async_get(hass).async_list_areas())


async def accepted(
    hass: HomeAssistant, stack: Stack, action: str, field: str, selector: Mapping[str, Any]
) -> set[str]:
    """The candidates the action acts on, given each alone through ``field``."""
    probe = PROBES[action]
    multiple = next(iter(selector.values())).get("multiple", False)
    acted_on = set()
    for candidate in candidates(hass, selector):
        data = probe.data(stack, field, candidate) | {field: [candidate] if multiple else candidate}
        try:
            response = await hass.services.async_call(
                DOMAIN, action, data, blocking=True, return_response=True
            )
        except ServiceValidationError as err:
            if err.translation_key not in REFUSALS:
                pytest.fail(f"{action} {data}: {err!r}, not a refusal of the target")
            continue
        except HomeAssistantError:
            response = None  # it tried, the vendor failed: it acts on this
        else:
            if not probe.acted(response):
                continue
        finally:
            await hass.async_block_till_done(wait_background_tasks=True)
        acted_on.add(candidate)
    return acted_on


# -- the stack -----------------------------------------------------------------------------


@pytest.fixture
async def stack(
    hass: HomeAssistant, hass_storage: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Stack]:
    """Every vendor set up against its simulator, and another integration's device and lock."""
    clock = FakeClock()  # The Keys' and Doordeck's pacing, without waiting for it
    monkeypatch.setattr(
        thekeys_gateways,
        "TheKeysGateway",
        partial(TheKeysGateway, clock=clock.time, sleep=clock.sleep),
    )
    client = partial(DoordeckClient, clock=clock.time, monotonic=clock.monotonic, sleep=clock.sleep)
    monkeypatch.setattr(doordeck_coordinator, "DoordeckClient", client)
    monkeypatch.setattr(doordeck_flow, "DoordeckClient", client)
    areas = ar.async_get(hass)
    shop_1, shop_2, office = (
        areas.async_get_or_create(name).id for name in (invue.SHOP_1, invue.SHOP_2, OFFICE)
    )

    async with contextlib.AsyncExitStack() as running:
        gateway = TheKeysGatewaySimulator(clock=clock.time, sleep=clock.sleep)
        gateway.add_lock(thekeys.FRONT_DOOR, thekeys.FRONT_CODE)
        gateway.add_lock(thekeys.BACK_DOOR, thekeys.BACK_CODE)
        doordeck_sim = DoordeckSimulator(clock=clock.time)
        owner = doordeck_sim.add_account(doordeck.EMAIL, doordeck.PASSWORD)
        doordeck_sim.add_account(USERS["users"][0], "pw")  # to share with
        site = doordeck_sim.add_site("Home")
        access = {owner.id: "ADMIN"}
        doordeck_cloud = doordeck.Cloud(
            doordeck_sim,
            owner,
            doordeck_sim.add_lock(site.id, "Porch", reports_locked=True, access=access),
            doordeck_sim.add_lock(site.id, "Garage", access=access),
        )
        # Without an event log: its pull runs as long as the entry, and the probes below wait
        # for every background task to end.
        quiet = {"auth": "digest", "protocol": "https", "log_service": "absent", "camera": False}
        intercoms = (
            TwoNDeviceSimulator(**quiet, switches=two_n.switches()),
            TwoNDeviceSimulator(**quiet, serial=two_n.SECOND_SERIAL, name="2N Access Unit"),
        )
        invue_sim = InVueApiSimulator(key_factory=invue._keys())
        invue_cloud = invue.Cloud(invue_sim, invue_sim.add_account(invue.OWNER))
        invue_sim.add_lock(invue.FRONT, SEED_ENROLMENT_CODE, "CAM")
        invue_sim.add_lock(invue.BACK)
        invue_sim.add_lock(invue.KIOSK, lock_type="CAM")
        for simulator in (gateway, doordeck_sim, *intercoms, invue_sim):
            await simulator.start()
            running.push_async_callback(simulator.stop)

        enrolled = {invue.FRONT: shop_1, invue.BACK: shop_1, invue.KIOSK: shop_2}
        for serial in enrolled:
            invue_sim.enrol(serial, invue.OWNER)
        invue_entry = invue.account_entry(invue_cloud, locks=enrolled)
        invue.store_certificates(
            hass_storage,
            invue_entry.entry_id,
            {serial: invue_cloud.certificate(serial) for serial in enrolled},
        )
        entries = [
            MockConfigEntry(
                domain=DOMAIN,
                version=2,
                title="The Keys gateway",
                data={"vendor": "thekeys", "host": gateway.address},
                unique_id=gateway.address,
                subentries_data=[
                    thekeys.lock_subentry(thekeys.FRONT_DOOR, thekeys.FRONT_CODE, "Front door"),
                    thekeys.lock_subentry(thekeys.BACK_DOOR, thekeys.BACK_CODE, "Back door"),
                ],
            ),
            doordeck.account_entry(
                doordeck_cloud, await doordeck.signed_in_credentials(doordeck_sim)
            ),
            *(two_n.make_entry(intercom) for intercom in intercoms),
            invue_entry,
        ]
        for entry in entries:
            entry.add_to_hass(hass)
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done(wait_background_tasks=True)

        other = MockConfigEntry(domain="other")
        other.add_to_hass(hass)
        foreign = dr.async_get(hass).async_get_or_create(
            config_entry_id=other.entry_id,
            identifiers={("other", "1")},
            manufacturer="2N",
            model="LIVE Lock",
            name="Other maker's door",
        )
        dr.async_get(hass).async_update_device(foreign.id, area_id=office)
        foreign_lock = er.async_get(hass).async_get_or_create(
            "lock", "other", "1", config_entry=other, device_id=foreign.id
        )
        hass.states.async_set(foreign_lock.entity_id, "locked")

        first, second = (
            device.id
            for entry, intercom in zip(entries[2:4], intercoms, strict=True)
            if (
                device := dr.async_get(hass).async_get_device_by_identifier(
                    (DOMAIN, intercom.info["serialNumber"]), entry.entry_id
                )
            )
        )
        # Each holds a key: copying from a device without keys is refused (nothing to copy).
        await hass.services.async_call(
            DOMAIN,
            "rotate_mobile_key",
            {"device_id": [first, second]},
            blocking=True,
            return_response=True,
        )
        yield Stack((first, second))

        for entry in entries:
            await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done(wait_background_tasks=True)


# -- the tests -----------------------------------------------------------------------------


def test_every_action_is_probed() -> None:
    """Every action is checked below, and none has a target picker (whose entities only
    a domain and an integration can filter, so it offers every vendor's locks)."""
    assert set(SERVICES) == set(PROBES) == set(VENDOR_NAMES)
    assert [action for action in SERVICES if "target" in SERVICES[action]] == []


@pytest.mark.parametrize("action", list(PROBES))
async def test_pickers_offer_what_the_action_acts_on(
    hass: HomeAssistant, stack: Stack, action: str
) -> None:
    description = (await async_get_all_descriptions(hass))[DOMAIN][action]
    # What the frontend gets: services.yaml, read (Home Assistant drops a file it cannot
    # read) and with each selector's defaults filled in.
    assert set(description["fields"]) == set(SERVICES[action].get("fields", {}))
    fields = pickers(description)
    assert fields, f"{action} has no picker"
    for field, selector in fields.items():
        offers = offered(hass, selector)
        assert offers, f"{action}.{field} offers nothing: the test would prove nothing"
        acts_on = await accepted(hass, stack, action, field, selector)
        assert offers == acts_on, (
            f"{action}.{field}: offered but refused {_named(hass, offers - acts_on)}, "
            f"acted on but not offered {_named(hass, acts_on - offers)}"
        )


def _named(hass: HomeAssistant, ids: set[str]) -> list[str]:
    """Entity ids as they are, devices and areas by name (for the failure message)."""
    devices, areas = dr.async_get(hass), ar.async_get(hass)
    return sorted(
        f"device {device.name}"
        if (device := devices.async_get(item))
        else f"area {area.name}"
        if (area := areas.async_get_area(item))
        else item
        for item in ids
    )


async def test_action_names_say_whose_they_are(hass: HomeAssistant) -> None:
    texts = await async_get_translations(hass, "en", "services", [DOMAIN])
    for action, vendor in VENDOR_NAMES.items():
        name = texts[f"component.{DOMAIN}.services.{action}.name"]
        assert vendor in name, f"{action} is named {name!r}: whose action is it?"


def test_action_icons_exist() -> None:
    """Each action's icon is one the frontend has (an unknown one shows blank)."""
    frontend = pytest.importorskip("hass_frontend")
    icon_list = Path(frontend.__file__).parent / "static" / "mdi" / "iconList.json"
    known = {f"mdi:{icon['name']}" for icon in json.loads(icon_list.read_text())}
    icons = json.loads(ICONS_JSON.read_text())["services"]
    assert set(icons) == set(SERVICES)
    missing = {
        action: icon["service"] for action, icon in icons.items() if icon["service"] not in known
    }
    assert not missing, f"icons the frontend does not have: {missing}"
