"""Self-tests of The Keys cloud simulator and its shared model with the gateway simulator."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
import datetime as dt
import hmac
from pathlib import Path
import time
from typing import Any

import aiohttp
import pytest

from simulators.thekeys import TheKeysGatewaySimulator, add_log_file
from simulators.thekeys_cloud import (
    DEFAULT_GATEWAY_PORT,
    DEFAULT_PORT,
    DEMO_BACK_DOOR,
    DEMO_CELLAR,
    DEMO_FRONT_CODE,
    DEMO_FRONT_DOOR,
    DEMO_PASSWORD,
    DEMO_PHONE,
    EMPTY_PASSWORD,
    EMPTY_PHONE,
    REQUEST_LOGGER,
    CloudAccessory,
    CloudLock,
    IpMode,
    TheKeysCloudSimulator,
    build_demo,
    build_parser,
    main,
)

V2 = "/fr/api/v2/"
START = 1_800_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class Api:
    """A bare client of the cloud API (form login, Bearer token)."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url, self.token = session, url, ""

    async def login(self, phone: str = DEMO_PHONE, password: str = DEMO_PASSWORD) -> Any:
        form = {"_username": phone, "_password": password}
        async with self.session.post(self.url + "/api/login_check", data=form) as response:
            body = await response.json()
            if response.status == 200:
                self.token = body.get("access_token") or body["token"]
            return response.status, body

    async def call(
        self, method: str, path: str, data: dict[str, str] | None = None, token: str | None = None
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.token if token is None else token}"}
        async with self.session.request(
            method, self.url + V2 + path, data=data, headers=headers
        ) as response:
            return response.status, await response.json()

    async def get(self, path: str) -> Any:
        status, body = await self.call("GET", path)
        assert status == 200, body
        assert body["status"] == 200
        return body["data"]


def sign(code: str, ts: int) -> dict[str, str]:
    """As the seed: hash = base64(HMAC-SHA256(key=share_code, msg=ts))."""
    digest = hmac.new(code.encode(), str(ts).encode("ascii"), "sha256").digest()
    return {"ts": str(ts), "hash": base64.b64encode(digest).decode()}


class Gate:
    """Signed requests to the gateway simulator, never reusing a timestamp."""

    def __init__(self, session: aiohttp.ClientSession, gateway: TheKeysGatewaySimulator) -> None:
        self.session, self.gateway, self.ts = session, gateway, int(time.time())

    async def status(self, identifier: int, code: str) -> Any:
        self.ts += 1
        form = {"identifier": str(identifier), **sign(code, self.ts)}
        async with self.session.post(self.gateway.url + "/locker_status", data=form) as response:
            return await response.json()


@pytest.fixture
async def gateway() -> AsyncIterator[TheKeysGatewaySimulator]:
    simulator = TheKeysGatewaySimulator()
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def cloud(
    gateway: TheKeysGatewaySimulator, clock: FakeClock
) -> AsyncIterator[TheKeysCloudSimulator]:
    simulator = build_demo(gateway, clock=clock)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
async def api(cloud: TheKeysCloudSimulator, session: aiohttp.ClientSession) -> Api:
    client = Api(session, cloud.url)
    status, _ = await client.login()
    assert status == 200
    return client


def demo_lock(cloud: TheKeysCloudSimulator, identifier: int) -> CloudLock:
    lock = cloud.find_lock(identifier)
    assert lock is not None
    return lock


async def test_login_token_forms(
    cloud: TheKeysCloudSimulator, session: aiohttp.ClientSession
) -> None:
    api = Api(session, cloud.url)
    status, body = await api.login()
    assert status == 200
    assert set(body) == {"access_token", "expires_in"}
    assert body["expires_in"] == 7200
    assert body["access_token"].count(".") == 2  # a JWT
    cloud.token_field = "token"
    status, body = await api.login()
    assert status == 200
    assert set(body) == {"token"}
    assert await api.get("utilisateur/get/" + DEMO_PHONE)
    assert cloud.count("/api/login_check") == 2
    assert [r.phone for r in cloud.requests] == [DEMO_PHONE] * 3
    assert TheKeysCloudSimulator(token_field="token").token_field == "token"
    with pytest.raises(ValueError, match="token_field"):
        TheKeysCloudSimulator(token_field="jwt")  # type: ignore[arg-type]


