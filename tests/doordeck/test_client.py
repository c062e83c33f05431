"""Tests of the Doordeck cloud client against the simulator and a scripted fake server."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
import dataclasses
from datetime import UTC, datetime, timedelta
import itertools
import json
import logging
import time
from typing import Any
import uuid

import aiohttp
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID
import jwt
import pytest

from custom_components.multilock.vendors.doordeck import client as client_module
from custom_components.multilock.vendors.doordeck.client import (
    ACCEPT_V2,
    ACCEPT_V3,
    DEFAULT_OPERATIONS_PER_SECOND,
    DoordeckApiError,
    DoordeckAuthenticationError,
    DoordeckClient,
    DoordeckClockError,
    DoordeckConnectionError,
    DoordeckCredentials,
    DoordeckError,
    DoordeckKeyNotRegisteredError,
    DoordeckLock,
    DoordeckLockOfflineError,
    DoordeckLockTimeoutError,
    DoordeckMalformedReplyError,
    DoordeckOperationPendingError,
    DoordeckRateLimitedError,
    DoordeckReplayError,
    DoordeckSecondFactorRequired,
    DoordeckTimeoutError,
    DoordeckTokens,
    DoordeckUserNotFoundError,
    DoordeckVerificationError,
    OperationResult,
    ShareStatus,
    ShareUser,
    VerificationMethod,
)
from simulators.doordeck import CLOCK_REFUSALS, DoordeckSimulator, SimAccount, SimLock
from tests.clock import FakeClock

EMAIL, PASSWORD = "owner@example.com", "secret"


@pytest.fixture
async def sim() -> AsyncIterator[DoordeckSimulator]:
    """A started simulator."""
    simulator = DoordeckSimulator()
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp session."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def _client(url: str, session: aiohttp.ClientSession, **kwargs: Any) -> DoordeckClient:
    # Paced, but fast: the tests of pacing itself use the default pace.
    kwargs.setdefault("operations_per_second", 200.0)
    return DoordeckClient(session, base_url=url, **kwargs)


class VirtualTime:
    """A clock that moves only when someone sleeps on it: nothing really waits.

    Give the same one to the simulator (``clock``) and the client (``clock``, ``monotonic``,
    ``sleep``) so that both see the same time.
    """

    def __init__(self) -> None:
        self.now = time.time()
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    def client_kwargs(self) -> dict[str, Any]:
        return {"clock": self.clock, "monotonic": self.clock, "sleep": self.sleep}


@pytest.fixture
async def vsim() -> AsyncIterator[tuple[DoordeckSimulator, VirtualTime]]:
    """A started simulator on a virtual clock, and that clock."""
    virtual = VirtualTime()
    simulator = DoordeckSimulator(clock=virtual.clock)
    await simulator.start()
    yield simulator, virtual
    await simulator.stop()


async def _ready(
    sim: DoordeckSimulator, session: aiohttp.ClientSession, **kwargs: Any
) -> tuple[DoordeckClient, SimAccount, SimLock]:
    """An owner account with one lock, signed in and with a registered key."""
    account = sim.add_account(EMAIL, PASSWORD)
    site = sim.add_site("Home")
    lock = sim.add_lock(site.id, "Front door", access={account.id: "ADMIN"})
    client = _client(sim.url, session, **kwargs)
    await client.login(EMAIL, PASSWORD)
    await client.register_key()
    return client, account, lock


def _jwts(sim: DoordeckSimulator) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Header and claims of every JWT sent to /execute."""
    return [
        (
            jwt.get_unverified_header(r.body.decode()),
            jwt.decode(r.body.decode(), options={"verify_signature": False}),
        )
        for r in sim.requests
        if r.path.endswith("/execute")
    ]


def _guests(sim: DoordeckSimulator, count: int) -> list[SimAccount]:
    return [sim.add_account(f"guest{i}@example.com", "pw") for i in range(count)]


def _share_users(accounts: list[SimAccount]) -> list[ShareUser]:
    return [ShareUser(a.id, a.public_key_b64) for a in accounts]


# -- sign-in, tokens, locks -----------------------------------------------------------


async def test_login_register_and_list_locks(
    sim: DoordeckSimulator, session: aiohttp.ClientSession
) -> None:
    """Sign in, register a key, list locks with their details."""
    seen: list[DoordeckTokens] = []
    client, account, lock = await _ready(sim, session, on_tokens_changed=seen.append)
    other = sim.add_lock(
        sim.add_site("Office").id,
        "Back door",
        unlock_time=8.5,
        batch_sharing=False,
        connected=False,
        reports_locked=True,
        access={account.id: "USER"},
    )
    assert len(seen) == 1
    assert client.tokens == seen[0]
    assert client.user_id == account.id
    assert not client.awaiting_verification
    assert not client.key_needs_renewal()
    assert client.certificate_expiry is not None

    locks = {lk.id: lk for lk in await client.list_locks()}
    assert locks[lock.id] == DoordeckLock(
        id=lock.id,
        name="Front door",
        role="ADMIN",
        unlock_time=5.0,
        batch_sharing=True,
        connected=True,
        locked=None,
        start=None,
        end=None,
    )
    back = locks[other.id]
    assert (back.role, back.unlock_time, back.batch_sharing) == ("USER", 8.5, False)
    assert (back.connected, back.locked) == (False, True)

    login = next(r for r in sim.requests if r.path == "/auth/token")
    assert login.headers["Accept"] == ACCEPT_V2
    details = [r for r in sim.requests if r.path.startswith("/device/")]
    assert len(details) == 2
    assert all(r.headers["Accept"] == ACCEPT_V3 for r in details)
    assert all(r.headers["Authorization"].startswith("Bearer ") for r in details)


async def test_wrong_password(sim: DoordeckSimulator, session: aiohttp.ClientSession) -> None:
    """A refused sign-in is an authentication error."""
    sim.add_account(EMAIL, PASSWORD)
    client = _client(sim.url, session)
    with pytest.raises(DoordeckAuthenticationError) as err:
        await client.login(EMAIL, "wrong")
    assert err.value.status == 401
    assert err.value.code == 401.6
    assert "Invalid email or password" in str(err.value)


async def test_not_signed_in(sim: DoordeckSimulator, session: aiohttp.ClientSession) -> None:
    """Without tokens nothing authenticated is sent."""
    client = _client(sim.url, session)
    with pytest.raises(DoordeckAuthenticationError):
        await client.list_locks()
    with pytest.raises(DoordeckAuthenticationError):
        await client.refresh_tokens()
    assert sim.requests == []


