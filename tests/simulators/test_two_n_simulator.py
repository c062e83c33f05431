"""Self-tests of the 2N device simulator, driven with raw HTTP on loopback."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
import hashlib
from pathlib import Path
import re
import secrets
import subprocess
import sys
import time
from typing import Any

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
import httpx
import pytest

from simulators import two_n as two_n_module
from simulators.two_n import (
    PRIVILEGES,
    MobileKey,
    SimSwitch,
    TwoNDeviceSimulator,
    build_parser,
    simulator_from_args,
)

ADMIN, ADMIN_PW = "admin", "2n-password"
REPO = Path(__file__).resolve().parents[2]
EMPTY: list[dict[str, Any]] = [{}, {}, {}, {}]
SUCCESS = {"success": True}


def _pkcs1(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return base64.b64encode(der).decode()


def _spki(private_b64: str) -> str:
    key = serialization.load_der_private_key(base64.b64decode(private_b64), None)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@pytest.fixture(scope="module")
def keys() -> list[str]:
    """Eight 1024-bit RSA private keys, PKCS#1 DER in base64 as the seed's examples."""
    return [_pkcs1(rsa.generate_private_key(65537, 1024)) for _ in range(8)]


# ----- a bare client ---------------------------------------------------------------------------
def _challenge_fields(header: str) -> dict[str, str]:
    return {
        m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
        for m in re.finditer(r'(\w+)=(?:"([^"]*)"|([^\s,]*))', header.partition(" ")[2])
    }


def digest_header(
    challenge: str, method: str, uri: str, user: str, password: str, nc: int, cnonce: str = ""
) -> str:
    """RFC 7616 answer (MD5, qop=auth) to a ``WWW-Authenticate: Digest ...`` challenge."""
    fields = _challenge_fields(challenge)
    cnonce = cnonce or secrets.token_hex(8)

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    ha1, ha2 = md5(f"{user}:{fields['realm']}:{password}"), md5(f"{method}:{uri}")
    response = md5(f"{ha1}:{fields['nonce']}:{nc:08x}:{cnonce}:auth:{ha2}")
    return (
        f'Digest username="{user}", realm="{fields["realm"]}", nonce="{fields["nonce"]}", '
        f'uri="{uri}", response="{response}", qop=auth, nc={nc:08x}, cnonce="{cnonce}", '
        f'opaque="{fields["opaque"]}", algorithm=MD5'
    )


class Device:
    """Speaks to the simulator as a client would: Basic, or Digest keeping the last challenge."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        sim: TwoNDeviceSimulator,
        user: str = ADMIN,
        password: str = ADMIN_PW,
        ssl: aiohttp.Fingerprint | bool = True,
    ) -> None:
        self.session, self.sim, self.user, self.password = session, sim, user, password
        self.ssl = ssl
        self.challenge: str | None = None
        self.nc = 0
        self.last: aiohttp.ClientResponse | None = None

    def _authorization(self, method: str, uri: str) -> dict[str, str]:
        if self.sim.auth == "basic":
            return {"Authorization": aiohttp.encode_basic_auth(self.user, self.password)}
        if self.sim.auth == "digest" and self.challenge is not None:
            self.nc += 1
            header = digest_header(self.challenge, method, uri, self.user, self.password, self.nc)
            return {"Authorization": header}
        return {}

    async def call(self, method: str, uri: str, json: Any = None) -> tuple[int, Any]:
        for attempt in range(2):
            headers = self._authorization(method, uri)
            async with self.session.request(
                method,
                self.sim.url + uri,
                json=json,
                headers=headers,
                ssl=self.ssl,
                timeout=aiohttp.ClientTimeout(total=5),
            ) as response:
                self.last = response
                body = await response.json(content_type=None)
                challenge = response.headers.get("WWW-Authenticate", "")
                if response.status == 401 and challenge.startswith("Digest"):
                    self.challenge, self.nc = challenge, 0
                    if attempt == 0:
                        continue
                return response.status, body
        raise AssertionError("unreachable")

    async def get(self, uri: str) -> Any:
        status, body = await self.call("GET", uri)
        assert status == 200, body
        return body

    async def result(self, uri: str) -> Any:
        body = await self.get(uri)
        assert body["success"] is True, body
        return body["result"]

    async def put(self, config: Any) -> Any:
        status, body = await self.call("PUT", "/api/mobilekey/config", json=config)
        assert status == 200, body
        return body


def error(code: int, description: str, param: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "description": description}
    if param is not None:
        body = {"code": code, "param": param, "description": description}
    return {"success": False, "error": body}


# ----- fixtures --------------------------------------------------------------------------------
@pytest.fixture
async def sim() -> AsyncIterator[TwoNDeviceSimulator]:
    """A Digest device with three accounts and quick switches."""
    simulator = TwoNDeviceSimulator(
        accounts={
            ADMIN: (ADMIN_PW, PRIVILEGES),
            "door": ("door-pw", {"switches_control"}),
            "keys": ("keys-pw", ["access_control"]),
        },
        switches=[
            SimSwitch(1, on_duration=0.05),
            SimSwitch(2, mode="bistable"),
            SimSwitch(3, enabled=False),
            SimSwitch(4, on_duration=2, type="security"),
        ],
    )
    async with simulator:
        yield simulator


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def admin(session: aiohttp.ClientSession, sim: TwoNDeviceSimulator) -> Device:
    return Device(session, sim)


class DeviceClock:
    """The device's monotonic clock, standing still until the test moves it.

    The simulator's timers (a nonce's lifetime, a monostable switch's opening) are read off
    ``time.monotonic()``; on this clock they expire when the test says, not when a loaded
    machine happens to get there.
    """

    def __init__(self) -> None:
        self._now = time.monotonic()

    def monotonic(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


@pytest.fixture
def device_clock(monkeypatch: pytest.MonkeyPatch) -> DeviceClock:
    """The simulator's clock (its only use of the ``time`` module is ``monotonic``)."""
    clock = DeviceClock()
    monkeypatch.setattr(two_n_module, "time", clock)
    return clock


