"""Self-tests of the Doordeck simulator, driven with raw aiohttp, cryptography and PyJWT."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
import datetime as dt
import json
import logging
from pathlib import Path
import sys
import time
from typing import Any, NamedTuple
import uuid

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID
import jwt
import pytest
import pytest_asyncio

from simulators.doordeck import (
    CLOCK_REFUSALS,
    DEFAULT_RATE_LIMIT,
    DoordeckSimulator,
    SimAccount,
    SimLock,
    build_parser,
    demo,
    main,
    office_account,
    parse_rate_limit,
)

# pytest-homeassistant-custom-component blocks socket creation; the simulator needs a loopback one.
pytestmark = pytest.mark.usefixtures("socket_enabled")

V3 = "application/vnd.doordeck.api-v3+json"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def spki(key: Ed25519PrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def sign_manually(header: dict[str, Any], claims: dict[str, Any], key: Ed25519PrivateKey) -> str:
    signing_input = f"{b64u(json.dumps(header).encode())}.{b64u(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64u(key.sign(signing_input.encode()))}"


@dataclass
class Ctx:
    sim: DoordeckSimulator
    http: aiohttp.ClientSession
    admin: SimAccount
    guest: SimAccount
    lock: SimLock
    token: str = ""
    key: Ed25519PrivateKey | None = None
    chain: list[str] | None = None

    def url(self, path: str) -> str:
        return self.sim.url + path

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def login(self, email: str = "admin@example.com", password: str = "pw") -> str:
        async with self.http.post(
            self.url("/auth/token"), json={"email": email, "password": password}
        ) as resp:
            assert resp.status == 200
            body = await resp.json()
        self.token = body["authToken"]
        return str(body["refreshToken"])

    async def register(self, key: Ed25519PrivateKey, token: str | None = None) -> dict[str, Any]:
        async with self.http.post(
            self.url("/auth/certificate"),
            json={"ephemeralKey": spki(key)},
            headers=self.auth(token),
        ) as resp:
            assert resp.status == 200, await resp.text()
            body: dict[str, Any] = await resp.json()
        return body

    def claims(
        self, operation: dict[str, Any], *, now: float | None = None, **extra: Any
    ) -> dict[str, Any]:
        now = self.sim.now() if now is None else now
        claims = {
            "iss": self.admin.id,
            "sub": self.lock.id,
            "nbf": int(now),
            "iat": int(now),
            "exp": int(now) + 60,
            "jti": str(uuid.uuid4()),
            "operation": operation,
        }
        return claims | extra

    def sign(self, claims: dict[str, Any]) -> str:
        assert self.key is not None
        return jwt.encode(
            claims, self.key, algorithm="EdDSA", headers={"typ": "JWT", "x5c": self.chain}
        )

    async def execute(
        self, token: str, lock_id: str | None = None, bearer: str | None = None
    ) -> tuple[int, Any]:
        async with self.http.post(
            self.url(f"/device/{lock_id or self.lock.id}/execute"),
            data=token,
            headers={**self.auth(bearer), "Content-Type": "application/jwt"},
        ) as resp:
            text = await resp.text()
            return resp.status, json.loads(text) if text else None

    async def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        async with self.http.get(self.url(path), headers={**self.auth(token), "Accept": V3}) as r:
            return r.status, await r.json()

    async def post(self, path: str, body: Any, token: str | None = None) -> tuple[int, Any]:
        async with self.http.post(self.url(path), json=body, headers=self.auth(token)) as r:
            text = await r.text()
            return r.status, json.loads(text) if text else None


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[DoordeckSimulator]:
    simulator = DoordeckSimulator()
    await simulator.start()
    yield simulator
    await simulator.stop()


@asynccontextmanager
async def session(sim: DoordeckSimulator) -> AsyncIterator[Ctx]:
    """An admin signed in with a registered key, and a guest, on lock-1 of site-1."""
    admin = sim.add_account("admin@example.com", "pw")
    guest = sim.add_account("guest@example.com", "guestpw")
    site = sim.add_site("Office", site_id="site-1")
    lock = sim.add_lock(site.id, "Front door", lock_id="lock-1", access={admin.id: "ADMIN"})
    async with aiohttp.ClientSession() as http:
        context = Ctx(sim, http, admin, guest, lock)
        await context.login()
        context.key = Ed25519PrivateKey.generate()
        context.chain = (await context.register(context.key))["certificateChain"]
        yield context


@pytest_asyncio.fixture
async def ctx(sim: DoordeckSimulator) -> AsyncIterator[Ctx]:
    async with session(sim) as context:
        yield context


class FakeClock:
    """Epoch seconds that move only when told; 1/16 s steps stay exact in a float."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def fake_session(**options: Any) -> AsyncIterator[tuple[Ctx, FakeClock]]:
    clock = FakeClock()
    simulator = DoordeckSimulator(clock=clock, **options)
    await simulator.start()
    try:
        async with session(simulator) as context:
            yield context, clock
    finally:
        await simulator.stop()


UNLOCK = {"type": "MUTATE_LOCK", "locked": False}


async def test_time_follows_clock_offset() -> None:
    sim = DoordeckSimulator(clock_offset=-120)
    await sim.start()
    try:
        async with aiohttp.ClientSession() as http, http.get(sim.url + "/time") as resp:
            now = (await resp.json())["now"]
        assert isinstance(now, int)
        assert abs(now / 1000 - (time.time() - 120)) < 2
    finally:
        await sim.stop()


async def test_login_refresh_expiry_and_revocation(ctx: Ctx) -> None:
    status, body = await ctx.post("/auth/token", {"email": "admin@example.com", "password": "x"})
    assert status == 401
    assert isinstance(body["code"], float)
    assert body["message"]
    assert (await ctx.get("/site"))[0] == 200
    assert (await ctx.get("/site", "garbage"))[0] == 401
    async with ctx.http.get(ctx.url("/site")) as resp:
        assert resp.status == 401
    refresh = await ctx.login()
    ctx.sim.expire_auth_tokens()
    assert (await ctx.get("/site"))[0] == 401
    assert (await ctx.post("/auth/token/refresh", None, ctx.token))[0] == 401  # auth ≠ refresh
    status, body = await ctx.post("/auth/token/refresh", None, refresh)
    assert status == 200
    assert (await ctx.get("/site", body["authToken"]))[0] == 200
    assert jwt.decode(body["authToken"], options={"verify_signature": False})["sub"] == ctx.admin.id
    ctx.sim.clock_offset += 3601  # auth token lifetime is over
    assert (await ctx.get("/site", body["authToken"]))[0] == 401
    ctx.sim.revoke_refresh_tokens()
    assert (await ctx.post("/auth/token/refresh", None, body["refreshToken"]))[0] == 401
    assert (await ctx.post("/auth/token/refresh", None, "not-a-jwt"))[0] == 401