async def test_refresh_on_401_and_retry_with_new_jti(
    sim: DoordeckSimulator, session: aiohttp.ClientSession
) -> None:
    """An expired auth token is refreshed once and the operation re-signed."""
    seen: list[DoordeckTokens] = []
    client, _, lock = await _ready(sim, session, on_tokens_changed=seen.append)
    old = client.tokens
    sim.expire_auth_tokens()
    assert await client.unlock(lock.id) is OperationResult.DONE
    assert not lock.locked
    assert sim.count("/auth/token/refresh") == 1
    assert len(seen) == 2
    assert seen[-1] != old
    executes = [r for r in sim.requests if r.path.endswith("/execute")]
    assert [r.status for r in executes] == [401, 204]
    jtis = [claims["jti"] for _, claims in _jwts(sim)]
    assert len(set(jtis)) == 2

    sim.expire_auth_tokens()
    assert len(await client.list_locks()) == 1
    assert sim.count("/auth/token/refresh") == 2


async def test_refresh_refused(sim: DoordeckSimulator, session: aiohttp.ClientSession) -> None:
    """When the refresh token is refused, the caller must sign in again."""
    client, _, lock = await _ready(sim, session)
    sim.expire_auth_tokens()
    sim.revoke_refresh_tokens()
    with pytest.raises(DoordeckAuthenticationError) as err:
        await client.lock(lock.id)
    assert "sign in again" in str(err.value)
    assert sim.count("/auth/token/refresh") == 1
    assert sim.count(f"/device/{lock.id}/execute") == 1


async def test_concurrent_401_refreshes_once(
    sim: DoordeckSimulator, session: aiohttp.ClientSession
) -> None:
    """Requests failing together with 401 share one refresh."""
    client, _, _ = await _ready(sim, session)
    sim.expire_auth_tokens()
    results = await asyncio.gather(*(client.list_locks() for _ in range(3)))
    assert all(len(r) == 1 for r in results)
    assert sim.count("/auth/token/refresh") == 1


# -- second factor and key renewal ----------------------------------------------------


async def test_second_factor(sim: DoordeckSimulator, session: aiohttp.ClientSession) -> None:
    """423 → verify → check with the code signed by the same key."""
    account = sim.add_account(EMAIL, PASSWORD, second_factor=True)
    lock = sim.add_lock(sim.add_site("Home").id, "Door", access={account.id: "ADMIN"})
    client = _client(sim.url, session)
    await client.login(EMAIL, PASSWORD)
    with pytest.raises(DoordeckSecondFactorRequired) as err:
        await client.register_key()
    assert err.value.status == 423
    assert client.awaiting_verification
    assert client.key_needs_renewal()
    with pytest.raises(DoordeckKeyNotRegisteredError):
        await client.unlock(lock.id)

    assert await client.start_verification(VerificationMethod.SMS) == "SMS"
    verify = next(r for r in sim.requests if r.path == "/auth/certificate/verify")
    assert verify.query == "method=SMS"
    with pytest.raises(DoordeckVerificationError):
        await client.complete_verification("not the code")
    assert client.awaiting_verification

    sim.verify_reply_json = True
    assert await client.start_verification() == "EMAIL"
    await client.complete_verification(f" {sim.sent_codes(EMAIL)[-1]} ")
    assert client.credentials.pending_private_key is None
    assert client.user_id == account.id
    pending_key = base64.b64decode(json.loads(verify.body)["ephemeralKey"])
    assert sim.registered_keys(account.id) == [pending_key[-32:]]
    assert await client.unlock(lock.id) is OperationResult.DONE


async def test_verification_without_key(
    sim: DoordeckSimulator, session: aiohttp.ClientSession
) -> None:
    """Verification needs a key first."""
    client = _client(sim.url, session)
    with pytest.raises(DoordeckKeyNotRegisteredError):
        await client.start_verification()


async def test_key_renewal(session: aiohttp.ClientSession) -> None:
    """A leaf with ≤ 7 days left asks for renewal; renewing registers a fresh key."""
    sim = DoordeckSimulator(leaf_ttl=6 * 86400)
    await sim.start()
    try:
        client, account, lock = await _ready(sim, session)
        expiry = client.certificate_expiry
        assert expiry is not None
        assert expiry - datetime.now(UTC) < timedelta(days=6, minutes=1)
        assert client.key_needs_renewal()
        assert not client.key_needs_renewal(expiry - timedelta(days=8))
        sim.leaf_ttl = 30 * 86400
        await client.renew_key()
        assert not client.key_needs_renewal()
        assert len(sim.registered_keys(account.id)) == 2
        assert await client.lock(lock.id) is OperationResult.DONE
        leaf = _jwts(sim)[-1][0]["x5c"][0]
        assert leaf == client.credentials.certificate_chain[0]
    finally:
        await sim.stop()


async def test_key_renewal_with_second_factor(
    sim: DoordeckSimulator, session: aiohttp.ClientSession
) -> None:
    """The old key keeps signing until the new one is verified."""
    client, account, lock = await _ready(sim, session)
    old = client.credentials
    account.second_factor = True
    with pytest.raises(DoordeckSecondFactorRequired):
        await client.renew_key()
    assert client.awaiting_verification
    pending = client.credentials.pending_private_key
    assert pending is not None
    assert client.credentials.private_key == old.private_key
    assert await client.unlock(lock.id) is OperationResult.DONE

    # the pending key survives a restart
    resumed = _client(sim.url, session, credentials=client.credentials)
    assert resumed.awaiting_verification
    await resumed.start_verification()
    await resumed.complete_verification(sim.sent_codes(EMAIL)[-1])
    new = resumed.credentials
    assert new.private_key == pending
    assert new.pending_private_key is None
    assert len(sim.registered_keys(account.id)) == 2
    assert await resumed.lock(lock.id) is OperationResult.DONE


async def test_expired_certificate(sim: DoordeckSimulator, session: aiohttp.ClientSession) -> None:
    """An expired leaf is not used to sign."""
    client, _, lock = await _ready(sim, session)
    client._expiry = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(DoordeckKeyNotRegisteredError):
        await client.unlock(lock.id)


# -- credentials ----------------------------------------------------------------------


async def test_credentials_round_trip(
    sim: DoordeckSimulator, session: aiohttp.ClientSession
) -> None:
    """Stored credentials resume a client without signing in or registering again."""
    client, account, lock = await _ready(sim, session)
    stored = json.loads(json.dumps(client.credentials.to_dict()))
    creds = DoordeckCredentials.from_dict(stored)
    assert creds == client.credentials
    text = repr(creds)
    assert client.tokens is not None
    assert client.tokens.auth_token not in text
    assert stored["private_key"] not in text
    assert account.id in text

    resumed = _client(sim.url, session, credentials=creds)
    assert resumed.user_id == account.id
    assert resumed.certificate_expiry == client.certificate_expiry
    before = sim.count("/auth/")
    assert await resumed.unlock(lock.id) is OperationResult.DONE
    assert sim.count("/auth/") == before
    assert DoordeckCredentials.from_dict({}) == DoordeckCredentials()