# ----- authentication --------------------------------------------------------------------------
async def test_system_info_over_digest(sim: TwoNDeviceSimulator, admin: Device) -> None:
    info = await admin.result("/api/system/info")
    assert info == {
        "deviceName": "2N IP Verso",
        "variant": "2N IP Verso",
        "serialNumber": "54-1046-0745",
        "macAddr": info["macAddr"],
        "hwVersion": "570v1",
        "swVersion": "2.49.1.71.3",
        "buildType": "release",
        "devType": "2-14-0-0",
        "variantId": 14,
        "customerId": 0,
        "firmwarePackage": "verso",
    }
    assert re.fullmatch(r"7C-1E-B3(-[0-9A-F]{2}){3}", info["macAddr"])
    first, second = sim.requests
    assert (first.status, first.error_code, first.authenticated) == (401, 9, False)
    assert (second.status, second.username, second.authenticated) == (200, ADMIN, True)
    fields = _challenge_fields(admin.challenge or "")
    assert fields["qop"] == "auth"
    assert fields["realm"] == "HTTP API"
    assert fields["algorithm"] == "MD5"
    status, body = await admin.call("POST", "/api/system/info")  # the nonce is reused
    assert (status, body["result"]["serialNumber"]) == (200, "54-1046-0745")
    assert sim.count("system/info") == 3
    assert sim.count("/api/system/info", method="post") == 1
    sim.info["swVersion"] = "2.50.0.1.1"
    assert (await admin.result("/api/system/info"))["swVersion"] == "2.50.0.1.1"


async def test_digest_refuses_wrong_credentials(
    sim: TwoNDeviceSimulator, session: aiohttp.ClientSession
) -> None:
    required = error(9, "authorization required")
    for user, password in ((ADMIN, "wrong"), ("nobody", ADMIN_PW)):
        device = Device(session, sim, user, password)
        assert await device.call("GET", "/api/system/info") == (401, required)
        assert device.last is not None
        assert device.last.headers["WWW-Authenticate"].startswith('Digest realm="HTTP API"')
        assert sim.requests[-1].username == user
    url = sim.url + "/api/system/info"
    async with session.get(url) as response:
        assert response.status == 401
        assert await response.json() == required
    basic = {"Authorization": aiohttp.encode_basic_auth(ADMIN, ADMIN_PW)}
    async with session.get(url, headers=basic) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Digest ")
        assert await response.json() == error(8, "invalid authentication method")
    # A right answer computed for another URI is refused.
    admin = Device(session, sim)
    await admin.get("/api/system/info")
    assert admin.challenge is not None
    forged = digest_header(admin.challenge, "GET", "/api/switch/status", ADMIN, ADMIN_PW, 9)
    async with session.get(url, headers={"Authorization": forged}) as response:
        assert response.status == 401
    assert all("2n-password" not in repr(request) for request in sim.requests)


async def test_digest_stale_nonce(
    sim: TwoNDeviceSimulator, admin: Device, device_clock: DeviceClock
) -> None:
    session = admin.session
    uri = "/api/switch/status"
    await admin.get(uri)
    old = admin.challenge
    assert old is not None
    sim.expire_nonces()
    header = digest_header(old, "GET", uri, ADMIN, ADMIN_PW, 5)
    async with session.get(sim.url + uri, headers={"Authorization": header}) as response:
        assert response.status == 401
        fresh = response.headers["WWW-Authenticate"]
        assert "stale=true" in fresh
        assert await response.json() == error(9, "authorization required")
    assert _challenge_fields(fresh)["nonce"] != _challenge_fields(old)["nonce"]
    # The fresh nonce works; replaying a request (same nonce and nc) is stale again.
    header = digest_header(fresh, "GET", uri, ADMIN, ADMIN_PW, 1)
    async with session.get(sim.url + uri, headers={"Authorization": header}) as response:
        assert response.status == 200
    async with session.get(sim.url + uri, headers={"Authorization": header}) as response:
        assert response.status == 401
        assert "stale=true" in response.headers["WWW-Authenticate"]
    # A wrong password on a stale nonce is not "stale", only wrong.
    wrong = digest_header(old, "GET", uri, ADMIN, "nope", 6)
    async with session.get(sim.url + uri, headers={"Authorization": wrong}) as response:
        assert response.status == 401
        assert "stale" not in response.headers["WWW-Authenticate"]
    # Nonces age out, and a restart forgets them.
    await admin.get(uri)
    device_clock.advance(sim.nonce_lifetime - 1)
    assert (await admin.call("GET", uri))[0] == 200  # not yet stale
    assert sim.requests[-1].status == 200
    device_clock.advance(2)
    assert (await admin.call("GET", uri))[0] == 200  # the client took the stale challenge
    assert sim.requests[-2].status == 401
    await sim.stop()
    await sim.start()
    await admin.get(uri)
    assert sim.requests[-2].status == 401