async def test_wrong_credentials(
    cloud: TheKeysCloudSimulator, session: aiohttp.ClientSession
) -> None:
    api = Api(session, cloud.url)
    invalid = (401, {"code": 401, "message": "Invalid credentials."})
    assert await api.login(DEMO_PHONE, "wrong") == invalid
    assert await api.login("+33600000000", DEMO_PASSWORD) == invalid
    assert await api.login("0612345678", DEMO_PASSWORD) == invalid  # national: the client's job
    async with session.post(cloud.url + "/api/login_check", data={}) as response:
        assert response.status == 401
    async with session.get(cloud.url + "/api/login_check") as response:
        assert response.status == 405
    with pytest.raises(ValueError, match="international"):
        cloud.add_account("0611223344", "x")


async def test_bearer_errors_and_expiry(
    cloud: TheKeysCloudSimulator, api: Api, clock: FakeClock
) -> None:
    path = "utilisateur/get/" + DEMO_PHONE
    async with api.session.get(cloud.url + V2 + path) as response:
        assert response.status == 401
        assert await response.json() == {"code": 401, "message": "JWT Token not found"}
    assert await api.call("GET", path, token="not-a-token") == (
        401,
        {"code": 401, "message": "Invalid JWT Token"},
    )
    expired = (401, {"code": 401, "message": "Expired JWT Token"})
    clock.now += 7199
    assert (await api.call("GET", path))[0] == 200
    clock.now += 1  # 2 h after the login
    assert await api.call("GET", path) == expired
    await api.login()
    assert (await api.call("GET", path))[0] == 200
    cloud.expire_tokens()
    assert await api.call("GET", path) == expired
    cloud.token_ttl = 60
    _, body = await api.login()
    assert body["expires_in"] == 60
    clock.now += 61
    assert await api.call("GET", path) == expired


async def test_utilisateur(
    cloud: TheKeysCloudSimulator, api: Api, gateway: TheKeysGatewaySimulator
) -> None:
    data = await api.get("utilisateur/get/" + DEMO_PHONE)
    assert data["username"] == DEMO_PHONE
    front, back, cellar = data["serrures"]
    assert [s["id_serrure"] for s in data["serrures"]] == [
        DEMO_FRONT_DOOR,
        DEMO_BACK_DOOR,
        DEMO_CELLAR,
    ]
    assert front["nom"] == "Porte d'entrée"
    assert front["id"] != front["id_serrure"]
    assert (front["etat"], front["battery"]) == ("closed", 7800)
    gateways = [a for a in front["accessoires"] if a["accessoire"]["type"] == 1]
    assert [g["accessoire"]["id_accessoire"] for g in gateways] == ["TKGW0001", "TKGW0002"]
    link = gateways[0]
    assert set(link) == {"id", "accessoire", "info"}
    assert set(link["accessoire"]) == {"id", "id_accessoire", "nom", "type"}
    assert link["id"] != link["accessoire"]["id"]
    assert link["info"] is None
    assert back["accessoires"][0]["accessoire"]["type"] == 2  # a keypad comes first
    assert cellar["accessoires"] == []
    # Shared model: etat and battery come from the gateway simulator.
    gateway.locks[DEMO_FRONT_DOOR].state = 0x32
    gateway.locks[DEMO_FRONT_DOOR].battery = 6100
    front = (await api.get("utilisateur/get/" + DEMO_PHONE))["serrures"][0]
    assert (front["etat"], front["battery"]) == ("open", 6100)
    cloud.string_identifiers = True
    cloud.accessory_info_in_listing = True
    front = (await api.get("utilisateur/get/" + DEMO_PHONE))["serrures"][0]
    assert front["id_serrure"] == str(DEMO_FRONT_DOOR)
    assert front["accessoires"][0]["info"]["ip"] == gateway.address
    status, body = await api.call("GET", "utilisateur/get/" + EMPTY_PHONE)
    assert (status, body["status"], body["data"]) == (403, 403, None)
    assert (await api.call("GET", "utilisateur/get/+33700000000"))[0] == 404
    empty = Api(api.session, cloud.url)
    await empty.login(EMPTY_PHONE, EMPTY_PASSWORD)
    assert (await empty.get("utilisateur/get/" + EMPTY_PHONE))["serrures"] == []