@pytest.mark.parametrize(
    "data",
    [
        {"certificate_chain": "abc"},
        {"certificate_chain": [1]},
        {"private_key": "***"},
        {"private_key": base64.b64encode(b"short").decode()},
        {"pending_private_key": 5},
    ],
)
def test_credentials_from_bad_dict(data: dict[str, Any]) -> None:
    """Corrupt stored data raises the client's own error."""
    with pytest.raises(DoordeckError):
        DoordeckCredentials.from_dict(data)


def test_bad_raw_private_key() -> None:
    """A stored key of the wrong size is refused."""
    with pytest.raises(DoordeckError):
        DoordeckClient(None, DoordeckCredentials(private_key=b"x"))  # type: ignore[arg-type]


def test_unreadable_stored_chain() -> None:
    """An unreadable stored chain is dropped so that the key gets renewed."""
    creds = DoordeckCredentials(private_key=bytes(32), certificate_chain=("bm90IGEgY2VydA==",))
    client = DoordeckClient(None, creds)  # type: ignore[arg-type]
    assert client.key_needs_renewal()
    assert client.credentials.certificate_chain == ()


# -- signed operations ----------------------------------------------------------------


async def test_lock_unlock_jwt(sim: DoordeckSimulator, session: aiohttp.ClientSession) -> None:
    """MUTATE_LOCK JWTs carry the chain, ids, times and a fresh jti."""
    client, account, lock = await _ready(sim, session)
    assert await client.unlock(lock.id) is OperationResult.DONE
    assert not lock.locked
    assert await client.lock(lock.id) is OperationResult.DONE
    assert sim.locks[lock.id].locked
    sent = _jwts(sim)
    assert [c["operation"] for _, c in sent] == [
        {"type": "MUTATE_LOCK", "locked": False},
        {"type": "MUTATE_LOCK", "locked": True},
    ]
    for header, claims in sent:
        assert header["alg"] == "EdDSA"
        assert header["typ"] == "JWT"
        assert header["x5c"] == list(client.credentials.certificate_chain)
        assert claims["iss"] == account.id
        assert claims["sub"] == lock.id
        assert claims["nbf"] == claims["iat"]
        assert claims["exp"] - claims["iat"] == 60
        uuid.UUID(claims["jti"])
    assert sent[0][1]["jti"] != sent[1][1]["jti"]
    assert all(
        r.headers["Content-Type"] == "application/jwt"
        for r in sim.requests
        if r.path.endswith("/execute")
    )


@pytest.mark.parametrize("offset", [3600.0, -7200.0])
async def test_clock_offset(session: aiohttp.ClientSession, offset: float) -> None:
    """nbf/iat/exp follow the server's clock, not ours."""
    sim = DoordeckSimulator(clock_offset=offset)
    await sim.start()
    try:
        client, _, lock = await _ready(sim, session)
        assert await client.unlock(lock.id) is OperationResult.DONE
        assert client.time_offset == pytest.approx(offset, abs=2)
        claims = _jwts(sim)[0][1]
        assert claims["iat"] == pytest.approx(sim.now(), abs=5)
    finally:
        await sim.stop()


async def test_time_remeasured_after_15_minutes(
    sim: DoordeckSimulator, session: aiohttp.ClientSession
) -> None:
    """The offset is measured once, then again when it is older than 15 minutes."""
    shift = [0.0]  # time passing, for us and for the simulator alike

    def advance(seconds: float) -> None:
        shift[0] += seconds
        sim.clock_offset += seconds

    client, _, lock = await _ready(sim, session, clock=lambda: time.time() + shift[0])
    await client.unlock(lock.id)
    await client.lock(lock.id)
    assert sim.count("/time") == 1
    advance(14 * 60)
    await client.unlock(lock.id)
    assert sim.count("/time") == 1
    advance(2 * 60)
    await client.lock(lock.id)
    assert sim.count("/time") == 2
    assert "Authorization" not in next(r for r in sim.requests if r.path == "/time").headers


@pytest.mark.parametrize(
    ("count", "batch", "requests"),
    [(1, True, 1), (25, True, 1), (60, True, 3), (1, False, 1), (25, False, 25), (60, False, 60)],
)
async def test_share(
    sim: DoordeckSimulator,
    session: aiohttp.ClientSession,
    count: int,
    batch: bool,
    requests: int,
) -> None:
    """Batches of at most 25 where supported, else one ADD_USER per user."""
    client, _, lock = await _ready(sim, session)
    lock.batch_sharing = batch
    (target,) = await client.list_locks()
    assert target.batch_sharing is batch
    guests = _guests(sim, count)
    users = [
        ShareUser(
            g.id,
            g.public_key_b64,
            role="ADMIN" if i % 2 else "USER",
            start=i or None,
            end=2_000_000_000 if i % 3 else None,
        )
        for i, g in enumerate(guests)
    ]
    outcomes = await client.share(target, users)
    assert [o.user_id for o in outcomes] == [g.id for g in guests]
    assert {o.status for o in outcomes} == {ShareStatus.DONE}
    assert all(o.reason is None for o in outcomes)
    assert all(g.id in lock.users for g in guests)
    assert lock.users[guests[-1].id].role == ("ADMIN" if (count - 1) % 2 else "USER")
    sent = _jwts(sim)
    assert len(sent) == requests
    assert len({c["jti"] for _, c in sent}) == requests
    kinds = {c["operation"]["type"] for _, c in sent}
    assert kinds == {"BATCH_ADD_USER" if batch else "ADD_USER"}
    if batch:
        sizes = [len(c["operation"]["users"]) for _, c in sent]
        assert sizes == [min(25, count - 25 * i) for i in range(requests)]
        assert max(sizes) <= 25


