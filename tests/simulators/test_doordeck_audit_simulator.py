"""The Doordeck simulator's audit trail, spoken to as raw HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from simulators.doordeck import (
    ACCEPT_AUDIT,
    DoordeckSimulator,
    SimAccount,
    SimLock,
    add_audit_entry,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
async def cloud() -> AsyncIterator[tuple[DoordeckSimulator, SimAccount, SimLock]]:
    sim = DoordeckSimulator()
    owner = sim.add_account("owner@example.com", "pw")
    site = sim.add_site("Home")
    lock = sim.add_lock(site.id, "Front", access={owner.id: "ADMIN"})
    await sim.start()
    yield sim, owner, lock
    await sim.stop()


async def _trail(
    sim: DoordeckSimulator, lock: SimLock, *, accept: str = ACCEPT_AUDIT, **params: Any
) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{sim.url}/auth/token", json={"email": "owner@example.com", "password": "pw"}
        ) as reply:
            token = (await reply.json())["authToken"]
        headers = {"Authorization": f"Bearer {token}", "Accept": accept}
        query = {key: str(value) for key, value in params.items()}
        async with session.get(
            f"{sim.url}/device/{lock.id}/log", headers=headers, params=query
        ) as reply:
            return reply.status, await reply.json()


async def test_a_window_newest_first_at_most_a_page(
    cloud: tuple[DoordeckSimulator, SimAccount, SimLock],
) -> None:
    sim, owner, lock = cloud
    now = sim.now()
    for offset in range(5):
        add_audit_entry(sim, lock.id, "DOOR_OPEN", user=owner, at=now - 100 + offset)
    add_audit_entry(sim, lock.id, "DOOR_CLOSE", at=now - 1000)
    status, entries = await _trail(sim, lock, start=int(now - 200), end=int(now))
    assert status == 200
    assert [entry["timestamp"] for entry in entries] == sorted(
        (entry["timestamp"] for entry in entries), reverse=True
    )
    assert len(entries) == 5
    assert entries[0]["displayName"] == "owner"
    assert entries[0]["email"] == owner.email
    sim.audit_page_size = 2
    _, page = await _trail(sim, lock, start=int(now - 2000), end=int(now))
    assert [entry["timestamp"] for entry in page] == [
        entries[0]["timestamp"],
        entries[1]["timestamp"],
    ]
    _, old = await _trail(sim, lock, start=int(now - 2000), end=int(now - 500))
    assert old[0]["user"] is None  # the lock's own entry
    with pytest.raises(ValueError, match="audit entry types"):
        add_audit_entry(sim, lock.id, "EXPLODED")


async def test_refusals(cloud: tuple[DoordeckSimulator, SimAccount, SimLock]) -> None:
    sim, owner, lock = cloud
    now = int(sim.now())
    assert (await _trail(sim, lock, start=now))[0] == 400
    assert (await _trail(sim, lock, start=now, end=now - 1))[1]["code"] == 400.31
    assert (await _trail(sim, lock, start=0, end=now))[1]["code"] == 400.31  # > 31 days
    assert (await _trail(sim, lock, accept="application/json", start=now, end=now))[0] == 406
    lock.users[owner.id].role = "USER"
    assert (await _trail(sim, lock, start=now, end=now))[1]["code"] == 403.4
