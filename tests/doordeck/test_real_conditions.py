"""Doordeck under real conditions: a transient failure, a clock step (refused in any shape), a
lock whose clock is off, /time gone, a second factor wanted for a command, an error page, and the
account's email kept out of the logs."""

from __future__ import annotations

from homeassistant.components.lock import LockState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.multilock.const import DOMAIN
from simulators.doordeck import CLOCK_REFUSALS
from tests.clock import FakeClock

from .conftest import EMAIL, Cloud, coordinator_of


async def _command(hass: HomeAssistant, service: str, entity_id: str) -> None:
    await hass.services.async_call("lock", service, {"entity_id": entity_id}, blocking=True)


@pytest.mark.parametrize("status", [429, 503])
async def test_one_failed_poll_keeps_the_locks_and_their_commands(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry, status: int
) -> None:
    cloud.sim.inject("/site", status=status, times=1)
    await coordinator_of(loaded_entry).async_refresh()
    assert hass.states.get("lock.front_door").state == LockState.LOCKED
    await _command(hass, "unlock", "lock.front_door")  # sent, not skipped
    assert cloud.executes(cloud.front) == 1
    assert hass.states.get("lock.front_door").state == LockState.UNLOCKED


async def test_a_failure_that_persists_makes_the_locks_unavailable(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    cloud.sim.inject("/site", status=503, times=None)
    coordinator = coordinator_of(loaded_entry)
    await coordinator.async_refresh()
    await coordinator.async_refresh()
    assert hass.states.get("lock.front_door").state == STATE_UNAVAILABLE


async def test_a_clock_step_never_asks_for_the_password(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    """The host's clock is corrected after the offset to Doordeck was measured."""
    cloud.sim.clock_offset += 300
    await _command(hass, "unlock", "lock.front_door")
    assert hass.states.get("lock.front_door").state == LockState.UNLOCKED
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


@pytest.mark.parametrize("shape", ["401", "400"])
async def test_a_clock_refusal_of_any_shape_never_asks_for_the_password(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry, shape: str
) -> None:
    """Doordeck's clock moved, and it says so with a 401 or an unexplained 400: the command
    goes through after the clock is measured again; no sign-in prompt, no error."""
    cloud.sim.clock_refusal = CLOCK_REFUSALS[shape]
    await _command(hass, "lock", "lock.front_door")  # the offset to Doordeck is measured
    cloud.sim.clock_offset += 300
    await _command(hass, "unlock", "lock.front_door")
    assert hass.states.get("lock.front_door").state == LockState.UNLOCKED
    await hass.async_block_till_done()
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


async def test_a_clock_refusal_that_persists_is_a_clock_problem_not_a_sign_in(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    """The lock's clock is off: still refused after a refresh, a new measurement and a new
    signature. The user is told it is a clock problem; no sign-in prompt."""
    cloud.sim.clock_refusal = CLOCK_REFUSALS["401"]
    cloud.front.clock_offset = 300.0
    with pytest.raises(HomeAssistantError) as err:
        await _command(hass, "unlock", "lock.front_door")
    assert err.value.translation_key == "doordeck_clock"
    assert "clock difference" in str(err.value)
    await hass.async_block_till_done()
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert hass.states.get("lock.front_door").state == LockState.LOCKED
    assert cloud.sim.count("/auth/token/refresh") == 1


async def test_commands_go_ahead_when_doordeck_time_fails(
    hass: HomeAssistant,
    cloud: Cloud,
    loaded_entry: MockConfigEntry,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cloud.sim.fail_time = True
    await clock.sleep(16 * 60)  # the offset is measured again every 15 minutes
    await _command(hass, "unlock", "lock.front_door")
    assert "/time" in caplog.text or "clock" in caplog.text.lower()
    assert hass.states.get("lock.front_door").state == LockState.UNLOCKED


async def test_a_second_factor_wanted_for_a_command_raises_its_repair(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    cloud.sim.inject("/device/", kind="second_factor", times=1)
    with pytest.raises(HomeAssistantError) as err:
        await _command(hass, "unlock", "lock.front_door")
    assert err.value.translation_key == "doordeck_second_factor_required"
    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, f"doordeck_key_renewal_{loaded_entry.entry_id}"
    )
    assert issue is not None
    assert issue.is_fixable
    assert hass.states.get("lock.front_door").state == LockState.LOCKED


async def test_an_error_page_becomes_a_short_summary(
    hass: HomeAssistant, cloud: Cloud, loaded_entry: MockConfigEntry
) -> None:
    cloud.sim.inject("/device/", kind="html_error", status=502, times=2)
    with pytest.raises(HomeAssistantError) as err:
        await _command(hass, "unlock", "lock.front_door")
    assert "<" not in str(err.value)
    assert "502" in str(err.value)
    assert hass.states.get("lock.front_door").state == LockState.LOCKED


async def test_the_email_stays_out_of_the_log(
    hass: HomeAssistant,
    cloud: Cloud,
    entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator = coordinator_of(entry)
    await coordinator.async_refresh()
    cloud.sim.inject("/site", status=503, times=None)
    await coordinator.async_refresh()
    await coordinator.async_refresh()
    assert "Finished fetching" in caplog.text
    assert EMAIL not in caplog.text