async def test_digest_interoperates_with_aiohttp_and_httpx(sim: TwoNDeviceSimulator) -> None:
    middleware = aiohttp.DigestAuthMiddleware(ADMIN, ADMIN_PW)
    async with aiohttp.ClientSession(middlewares=(middleware,)) as session:
        for _ in range(2):
            async with session.get(sim.url + "/api/switch/caps?switch=1") as response:
                assert response.status == 200
                assert (await response.json())["result"]["switches"][0]["switch"] == 1
    auth = httpx.DigestAuth(ADMIN, ADMIN_PW)
    async with httpx.AsyncClient(auth=auth) as client:
        reply = await client.get(sim.url + "/api/switch/ctrl", params={"switch": 2, "action": "on"})
        assert reply.json() == SUCCESS
    assert sim.switches[2].latched


async def test_basic_and_no_authentication(session: aiohttp.ClientSession) -> None:
    async with TwoNDeviceSimulator(auth="basic") as sim:
        assert await Device(session, sim).result("/api/switch/caps?switch=2") == {
            "switches": [{"switch": 2, "enabled": True, "mode": "bistable",
                          "switchOnDuration": 5, "type": "normal"}]
        }  # fmt: skip
        status, body = await Device(session, sim, password="bad").call("GET", "/api/system/info")
        assert (status, body) == (401, error(9, "authorization required"))
        async with session.get(sim.url + "/api/system/info") as response:
            assert response.headers["WWW-Authenticate"] == 'Basic realm="HTTP API"'
        digest = 'Digest username="admin", nonce="x"'
        async with session.get(
            sim.url + "/api/system/info", headers={"Authorization": digest}
        ) as response:
            assert response.status == 401
            assert (await response.json())["error"]["code"] == 8
        assert sim.requests[1].username == ADMIN
    async with TwoNDeviceSimulator(auth="none") as sim:
        async with session.get(sim.url + "/api/switch/ctrl?switch=1&action=trigger") as response:
            assert await response.json() == SUCCESS
        assert sim.switches[1].activations == 1
        assert sim.requests[0].authenticated
        assert sim.requests[0].username is None
        form = {"switch": "2", "action": "on"}  # POST takes form parameters too
        async with session.post(sim.url + "/api/switch/ctrl", data=form) as response:
            assert await response.json() == SUCCESS
        assert sim.switches[2].latched
        assert sim.requests[-1].body == form


async def test_privileges(sim: TwoNDeviceSimulator, session: aiohttp.ClientSession) -> None:
    door, keys = Device(session, sim, "door", "door-pw"), Device(session, sim, "keys", "keys-pw")
    assert await door.get("/api/mobilekey/config") == error(
        10, "insufficient user privileges", "access_control"
    )
    assert await keys.get("/api/switch/ctrl?switch=1&action=on") == error(
        10, "insufficient user privileges", "switches_control"
    )
    assert sim.switches[1].activations == 0
    assert (await keys.result("/api/mobilekey/config"))["keys"] == EMPTY
    assert (await door.result("/api/switch/status?switch=1"))["switches"][0]["switch"] == 1
    sim.set_account("guest", "guest-pw", ())
    guest = Device(session, sim, "guest", "guest-pw")
    assert (await guest.result("/api/system/info"))["serialNumber"] == "54-1046-0745"
    assert (await guest.get("/api/switch/caps"))["error"]["param"] == "switches_control"
    sim.set_account("fifth", "x", PRIVILEGES)
    with pytest.raises(ValueError, match="at most 5"):
        sim.set_account("sixth", "x", PRIVILEGES)
    with pytest.raises(ValueError, match="unknown privilege"):
        sim.set_account("fifth", "x", ["door_opening"])
    sim.remove_account("guest")
    assert (await guest.call("GET", "/api/system/info"))[0] == 401


async def test_unknown_paths_and_methods(sim: TwoNDeviceSimulator, admin: Device) -> None:
    assert await admin.get("/api/nothing/here") == error(2, "invalid request path")
    assert await admin.call("DELETE", "/api/system/info") == (
        200,
        error(3, "invalid request method"),
    )
    assert (await admin.call("PUT", "/api/switch/ctrl"))[1]["error"]["code"] == 3