async def test_certificate_chain_is_real_x509(ctx: Ctx) -> None:
    assert ctx.key is not None
    assert ctx.chain is not None
    body = await ctx.register(ctx.key)
    assert body["userId"] == ctx.admin.id
    leaf, inter = (x509.load_der_x509_certificate(base64.b64decode(c)) for c in ctx.chain)
    leaf.verify_directly_issued_by(inter)
    inter.verify_directly_issued_by(ctx.sim.root)
    assert inter == ctx.sim.intermediate
    assert leaf.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    ) == raw(ctx.key)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == ctx.admin.id
    ttl = leaf.not_valid_after_utc.timestamp() - time.time()
    assert abs(ttl - 30 * 86400) < 120
    assert ctx.sim.registered_keys(ctx.admin.id) == [raw(ctx.key)]


async def test_leaf_ttl_is_configurable() -> None:
    sim = DoordeckSimulator(leaf_ttl=3 * 86400)
    account = sim.add_account("a@example.com", "pw")
    await sim.start()
    try:
        async with aiohttp.ClientSession() as http:
            ctx = Ctx(sim, http, account, account, None)  # type: ignore[arg-type]
            await ctx.login("a@example.com", "pw")
            chain = (await ctx.register(Ed25519PrivateKey.generate()))["certificateChain"]
        leaf = x509.load_der_x509_certificate(base64.b64decode(chain[0]))
        assert abs(leaf.not_valid_after_utc.timestamp() - time.time() - 3 * 86400) < 120
    finally:
        await sim.stop()


async def test_register_rejects_bad_keys(ctx: Ctx) -> None:
    ec_der = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for bad in ("%%%", base64.b64encode(b"x" * 32).decode(), base64.b64encode(ec_der).decode()):
        status, body = await ctx.post("/auth/certificate", {"ephemeralKey": bad})
        assert status == 400
        assert "ephemeralKey" in body["message"]


@pytest.mark.parametrize("reply_json", [False, True])
async def test_second_factor_flow(ctx: Ctx, reply_json: bool) -> None:
    ctx.sim.verify_reply_json = reply_json
    user = ctx.sim.add_account("2fa@example.com", "pw", second_factor=True)
    await ctx.login("2fa@example.com", "pw")
    key = Ed25519PrivateKey.generate()
    body = {"ephemeralKey": spki(key)}
    status, err = await ctx.post("/auth/certificate", body)
    assert status == 423
    assert err["code"] >= 423
    assert (await ctx.post("/auth/certificate/verify?method=FAX", body))[0] == 400
    status, reply = await ctx.post("/auth/certificate/verify?method=EMAIL", body)
    assert (status, reply) == ((200, {"method": "EMAIL"}) if reply_json else (204, None))
    (code,) = ctx.sim.sent_codes("2fa@example.com")
    assert len(code) == 6
    assert code.isdigit()
    wrong = base64.b64encode(key.sign(b"000000" if code != "000000" else b"111111")).decode()
    status, err = await ctx.post("/auth/certificate/check", {"verificationSignature": wrong})
    assert status == 401
    assert err["message"]
    assert ctx.sim.registered_keys(user.id) == []
    good = base64.b64encode(key.sign(code.encode())).decode()
    status, chain = await ctx.post("/auth/certificate/check", {"verificationSignature": good})
    assert status == 200
    assert chain["userId"] == user.id
    assert len(chain["certificateChain"]) == 2
    assert ctx.sim.registered_keys(user.id) == [raw(key)]
    assert (await ctx.post("/auth/certificate", body))[0] == 200  # key is now verified
    other = {"ephemeralKey": spki(Ed25519PrivateKey.generate())}
    assert (await ctx.post("/auth/certificate", other))[0] == 423  # a new key needs it again


async def test_sites_and_devices(ctx: Ctx) -> None:
    other = ctx.sim.add_lock(
        "site-1", "Back door", unlock_time=7.5, batch_sharing=False, reports_locked=True
    )
    ctx.sim.grant(other.id, ctx.admin.id, "USER")
    ctx.sim.add_lock(ctx.sim.add_site("Hidden").id, "Not mine")
    status, sites = await ctx.get("/site")
    assert status == 200
    assert [(s["id"], s["name"]) for s in sites] == [("site-1", "Office")]
    status, devices = await ctx.get("/site/site-1/device")
    assert status == 200
    assert {(d["id"], d["name"], d["role"]) for d in devices} == {
        ("lock-1", "Front door", "ADMIN"),
        (other.id, "Back door", "USER"),
    }
    status, device = await ctx.get("/device/lock-1")
    assert status == 200
    assert device["settings"]["capabilities"]["BATCH_SHARING_25"] == "SUPPORTED"
    assert device["settings"]["unlockTime"] == 5.0
    assert device["settings"]["directAccessEndpoints"] == []
    assert device["state"] == {"connected": True}
    assert (device["role"], device["start"], device["end"]) == ("ADMIN", None, None)
    _, device = await ctx.get(f"/device/{other.id}")
    assert device["settings"]["capabilities"]["BATCH_SHARING_25"] == "UNSUPPORTED"
    assert device["state"] == {"connected": True, "locked": True}
    assert device["settings"]["unlockTime"] == 7.5
    assert (await ctx.get("/site/nope/device"))[0] == 404
    assert (await ctx.get("/device/nope"))[0] == 404
    await ctx.login("guest@example.com", "guestpw")
    assert await ctx.get("/site") == (200, [])
    assert (await ctx.get("/device/lock-1"))[0] == 403
    ctx.sim.remove_lock(other.id)
    assert (await ctx.get(f"/device/{other.id}"))[0] == 404
    request = next(r for r in ctx.sim.requests if r.path == "/device/lock-1")
    assert request.headers["Accept"] == V3