async def test_share_failures_do_not_abort(
    sim: DoordeckSimulator, session: aiohttp.ClientSession
) -> None:
    """A refused batch or user fails alone; the others are shared."""
    client, _, lock = await _ready(sim, session)
    guests = _guests(sim, 30)
    users = _share_users(guests)
    users[3] = ShareUser(guests[3].id, guests[4].public_key_b64)  # wrong key: refused
    (target,) = await client.list_locks()

    outcomes = await client.share(target, users)
    statuses = [o.status for o in outcomes]
    assert statuses == [ShareStatus.FAILED] * 25 + [ShareStatus.DONE] * 5
    assert isinstance(outcomes[0].error, DoordeckApiError)
    assert outcomes[0].reason is not None
    assert "publicKey does not match" in outcomes[0].reason

    lock.batch_sharing = False
    single = await client.share(dataclasses.replace(target, batch_sharing=False), users[:6])
    statuses = [o.status for o in single]
    assert statuses == [ShareStatus.DONE] * 3 + [ShareStatus.FAILED] + [ShareStatus.DONE] * 2
    # Each refused request (a 400 could be a clock refusal) is signed again once after the
    # clock was measured again: the refused batch and the refused single user.
    assert len(_jwts(sim)) == 2 + 6 + 2
    assert sim.count("/time") == 1 + 2


async def test_share_queued_and_stopped_by_auth(
    sim: DoordeckSimulator, session: aiohttp.ClientSession
) -> None:
    """202 is reported as queued; an authentication failure stops the rest."""
    client, _, lock = await _ready(sim, session)
    (target,) = await client.list_locks()
    users = _share_users(_guests(sim, 30))
    lock.fault = "queued"
    assert {o.status for o in await client.share(target, users)} == {ShareStatus.QUEUED}
    lock.fault = None

    sim.expire_auth_tokens()
    sim.revoke_refresh_tokens()
    before = sim.count("/device/")
    outcomes = await client.share(target, users)
    assert {o.status for o in outcomes} == {ShareStatus.FAILED}
    assert all(isinstance(o.error, DoordeckAuthenticationError) for o in outcomes)
    assert sim.count("/device/") == before + 1
    assert await client.share(target, []) == []


async def test_revoke_and_lookup(sim: DoordeckSimulator, session: aiohttp.ClientSession) -> None:
    """Users are found by email or id, shared with and revoked."""
    client, _, lock = await _ready(sim, session)
    guest, other = _guests(sim, 2)
    by_email = await client.lookup_user(email="GUEST0@example.com")
    assert (by_email.id, by_email.public_key) == (guest.id, guest.public_key_b64)
    by_id = await client.lookup_user(user_id=other.id)
    assert by_id.id == other.id
    query = [json.loads(r.body) for r in sim.requests if r.path == "/directory/query"]
    assert query == [{"email": "GUEST0@example.com"}, {"localKey": other.id}]
    with pytest.raises(DoordeckUserNotFoundError) as err:
        await client.lookup_user(email="nobody@example.com")
    assert err.value.status == 404
    with pytest.raises(ValueError, match="exactly one"):
        await client.lookup_user()
    with pytest.raises(ValueError, match="exactly one"):
        await client.lookup_user(email="a", user_id="b")

    (target,) = await client.list_locks()
    users = [ShareUser(u.id, u.public_key) for u in (by_email, by_id)]
    await client.share(target, users)
    assert await client.revoke(lock.id, [guest.id, other.id]) is OperationResult.DONE
    assert guest.id not in lock.users
    assert other.id not in lock.users
    assert _jwts(sim)[-1][1]["operation"] == {
        "type": "REMOVE_USER",
        "users": [guest.id, other.id],
    }


def test_share_user_validation() -> None:
    """Unknown roles and an end before the start are refused."""
    with pytest.raises(ValueError, match="Role"):
        ShareUser("u", "k", role="OWNER")
    with pytest.raises(ValueError, match="end"):
        ShareUser("u", "k", start=10, end=5)


@pytest.mark.parametrize(
    ("fault", "error", "status"),
    [
        ("offline", DoordeckLockOfflineError, 503),
        ("slow", DoordeckLockTimeoutError, 504),
        ("rate_limit", DoordeckRateLimitedError, 429),
        ("pending", DoordeckOperationPendingError, 425),
    ],
)
async def test_faults(
    sim: DoordeckSimulator,
    session: aiohttp.ClientSession,
    fault: Any,
    error: type[DoordeckApiError],
    status: int,
) -> None:
    """Each lock fault maps to its own exception with the vendor's meaning."""
    client, _, lock = await _ready(sim, session, max_retry_wait=0)  # no wait after a 429
    lock.fault = fault
    with pytest.raises(error) as err:
        await client.unlock(lock.id)
    assert err.value.status == status
    assert err.value.message
    assert str(err.value).startswith(error.meaning)


async def test_queued_offline_and_rate_limited(
    sim: DoordeckSimulator, session: aiohttp.ClientSession
) -> None:
    """202 is queued; a disconnected lock is offline; a 429 anywhere is rate limiting."""
    client, _, lock = await _ready(sim, session)
    lock.fault = "queued"
    assert await client.unlock(lock.id) is OperationResult.QUEUED
    lock.fault = None
    lock.connected = False
    with pytest.raises(DoordeckLockOfflineError):
        await client.lock(lock.id)
    sim.rate_limited = True
    with pytest.raises(DoordeckRateLimitedError):
        await client.list_locks()


async def test_replay(
    sim: DoordeckSimulator, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-used jti is reported as a replay."""
    client, _, lock = await _ready(sim, session)
    fixed = uuid.uuid4()
    monkeypatch.setattr(uuid, "uuid4", lambda: fixed)
    await client.unlock(lock.id)
    with pytest.raises(DoordeckReplayError) as err:
        await client.unlock(lock.id)
    assert err.value.status == 409


async def test_other_api_error(sim: DoordeckSimulator, session: aiohttp.ClientSession) -> None:
    """Other statuses are DoordeckApiError with status, code and message."""
    client, _, _ = await _ready(sim, session)
    with pytest.raises(DoordeckApiError) as err:
        await client.get_lock("no-such-lock")
    assert type(err.value) is DoordeckApiError
    assert (err.value.status, err.value.code, err.value.message) == (404, 404.1, "Lock not found")
    assert "code 404.1" in str(err.value)


# -- a scripted fake server for malformed replies and timeouts ------------------------

type Route = tuple[int, Any] | Callable[[web.Request], Any]


class FakeServer:
    """Answers each (method, path) with a scripted status and body."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        route = self.routes.get((request.method, request.path), (404, {"message": "nope"}))
        if callable(route):
            route = await route(request)
        status, body = route
        if isinstance(body, bytes):
            return web.Response(status=status, body=body)
        if isinstance(body, str):
            return web.Response(status=status, text=body)
        return web.json_response(body, status=status)


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    """A started fake server."""
    server = FakeServer()
    await server.start()
    yield server
    await server.stop()


def _cert(key: Ed25519PrivateKey, days: float) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, None)
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def _signed_in(fake: FakeServer, session: aiohttp.ClientSession, **kwargs: Any) -> DoordeckClient:
    return _client(
        fake.url, session, credentials=DoordeckCredentials(DoordeckTokens("a", "r")), **kwargs
    )