async def test_accessoire_get(
    cloud: TheKeysCloudSimulator, api: Api, gateway: TheKeysGatewaySimulator
) -> None:
    front = (await api.get("utilisateur/get/" + DEMO_PHONE))["serrures"][0]
    live, old = (link["accessoire"] for link in front["accessoires"])
    data = await api.get(f"accessoire/get/{live['id']}")
    assert {k: data[k] for k in ("id", "id_accessoire", "nom", "type")} == live
    assert data["info"]["ip"] == gateway.address
    seen = dt.datetime.fromisoformat(data["info"]["last_seen"])
    assert seen.timestamp() == START - 5
    old_info = (await api.get(f"accessoire/get/{old['id']}"))["info"]
    assert old_info["ip"] is None
    assert dt.datetime.fromisoformat(old_info["last_seen"]).timestamp() == START - 3 * 86400
    # The gateway a client should pick: the most recently seen one.
    assert max((data["info"], old_info), key=lambda i: i["last_seen"])["ip"] == gateway.address
    accessory = next(g for g in demo_lock(cloud, DEMO_FRONT_DOOR).gateways if g.id == live["id"])
    accessory.ip = "192.168.1.50"
    assert (await api.get(f"accessoire/get/{live['id']}"))["info"]["ip"] == "192.168.1.50"
    accessory.ip = IpMode.ABSENT
    assert "ip" not in (await api.get(f"accessoire/get/{live['id']}"))["info"]
    assert (await api.call("GET", f"accessoire/get/{front['accessoires'][0]['id']}"))[0] == 404
    assert (await api.call("GET", "accessoire/get/999999"))[0] == 404
    # A stopped gateway simulator has no address to give.
    bare = TheKeysGatewaySimulator()
    accessory.ip, accessory.simulator = IpMode.FROM_SIMULATOR, bare
    assert (await api.get(f"accessoire/get/{live['id']}"))["info"]["ip"] is None


async def test_find_existing_share(
    cloud: TheKeysCloudSimulator, api: Api, gateway: TheKeysGatewaySimulator
) -> None:
    front = (await api.get("utilisateur/get/" + DEMO_PHONE))["serrures"][0]
    live_id = front["accessoires"][0]["accessoire"]["id"]
    data = await api.get(f"partage/all/serrure/{front['id']}")
    assert data["partages_utilisateur"] == []
    shares = data["partages_accessoire"]
    assert [(s["nom"], s["actif"]) for s in shares] == [
        ("multilock", False),
        ("multilock", True),
        ("multilock", True),
    ]
    assert {"id", "nom", "code", "actif", "accessoire"} <= set(shares[0])
    mine = [s for s in shares if s["actif"] and s["accessoire"]["id"] == live_id]
    assert [s["code"] for s in mine] == [DEMO_FRONT_CODE]
    gate = Gate(api.session, gateway)
    assert await gate.status(DEMO_FRONT_DOOR, DEMO_FRONT_CODE) == {"status": "0", "code": 0x31}
    inactive, other_gateway = shares[0]["code"], shares[1]["code"]
    assert (await gate.status(DEMO_FRONT_DOOR, inactive))["status"] == 33
    assert (await gate.status(DEMO_FRONT_DOOR, other_gateway))["status"] == 33
    assert (await api.call("GET", "partage/all/serrure/999999"))[0] == 404
    assert (await api.call("GET", f"partage/all/serrure/{DEMO_FRONT_DOOR}"))[0] == 404