async def test_unlock_then_relock_by_itself(ctx: Ctx) -> None:
    ctx.lock.reports_locked = True
    assert ctx.lock.locked
    status, _ = await ctx.execute(ctx.sign(ctx.claims({"type": "MUTATE_LOCK", "locked": False})))
    assert status == 204
    assert not ctx.lock.locked
    assert (await ctx.get("/device/lock-1"))[1]["state"]["locked"] is False
    ctx.sim.clock_offset += 5.5
    assert ctx.lock.locked
    assert (await ctx.get("/device/lock-1"))[1]["state"]["locked"] is True
    ctx.lock.locked = False
    status, _ = await ctx.execute(ctx.sign(ctx.claims({"type": "MUTATE_LOCK", "locked": True})))
    assert status == 204
    assert ctx.lock.locked
    assert [(o.type, o.status, o.applied) for o in ctx.lock.operations] == [
        ("MUTATE_LOCK", "applied", True)
    ] * 2
    assert ctx.lock.operations[0].operation == {"type": "MUTATE_LOCK", "locked": False}


async def test_jti_replay_is_refused(ctx: Ctx) -> None:
    token = ctx.sign(ctx.claims({"type": "MUTATE_LOCK", "locked": False}, jti="once"))
    assert (await ctx.execute(token))[0] == 204
    status, body = await ctx.execute(token)
    assert status == 409
    assert "jti" in body["message"]
    assert "once" in ctx.sim.used_jtis
    claims = ctx.claims({"type": "MUTATE_LOCK", "locked": False})
    del claims["jti"]  # optional per the seed page
    assert (await ctx.execute(ctx.sign(claims)))[0] == 204


def _foreign_chain(key: Ed25519PrivateKey) -> list[str]:
    ca_key = Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Evil CA")])
    now = time.time()

    def cert(subject: x509.Name, public: Any, ca: bool) -> str:
        built = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(dt.datetime.fromtimestamp(now - 60, dt.UTC))
            .not_valid_after(dt.datetime.fromtimestamp(now + 3600, dt.UTC))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(ca_key, None)
        )
        return base64.b64encode(built.public_bytes(serialization.Encoding.DER)).decode()

    return [cert(x509.Name([]), key.public_key(), False), cert(name, ca_key.public_key(), True)]


Mutation = Callable[[Ctx, dict[str, Any], dict[str, Any]], Ed25519PrivateKey | None]


def _set(where: str, name: str, value: Any) -> Mutation:
    def mutate(ctx: Ctx, header: dict[str, Any], claims: dict[str, Any]) -> None:
        target = header if where == "header" else claims
        if value is None:
            target.pop(name, None)
        else:
            target[name] = value

    return mutate


def _resign(ctx: Ctx, header: dict[str, Any], claims: dict[str, Any]) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _foreign(ctx: Ctx, header: dict[str, Any], claims: dict[str, Any]) -> None:
    assert ctx.key is not None
    header["x5c"] = _foreign_chain(ctx.key)


def _shift(name: str, delta: float) -> Mutation:
    def mutate(ctx: Ctx, header: dict[str, Any], claims: dict[str, Any]) -> None:
        claims[name] += delta

    return mutate


@pytest.mark.parametrize(
    ("mutation", "status", "fragment"),
    [
        (_set("header", "alg", "ES256"), 400, "alg"),
        (_set("header", "typ", None), 400, "typ"),
        (_set("header", "x5c", None), 400, "x5c"),
        (lambda c, h, _: h.update(x5c=h["x5c"][:1]), 400, "x5c"),
        (lambda c, h, _: h.update(x5c=[h["x5c"][0], h["x5c"][0]]), 401, "x5c"),
        (_foreign, 401, "x5c"),
        (_resign, 401, "signature"),
        (_set("claims", "iss", "someone-else"), 403, "iss"),
        (_set("claims", "sub", "lock-2"), 400, "sub"),
        (_set("claims", "iat", None), 400, "iat"),
        (_set("claims", "nbf", "soon"), 400, "nbf"),
        (_shift("nbf", 30), 400, "nbf"),
        (_shift("iat", 30), 400, "iat"),
        (_shift("exp", -61), 400, "exp"),
        (_set("claims", "jti", 42), 400, "jti"),
        (_set("claims", "operation", {"type": "EXPLODE"}), 400, "operation"),
        (_set("claims", "operation", {"type": "MUTATE_LOCK", "locked": "no"}), 400, "locked"),
    ],
)
async def test_operation_jwt_checks(
    ctx: Ctx, mutation: Mutation, status: int, fragment: str
) -> None:
    header: dict[str, Any] = {"alg": "EdDSA", "typ": "JWT", "x5c": ctx.chain}
    claims = ctx.claims({"type": "MUTATE_LOCK", "locked": False})
    signer = mutation(ctx, header, claims) or ctx.key
    assert signer is not None
    got, body = await ctx.execute(sign_manually(header, claims, signer))
    assert (got, fragment) == (status, fragment)
    assert fragment in body["message"]
    assert isinstance(body["code"], float)
    assert ctx.lock.locked
    assert ctx.lock.operations == []


async def test_transport_level_rejections(ctx: Ctx) -> None:
    good = ctx.sign(ctx.claims({"type": "MUTATE_LOCK", "locked": False}))
    async with ctx.http.post(
        ctx.url("/device/lock-1/execute"),
        data=good,
        headers={**ctx.auth(), "Content-Type": "text/plain"},
    ) as resp:
        assert resp.status == 400
        assert "content-type" in (await resp.json())["message"]
    padded = ".".join(p + "==" for p in good.split("."))
    assert (await ctx.execute(padded))[0] == 400
    assert (await ctx.execute("a.b"))[0] == 400
    assert (await ctx.execute(good, lock_id="nope"))[0] == 404
    assert (await ctx.execute(good, bearer="garbage"))[0] == 401