# ----- switches --------------------------------------------------------------------------------
async def test_switch_caps_and_status(admin: Device) -> None:
    assert await admin.result("/api/switch/caps") == {
        "switches": [
            {"switch": 1, "enabled": True, "mode": "monostable", "switchOnDuration": 0.05,
             "type": "normal"},
            {"switch": 2, "enabled": True, "mode": "bistable", "switchOnDuration": 5,
             "type": "normal"},
            {"switch": 3, "enabled": False},
            {"switch": 4, "enabled": True, "mode": "monostable", "switchOnDuration": 2,
             "type": "security"},
        ]
    }  # fmt: skip
    assert await admin.result("/api/switch/caps?switch=3") == {
        "switches": [{"switch": 3, "enabled": False}]
    }
    statuses = (await admin.result("/api/switch/status"))["switches"]
    assert [status["switch"] for status in statuses] == [1, 2, 3, 4]
    assert statuses[0] == {"switch": 1, "active": False, "locked": False, "held": False}
    for bad in ("9", "x"):
        assert await admin.get(f"/api/switch/status?switch={bad}") == error(
            12, "invalid parameter value", "switch"
        )


async def test_monostable_switch(
    sim: TwoNDeviceSimulator, admin: Device, device_clock: DeviceClock
) -> None:
    for action in ("trigger", "on"):
        assert await admin.get(f"/api/switch/ctrl?switch=1&action={action}") == SUCCESS
        device_clock.advance(0.04)  # switchOnDuration 0.05 s
        status = await admin.result("/api/switch/status?switch=1")
        assert status["switches"][0]["active"] is True
        device_clock.advance(0.02)
        status = await admin.result("/api/switch/status?switch=1")
        assert status["switches"][0]["active"] is False  # off by itself
    assert sim.switches[1].activations == 2
    await admin.get("/api/switch/ctrl?switch=4&action=on")
    await admin.get("/api/switch/ctrl?switch=4&action=off")
    assert not sim.switches[4].is_active(device_clock.monotonic())
    async with admin.session.get(
        sim.url + "/api/switch/ctrl?switch=1&action=trigger&response=DONE",
        headers=admin._authorization(
            "GET", "/api/switch/ctrl?switch=1&action=trigger&response=DONE"
        ),
    ) as response:
        assert await response.text() == "DONE"
    assert await admin.get("/api/switch/ctrl?action=on") == error(
        11, "missing mandatory parameter", "switch"
    )
    assert await admin.get("/api/switch/ctrl?switch=1") == error(
        11, "missing mandatory parameter", "action"
    )
    assert await admin.get("/api/switch/ctrl?switch=1&action=open") == error(
        12, "invalid parameter value", "action"
    )
    assert await admin.get("/api/switch/ctrl?switch=7&action=on") == error(
        12, "invalid parameter value", "switch"
    )
    assert await admin.get("/api/switch/ctrl?switch=3&action=on") == error(
        4, "function is disabled", "switch"
    )


async def test_bistable_lock_and_hold(sim: TwoNDeviceSimulator, admin: Device) -> None:
    async def ctrl(query: str) -> Any:
        return await admin.get(f"/api/switch/ctrl?switch=2&{query}")

    async def state() -> Any:
        return (await admin.result("/api/switch/status?switch=2"))["switches"][0]

    assert await ctrl("action=on") == SUCCESS
    assert (await state())["active"] is True
    await asyncio.sleep(0.02)
    assert (await state())["active"] is True  # bistable: stays on
    await ctrl("action=trigger")
    assert (await state())["active"] is False
    await ctrl("action=trigger")
    assert (await state())["active"] is True
    await ctrl("action=off")
    assert (await state())["active"] is False
    failed = error(14, "action failed")
    assert await ctrl("action=lock") == SUCCESS
    assert await state() == {"switch": 2, "active": False, "locked": True, "held": False}
    assert await ctrl("action=on") == failed
    assert await ctrl("action=trigger") == failed
    assert await ctrl("action=off") == SUCCESS
    assert await ctrl("action=hold") == SUCCESS  # held while locked: locking wins
    assert (await state())["active"] is False
    await ctrl("action=unlock")
    assert (await state())["active"] is True
    await ctrl("action=release")
    assert await ctrl("action=hold&timeout=60") == SUCCESS
    assert await state() == {
        "switch": 2, "active": True, "locked": False, "held": True, "holdTimeout": 60
    }  # fmt: skip
    assert await ctrl("action=off") == failed
    assert await ctrl("action=on") == SUCCESS
    sim.switches[2].hold_until = time.monotonic() - 1  # the hour is over
    assert (await state())["held"] is False
    for timeout in ("0", "86401", "soon"):
        assert await ctrl(f"action=hold&timeout={timeout}") == error(
            12, "invalid parameter value", "timeout"
        )
    assert await ctrl("action=hold&timeout=86400") == SUCCESS
    await ctrl("action=release")
    assert (await state())["active"] is False


