"""Self-tests of the Doordeck simulator, driven with raw aiohttp, cryptography and PyJWT."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
import datetime as dt
import json
import time
from typing import Any
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

from simulators.doordeck import DoordeckSimulator, SimAccount, SimLock, demo

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

    def claims(self, operation: dict[str, Any], *, now: float | None = None, **extra: Any) -> dict:
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


@pytest_asyncio.fixture
async def ctx(sim: DoordeckSimulator) -> AsyncIterator[Ctx]:
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