async def test_key_of_another_user_is_refused(ctx: Ctx) -> None:
    await ctx.login("guest@example.com", "guestpw")
    guest_key = Ed25519PrivateKey.generate()
    guest_chain = (await ctx.register(guest_key))["certificateChain"]
    await ctx.login()
    token = jwt.encode(
        ctx.claims({"type": "MUTATE_LOCK", "locked": False}),
        guest_key,
        algorithm="EdDSA",
        headers={"typ": "JWT", "x5c": guest_chain},
    )
    status, body = await ctx.execute(token)
    assert status == 401
    assert "registered" in body["message"]


async def test_expired_leaf_certificate_is_refused(ctx: Ctx) -> None:
    ctx.sim.clock_offset += 31 * 86400
    await ctx.login()
    status, body = await ctx.execute(ctx.sign(ctx.claims({"type": "MUTATE_LOCK", "locked": False})))
    assert status == 401
    assert "expired" in body["message"]


async def test_signing_with_server_time_beats_a_skewed_server_clock(ctx: Ctx) -> None:
    ctx.sim.clock_offset = -300
    await ctx.login()
    assert ctx.key is not None
    ctx.chain = (await ctx.register(ctx.key))["certificateChain"]  # leaf dated by server time
    operation = {"type": "MUTATE_LOCK", "locked": False}
    status, body = await ctx.execute(ctx.sign(ctx.claims(operation, now=time.time())))
    assert status == 400
    assert "nbf" in body["message"]
    async with ctx.http.get(ctx.url("/time")) as resp:
        server_now = (await resp.json())["now"] / 1000
    assert (await ctx.execute(ctx.sign(ctx.claims(operation, now=server_now))))[0] == 204


async def test_long_expiry_is_queued(ctx: Ctx) -> None:
    claims = ctx.claims({"type": "MUTATE_LOCK", "locked": False})
    claims["exp"] += 3600
    assert (await ctx.execute(ctx.sign(claims)))[0] == 202
    assert ctx.lock.operations[0].status == "queued"


@pytest.mark.parametrize(
    ("fault", "status"),
    [("offline", 503), ("slow", 504), ("rate_limit", 429), ("pending", 425), ("queued", 202)],
)
async def test_lock_faults(ctx: Ctx, fault: Any, status: int) -> None:
    ctx.lock.fault = fault
    got, body = await ctx.execute(ctx.sign(ctx.claims({"type": "MUTATE_LOCK", "locked": False})))
    assert got == status
    assert ctx.lock.locked  # never applied
    if fault == "queued":
        assert body is None
        assert [(o.status, o.applied) for o in ctx.lock.operations] == [("queued", False)]
    else:
        assert int(body["code"]) == status
        assert ctx.lock.operations == []


async def test_disconnected_lock_is_offline(ctx: Ctx) -> None:
    ctx.lock.connected = False
    assert (await ctx.execute(ctx.sign(ctx.claims({"type": "MUTATE_LOCK", "locked": False}))))[
        0
    ] == 503
    assert (await ctx.get("/device/lock-1"))[1]["state"]["connected"] is False


async def test_batch_share_and_remove(ctx: Ctx) -> None:
    status, found = await ctx.post("/directory/query", {"email": "GUEST@example.com"})
    assert (status, found["id"]) == (200, ctx.guest.id)
    status, invited = await ctx.post("/share/invite/new@example.com", None)
    assert status == 200
    start = int(time.time()) - 10
    users = [
        {"user": found["id"], "publicKey": found["publicKey"], "role": "USER"},
        {"user": invited["id"], "publicKey": invited["publicKey"], "start": start, "end": None},
    ]
    claims = ctx.claims({"type": "BATCH_ADD_USER", "users": users})
    assert (await ctx.execute(ctx.sign(claims)))[0] == 204
    assert ctx.lock.users[ctx.guest.id].role == "USER"
    assert ctx.lock.users[invited["id"]].start == start
    await ctx.login("guest@example.com", "guestpw")
    assert (await ctx.get("/device/lock-1"))[1]["role"] == "USER"
    await ctx.login()
    remove = {"type": "REMOVE_USER", "users": [ctx.guest.id, "not-a-member"]}
    assert (await ctx.execute(ctx.sign(ctx.claims(remove))))[0] == 204
    assert set(ctx.lock.users) == {ctx.admin.id, invited["id"]}
    single = {"type": "ADD_USER", "user": ctx.guest.id, "publicKey": found["publicKey"]}
    single["role"] = "ADMIN"
    assert (await ctx.execute(ctx.sign(ctx.claims(single))))[0] == 204
    assert ctx.lock.users[ctx.guest.id].role == "ADMIN"
    kinds = [o.type for o in ctx.lock.operations]
    assert kinds == ["BATCH_ADD_USER", "REMOVE_USER", "ADD_USER"]


async def test_user_role_may_unlock_but_not_share(ctx: Ctx) -> None:
    ctx.sim.grant(ctx.lock.id, ctx.guest.id, "USER")
    await ctx.login("guest@example.com", "guestpw")
    ctx.admin, ctx.key = ctx.guest, Ed25519PrivateKey.generate()
    ctx.chain = (await ctx.register(ctx.key))["certificateChain"]
    assert (await ctx.execute(ctx.sign(ctx.claims({"type": "MUTATE_LOCK", "locked": False}))))[
        0
    ] == 204
    share = {"type": "REMOVE_USER", "users": [ctx.guest.id]}
    status, body = await ctx.execute(ctx.sign(ctx.claims(share)))
    assert status == 403
    assert "ADMIN" in body["message"]


async def test_batch_rejections(ctx: Ctx) -> None:
    guest = {"user": ctx.guest.id, "publicKey": ctx.guest.public_key_b64}
    wrong_key = {"user": ctx.guest.id, "publicKey": ctx.admin.public_key_b64}
    extra = [ctx.sim.add_account(f"u{i}@example.com", "pw") for i in range(26)]
    many = [{"user": a.id, "publicKey": a.public_key_b64} for a in extra]
    cases: list[tuple[Any, str]] = [
        ([wrong_key], "publicKey"),
        ([{**guest, "user": "ghost"}], "Unknown user"),
        ([{**guest, "role": "OWNER"}], "role"),
        ([{**guest, "start": 10, "end": 5}], "end"),
        ([guest, guest], "twice"),
        ([], "users"),
        (many, "25"),
    ]
    for users, fragment in cases:
        claims = ctx.claims({"type": "BATCH_ADD_USER", "users": users})
        status, body = await ctx.execute(ctx.sign(claims))
        assert (status, fragment in body["message"]) == (400, True), (users, body)
    assert (
        await ctx.execute(ctx.sign(ctx.claims({"type": "BATCH_ADD_USER", "users": many[:25]})))
    )[0] == 204
    assert len(ctx.lock.users) == 26
    ctx.lock.batch_sharing = False
    status, body = await ctx.execute(
        ctx.sign(ctx.claims({"type": "BATCH_ADD_USER", "users": [guest]}))
    )
    assert status == 400
    assert "BATCH_SHARING_25" in body["message"]