@pytest.mark.parametrize(
    "body", ["<html>not json</html>", {"authToken": "a"}, ["authToken"], b"\xff\xfe"]
)
async def test_malformed_login(fake: FakeServer, session: aiohttp.ClientSession, body: Any) -> None:
    """Unreadable sign-in replies are malformed, never a crash."""
    fake.routes[("POST", "/auth/token")] = (200, body)
    with pytest.raises(DoordeckMalformedReplyError):
        await _client(fake.url, session).login("a", "b")


@pytest.mark.parametrize(
    ("routes", "call"),
    [
        ({("GET", "/site"): (200, {"sites": "x"})}, "list_locks"),
        ({("GET", "/site"): (200, "garbage")}, "list_locks"),
        ({("GET", "/site"): (200, [{"name": "no id"}])}, "list_locks"),
        (
            {("GET", "/site"): (200, [{"id": "s"}]), ("GET", "/site/s/device"): (200, {})},
            "list_locks",
        ),
        (
            {
                ("GET", "/site"): (200, [{"id": "s"}]),
                ("GET", "/site/s/device"): (200, [{"id": "d"}]),
                ("GET", "/device/d"): (200, []),
            },
            "list_locks",
        ),
        ({("POST", "/auth/certificate"): (200, {"userId": "u"})}, "register_key"),
        (
            {("POST", "/auth/certificate"): (200, {"certificateChain": ["!!"], "userId": "u"})},
            "register_key",
        ),
        (
            {("POST", "/auth/certificate"): (200, {"certificateChain": ["AAAA"], "userId": "u"})},
            "register_key",
        ),
        (
            {("POST", "/auth/certificate"): (200, {"certificateChain": [], "userId": "u"})},
            "register_key",
        ),
        ({("GET", "/time"): (200, {"now": "soon"})}, "sync_time"),
        ({("GET", "/time"): (200, {"now": float("nan")})}, "sync_time"),
        ({("POST", "/auth/token/refresh"): (200, {"refreshToken": "r"})}, "refresh_tokens"),
        ({("POST", "/directory/query"): (200, {"id": "u"})}, "lookup_user"),
    ],
)
async def test_malformed_replies(
    fake: FakeServer,
    session: aiohttp.ClientSession,
    routes: dict[tuple[str, str], Route],
    call: str,
) -> None:
    """Missing fields, wrong types and unreadable bodies raise DoordeckMalformedReplyError."""
    fake.routes.update(routes)
    client = _signed_in(fake, session)
    method = getattr(client, call)
    kwargs = {"email": "x@example.com"} if call == "lookup_user" else {}
    with pytest.raises(DoordeckMalformedReplyError):
        await method(**kwargs)


async def test_tolerant_shapes(fake: FakeServer, session: aiohttp.ClientSession) -> None:
    """siteId / deviceId, wrapped lists, capability lists, ms and ISO times are all read."""
    fake.routes.update(
        {
            ("GET", "/site"): (200, {"sites": [{"siteId": "s1"}, {"siteId": 7}, "junk"]}),
            ("GET", "/site/s1/device"): (200, {"devices": [{"deviceId": "d1", "name": "One"}]}),
            ("GET", "/site/7/device"): (200, [{"deviceId": "d1"}, {"id": "d2"}]),
            ("GET", "/device/d1"): (
                200,
                {
                    "role": "admin",
                    "start": 1_700_000_000_000,
                    "end": "2030-01-01T00:00:00Z",
                    "capabilities": ["BATCH_SHARING_25"],
                    "unlockTime": 3,
                    "state": {"locked": "yes", "connected": "maybe"},
                },
            ),
            ("GET", "/device/d2"): (
                200,
                {
                    "name": "",
                    "start": "1700000000",
                    "end": "someday",
                    "settings": {
                        "unlockTime": -1,
                        "capabilities": {"BATCH_SHARING_25": "UNSUPPORTED"},
                    },
                    "state": [],
                },
            ),
        }
    )
    one, two = await _signed_in(fake, session).list_locks()
    assert one == DoordeckLock(
        "d1", "One", "ADMIN", 3.0, True, True, None, 1_700_000_000, 1_893_456_000
    )
    assert two == DoordeckLock("d2", "d2", "USER", 5.0, False, True, None, 1_700_000_000, None)
    naive = client_module._timestamp("2030-01-01T00:00:00")
    assert naive == 1_893_456_000
    assert client_module._timestamp(None) is None


async def test_error_bodies(fake: FakeServer, session: aiohttp.ClientSession) -> None:
    """Vendor codes as strings, plain-text errors, and 503 outside lock operations."""
    client = _signed_in(fake, session)
    fake.routes[("GET", "/site")] = (503, "Service Unavailable")
    with pytest.raises(DoordeckApiError) as err:
        await client.list_locks()
    assert type(err.value) is DoordeckApiError
    assert (err.value.status, err.value.code, err.value.message) == (
        503,
        None,
        "Service Unavailable",
    )
    fake.routes[("GET", "/site")] = (500, {"code": "500.3", "message": 5})
    with pytest.raises(DoordeckApiError) as err:
        await client.list_locks()
    assert (err.value.code, err.value.message) == (500.3, None)
    fake.routes[("GET", "/site")] = (500, {"code": "E_FAIL"})
    with pytest.raises(DoordeckApiError) as err:
        await client.list_locks()
    assert err.value.code is None
    fake.routes[("GET", "/site")] = (502, "")
    with pytest.raises(DoordeckApiError) as err:
        await client.list_locks()
    assert str(err.value) == "Doordeck refused the request (HTTP 502)"


async def test_refresh_keeps_refresh_token(
    fake: FakeServer, session: aiohttp.ClientSession
) -> None:
    """A refresh reply without a new refresh token keeps the old one."""
    fake.routes[("POST", "/auth/token/refresh")] = (200, {"authToken": "a2"})
    client = _signed_in(fake, session)
    assert await client.refresh_tokens() == DoordeckTokens("a2", "r")
    fake.routes[("POST", "/auth/token/refresh")] = (500, {"message": "down"})
    with pytest.raises(DoordeckApiError):
        await client.refresh_tokens()


async def test_register_other_error_keeps_generated_key(
    fake: FakeServer, session: aiohttp.ClientSession
) -> None:
    """A failed registration keeps the generated key for the next attempt."""
    client = _signed_in(fake, session)
    fake.routes[("POST", "/auth/certificate")] = (500, {"message": "down"})
    with pytest.raises(DoordeckApiError):
        await client.register_key()
    pending = client.credentials.pending_private_key
    assert pending is not None
    key = Ed25519PrivateKey.from_private_bytes(pending)
    fake.routes[("POST", "/auth/certificate")] = (
        200,
        {"certificateChain": [_cert(key, 20)], "userId": "u1"},
    )
    await client.register_key()
    assert client.credentials.private_key == pending
    assert not client.key_needs_renewal()
    assert client.key_needs_renewal(datetime.now(UTC) + timedelta(days=14))