async def test_create_share_is_accepted_by_the_gateway(
    cloud: TheKeysCloudSimulator, api: Api, gateway: TheKeysGatewaySimulator
) -> None:
    back = (await api.get("utilisateur/get/" + DEMO_PHONE))["serrures"][1]
    live = next(a["accessoire"] for a in back["accessoires"] if a["accessoire"]["type"] == 1)
    gate = Gate(api.session, gateway)
    assert (await gate.status(DEMO_BACK_DOOR, "NotYetShared0000"))["status"] == 33
    gateway.remove_lock(DEMO_BACK_DOOR)  # the gateway forgot it: the share brings it back
    form = {
        "partage_accessoire[nom]": "multilock",
        "partage_accessoire[description]": "",
        "partage_accessoire[iddesc]": "remote",
    }
    path = f"partage/create/{back['id']}/accessoire/{live['id_accessoire']}"
    status, body = await api.call("POST", path, form)
    assert (status, body["status"]) == (200, 200)
    code = body["data"]["code"]
    assert len(code) == 16
    assert code.isalnum()
    assert await gate.status(DEMO_BACK_DOOR, code) == {"status": "0", "code": 0x31}
    jeedom = demo_lock(cloud, DEMO_BACK_DOOR).shares[0]
    assert (await gate.status(DEMO_BACK_DOOR, jeedom.code))["status"] == "0"  # still valid
    shares = (await api.get(f"partage/all/serrure/{back['id']}"))["partages_accessoire"]
    created = next(s for s in shares if s["id"] == body["data"]["id"])
    assert (created["nom"], created["code"], created["actif"], created["iddesc"]) == (
        "multilock",
        code,
        True,
        "remote",
    )
    assert created["accessoire"]["id"] == live["id"]
    # An inactive share is listed but not accepted.
    form["partage_accessoire[actif]"] = "0"
    inactive = (await api.call("POST", path, form))[1]["data"]["code"]
    assert (await gate.status(DEMO_BACK_DOOR, inactive))["status"] == 33
    assert (await gate.status(DEMO_BACK_DOOR, code))["status"] == "0"
    lock = demo_lock(cloud, DEMO_BACK_DOOR)
    cloud.set_share_active(lock, lock.shares[-1], True)
    assert (await gate.status(DEMO_BACK_DOOR, inactive))["status"] == "0"
    # Errors: missing name, the accessory's numeric id instead of id_accessoire, wrong method.
    status, body = await api.call("POST", path, {"partage_accessoire[description]": ""})
    assert (status, body["status"]) == (400, 400)
    wrong = f"partage/create/{back['id']}/accessoire/{live['id']}"
    assert (await api.call("POST", wrong, form))[0] == 404
    assert (await api.call("POST", "partage/create/999999/accessoire/TKGW0001", form))[0] == 404
    assert (await api.call("GET", path))[0] == 405
    assert (await api.call("GET", "nothing/here"))[0] == 404
    assert cloud.count(V2 + "partage/create") == 6


async def test_gateways_argument_and_two_gateways(session: aiohttp.ClientSession) -> None:
    first, second = TheKeysGatewaySimulator(), TheKeysGatewaySimulator()
    first.add_lock(1, None)
    first.add_lock(2, "ManualCode000000")
    second.add_lock(2, None)
    async with first, second, TheKeysCloudSimulator([first, second]) as cloud:
        api = Api(session, cloud.url)
        await api.login()
        locks = (await api.get("utilisateur/get/" + DEMO_PHONE))["serrures"]
        assert [lock["id_serrure"] for lock in locks] == [1, 2]
        two = locks[1]["accessoires"]
        assert len(two) == 2
        ips = [
            (await api.get(f"accessoire/get/{a['accessoire']['id']}"))["info"]["ip"] for a in two
        ]
        assert ips == [first.address, second.address]
        assert cloud.accounts[DEMO_PHONE].locks[1].gateways[1].simulator is second
        # Different last_seen: a client picks the most recent.
        cloud.accounts[DEMO_PHONE].accessories[1].last_seen = time.time() - 3600
        seen = [
            (await api.get(f"accessoire/get/{a['accessoire']['id']}"))["info"]["last_seen"]
            for a in two
        ]
        assert seen[0] > seen[1]
        # A code set by hand on the gateway survives shares made in the cloud.
        status, body = await api.call(
            "POST",
            f"partage/create/{locks[1]['id']}/accessoire/{two[0]['accessoire']['id_accessoire']}",
            {"partage_accessoire[nom]": "multilock", "partage_accessoire[description]": ""},
        )
        assert status == 200
        assert first.locks[2].codes == [body["data"]["code"], "ManualCode000000"]
        assert second.locks[2].codes == []


