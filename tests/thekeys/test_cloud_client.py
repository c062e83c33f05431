"""The Keys cloud client on its own: against the cloud simulator, and a bare server for the
reply shapes the simulator does not make."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
import json
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.multilock.vendors.thekeys.cloud import (
    AccessoryInfo,
    CloudAccessory,
    CloudLock,
    CloudShare,
    TheKeysCloud,
    TheKeysCloudAuthError,
    TheKeysCloudMalformedError,
    TheKeysCloudRefusedError,
    TheKeysCloudSessionExpiredError,
    TheKeysCloudUnavailableError,
    normalize_phone,
    pick_gateway,
)
from simulators.thekeys import TheKeysGatewaySimulator
from simulators.thekeys_cloud import (
    DEMO_BACK_DOOR,
    DEMO_CELLAR,
    DEMO_FRONT_CODE,
    DEMO_FRONT_DOOR,
    DEMO_PASSWORD,
    DEMO_PHONE,
    TheKeysCloudSimulator,
    build_demo,
)

LOGIN = "/api/login_check"
V2 = "/fr/api/v2/"
START = 1_800_000_000.0
GW = "TKGW3"


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


async def _cloud(clock: Clock, token_field: Any = "access_token") -> TheKeysCloudSimulator:
    simulator = build_demo(TheKeysGatewaySimulator(), clock=clock, token_field=token_field)
    await simulator.start()
    return simulator


@pytest.fixture
async def cloud(clock: Clock) -> AsyncIterator[TheKeysCloudSimulator]:
    simulator = await _cloud(clock)
    yield simulator
    await simulator.stop()


class Bare:
    """A server answering each path with what the test set (404 otherwise)."""

    def __init__(self) -> None:
        self.replies: dict[str, tuple[int, str]] = {}
        self.requests: list[str] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    def reply(self, path: str, body: Any, status: int = 200) -> None:
        self.replies[path] = (status, body if isinstance(body, str) else json.dumps(body))

    def data(self, path: str, data: Any) -> None:
        self.reply(V2 + path, {"status": 200, "data": data, "message": None})

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        status, text = self.replies.get(request.path, (404, "{}"))
        return web.Response(status=status, text=text, content_type="application/json")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
async def bare() -> AsyncIterator[Bare]:
    server = Bare()
    server.reply(LOGIN, {"token": "t0k3n"})
    await server.start()
    yield server
    await server.stop()


async def _signed_in(session: aiohttp.ClientSession, bare: Bare) -> TheKeysCloud:
    client = TheKeysCloud(session, base_url=bare.url + "/")
    await client.login(DEMO_PHONE, "pw", keep_password=True)
    return client


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("06.12.34.56.78", "+33612345678"),
        ("0033 6 12 34 56 78", "+33612345678"),
        ("+33 (0)6 12 34 56 78", "+33612345678"),
        ("+33 06 12 34 56 78", "+33612345678"),
        ("+33612345678", "+33612345678"),
        ("+44 20 7946 0958", "+442079460958"),
        ("12", None),
        ("+0612345678", None),
        ("612345678", None),
        ("phone", None),
    ],
)
def test_normalize_phone(text: str, phone: str | None) -> None:
    assert normalize_phone(text) == phone


def test_pick_gateway() -> None:
    def gateway(number: int) -> CloudAccessory:
        return CloudAccessory(number, f"TKGW{number}", f"G{number}", 1)

    keypad = CloudAccessory(9, "TKKP9", "Keypad", 2)
    lock = CloudLock(1, 45961123, "Door", (keypad, gateway(1), gateway(2), gateway(3)))
    assert lock.gateways == (gateway(1), gateway(2), gateway(3))
    old = datetime(2026, 1, 1, tzinfo=UTC)
    new = datetime(2026, 1, 2, tzinfo=UTC)
    infos = {1: AccessoryInfo(old, None), 2: AccessoryInfo(new, None), 3: AccessoryInfo(new, None)}
    assert pick_gateway(lock, infos) == gateway(2)  # the most recent; the first on a tie
    assert pick_gateway(lock, {}) == gateway(1)  # none ever seen: the first
    assert pick_gateway(lock, {3: AccessoryInfo(None, "10.0.0.3")}) == gateway(1)
    assert pick_gateway(CloudLock(2, 1, "Keypad only", (keypad,)), infos) is None


async def test_demo_account(session: aiohttp.ClientSession, cloud: TheKeysCloudSimulator) -> None:
    client = TheKeysCloud(session, base_url=cloud.url)
    await client.login(DEMO_PHONE, DEMO_PASSWORD)
    assert client.phone == DEMO_PHONE
    assert not client.keeps_password
    locks = {lock.identifier: lock for lock in await client.locks()}
    assert set(locks) == {DEMO_FRONT_DOOR, DEMO_BACK_DOOR, DEMO_CELLAR}
    assert [g.name for g in locks[DEMO_FRONT_DOOR].gateways] == [
        "Passerelle salon",
        "Ancienne passerelle",
    ]
    assert [a.is_gateway for a in locks[DEMO_BACK_DOOR].accessories] == [False, True]
    assert locks[DEMO_CELLAR].accessories == ()
    infos = await client.gateway_infos(locks.values())
    assert len(infos) == 2  # each gateway once
    salon, old = locks[DEMO_FRONT_DOOR].gateways
    assert infos[salon.id].ip is None  # the gateway simulator is not running
    assert infos[old.id].last_seen is not None
    assert infos[salon.id].last_seen > infos[old.id].last_seen  # type: ignore[operator]
    assert pick_gateway(locks[DEMO_FRONT_DOOR], infos) == salon

    front = await client.share_code(locks[DEMO_FRONT_DOOR], salon)
    assert (front.code, front.created) == (DEMO_FRONT_CODE, False)
    assert DEMO_FRONT_CODE not in repr(front)
    back = await client.share_code(locks[DEMO_BACK_DOOR], salon)
    assert back.created
    again = await client.share_code(locks[DEMO_BACK_DOOR], salon)
    assert (again.code, again.created) == (back.code, False)
    assert cloud.count(V2 + "partage/create/") == 1
    created = next(r for r in cloud.requests if r.path.startswith(V2 + "partage/create/"))
    assert created.form == {
        "partage_accessoire[nom]": "multilock",
        "partage_accessoire[description]": "Home Assistant (multilock)",
        "partage_accessoire[actif]": "1",
        "partage_accessoire[iddesc]": "remote",
    }


async def test_string_identifiers_and_info_in_listing(
    session: aiohttp.ClientSession, cloud: TheKeysCloudSimulator
) -> None:
    cloud.string_identifiers = True
    cloud.accessory_info_in_listing = True
    client = TheKeysCloud(session, base_url=cloud.url)
    await client.login(DEMO_PHONE, DEMO_PASSWORD)
    assert DEMO_FRONT_DOOR in {lock.identifier for lock in await client.locks()}


async def test_wrong_password(session: aiohttp.ClientSession, cloud: TheKeysCloudSimulator) -> None:
    client = TheKeysCloud(session, base_url=cloud.url)
    with pytest.raises(TheKeysCloudAuthError):
        await client.login(DEMO_PHONE, "wrong")
    with pytest.raises(TheKeysCloudSessionExpiredError):  # never signed in
        await client.locks()


async def test_token_renewed_before_it_expires(
    session: aiohttp.ClientSession, cloud: TheKeysCloudSimulator, clock: Clock
) -> None:
    client = TheKeysCloud(session, base_url=cloud.url, clock=clock)
    await client.login(DEMO_PHONE, DEMO_PASSWORD, keep_password=True)
    assert client.keeps_password
    clock.now += 7200 - 30  # within the margin: signed in again, no 401 seen
    await client.locks()
    assert cloud.count(LOGIN) == 2
    assert all(request.status == 200 for request in cloud.requests)


async def test_expired_token_without_the_password(
    session: aiohttp.ClientSession, cloud: TheKeysCloudSimulator, clock: Clock
) -> None:
    client = TheKeysCloud(session, base_url=cloud.url, clock=clock)
    await client.login(DEMO_PHONE, DEMO_PASSWORD, keep_password=True)
    client.forget_password()
    assert not client.keeps_password
    clock.now += 7200
    with pytest.raises(TheKeysCloudSessionExpiredError):
        await client.locks()
    assert cloud.count(LOGIN) == 1


async def test_token_field_token_renewed_on_401(
    session: aiohttp.ClientSession, clock: Clock
) -> None:
    cloud = await _cloud(clock, token_field="token")
    try:
        client = TheKeysCloud(session, base_url=cloud.url, clock=clock)
        await client.login(DEMO_PHONE, DEMO_PASSWORD, keep_password=True)
        cloud.expire_tokens()
        assert len(await client.locks()) == 3
        assert [r.status for r in cloud.requests] == [200, 401, 200, 200]
        # The password changed in the app meanwhile: the session is over.
        cloud.accounts[DEMO_PHONE].password = "new"
        cloud.expire_tokens()
        with pytest.raises(TheKeysCloudSessionExpiredError):
            await client.locks()
    finally:
        await cloud.stop()


async def test_renewed_token_refused_too(session: aiohttp.ClientSession, bare: Bare) -> None:
    client = await _signed_in(session, bare)
    bare.reply(V2 + f"utilisateur/get/{DEMO_PHONE}", {"code": 401, "message": "no"}, 401)
    with pytest.raises(TheKeysCloudSessionExpiredError):
        await client.locks()
    assert bare.requests.count(LOGIN) == 2


@pytest.mark.parametrize(
    ("login", "error"),
    [
        ({"access_token": None, "expires_in": 10}, TheKeysCloudMalformedError),
        ({"message": "no token"}, TheKeysCloudMalformedError),
        ("<html>", TheKeysCloudMalformedError),
        ([], TheKeysCloudMalformedError),
    ],
)
async def test_sign_in_reply_without_token(
    session: aiohttp.ClientSession, bare: Bare, login: Any, error: type[Exception]
) -> None:
    bare.reply(LOGIN, login)
    with pytest.raises(error):
        await TheKeysCloud(session, base_url=bare.url).login(DEMO_PHONE, "pw")


async def test_unreachable_and_slow(session: aiohttp.ClientSession, bare: Bare) -> None:
    with pytest.raises(TheKeysCloudUnavailableError):
        await TheKeysCloud(session, base_url="http://127.0.0.1:9").login(DEMO_PHONE, "pw")
    cloud = await _cloud(Clock())
    try:
        cloud.inject_fault(LOGIN, "delay", seconds=0.3)
        with pytest.raises(TheKeysCloudUnavailableError, match="in time"):
            await TheKeysCloud(session, base_url=cloud.url, timeout=0.05).login(DEMO_PHONE, "pw")
    finally:
        await cloud.stop()


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (200, {"status": 404, "data": None, "message": "Serrure introuvable"}, "404"),
        (403, {"status": 403, "data": None, "message": "Access Denied."}, "Access Denied"),
        (400, "<html>Bad request</html>", "no message"),
    ],
)
async def test_refusals(
    session: aiohttp.ClientSession, bare: Bare, status: int, body: Any, error: str
) -> None:
    client = await _signed_in(session, bare)
    bare.reply(V2 + "partage/all/serrure/1", body, status)
    with pytest.raises(TheKeysCloudRefusedError, match=error) as err:
        await client.shares(1)
    assert err.value.status in (400, 403, 404)


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        {"status": 200, "message": "no data"},
        {"status": 200, "data": []},
        {"status": 200, "data": {"serrures": {}}},
        {"status": 200, "data": {"serrures": [{"id": 1, "id_serrure": "abc"}]}},
        {"status": 200, "data": {"serrures": [{"id": 1, "id_serrure": 2, "accessoires": [{}]}]}},
    ],
)
async def test_malformed_replies(session: aiohttp.ClientSession, bare: Bare, body: Any) -> None:
    client = await _signed_in(session, bare)
    bare.reply(V2 + f"utilisateur/get/{DEMO_PHONE}", body)
    with pytest.raises(TheKeysCloudMalformedError):
        await client.locks()


async def test_tolerant_replies(session: aiohttp.ClientSession, bare: Bare) -> None:
    client = await _signed_in(session, bare)
    bare.data(f"utilisateur/get/{DEMO_PHONE}", {"serrures": None})
    assert await client.locks() == []
    bare.data(
        f"utilisateur/get/{DEMO_PHONE}",
        {
            "serrures": [
                {
                    "id": "7",
                    "id_serrure": " 45961123 ",
                    "nom": None,
                    "accessoires": [
                        {"accessoire": {"id": 3, "id_accessoire": 12, "nom": "G", "type": "1"}}
                    ],
                }
            ]
        },
    )
    assert await client.locks() == [
        CloudLock(7, 45961123, "Lock 45961123", (CloudAccessory(3, "12", "G", 1),))
    ]
    for info, expected in [
        (None, AccessoryInfo(None, None)),
        ({"last_seen": 1_800_000_000, "ip": " 10.0.0.2 "}, AccessoryInfo(START_UTC, "10.0.0.2")),
        ({"last_seen": "2027-01-15T08:00:00", "ip": ""}, AccessoryInfo(START_UTC, None)),
        ({"last_seen": "2027-01-15T09:00:00+01:00"}, AccessoryInfo(START_UTC, None)),
        ({"last_seen": "yesterday", "ip": None}, AccessoryInfo(None, None)),
        ({"last_seen": [2027], "ip": 5}, AccessoryInfo(None, None)),
    ]:
        bare.data("accessoire/get/3", {"id": 3, "info": info})
        assert await client.accessory_info(3) == expected, info
    gateway = CloudAccessory(3, "TKGW3", "G", 1)
    bare.data(
        "partage/all/serrure/7",
        {
            "partages_accessoire": [
                {"id": 1, "nom": "multilock", "code": "A", "actif": "0", "accessoire": {"id": 3}},
                {"id": 2, "nom": "Multilock ", "code": "B", "accessoire": {"id": 3}},
                {"id": 3, "nom": "multilock", "code": None, "actif": 1, "accessoire": {"id": 3}},
                {"id": 4, "nom": "multilock", "code": "D", "actif": True, "accessoire": {"id": 4}},
                {"id": 5, "nom": "multilock", "code": "E", "actif": "false", "accessoire": None},
                {"id": 6, "nom": "jeedom", "code": "F", "actif": "yes"},
            ]
        },
    )
    shares = await client.shares(7)
    assert [share.active for share in shares] == [False, True, True, True, False, True]
    assert shares[4] == CloudShare(5, "multilock", "E", False, None, None)
    assert "E" not in repr(shares[4])
    # The active "multilock" share with a code on this gateway: B (listed without "actif").
    lock = CloudLock(7, 45961123, "Door", (gateway,))
    assert (await client.share_code(lock, gateway)).code == "B"


async def test_share_matched_by_accessory_name_when_listed_without_id(
    session: aiohttp.ClientSession, bare: Bare
) -> None:
    client = await _signed_in(session, bare)
    gateway = CloudAccessory(3, GW, "G", 1)
    lock = CloudLock(7, 45961123, "Door", (gateway,))
    bare.data(
        "partage/all/serrure/7",
        {
            "partages_accessoire": [
                {"id": 1, "nom": "multilock", "code": "A", "accessoire": {"id_accessoire": "X"}},
                {"id": 2, "nom": "multilock", "code": "B", "accessoire": {"id_accessoire": GW}},
            ]
        },
    )
    assert (await client.share_code(lock, gateway)).code == "B"
    bare.data("partage/all/serrure/7", {})
    bare.data("partage/create/7/accessoire/TKGW3", {"id": 8})
    with pytest.raises(TheKeysCloudMalformedError, match="no code"):
        await client.share_code(lock, gateway)


START_UTC = datetime.fromtimestamp(START, UTC)


async def test_a_refusal_quoting_the_secrets_carries_none(
    session: aiohttp.ClientSession, bare: Bare
) -> None:
    """The cloud's message quotes the phone number, password and token: none reaches the error."""
    quoted = f"Refused for {DEMO_PHONE} (password pw-secret-0123, token t0k3n-long-secret)"
    bare.reply(LOGIN, {"token": "t0k3n-long-secret"})
    client = TheKeysCloud(session, base_url=bare.url + "/")
    await client.login(DEMO_PHONE, "pw-secret-0123")
    bare.reply(V2 + "partage/all/serrure/1", {"status": 403, "data": None, "message": quoted}, 403)
    with pytest.raises(TheKeysCloudRefusedError) as err:
        await client.shares(1)
    for secret in (DEMO_PHONE, "pw-secret-0123", "t0k3n-long-secret"):
        assert secret not in str(err.value)
    assert "Refused for ***" in str(err.value)