async def test_timeout(fake: FakeServer, session: aiohttp.ClientSession) -> None:
    """A server that does not answer in time raises DoordeckTimeoutError."""

    async def slow(request: web.Request) -> tuple[int, Any]:
        await asyncio.sleep(1)
        return 200, {"now": 0}

    fake.routes[("GET", "/time")] = slow
    client = _client(fake.url, session, timeout=0.05)
    with pytest.raises(DoordeckTimeoutError):
        await client.sync_time()


async def test_connection_error(session: aiohttp.ClientSession) -> None:
    """An unreachable server raises DoordeckConnectionError."""
    server = FakeServer()
    await server.start()
    url = server.url
    await server.stop()
    with pytest.raises(DoordeckConnectionError) as err:
        await _client(url, session).login("a", "b")
    assert not isinstance(err.value, DoordeckTimeoutError)


# -- pacing, rate limits, clock changes, error pages -----------------------------------


def _execute_statuses(sim: DoordeckSimulator) -> list[int]:
    return [r.status for r in sim.requests if r.path.endswith("/execute")]


async def _many_locks(
    sim: DoordeckSimulator, session: aiohttp.ClientSession, count: int, **kwargs: Any
) -> tuple[DoordeckClient, list[SimLock]]:
    """An owner administering ``count`` locks, signed in with a key, on a default-paced client."""
    account = sim.add_account(EMAIL, PASSWORD)
    site = sim.add_site("Many")
    locks = [sim.add_lock(site.id, f"Door {i}", access={account.id: "ADMIN"}) for i in range(count)]
    client = DoordeckClient(session, base_url=sim.url, **kwargs)
    await client.login(EMAIL, PASSWORD)
    await client.register_key()
    return client, locks


async def test_pacing_100_locks_at_once() -> None:
    """100 lock() at once, 10 operations a second allowed: no 429, sent in the order asked.

    The simulator and the client share a clock that moves only over sleeps, and not while a
    request is in flight: the simulator sees each operation at the moment the client sent it,
    and the 20 s of pacing take none, however loaded the machine.
    """
    clock = FakeClock(frozen=True)
    on_clock = {"clock": clock.time, "monotonic": clock.monotonic, "sleep": clock.sleep}
    sim = DoordeckSimulator(clock=clock.time, rate_limit=(10, 1.0))
    await sim.start()
    try:
        async with aiohttp.ClientSession(trace_configs=[clock.trace_config()]) as session:
            client, locks = await _many_locks(sim, session, 100, **on_clock)
            started = clock.time()
            results = await asyncio.gather(*(client.lock(lock.id) for lock in locks))
            elapsed = clock.time() - started
            assert results == [OperationResult.DONE] * 100
            assert sim.rate_limited_count == 0
            assert _execute_statuses(sim) == [204] * 100
            by_arrival = sorted(locks, key=lambda lock: lock.operations[0].seq)
            assert [lock.id for lock in by_arrival] == [lock.id for lock in locks]
            interval = 1 / DEFAULT_OPERATIONS_PER_SECOND
            arrivals = sorted(r.at for r in sim.requests if r.path.endswith("/execute"))
            assert min(b - a for a, b in itertools.pairwise(arrivals)) >= interval - 1e-6
            assert elapsed >= 99 * interval - 1e-6  # within float rounding
            assert client._lock_queues == {}

            # The same burst unpaced is refused: the limit above was real.
            await clock.sleep(1.5)
            unpaced = DoordeckClient(
                session,
                client.credentials,
                base_url=sim.url,
                operations_per_second=None,
                max_retry_wait=0,
                **on_clock,
            )
            outcomes = await asyncio.gather(
                *(unpaced.unlock(lock.id) for lock in locks), return_exceptions=True
            )
            assert outcomes.count(OperationResult.DONE) == 10  # the simulator's limit
            refused = [o for o in outcomes if o is not OperationResult.DONE]
            assert all(isinstance(o, DoordeckRateLimitedError) for o in refused)
            assert sim.rate_limited_count > 0
    finally:
        await sim.stop()


async def test_operations_on_one_lock_keep_their_order(
    vsim: tuple[DoordeckSimulator, VirtualTime], session: aiohttp.ClientSession
) -> None:
    """A retried unlock (429) does not let the lock asked for after it overtake it."""
    sim, virtual = vsim
    client, _, lock = await _ready(sim, session, **virtual.client_kwargs())
    sim.inject(f"/device/{lock.id}/execute", status=429, times=1, retry_after=1)
    results = await asyncio.gather(client.unlock(lock.id), client.lock(lock.id))
    assert list(results) == [OperationResult.DONE, OperationResult.DONE]
    assert [op.operation["locked"] for op in lock.operations] == [False, True]
    assert lock.locked
    assert _execute_statuses(sim) == [429, 204, 204]
    assert client._lock_queues == {}


async def test_rate_limited_command_waits_and_retries_with_a_fresh_jwt(
    sim: DoordeckSimulator, session: aiohttp.ClientSession
) -> None:
    """On the real clock: a 429 is waited out (Retry-After) and sent once more, re-signed."""
    client, _, lock = await _ready(sim, session)
    sim.inject(f"/device/{lock.id}/execute", status=429, times=1, retry_after=1)
    started = time.monotonic()
    assert await client.unlock(lock.id) is OperationResult.DONE
    assert time.monotonic() - started >= 1.0
    assert not lock.locked
    assert _execute_statuses(sim) == [429, 204]
    (_, first), (_, second) = _jwts(sim)
    assert first["jti"] != second["jti"]
    assert second["iat"] > first["iat"]
    assert second["nbf"] > first["nbf"]
    assert second["exp"] > first["exp"]