# ----- mobile key ------------------------------------------------------------------------------
async def test_mobile_key_defaults(sim: TwoNDeviceSimulator, admin: Device) -> None:
    assert await admin.get("/api/mobilekey/config") == {
        "success": True,
        "result": {"location": "54-1046-0745", "keys": EMPTY},
    }
    assert await admin.put({}) == SUCCESS
    assert await admin.put({"location": "Main door"}) == SUCCESS
    assert (await admin.result("/api/mobilekey/config"))["location"] == "Main door"


@pytest.mark.parametrize("sent", [0, 1, 2, 3, 4])
async def test_mobile_key_put_replaces_all_slots(
    sim: TwoNDeviceSimulator, admin: Device, keys: list[str], sent: int
) -> None:
    old = [{"type": "rsa", "key": key, "ctime": 1608047606 + i} for i, key in enumerate(keys[:4])]
    assert await admin.put({"location": "LocationUniqueID", "keys": old}) == SUCCESS
    assert (await admin.result("/api/mobilekey/config"))["keys"] == old
    new = [{"key": key} for key in keys[4 : 4 + sent]]  # type omitted: rsa; no ctime
    assert await admin.put({"keys": new}) == SUCCESS
    config = await admin.result("/api/mobilekey/config")
    assert config["location"] == "LocationUniqueID"
    assert config["keys"] == [{"type": "rsa", "key": key} for key in keys[4 : 4 + sent]] + [{}] * (
        4 - sent
    )
    assert len(config["keys"]) == 4
    assert await admin.put({"location": "Other"}) == SUCCESS  # keys untouched
    assert (await admin.result("/api/mobilekey/config"))["keys"] == config["keys"]


async def test_mobile_key_invalid_keys_are_silently_dropped(
    sim: TwoNDeviceSimulator, admin: Device, keys: list[str]
) -> None:
    rsa_key = serialization.load_der_private_key(base64.b64decode(keys[0]), None)
    pkcs8 = base64.b64encode(
        rsa_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    ).decode()
    ecc = _pkcs1(ec.generate_private_key(ec.SECP256R1()))
    reply = await admin.put(
        {
            "keys": [
                {"type": "rsa", "key": keys[0], "ctime": "yesterday"},
                {"type": "rsa", "key": "not base64!"},
                {"type": "rsa", "key": pkcs8, "ctime": 1608047606},
                {"type": "rsa", "key": ecc},
            ]
        }
    )
    assert reply == SUCCESS  # no detail about what was not written
    assert (await admin.result("/api/mobilekey/config"))["keys"] == [
        {"type": "rsa", "key": keys[0]},
        {},
        {},
        {},
    ]
    garbage = base64.b64encode(b"\x30\x03\x02\x01\x00").decode()
    await admin.put(
        {
            "keys": [
                {"type": "ecc", "key": ecc, "ctime": 7},
                {"type": "dsa", "key": keys[1]},
                {"type": "rsa", "key": garbage, "ctime": -1},
                "MIIC",
            ]
        }
    )
    assert (await admin.result("/api/mobilekey/config"))["keys"] == [
        {"type": "ecc", "key": ecc, "ctime": 7},
        {},
        {},
        {},
    ]
    await admin.put({"keys": [{"key": keys[1], "ctime": True}, {"ctime": 5}, {}, {"key": None}]})
    assert (await admin.result("/api/mobilekey/config"))["keys"] == [
        {"type": "rsa", "key": keys[1]},
        {},
        {},
        {},
    ]


async def test_mobile_key_limits(sim: TwoNDeviceSimulator, admin: Device, keys: list[str]) -> None:
    first = [{"key": keys[0]}]
    assert await admin.put({"location": "L" * 127, "keys": first}) == SUCCESS
    assert (await admin.result("/api/mobilekey/config"))["location"] == "L" * 127
    assert await admin.put({"location": "M" * 128, "keys": []}) == error(
        13, "parameter data too big", "location"
    )
    five = [{"key": key} for key in keys[1:6]]
    assert await admin.put({"location": "N", "keys": five}) == error(
        12, "invalid parameter value", "keys"
    )
    assert (await admin.put({"location": 5}))["error"]["param"] == "location"
    assert (await admin.put({"keys": {"key": keys[1]}}))["error"]["param"] == "keys"
    assert (await admin.put(["location"]))["error"]["code"] == 12
    status, body = await admin.call("PUT", "/api/mobilekey/config")  # no body at all
    assert (status, body["error"]["code"]) == (200, 12)
    config = await admin.result("/api/mobilekey/config")
    assert config == {"location": "L" * 127, "keys": [{"type": "rsa", "key": keys[0]}, {}, {}, {}]}