async def test_directory_query(ctx: Ctx) -> None:
    ctx.guest.telephone = "+441234567890"
    for query in (
        {"email": "guest@example.com"},
        {"telephone": "+441234567890"},
        {"localKey": ctx.guest.id},
    ):
        status, body = await ctx.post("/directory/query", query)
        assert status == 200
        assert body["id"] == ctx.guest.id
        key = serialization.load_der_public_key(base64.b64decode(body["publicKey"]))
        assert (
            key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            == ctx.guest.public_key_raw
        )
    assert (await ctx.post("/directory/query", {"email": "nobody@example.com"}))[0] == 404
    assert (await ctx.post("/directory/query", {}))[0] == 400
    both = {"email": "guest@example.com", "localKey": ctx.guest.id}
    assert (await ctx.post("/directory/query", both))[0] == 400
    assert (await ctx.post("/directory/query", {"email": "x"}, "garbage"))[0] == 401
    _, first = await ctx.post("/share/invite/guest@example.com", None)
    assert first == {"id": ctx.guest.id, "publicKey": ctx.guest.public_key_b64}


async def test_rate_limited_everywhere(ctx: Ctx) -> None:
    ctx.sim.rate_limited = True
    async with ctx.http.get(ctx.url("/time")) as resp:
        assert resp.status == 429
        assert (await resp.json())["code"] >= 429
    assert (await ctx.get("/site"))[0] == 429
    assert (await ctx.execute(ctx.sign(ctx.claims({"type": "MUTATE_LOCK", "locked": False}))))[
        0
    ] == 429
    ctx.sim.rate_limited = False
    assert (await ctx.get("/site"))[0] == 200


async def test_request_log(ctx: Ctx) -> None:
    assert ctx.sim.count("/auth/token") == 1
    assert ctx.sim.count("/auth/certificate") == 1
    await ctx.get("/site")
    assert ctx.sim.requests[-1][:3] == ("GET", "/site", 200)
    async with ctx.http.get(ctx.url("/nowhere")) as resp:
        assert resp.status == 404
        assert isinstance((await resp.json())["code"], float)
    assert ctx.sim.count("/") == 4


async def test_demo_setup() -> None:
    sim = DoordeckSimulator()
    locks = demo(sim, ["demo@example.com:password"], 3)
    (account,) = sim.accounts.values()
    assert (account.email, account.password) == ("demo@example.com", "password")
    assert [lk.users[account.id].role for lk in locks] == ["ADMIN"] * 3
    assert [lk.batch_sharing for lk in locks] == [True, False, True]


# ---------------------------------------------------------------------- injectable clock
async def test_fake_clock_drives_time_tokens_certificates_and_relock() -> None:
    async with fake_session() as (ctx, clock):
        ctx.lock.reports_locked = True
        async with ctx.http.get(ctx.url("/time")) as resp:
            assert (await resp.json())["now"] == 1_700_000_000_000
        assert ctx.chain is not None
        leaf = x509.load_der_x509_certificate(base64.b64decode(ctx.chain[0]))
        assert leaf.not_valid_after_utc.timestamp() == clock.now + 30 * 86400
        assert (await ctx.execute(ctx.sign(ctx.claims(UNLOCK))))[0] == 204
        assert ctx.lock.operations[0].at == clock.now
        clock.now += 4.9
        assert (await ctx.get("/device/lock-1"))[1]["state"]["locked"] is False
        clock.now += 0.2  # the 5 s unlock time is over
        assert (await ctx.get("/device/lock-1"))[1]["state"]["locked"] is True
        clock.now += 3600  # the auth token's lifetime too
        status, body = await ctx.get("/site")
        assert (status, body["code"]) == (401, 401.4)
        await ctx.login()
        assert ctx.sim.requests[-1].at == clock.now
        ctx.sim.clock_offset = -120.0  # changed at run time
        async with ctx.http.get(ctx.url("/time")) as resp:
            assert (await resp.json())["now"] == int((clock.now - 120) * 1000)


async def test_stepping_the_server_clock_is_a_clock_error_not_401() -> None:
    """The offset stepped back past the leaf's start: a 400 clock problem; a new leaf fixes it."""
    async with fake_session() as (ctx, _clock):
        assert ctx.key is not None
        ctx.sim.clock_offset = -300.0
        await ctx.login()
        status, body = await ctx.execute(ctx.sign(ctx.claims(UNLOCK)))  # signed with server time
        assert (status, body["code"]) == (400, 400.29)
        assert "clock" in body["message"]
        ctx.chain = (await ctx.register(ctx.key))["certificateChain"]
        assert (await ctx.execute(ctx.sign(ctx.claims(UNLOCK))))[0] == 204


@pytest.mark.parametrize(
    ("client_ahead", "code"),
    [
        (30.0, 400.11),  # nbf and iat in the future: nbf is checked first
        (3600.0, 400.11),
        (-61.0, 400.13),  # exp = client now + 60 has passed
        (-7200.0, 400.13),
    ],
)
async def test_time_window_rejections_are_400_never_401(client_ahead: float, code: float) -> None:
    async with fake_session() as (ctx, clock):
        claims = ctx.claims(UNLOCK, now=clock.now + client_ahead)
        status, body = await ctx.execute(ctx.sign(claims))
        assert (status, body["code"]) == (400, code)
        assert "clock" in body["message"]
        # iat alone in the future
        claims = ctx.claims(UNLOCK) | {"iat": int(clock.now) + 30}
        assert (await ctx.execute(ctx.sign(claims)))[1]["code"] == 400.12
        assert ctx.lock.operations == []
        clock.now += 3601
        status, body = await ctx.execute(ctx.sign(ctx.claims(UNLOCK)))
        assert (status, body["code"]) == (401, 401.4)  # only the expired auth token is 401
        assert "expired" in body["message"].lower()