async def test_rate_limited_command_gives_up(
    vsim: tuple[DoordeckSimulator, VirtualTime], session: aiohttp.ClientSession
) -> None:
    """Refused again after the wait: raised. A long Retry-After is not waited for at all,
    and operations asked for while it lasts are refused without being sent."""
    sim, virtual = vsim
    client, _, lock = await _ready(
        sim, session, operations_per_second=None, **virtual.client_kwargs()
    )
    fault = sim.inject(f"/device/{lock.id}/execute", status=429, retry_after=2)
    with pytest.raises(DoordeckRateLimitedError) as err:
        await client.lock(lock.id)
    assert (err.value.status, err.value.retry_after, err.value.sent) == (429, 2.0, True)
    assert "retry after 2 s" in str(err.value)
    assert fault.hits == 2
    assert virtual.sleeps == [pytest.approx(2.0)]
    sim.clear_faults()

    virtual.now += 2
    virtual.sleeps.clear()
    long = sim.inject(f"/device/{lock.id}/execute", status=429, retry_after=30, times=1)
    with pytest.raises(DoordeckRateLimitedError) as err:
        await client.lock(lock.id)
    assert (err.value.retry_after, err.value.sent) == (30.0, True)
    assert long.hits == 1
    assert virtual.sleeps == []

    sent = sim.count("/device/")
    with pytest.raises(DoordeckRateLimitedError) as err:
        await client.unlock(lock.id)
    assert not err.value.sent
    assert err.value.retry_after == pytest.approx(30.0)
    assert sim.count("/device/") == sent
    virtual.now += 30
    assert await client.unlock(lock.id) is OperationResult.DONE


async def test_share_stops_at_a_rate_limit(
    vsim: tuple[DoordeckSimulator, VirtualTime], session: aiohttp.ClientSession
) -> None:
    """One ADD_USER per user: a 429 is waited out and sharing goes on; refused again, the
    users not asked for yet are reported not sent instead of being asked for regardless."""
    sim, virtual = vsim
    client, _, lock = await _ready(sim, session, **virtual.client_kwargs())
    lock.batch_sharing = False
    (target,) = await client.list_locks()
    first, second, third = (_share_users(_guests(sim, 30))[i : i + 10] for i in (0, 10, 20))

    sim.inject(f"/device/{lock.id}/execute", status=429, times=1, retry_after=1)
    outcomes = await client.share(target, first)
    assert [o.status for o in outcomes] == [ShareStatus.DONE] * 10
    assert _execute_statuses(sim) == [429] + [204] * 10
    assert pytest.approx(1.0) in virtual.sleeps

    refusing = sim.inject(f"/device/{lock.id}/execute", status=429, retry_after=1)
    outcomes = await client.share(target, second)
    assert [o.status for o in outcomes] == [ShareStatus.FAILED] + [ShareStatus.NOT_SENT] * 9
    assert all(isinstance(o.error, DoordeckRateLimitedError) for o in outcomes)
    assert all(o.reason for o in outcomes)
    assert refusing.hits == 2
    assert not any(u.user_id in lock.users for u in second)
    sim.clear_faults()

    sim.inject(f"/device/{lock.id}/execute", status=429, times=1, retry_after=60)
    virtual.sleeps.clear()
    outcomes = await client.share(target, third)
    assert [o.status for o in outcomes] == [ShareStatus.FAILED] + [ShareStatus.NOT_SENT] * 9
    assert max(virtual.sleeps, default=0) < 5
    assert _execute_statuses(sim)[-1:] == [429]
    assert len(_execute_statuses(sim)) == 11 + 2 + 1


@pytest.mark.parametrize("step", [300.0, -300.0])
async def test_clock_step_after_the_offset_was_measured(
    sim: DoordeckSimulator, session: aiohttp.ClientSession, step: float
) -> None:
    """The server's clock steps by 5 minutes: measured again, re-signed, and it works."""
    client, _, lock = await _ready(sim, session)
    assert await client.lock(lock.id) is OperationResult.DONE
    assert client.time_offset == pytest.approx(0, abs=2)
    sim.clock_offset += step
    assert await client.unlock(lock.id) is OperationResult.DONE
    assert not lock.locked
    assert _execute_statuses(sim) == [204, 400, 204]
    assert sim.count("/time") == 2
    assert client.time_offset == pytest.approx(step, abs=2)
    (_, refused), (_, accepted) = _jwts(sim)[1:]
    assert refused["jti"] != accepted["jti"]
    assert accepted["iat"] == pytest.approx(sim.now(), abs=5)
    # Back in time, the certificate was not valid yet: issued again for the same key.
    assert sim.count("/auth/certificate") == (2 if step < 0 else 1)
    assert len(sim.registered_keys(client.user_id or "")) == 1


@pytest.mark.parametrize("step", [300.0, -300.0])
async def test_clock_refusal_is_not_an_authentication_error(
    sim: DoordeckSimulator, session: aiohttp.ClientSession, step: float
) -> None:
    """When the clock cannot be measured again, the refusal is a clock error, after one retry."""
    client, _, lock = await _ready(sim, session)
    await client.sync_time()
    sim.clock_offset += step
    sim.fail_time = True
    with pytest.raises(DoordeckClockError) as err:
        await client.lock(lock.id)
    assert not isinstance(err.value, DoordeckAuthenticationError)
    assert err.value.status == 400
    assert "clock" in str(err.value)
    assert _execute_statuses(sim) == [400, 400]


@pytest.mark.parametrize("shape", ["401", "400"])
@pytest.mark.parametrize("step", [300.0, -300.0])
async def test_a_clock_refusal_of_any_shape_is_measured_and_signed_again(
    sim: DoordeckSimulator, session: aiohttp.ClientSession, shape: str, step: float
) -> None:
    """Refused with a 401 "outside its validity window" or a 400 with a code that names
    nothing: refreshed (401), measured again, signed again, and it works."""
    refusal = CLOCK_REFUSALS[shape]
    assert refusal is not None
    sim.clock_refusal = refusal
    client, _, lock = await _ready(sim, session)
    assert await client.lock(lock.id) is OperationResult.DONE
    sim.clock_offset += step
    assert await client.unlock(lock.id) is OperationResult.DONE
    assert not lock.locked
    assert _execute_statuses(sim) == [204, refusal.status, 204]
    assert sim.count("/time") == 2
    assert sim.count("/auth/token/refresh") == (1 if refusal.status == 401 else 0)
    (_, refused), (_, accepted) = _jwts(sim)[1:]
    assert refused["jti"] != accepted["jti"]
    assert accepted["iat"] == pytest.approx(sim.now(), abs=5)
    # Back in time, the certificate was not valid yet: issued again for the same key.
    assert sim.count("/auth/certificate") == (2 if step < 0 else 1)


