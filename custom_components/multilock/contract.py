"""The contract between the shared modules and each vendor in ``vendors/<name>/``.

A vendor is one ``VendorSpec``: it builds the entry's runtime data, declares its config-flow
steps, subentry flows, actions, diagnostics redaction and repairs, and hears about subentries
added and removed. The shared modules use nothing else of a vendor and never name one.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import (
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryFlow,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.service_info.dhcp import DhcpServiceInfo

from .coordinator import MultilockConfigEntry, MultilockCoordinator

type Awaitable[T] = Coroutine[Any, Any, T]


class VendorFlowSteps(ConfigFlow):
    """Base of a vendor's config-flow steps.

    The shared config flow mixes every vendor's steps into one flow (Home Assistant finds a
    step by its id), so each step id a vendor defines starts with the vendor's name.
    """


@dataclass(frozen=True, kw_only=True)
class VendorFlows[FlowT: VendorFlowSteps]:
    """A vendor's config flows: the entry point of each, typed against its own steps.

    ``user`` starts a new entry (the vendor's item in the menu); ``reauth`` and
    ``reconfigure`` are None where the vendor has none (the shared flow then aborts).
    ``subentries``: the subentry flows by subentry type, each type prefixed with the name.
    """

    steps: type[FlowT]
    user: Callable[[FlowT, dict[str, Any] | None], Awaitable[ConfigFlowResult]]
    reauth: Callable[[FlowT, Mapping[str, Any]], Awaitable[ConfigFlowResult]] | None = None
    reconfigure: Callable[[FlowT, dict[str, Any] | None], Awaitable[ConfigFlowResult]] | None = None
    subentries: Mapping[str, type[ConfigSubentryFlow]] = field(default_factory=dict)
    # DHCP discovery: the step a device found by DHCP starts, and the MAC prefixes (OUI,
    # upper-case hex without separators, e.g. "7C1EB3") of this vendor's devices; the
    # matchers themselves are in manifest.json.
    dhcp: Callable[[FlowT, DhcpServiceInfo], Awaitable[ConfigFlowResult]] | None = None
    dhcp_mac_prefixes: frozenset[str] = frozenset()


# Builds the runtime data of a loaded entry (its first refresh done); what it shares with
# other entries it releases through ``entry.async_on_unload``.
type RuntimeFactory = Callable[
    [HomeAssistant, MultilockConfigEntry], Awaitable[MultilockCoordinator[Any]]
]
# A repair flow for an issue this vendor raised, from the data.
type FixFlowFactory = Callable[[HomeAssistant, Mapping[str, str]], RepairsFlow]
# Called when an entry of this vendor is deleted (its own storage, its issues).
type EntryHook = Callable[[HomeAssistant, MultilockConfigEntry], Awaitable[None]]
# Called with the subentry that was added to or removed from a loaded entry.
type SubentryHook = Callable[[HomeAssistant, MultilockConfigEntry, ConfigSubentry], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class VendorSpec:
    """Everything one vendor brings (its registry line points at one of these).

    ``name`` is stored in the entry (``vendor``) and prefixes its step ids, subentry types,
    issue ids and translation keys. ``redact``: keys of entry, subentry and snapshot data
    that diagnostics redact; ``title_is_secret``: the entry title holds a secret (an email).
    ``register_actions`` registers the vendor's actions once, when multilock is set up.
    ``fix_flows``: repair flows by issue kind (the ``kind`` in the issue's data).
    ``migrate_subentry_types``: stored subentry types of older versions and their names now.
    ``entry_removed`` cleans up what the vendor keeps for an entry once it is deleted.
    """

    name: str
    setup: RuntimeFactory
    flows: VendorFlows[Any]
    redact: frozenset[str] = frozenset()
    title_is_secret: bool = False
    register_actions: Callable[[HomeAssistant], None] | None = None
    fix_flows: Mapping[str, FixFlowFactory] = field(default_factory=dict)
    subentry_added: SubentryHook | None = None
    subentry_removed: SubentryHook | None = None
    entry_removed: EntryHook | None = None
    migrate_subentry_types: Mapping[str, str] = field(default_factory=dict)