async def test_mobile_key_public_key_shape(
    sim: TwoNDeviceSimulator, admin: Device, keys: list[str]
) -> None:
    sim.key_field = "publicKey"
    assert await admin.put({"keys": [{"key": keys[0], "ctime": 1608047754}]}) == SUCCESS
    pairing = MobileKey.generate(ctime=1700000000)
    sim.pairing_key = pairing
    config = await admin.result("/api/mobilekey/config")
    assert config == {
        "location": "54-1046-0745",
        "keys": [{"type": "rsa", "publicKey": _spki(keys[0]), "ctime": 1608047754}, {}, {}, {}],
        "pairingKey": {"type": "rsa", "publicKey": _spki(pairing.key_b64), "ctime": 1700000000},
    }
    assert keys[0] not in str(config)  # GET never shows a private key in this shape
    public = serialization.load_der_public_key(base64.b64decode(config["keys"][0]["publicKey"]))
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 1024
    sim.set_keys([MobileKey.generate("ecc"), None, MobileKey("unknown", b"\0")])
    shown = (await admin.result("/api/mobilekey/config"))["keys"]
    assert shown[0]["type"] == "ecc"
    assert isinstance(
        serialization.load_der_public_key(base64.b64decode(shown[0]["publicKey"])),
        ec.EllipticCurvePublicKey,
    )
    assert shown[1:] == [{}, {"type": "unknown"}, {}]
    sim.key_field = "key"
    assert "pairingKey" not in await admin.result("/api/mobilekey/config")
    newer = TwoNDeviceSimulator(key_field="publicKey")
    assert newer.info["swVersion"].startswith("2.50")


# ----- HTTPS -----------------------------------------------------------------------------------
async def test_https_fingerprint_and_replacement() -> None:
    sim = TwoNDeviceSimulator(protocol="https", auth="basic")
    with pytest.raises(RuntimeError, match="no certificate"):
        _ = sim.certificate_sha256
    async with sim:
        assert sim.url.startswith("https://127.0.0.1:")
        old = sim.certificate_sha256
        cert = x509.load_der_x509_certificate(sim.certificate_der)
        assert hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest() == old
        assert sim.certificate_fingerprint == ":".join(f"{b:02X}" for b in old)
        assert "BEGIN CERTIFICATE" in sim.certificate_pem
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            pinned_old = Device(session, sim, ssl=aiohttp.Fingerprint(old))
            assert (await pinned_old.result("/api/system/info"))["serialNumber"]
            async with aiohttp.ClientSession() as keep_alive:  # a pooled connection too
                kept = Device(keep_alive, sim, ssl=aiohttp.Fingerprint(old))
                await kept.get("/api/system/info")
                new = sim.replace_certificate()
                assert new == sim.certificate_sha256 != old
                await asyncio.sleep(0.05)
                with pytest.raises(aiohttp.ServerFingerprintMismatch):
                    await kept.get("/api/system/info")
            with pytest.raises(aiohttp.ServerFingerprintMismatch):
                await pinned_old.get("/api/system/info")
            pinned_new = Device(session, sim, ssl=aiohttp.Fingerprint(new))
            assert (await pinned_new.result("/api/system/info"))["serialNumber"]
            port = sim.port
            await sim.stop()
            with pytest.raises(aiohttp.ClientConnectorError):
                await pinned_new.get("/api/system/info")
            await sim.start()  # a reboot keeps the certificate and the address
            assert (sim.port, sim.certificate_sha256) == (port, new)
            assert (await pinned_new.result("/api/system/info"))["serialNumber"]


# ----- faults ----------------------------------------------------------------------------------
async def test_faults(session: aiohttp.ClientSession) -> None:
    async with TwoNDeviceSimulator(auth="none") as sim:
        device = Device(session, sim)
        info, ctrl = "/api/system/info", "/api/switch/ctrl?switch=2&action=on"
        sim.inject_fault("system/info", "delay", seconds=0.3)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await device.get(info)
        assert (await device.result(info))["variantId"] == 14  # once only
        # aiohttp sends an idempotent request (GET, PUT) once more after a cut: two faults.
        sim.inject_fault("api/switch/ctrl", "disconnect", times=2)
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await device.get(ctrl)
        assert sim.count(ctrl.partition("?")[0]) == 2
        assert not sim.switches[2].latched  # cut before acting
        sim.inject_fault("/api/switch/ctrl", "disconnect_after", times=2)
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await device.get(ctrl)
        assert sim.switches[2].latched  # acted, then cut
        assert sim.switches[2].activations == 2  # once per attempt
        sim.inject_fault(None, "malformed")
        async with session.get(sim.url + info) as response:
            assert response.content_type == "application/json"
            with pytest.raises(ValueError, match="Expecting value"):
                await response.json()
        sim.inject_fault(info, "http_error", times=2)
        for _ in range(2):
            async with session.get(sim.url + info) as response:
                assert (response.status, response.content_type) == (500, "text/html")
                assert "<html>" in await response.text()
        sim.inject_fault(None, "error_envelope", times=None)
        assert await device.get(ctrl) == error(14, "processing error")
        assert await device.get(info) == error(14, "processing error")
        assert sim.switches[2].latched  # not acted on
        sim.clear_faults()
        assert await device.get("/api/switch/ctrl?switch=2&action=trigger") == SUCCESS
        assert not sim.switches[2].latched
        assert [request.fault for request in sim.requests if request.path == info] == [
            "delay", None, "malformed", "http_error", "http_error", "error_envelope",
        ]  # fmt: skip
        cut = [r.status for r in sim.requests if r.fault in ("disconnect", "disconnect_after")]
        assert cut == [None] * 4
        with pytest.raises(ValueError, match="unknown fault"):
            sim.inject_fault(None, "explode")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="times"):
            sim.inject_fault(None, "delay", times=0)
        sim.inject_fault(info, "delay")  # fault_delay (10 s) by default: stop() cuts it short
        pending = asyncio.create_task(device.get(info))
        await asyncio.sleep(0.05)
    assert (await pending)["success"] is True