@pytest.mark.parametrize(
    ("shape", "status", "code", "words"),
    [
        ("claims", 400, 400.11, "check the clock"),
        ("401", 401, 401.12, "outside its validity window"),
        ("400", 400, 400.6, "Operation rejected"),
    ],
)
async def test_clock_refusals_come_in_several_shapes(
    shape: str, status: int, code: float, words: str
) -> None:
    """The same refused time window, answered as each shape says; a good one still passes."""
    async with fake_session() as (ctx, clock):
        assert ctx.key is not None
        ctx.sim.clock_refusal = CLOCK_REFUSALS[shape]
        reply = await ctx.execute(ctx.sign(ctx.claims(UNLOCK, now=clock.now + 300)))
        assert reply == (status, {"code": code, "message": reply[1]["message"]})
        assert words in reply[1]["message"]
        ctx.sim.clock_offset = -300.0  # the certificate is not valid yet: the same shape
        await ctx.login()
        reply = await ctx.execute(ctx.sign(ctx.claims(UNLOCK)))
        assert reply[0] == status
        assert reply[1]["code"] == (400.29 if shape == "claims" else code)
        ctx.chain = (await ctx.register(ctx.key))["certificateChain"]
        assert (await ctx.execute(ctx.sign(ctx.claims(UNLOCK))))[0] == 204
        assert ctx.lock.operations[-1].type == "MUTATE_LOCK"


async def test_a_lock_whose_clock_is_off_refuses_what_the_server_time_would_pass() -> None:
    """GET /time does not show a lock's clock: signing with the server's time is refused."""
    async with fake_session() as (ctx, clock):
        ctx.lock.clock_offset = 300.0
        async with ctx.http.get(ctx.url("/time")) as resp:
            assert (await resp.json())["now"] == int(clock.now * 1000)
        status, body = await ctx.execute(ctx.sign(ctx.claims(UNLOCK)))
        assert (status, body["code"]) == (400, 400.13)  # expired, by the lock's clock
        assert (await ctx.execute(ctx.sign(ctx.claims(UNLOCK, now=clock.now + 300))))[0] == 204


async def test_exp_beyond_the_immediate_window_is_queued_not_refused() -> None:
    async with fake_session() as (ctx, clock):
        claims = ctx.claims(UNLOCK) | {"exp": int(clock.now) + 61 + 5}
        assert (await ctx.execute(ctx.sign(claims)))[0] == 202  # seed: > 60 s → queued


# ---------------------------------------------------------------------- rate limits
class Reply(NamedTuple):
    status: int
    retry_after: str | None
    body: Any


async def _commands(ctx: Ctx, count: int, clock: FakeClock, step: float) -> list[Reply]:
    """``count`` unlock commands, ``step`` seconds apart on the fake clock."""
    start, replies = clock.now, []
    for i in range(count):
        clock.now = start + i * step
        async with ctx.http.post(
            ctx.url("/device/lock-1/execute"),
            data=ctx.sign(ctx.claims(UNLOCK)),
            headers={**ctx.auth(), "Content-Type": "application/jwt"},
        ) as resp:
            text = await resp.text()
            body = json.loads(text) if text else None
            replies.append(Reply(resp.status, resp.headers.get("Retry-After"), body))
    return replies


async def test_rate_limit_burst_of_100_commands() -> None:
    async with fake_session(rate_limit=DEFAULT_RATE_LIMIT) as (ctx, clock):
        t0 = clock.now
        replies = await _commands(ctx, 100, clock, 0.0)  # all in the same instant
        statuses = [r.status for r in replies]
        assert statuses == [204] * 10 + [429] * 90
        assert {r.retry_after for r in replies[10:]} == {"1"}
        body = replies[10].body
        assert body["code"] == 429.3
        assert int(body["code"]) == 429
        assert "10 operations per 1 s" in body["message"]
        assert ctx.sim.rate_limited_count == 90
        assert ctx.lock.refused == [t0] * 90
        assert [(o.seq, o.at) for o in ctx.lock.operations] == [(i + 1, t0) for i in range(10)]
        refused = ctx.sign(ctx.claims(UNLOCK, jti="retry-me"))
        assert (await ctx.execute(refused))[0] == 429
        clock.now += 1.0  # the window has slid past the burst
        assert (await ctx.execute(refused))[0] == 204  # a refused JWT was not consumed
        assert ctx.lock.operations[-1].seq == 11


async def test_rate_limit_sliding_window_at_twice_the_rate() -> None:
    async with fake_session(rate_limit=(8, 1.0)) as (ctx, clock):
        replies = await _commands(ctx, 100, clock, 1 / 16)  # 16 a second against 8 a second
        statuses = [r.status for r in replies]
        assert statuses == ([204] * 8 + [429] * 8) * 6 + [204] * 4
        assert ctx.sim.rate_limited_count == statuses.count(429) == 48
        retries = {r.retry_after for r in replies if r.status == 429}
        assert retries == {"1"}  # 0.0625 to 0.5 s, rounded up to whole seconds
        times = [o.at for o in ctx.lock.operations]
        gaps = [later - earlier for earlier, later in zip(times, times[8:], strict=False)]
        assert min(gaps) >= 1.0  # never more than 8 in any second