async def test_faults(cloud: TheKeysCloudSimulator, api: Api) -> None:
    path = "utilisateur/get/" + DEMO_PHONE
    cloud.inject_fault("/api/login_check", "http_500")
    async with api.session.post(cloud.url + "/api/login_check", data={}) as response:
        assert response.status == 500
        assert response.content_type == "text/html"
    cloud.inject_fault(V2 + "utilisateur", "unavailable", times=2)
    for _ in range(2):
        async with api.session.get(
            cloud.url + V2 + path, headers={"Authorization": f"Bearer {api.token}"}
        ) as response:
            assert response.status == 503
            assert "<html>" in await response.text()
    assert await api.get(path)
    cloud.inject_fault(V2, "malformed")
    with pytest.raises(ValueError, match="Expecting"):
        await api.call("GET", path)
    cloud.inject_fault(V2 + "partage", "disconnect")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.call("POST", "partage/create/1/accessoire/x", {"partage_accessoire[nom]": "x"})
    assert all(len(lock.shares) <= 3 for lock in cloud.accounts[DEMO_PHONE].locks)
    cloud.inject_fault(V2, "delay", times=None, seconds=0.3)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await api.call("GET", path)
    cloud.clear_faults()
    assert await api.get(path)
    faults = [r.fault for r in cloud.requests if r.fault]
    assert faults == ["http_500", "unavailable", "unavailable", "malformed", "disconnect", "delay"]
    assert next(r for r in cloud.requests if r.fault == "disconnect").status is None
    with pytest.raises(ValueError, match="unknown fault"):
        cloud.inject_fault("/", "teapot")
    with pytest.raises(ValueError, match="times"):
        cloud.inject_fault("/", "delay", times=0)


async def test_log_masks_secrets(cloud: TheKeysCloudSimulator, tmp_path: Path) -> None:
    log = tmp_path / "cloud.log"
    handler = add_log_file(str(log), REQUEST_LOGGER)
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(session, cloud.url)
            await api.login()
            back = demo_lock(cloud, DEMO_BACK_DOOR)
            gateway = back.gateways[0]
            status, body = await api.call(
                "POST",
                f"partage/create/{back.id}/accessoire/{gateway.id_accessoire}",
                {"partage_accessoire[nom]": "multilock"},
            )
            assert status == 200
    finally:
        REQUEST_LOGGER.removeHandler(handler)
        handler.close()
    text = log.read_text(encoding="utf-8")
    code = body["data"]["code"]
    assert len(text.splitlines()) == 2
    assert DEMO_PASSWORD not in text
    assert api.token not in text
    assert code not in text
    assert f"code={code[:4]}…" in text


def test_command_line_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for needle in (DEMO_PHONE, DEMO_PASSWORD, str(DEFAULT_PORT), str(DEFAULT_GATEWAY_PORT)):
        assert needle in text
    for option in ("--port", "--gateway-port", "--token-ttl", "--token-field", "--log"):
        assert option in text
    assert all(action.help for action in build_parser()._actions)


def test_model_helpers(gateway: TheKeysGatewaySimulator) -> None:
    cloud = TheKeysCloudSimulator()
    assert cloud.accounts == {}
    account = cloud.add_account("+33100000000", "pw")
    accessory = cloud.add_gateway(account, simulator=gateway)
    assert isinstance(accessory, CloudAccessory)
    assert accessory.id_accessoire != str(accessory.id)
    lock = cloud.add_lock(account, 77, "Lonely")
    assert 77 not in gateway.locks
    cloud.link(lock, accessory)
    assert gateway.locks[77].share_code is None  # seen by the gateway, not shared yet
    share = cloud.add_share(lock, accessory, "multilock")
    assert gateway.locks[77].share_code == share.code
    assert cloud.find_lock(78) is None