async def test_put_partial(session: aiohttp.ClientSession, keys: list[str]) -> None:
    async with TwoNDeviceSimulator(auth="none") as sim:
        device = Device(session, sim)
        old = [{"type": "rsa", "key": key} for key in keys[:4]]
        await device.put({"location": "Old", "keys": old})
        # Two faults: aiohttp sends the PUT a second time after the cut.
        sim.inject_fault("mobilekey/config", "put_partial", times=2, keys_written=2)
        assert (await device.result("/api/mobilekey/config"))["location"] == "Old"  # GET: no
        new = [{"key": key} for key in keys[4:7]]
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await device.put({"location": "New", "keys": new})
        assert await device.result("/api/mobilekey/config") == {
            "location": "New",
            "keys": [{"type": "rsa", "key": key} for key in (*keys[4:6], *keys[2:4])],
        }
        sim.inject_fault(None, "put_partial_error", keys_written=0)
        assert await device.put({"location": "Newer", "keys": []}) == error(14, "processing error")
        config = await device.result("/api/mobilekey/config")
        assert config["location"] == "Newer"
        assert config["keys"][0] == {"type": "rsa", "key": keys[4]}  # no key was written


async def test_switch_ctrl_by_post_and_a_cut_post_is_not_repeated(
    session: aiohttp.ClientSession,
) -> None:
    """2N accepts POST for switch/ctrl (form or query); aiohttp never sends a POST twice."""
    switches = [SimSwitch(1, on_duration=5), SimSwitch(2, mode="bistable")]
    async with TwoNDeviceSimulator(auth="none", switches=switches) as sim:
        ctrl = sim.url + "/api/switch/ctrl"
        async with session.post(ctrl, data={"switch": "2", "action": "on"}) as response:
            assert await response.json() == SUCCESS
        assert sim.switches[2].latched
        async with session.post(ctrl, params={"switch": "2", "action": "off"}) as response:
            assert await response.json() == SUCCESS
        assert not sim.switches[2].latched
        assert sim.requests[-2].body == {"switch": "2", "action": "on"}
        # The device acts, then the connection drops before its answer: a GET is sent again
        # by aiohttp (the door opens twice), a POST is not.
        sim.inject_fault("switch/ctrl", "disconnect_after", times=2)
        with pytest.raises(aiohttp.ServerDisconnectedError):
            async with session.post(ctrl, data={"switch": "1", "action": "trigger"}):
                pass
        assert sim.switches[1].activations == 1
        assert sim.count("switch/ctrl", "POST") == 3  # the cut one was sent once
        # The fault's second cut: the GET is cut, sent again, and answers success.
        async with session.get(ctrl, params={"switch": "1", "action": "trigger"}) as response:
            assert await response.json() == SUCCESS
        assert sim.switches[1].activations == 3  # one press, two activations
        assert sim.count("switch/ctrl", "GET") == 2
        # A late answer: the device acted at once, the client gave up before it answered.
        sim.inject_fault("switch/ctrl", "late_answer", seconds=0.5)
        with pytest.raises(TimeoutError):
            async with session.post(
                ctrl,
                data={"switch": "2", "action": "on"},
                timeout=aiohttp.ClientTimeout(total=0.1),
            ):
                pass
        assert sim.switches[2].latched


async def test_puts_the_device_does_not_keep(
    session: aiohttp.ClientSession, keys: list[str]
) -> None:
    """Success answers to writes the device kept in part, or not at all."""
    async with TwoNDeviceSimulator(auth="none") as sim:
        device = Device(session, sim)
        old = [{"type": "rsa", "key": key} for key in keys[:3]]
        await device.put({"location": "Old", "keys": old})
        new = [{"type": "rsa", "key": keys[3]}, *old]
        # Kept in part (the new primary key only), reported as success.
        sim.inject_fault("mobilekey/config", "put_partial_silent", keys_written=1)
        assert await device.put({"location": "New", "keys": new}) == SUCCESS
        held = (await device.result("/api/mobilekey/config"))["keys"]
        assert [slot.get("key") for slot in held] == [keys[3], keys[1], keys[2], None]
        # A key it does not hold yet is refused, silently, like an invalid one.
        await device.put({"location": "Old", "keys": old})
        sim.inject_fault("mobilekey/config", "put_refuse_new")
        assert await device.put({"location": "Old", "keys": new}) == SUCCESS
        held = (await device.result("/api/mobilekey/config"))["keys"]
        assert [slot.get("key") for slot in held] == [None, *keys[:3]]
        # Nothing kept at all.
        sim.inject_fault("mobilekey/config", "put_ignored")
        assert await device.put({"location": "Elsewhere", "keys": []}) == SUCCESS
        config = await device.result("/api/mobilekey/config")
        assert config["location"] == "Old"
        assert config["keys"][1] == {"type": "rsa", "key": keys[0]}
        # A fault for one method only, from its third request on.
        sim.inject_fault("mobilekey/config", "error_envelope", method="get", skip=2)
        for _ in range(2):
            await device.result("/api/mobilekey/config")
        assert await device.put({"location": "Old", "keys": old}) == SUCCESS
        assert await device.get("/api/mobilekey/config") == error(14, "processing error")
        with pytest.raises(ValueError, match="skip"):
            sim.inject_fault(None, "delay", skip=-1)