async def test_rate_limit_retry_after_counts_whole_seconds_and_changes_at_run_time(
    ctx: Ctx,
) -> None:
    assert ctx.sim.rate_limit is None  # the class default: off
    for _ in range(12):
        assert (await ctx.execute(ctx.sign(ctx.claims(UNLOCK))))[0] == 204
    ctx.sim.rate_limit = (1, 60.0)
    async with ctx.http.post(
        ctx.url("/device/lock-1/execute"),
        data=ctx.sign(ctx.claims(UNLOCK)),
        headers={**ctx.auth(), "Content-Type": "application/jwt"},
    ) as resp:
        assert resp.status == 204
    async with ctx.http.post(
        ctx.url("/device/lock-1/execute"),
        data=ctx.sign(ctx.claims(UNLOCK)),
        headers={**ctx.auth(), "Content-Type": "application/jwt"},
    ) as resp:
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "60"
        assert (await resp.json())["code"] == 429.3
    assert (await ctx.get("/device/lock-1"))[0] == 200  # only signed operations count
    await ctx.login("guest@example.com", "guestpw")  # another account has its own window
    ctx.sim.grant("lock-1", ctx.guest.id, "USER")
    ctx.admin, ctx.key = ctx.guest, Ed25519PrivateKey.generate()
    ctx.chain = (await ctx.register(ctx.key))["certificateChain"]
    assert (await ctx.execute(ctx.sign(ctx.claims(UNLOCK))))[0] == 204


async def test_request_rate_limit_counts_every_call() -> None:
    async with fake_session(request_rate_limit=(3, 2.0)) as (ctx, clock):
        # the session's key registration counted against the account: 2 calls left
        assert [(await ctx.get("/site"))[0] for _ in range(3)] == [200, 200, 429]
        clock.now += 2.0
        statuses = [(await ctx.get("/site"))[0] for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        async with ctx.http.get(ctx.url("/site"), headers=ctx.auth()) as resp:
            assert resp.status == 429
            assert resp.headers["Retry-After"] == "2"
            assert (await resp.json())["code"] == 429.4
        # calls without a token count against the client's address, not the account
        for expected in (200, 200, 200, 429):
            async with ctx.http.get(ctx.url("/time")) as resp:
                assert resp.status == expected
        clock.now += 2.0
        assert (await ctx.get("/site"))[0] == 200
        assert ctx.sim.rate_limited_count == 4


async def test_rate_limited_switch_still_answers_every_request_429(ctx: Ctx) -> None:
    ctx.sim.rate_limited = True
    async with ctx.http.get(ctx.url("/site"), headers=ctx.auth()) as resp:
        assert (resp.status, resp.headers["Retry-After"]) == (429, "1")
        assert (await resp.json())["code"] == 429.1
    assert ctx.sim.rate_limited_count == 1


def test_parse_rate_limit() -> None:
    assert parse_rate_limit("10/1") == (10, 1.0)
    assert parse_rate_limit("100/60") == (100, 60.0)
    assert parse_rate_limit("5") == (5, 1.0)
    assert parse_rate_limit("off") is None
    for bad in ("x/1", "0/1", "3/0", "3/-1"):
        with pytest.raises(Exception, match="expected"):
            parse_rate_limit(bad)


# ---------------------------------------------------------------------- faults
@pytest.mark.parametrize("status", [404, 500])
async def test_time_can_fail(ctx: Ctx, status: int) -> None:
    ctx.sim.fail_time, ctx.sim.fail_time_status = True, status
    async with ctx.http.get(ctx.url("/time")) as resp:
        assert resp.status == status
        assert (await resp.json())["code"] == float(status)
    ctx.sim.fail_time = False
    async with ctx.http.get(ctx.url("/time")) as resp:
        assert resp.status == 200
    ctx.sim.inject("/time", status=status, times=1)  # the same as a one-off fault
    async with ctx.http.get(ctx.url("/time")) as resp:
        assert resp.status == status
    async with ctx.http.get(ctx.url("/time")) as resp:
        assert resp.status == 200


async def test_html_error_page_on_any_path(ctx: Ctx) -> None:
    fault = ctx.sim.inject("/site", "html_error", times=1)
    async with ctx.http.get(ctx.url("/site/site-1/device"), headers=ctx.auth()) as resp:
        assert resp.status == 502
        assert resp.content_type == "text/html"
        page = await resp.text()
    assert page.startswith("<html><head><title>502 Bad Gateway</title>")
    assert len(page) > 1000
    assert (fault.hits, ctx.sim.faults) == (1, [])
    assert (await ctx.get("/site/site-1/device"))[0] == 200
    ctx.sim.inject("/auth/token", "html_error", status=504)  # until cleared
    for _ in range(2):
        async with ctx.http.post(ctx.url("/auth/token"), json={}) as resp:
            assert resp.status == 504
            assert "<title>504 Gateway Timeout</title>" in await resp.text()
    ctx.sim.clear_faults()
    await ctx.login()


async def test_transient_site_faults(ctx: Ctx) -> None:
    ctx.sim.inject("/site", status=429, retry_after=7, times=2)
    for path in ("/site", "/site/site-1/device"):
        async with ctx.http.get(ctx.url(path), headers=ctx.auth()) as resp:
            assert (resp.status, resp.headers["Retry-After"]) == (429, "7")
            assert (await resp.json())["code"] == 429.0
    assert (await ctx.get("/site"))[0] == 200
    ctx.sim.inject("/site/*/device", status=503, times=1)  # a glob: the device list only
    assert (await ctx.get("/site"))[0] == 200
    async with ctx.http.get(ctx.url("/site/site-1/device"), headers=ctx.auth()) as resp:
        assert (resp.status, resp.headers["Retry-After"]) == (503, "1")
        assert (await resp.json())["message"] == "Service Unavailable"
    assert (await ctx.get("/site/site-1/device"))[0] == 200
    ctx.sim.inject("/site", "delay", delay=0.3, times=1)
    with pytest.raises(TimeoutError):
        async with ctx.http.get(
            ctx.url("/site"), headers=ctx.auth(), timeout=aiohttp.ClientTimeout(total=0.05)
        ):
            pass
    assert (await ctx.get("/site"))[0] == 200
    assert ctx.sim.rate_limited_count == 2
    await asyncio.sleep(0.3)  # let the delayed request finish before the server stops


async def test_second_factor_on_a_lock_command(ctx: Ctx) -> None:
    ctx.lock.fault = "second_factor"
    status, body = await ctx.execute(ctx.sign(ctx.claims(UNLOCK)))
    assert (status, body["code"]) == (423, 423.2)
    assert "Second factor" in body["message"]
    ctx.lock.fault = None
    ctx.sim.inject("/device/*/execute", "second_factor", times=1)
    assert (await ctx.execute(ctx.sign(ctx.claims(UNLOCK))))[0] == 423
    assert (await ctx.get("/device/lock-1"))[0] == 200  # the glob spares GET /device/{id}
    assert ctx.lock.locked
    assert ctx.lock.operations == []
    assert (await ctx.execute(ctx.sign(ctx.claims(UNLOCK))))[0] == 204


async def test_key_losing_its_verification(ctx: Ctx) -> None:
    assert ctx.key is not None
    ctx.sim.require_second_factor(ctx.admin.id)
    status, body = await ctx.execute(ctx.sign(ctx.claims(UNLOCK)))
    assert (status, body["code"]) == (423, 423.2)
    assert ctx.sim.registered_keys(ctx.admin.id) == []
    key = {"ephemeralKey": spki(ctx.key)}
    assert (await ctx.post("/auth/certificate", key))[0] == 423
    assert (await ctx.post("/auth/certificate/verify?method=SMS", key))[0] == 204
    (code,) = ctx.sim.sent_codes("admin@example.com")
    signature = base64.b64encode(ctx.key.sign(code.encode())).decode()
    status, chain = await ctx.post("/auth/certificate/check", {"verificationSignature": signature})
    assert status == 200
    assert ctx.sim.registered_keys(ctx.admin.id) == [raw(ctx.key)]
    ctx.chain = chain["certificateChain"]
    assert (await ctx.execute(ctx.sign(ctx.claims(UNLOCK))))[0] == 204


# ---------------------------------------------------------------------- newcomers
async def test_code_is_logged_and_requests_are_written_to_the_log_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="simulators.doordeck")
    log = tmp_path / "doordeck.log"
    log.write_text("earlier line\n")
    sim = DoordeckSimulator(log_path=log)
    demo(sim, ["demo@example.com:s3cret-pw"], 1, second_factor=True)
    await sim.start()
    try:
        async with session(sim) as ctx:
            await ctx.login("demo@example.com", "s3cret-pw")
            key = {"ephemeralKey": spki(Ed25519PrivateKey.generate())}
            assert (await ctx.post("/auth/certificate", key))[0] == 423
            assert (await ctx.post("/auth/certificate/verify?method=EMAIL", key))[0] == 204
            token = ctx.token
    finally:
        await sim.stop()
    (code,) = sim.sent_codes("demo@example.com")
    line = f"Second-factor code for demo@example.com: {code}"
    assert any(r.levelno == logging.INFO and line in r.getMessage() for r in caplog.records)
    text = log.read_text()
    lines = text.splitlines()
    assert lines[0] == "earlier line"  # appended
    assert line in text
    requests = [ln.split(" ", 1)[1] for ln in lines[1:] if "Second-factor" not in ln]
    assert requests[:2] == ["POST /auth/token 200", "POST /auth/certificate 200"]
    assert "POST /auth/certificate 423 423.1 Ephemeral key requires secondary authentication" in (
        requests
    )
    assert requests[-1] == "POST /auth/certificate/verify 204"
    assert len(requests) == len(sim.requests)
    for secret in ("s3cret-pw", "pw\n", token, token.split(".")[1], key["ephemeralKey"]):
        assert secret not in text
    assert text.count(code) == 1