@pytest.mark.parametrize(
    ("shape", "error"), [("401", DoordeckClockError), ("400", DoordeckApiError)]
)
async def test_a_clock_refusal_that_persists_is_never_a_sign_in_problem(
    sim: DoordeckSimulator, session: aiohttp.ClientSession, shape: str, error: type[Exception]
) -> None:
    """The lock's clock is off (GET /time cannot show it): refused again after the refresh,
    the new measurement and a new signature. A message about time makes it a clock error."""
    refusal = CLOCK_REFUSALS[shape]
    assert refusal is not None
    sim.clock_refusal = refusal
    client, _, lock = await _ready(sim, session)
    lock.clock_offset = 300.0
    with pytest.raises(DoordeckApiError) as err:
        await client.unlock(lock.id)
    assert type(err.value) is error
    assert not isinstance(err.value, DoordeckAuthenticationError)
    assert (err.value.status, err.value.code) == (refusal.status, refusal.code)
    assert _execute_statuses(sim) == [refusal.status] * 2
    assert sim.count("/time") == 2
    assert len({claims["jti"] for _, claims in _jwts(sim)}) == 2
    assert lock.locked


async def test_a_401_that_survives_the_refresh_and_the_clock_is_a_sign_in_problem(
    sim: DoordeckSimulator, session: aiohttp.ClientSession
) -> None:
    """A 401 that says nothing of time, after a refresh, a new measurement and a new signature.

    Without a new measurement (GET /time failing) it proves nothing: a plain refusal.
    """
    client, _, lock = await _ready(sim, session)
    sim.inject("/device/*/execute", status=401, message="Not allowed")
    with pytest.raises(DoordeckAuthenticationError):
        await client.unlock(lock.id)
    assert _execute_statuses(sim) == [401, 401]
    assert sim.count("/auth/token/refresh") == 1
    assert sim.count("/time") == 2

    sim.fail_time = True
    with pytest.raises(DoordeckApiError) as err:
        await client.unlock(lock.id)
    assert type(err.value) is DoordeckApiError
    assert err.value.status == 401
    assert sim.count("/auth/token/refresh") == 2


async def test_a_400_then_a_401_is_refreshed_too(
    sim: DoordeckSimulator, session: aiohttp.ClientSession
) -> None:
    """A refusal that turns into a 401 on the second try: refreshed, signed a third time."""
    client, _, lock = await _ready(sim, session)
    sim.inject("/device/*/execute", status=400, times=1)
    sim.expire_auth_tokens()
    assert await client.unlock(lock.id) is OperationResult.DONE
    assert _execute_statuses(sim) == [400, 401, 204]
    assert sim.count("/auth/token/refresh") == 1
    assert sim.count("/time") == 2


@pytest.mark.parametrize("status", [404, 500])
async def test_time_failing_does_not_block_commands(
    sim: DoordeckSimulator,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    """GET /time failing: signed with the local clock, one warning, no secret in it."""
    sim.fail_time, sim.fail_time_status = True, status
    client, _, lock = await _ready(sim, session)
    with caplog.at_level(logging.DEBUG, logger=client_module.__name__):
        assert await client.unlock(lock.id) is OperationResult.DONE
        assert await client.lock(lock.id) is OperationResult.DONE
    assert lock.locked
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert f"HTTP {status}" in warnings[0].getMessage()
    assert "local clock" in warnings[0].getMessage()
    assert client.time_offset == 0
    assert sim.count("/time") == 1  # not asked again before every operation
    assert client.tokens is not None
    for secret in (client.tokens.auth_token, client.tokens.refresh_token, EMAIL, PASSWORD):
        assert secret not in caplog.text


async def test_time_failing_keeps_the_last_offset(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """Measured once, then GET /time fails: the last offset is kept, a warning logged once."""
    virtual = VirtualTime()
    sim = DoordeckSimulator(clock=virtual.clock, clock_offset=3600)
    await sim.start()
    try:
        client, _, lock = await _ready(sim, session, **virtual.client_kwargs())
        assert await client.lock(lock.id) is OperationResult.DONE
        assert client.time_offset == pytest.approx(3600, abs=1)
        sim.fail_time = True
        with caplog.at_level(logging.WARNING, logger=client_module.__name__):
            for _ in range(3):
                virtual.now += 16 * 60
                assert await client.unlock(lock.id) is OperationResult.DONE
        assert sim.count("/time") == 4
        (warning,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert "+3600" in warning.getMessage()
        assert client.time_offset == pytest.approx(3600, abs=1)

        sim.fail_time = False
        virtual.now += 16 * 60
        sim.clock_offset = 3700
        assert await client.lock(lock.id) is OperationResult.DONE
        assert client.time_offset == pytest.approx(3700, abs=1)
    finally:
        await sim.stop()


async def test_time_timing_out_does_not_block_commands(
    sim: DoordeckSimulator, session: aiohttp.ClientSession
) -> None:
    """A GET /time that does not answer: given up after the timeout, the command goes ahead."""
    client, _, lock = await _ready(sim, session, timeout=0.3)
    sim.inject("/time", kind="delay", delay=1.0)
    assert await client.unlock(lock.id) is OperationResult.DONE
    assert sim.count(f"/device/{lock.id}/execute") == 1
    with pytest.raises(DoordeckTimeoutError):
        await client.sync_time()


async def test_html_error_pages_are_summarised(
    sim: DoordeckSimulator, session: aiohttp.ClientSession
) -> None:
    """A proxy's HTML page is reported as "HTTP 502 Bad Gateway", never quoted."""
    client, _, lock = await _ready(sim, session)
    sim.inject("/site", kind="html_error", times=1)
    with pytest.raises(DoordeckApiError) as err:
        await client.list_locks()
    assert type(err.value) is DoordeckApiError
    assert (err.value.status, err.value.code, err.value.message) == (502, None, "Bad Gateway")
    assert str(err.value) == "Doordeck refused the request (HTTP 502 Bad Gateway)"

    sim.inject(f"/device/{lock.id}/execute", kind="html_error", status=503, times=1)
    with pytest.raises(DoordeckApiError) as err:
        await client.lock(lock.id)
    assert type(err.value) is DoordeckApiError  # something in front of Doordeck, not the lock
    assert "HTTP 503 Service Unavailable" in str(err.value)
    assert "<" not in str(err.value)


async def test_long_text_errors_are_cut(fake: FakeServer, session: aiohttp.ClientSession) -> None:
    """A plain-text error body is cut to its first line, at most 120 characters."""
    fake.routes[("GET", "/site")] = (500, "x" * 500 + "\nsecond line")
    with pytest.raises(DoordeckApiError) as err:
        await _signed_in(fake, session).list_locks()
    assert err.value.message is not None
    assert len(err.value.message) <= 120
    assert "second line" not in str(err.value)


def test_bad_pacing_arguments() -> None:
    """A pace must be a positive number (or None) and the longest wait not negative."""
    with pytest.raises(ValueError, match="operations_per_second"):
        DoordeckClient(None, operations_per_second=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_retry_wait"):
        DoordeckClient(None, max_retry_wait=-1)  # type: ignore[arg-type]