# ----- records, log and command line -----------------------------------------------------------
async def test_records_and_log_mask_secrets(tmp_path: Path, keys: list[str]) -> None:
    log = tmp_path / "two_n.log"
    async with (
        TwoNDeviceSimulator(log_path=log) as sim,
        aiohttp.ClientSession() as session,
    ):
        admin = Device(session, sim)
        await admin.put({"location": "Hall", "keys": [{"key": keys[0], "ctime": 1}]})
        await admin.get("/api/switch/ctrl?switch=1&action=on")
    put = sim.requests[-2]
    assert (put.method, put.path, put.username, put.status) == (
        "PUT",
        "/api/mobilekey/config",
        ADMIN,
        200,
    )
    body: Any = put.body
    assert body["location"] == "Hall"
    assert body["keys"][0]["ctime"] == 1
    assert body["keys"][0]["key"].startswith("MIIC…")
    assert sim.requests[-1].query == {"switch": "1", "action": "on"}
    text = log.read_text()
    assert len(text.splitlines()) == len(sim.requests) == 3
    assert "PUT /api/mobilekey/config user=admin" in text
    assert "GET /api/switch/ctrl?switch=1&action=on user=admin -> HTTP 200" in text
    for secret in (keys[0], keys[0][4:40], ADMIN_PW, "Digest "):
        assert secret not in text
        assert secret not in repr(sim.requests)


def test_cli_help_names_the_accounts() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "simulators.two_n", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    text = " ".join(result.stdout.split())
    assert "admin:2n-password" in text
    for word in ("--protocol", "--auth", "--user", "--switch", "--key-field", "--log", *PRIVILEGES):
        assert word in text
    assert "8183" in text


def test_cli_options(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    args = parser.parse_args(
        [
            "--user", "door:pw:switches_control",
            "--user", "odd:pa:ss",
            "--user", "none:x:",
            "--switch", "1:monostable:0.5:security",
            "--switch", "2:disabled",
            "--key-field", "publicKey",
            "--pairing-key",
            "--serial", "11-2222-3333",
            "--auth", "basic",
        ]
    )  # fmt: skip
    sim = simulator_from_args(args)
    assert {name: sorted(a.privileges) for name, a in sim.accounts.items()} == {
        "door": ["switches_control"],
        "odd": sorted(PRIVILEGES),
        "none": [],
    }
    assert sim.accounts["odd"].password == "pa:ss"
    assert sim.switches[1].caps() == {
        "switch": 1, "enabled": True, "mode": "monostable", "switchOnDuration": 0.5,
        "type": "security",
    }  # fmt: skip
    assert sim.switches[2].caps() == {"switch": 2, "enabled": False}
    assert (sim.location, sim.key_field, sim.auth) == ("11-2222-3333", "publicKey", "basic")
    assert sim.pairing_key is not None
    default = simulator_from_args(parser.parse_args([]))
    assert list(default.accounts) == [ADMIN]
    assert default.accounts[ADMIN].privileges == frozenset(PRIVILEGES)
    assert [s.mode if s.enabled else None for s in default.switches.values()] == [
        "monostable", "bistable", None, None,
    ]  # fmt: skip
    for bad in (["--switch", "x:monostable"], ["--switch", "1:sometimes"], ["--user", "nopass"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)
    assert "error" in capsys.readouterr().err


async def test_cli_serves_https() -> None:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "simulators.two_n", "--port", "0", "--protocol", "https"),
        *("--auth", "basic", "--user", "door:door-pw:switches_control"),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        async with asyncio.timeout(20):
            while not (lines and lines[-1].startswith("switch 4")):
                raw = await process.stdout.readline()
                assert raw, f"the simulator stopped early: {lines}"
                lines.append(raw.decode().strip())
        url = lines[0].split(" at ")[1].split()[0]
        fingerprint = bytes.fromhex(lines[1].rpartition(" ")[2].replace(":", ""))
        assert lines[2].startswith("account door password door…")
        assert lines[2].endswith(": switches_control")
        assert "door-pw" not in lines[2]
        auth = {"Authorization": aiohttp.encode_basic_auth("door", "door-pw")}
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                url + "/api/switch/ctrl?switch=1&action=on",
                headers=auth,
                ssl=aiohttp.Fingerprint(fingerprint),
            ) as response,
        ):
            assert await response.json() == SUCCESS
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()
    assert process.returncode == 0