async def test_the_office_account_asks_for_a_second_factor_and_has_its_own_lock() -> None:
    """The built-in account a newcomer signs in with to meet the second factor."""
    sim = DoordeckSimulator()
    demo(sim, ["demo@example.com:password"], 2)  # without --second-factor
    office_account(sim)
    await sim.start()
    try:
        async with session(sim) as ctx:
            await ctx.login("demo@example.com", "password")
            key = {"ephemeralKey": spki(Ed25519PrivateKey.generate())}
            assert (await ctx.post("/auth/certificate", key))[0] == 200
            await ctx.login("office@example.com", "office")
            assert (await ctx.post("/auth/certificate", key))[0] == 423
            status, sites = await ctx.get("/site")
            assert status == 200
            assert [site["name"] for site in sites] == ["Office"]
            status, devices = await ctx.get(f"/site/{sites[0]['id']}/device")
            assert [(device["name"], device["role"]) for device in devices] == [
                ("Office door", "ADMIN")
            ]
    finally:
        await sim.stop()


async def test_command_line_prints_the_code_on_stderr(tmp_path: Path) -> None:
    log = tmp_path / "requests.log"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators.doordeck",
        "--port",
        "0",
        "--locks",
        "1",
        "--second-factor",
        "--log",
        str(log),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        started = json.loads(await asyncio.wait_for(process.stdout.readline(), 30))
        async with aiohttp.ClientSession() as http:
            async with http.post(
                started["url"] + "/auth/token",
                json={"email": "demo@example.com", "password": "password"},
            ) as resp:
                token = (await resp.json())["authToken"]
            async with http.post(
                started["url"] + "/auth/certificate/verify",
                json={"ephemeralKey": spki(Ed25519PrivateKey.generate())},
                headers={"Authorization": f"Bearer {token}"},
            ) as resp:
                assert resp.status == 204
        line = b""
        while b"Second-factor code" not in line:
            line = await asyncio.wait_for(process.stderr.readline(), 10)
            assert line, "stderr closed before the code was logged"
        assert b"INFO" in line
        assert b"Second-factor code for demo@example.com: " in line
        code = line.split(b": ")[-1].split()[0].decode()
        assert len(code) == 6
        assert f"Second-factor code for demo@example.com: {code}" in log.read_text()
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)


def test_help_explains_every_option_and_names_the_demo_account(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = build_parser()
    for action in parser._actions:
        assert action.help, action.option_strings
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for fragment in (
        "demo@example.com",
        "password: password",
        "guest@example.com",
        "password: guest",
        "--log",
        "--rate-limit",
        "--second-factor",
        "office@example.com",
        "password: office",
        "always asks for a second factor",
        "Second-factor code for office@example.com",
    ):
        assert fragment in text
    args = parser.parse_args(["--rate-limit", "off", "--fail-time", "--log", "x.log"])
    assert (args.rate_limit, args.fail_time, args.log) == (None, 500, "x.log")
    assert parser.parse_args([]).rate_limit == DEFAULT_RATE_LIMIT
    assert parser.parse_args([]).clock_refusal == "claims"
    assert parser.parse_args(["--clock-refusal", "401"]).clock_refusal == "401"
