"""The 2N client against the device simulator on loopback: transport, switches, mobile keys."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
import json
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
import pytest

from custom_components.multilock.vendors.two_n.client import (
    AuthMethod,
    MobileKey as ClientKey,
    MobileKeyConfig,
    SwitchAction,
    TwoNAnswerLostError,
    TwoNApiError,
    TwoNAuthenticationError,
    TwoNAuthMethodError,
    TwoNCertificateChangedError,
    TwoNCertificateError,
    TwoNClient,
    TwoNConnectionError,
    TwoNConnectionTypeError,
    TwoNHttpError,
    TwoNInvalidLocationError,
    TwoNKeyMaterialMissingError,
    TwoNKeyMismatchError,
    TwoNMalformedReplyError,
    TwoNNothingToCopyError,
    TwoNPrivilegeError,
    TwoNTimeoutError,
    _unwrap,
    fetch_certificate_sha256,
    format_fingerprint,
    generate_mobile_key,
    key_fingerprint,
    normalize_mac,
    plan_copy,
    plan_rotation,
    validate_location,
)
from simulators.two_n import DEFAULT_PASSWORD, DEFAULT_USER, MobileKey, TwoNDeviceSimulator

from .conftest import client_of, host_of, old_keys

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _b64(key: MobileKey) -> str:
    return key.key_b64


def _public_fingerprint(key: MobileKey) -> str:
    public = key.public_der
    assert public is not None
    return key_fingerprint(base64.b64encode(public).decode(), private=False)


# --- transport ----------------------------------------------------------------------------


async def test_system_info_over_https_with_digest_and_a_pinned_certificate(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    client = client_of(session, device)
    info = await client.system_info()
    assert info.serial_number == device.info["serialNumber"]
    assert info.device_name == "2N IP Verso"
    assert info.mac == device.info["macAddr"].replace("-", ":")
    assert info.mac.startswith("7C:1E:B3:")
    # Digest: one challenge, then the nonce is reused without a new challenge.
    await client.system_info()
    assert device.count("system/info") == 3
    assert "2n-password" not in repr(client)


@pytest.mark.parametrize("sim_options", [{"auth": "basic", "protocol": "http"}])
async def test_basic_over_http(session: aiohttp.ClientSession, device: TwoNDeviceSimulator) -> None:
    client = client_of(session, device)
    assert (await client.system_info()).serial_number == device.info["serialNumber"]
    assert device.count("system/info") == 1  # Basic is sent with the request
    assert device.requests[0].username == DEFAULT_USER


@pytest.mark.parametrize("sim_options", [{"auth": "none", "protocol": "http"}])
async def test_no_authentication(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    client = client_of(session, device, auth="none", username=None, password=None)
    assert (await client.system_info()).serial_number == device.info["serialNumber"]


@pytest.mark.parametrize("auth", ["digest", "basic"])
async def test_wrong_password(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator, auth: str
) -> None:
    device.auth = auth  # type: ignore[assignment]
    client = client_of(session, device, auth=auth, password="wrong")
    with pytest.raises(TwoNAuthenticationError) as caught:
        await client.system_info()
    assert caught.value.code == 9
    assert "wrong" not in str(caught.value)


async def test_basic_sent_to_a_digest_device(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    with pytest.raises(TwoNAuthMethodError, match="wants Digest authentication") as caught:
        await client_of(session, device, auth="basic").system_info()
    assert caught.value.wanted is AuthMethod.DIGEST


@pytest.mark.parametrize(
    ("device_auth", "client_auth", "wanted"),
    [
        ("basic", "digest", AuthMethod.BASIC),
        ("digest", "none", AuthMethod.DIGEST),
        ("basic", "none", AuthMethod.BASIC),
    ],
)
async def test_a_challenge_of_another_scheme_is_the_wrong_method_not_a_wrong_password(
    session: aiohttp.ClientSession,
    device: TwoNDeviceSimulator,
    device_auth: str,
    client_auth: str,
    wanted: AuthMethod,
) -> None:
    """The device answers 401 (error 9) challenging the scheme it wants."""
    device.auth = device_auth  # type: ignore[assignment]
    with pytest.raises(TwoNAuthMethodError) as caught:
        await client_of(session, device, auth=client_auth).system_info()
    assert caught.value.wanted is wanted
    assert f"wants {wanted.value.capitalize()} authentication" in str(caught.value)
    # Without a challenge, error 8 still says so, naming no method.
    with pytest.raises(TwoNAuthMethodError, match="another authentication method") as bare:
        _unwrap("system/info", 401, b'{"success": false, "error": {"code": 8}}')
    assert bare.value.wanted is None


async def test_missing_privileges_name_the_group(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    device.set_account("doors", "pw", ["switches_control"])
    client = client_of(session, device, username="doors", password="pw")
    assert len(await client.switch_caps()) == 3
    with pytest.raises(TwoNPrivilegeError) as caught:
        await client.mobile_key_config()
    assert caught.value.group == "Access Control"
    assert "lacks the privilege group Access Control" in str(caught.value)
    device.set_account("keys", "pw", ["access_control"])
    client = client_of(session, device, username="keys", password="pw")
    with pytest.raises(TwoNPrivilegeError, match="Switches Control"):
        await client.switch_status()


async def test_a_pinned_certificate_that_changes_is_refused(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    pinned = device.certificate_sha256
    client = client_of(session, device)
    await client.system_info()
    presented = device.replace_certificate()
    before = len(device.requests)
    with pytest.raises(TwoNCertificateChangedError) as caught:
        await client.system_info()
    assert (caught.value.pinned, caught.value.presented) == (pinned, presented)
    assert format_fingerprint(presented) in str(caught.value)
    assert len(device.requests) == before  # nothing was sent to it
    assert await fetch_certificate_sha256(session, host_of(device)) == presented
    assert len(device.requests) == before


@pytest.mark.usefixtures("refused_handshakes")
async def test_the_system_store_refuses_a_self_signed_certificate(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    with pytest.raises(TwoNCertificateError, match="not trusted"):
        await client_of(session, device, certificate_sha256=None).system_info()


@pytest.mark.usefixtures("refused_handshakes")
async def test_unreachable_and_faults(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    client = client_of(session, device)
    device.inject_fault("system/info", "error_envelope")
    with pytest.raises(TwoNApiError, match="error 14 processing error") as caught:
        await client.system_info()
    assert caught.value.code == 14
    device.inject_fault("system/info", "malformed")
    with pytest.raises(TwoNMalformedReplyError):
        await client.system_info()
    device.inject_fault("system/info", "http_error")
    with pytest.raises(TwoNHttpError, match="HTTP 500 Internal Server Error"):
        await client.system_info()
    device.inject_fault("system/info", "disconnect", times=2)
    with pytest.raises(TwoNConnectionError):
        await client.system_info()
    device.inject_fault("system/info", "delay", seconds=1.0)
    slow = client_of(session, device, timeout=0.2)
    with pytest.raises(TwoNTimeoutError):
        await slow.system_info()
    with pytest.raises(TwoNConnectionError):
        await fetch_certificate_sha256(session, "127.0.0.1:9")
    with pytest.raises(TwoNConnectionError):
        await client_of(session, device, protocol="http").system_info()


async def test_fetching_a_certificate_that_does_not_answer(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    device.inject_fault(None, "delay", seconds=1.0)
    with pytest.raises(TwoNConnectionError):
        await fetch_certificate_sha256(session, "127.0.0.1:9", seconds=0.2)


def test_replies_outside_the_envelope() -> None:
    with pytest.raises(TwoNAuthenticationError):
        _unwrap("system/info", 401, b"<html>401</html>")
    with pytest.raises(TwoNAuthenticationError):
        _unwrap("system/info", 401, b'{"success": false}')
    with pytest.raises(TwoNAuthMethodError, match="wants Basic"):
        _unwrap(
            "system/info", 401, b"<html>401</html>", auth=AuthMethod.DIGEST, challenge="Basic x"
        )
    with pytest.raises(TwoNConnectionTypeError, match="protocol"):
        _unwrap("switch/caps", 200, b'{"success": false, "error": {"code": 7}}')
    with pytest.raises(TwoNApiError, match="no error code"):
        _unwrap("switch/caps", 200, b'{"success": false, "error": "x"}')
    with pytest.raises(TwoNApiError, match="parameter switch: no such switch"):
        _unwrap(
            "switch/ctrl",
            200,
            b'{"success": false, "error": {"code": 12, "param": "switch", '
            b'"description": "no such switch"}}',
        )
    with pytest.raises(TwoNHttpError, match="HTTP 599"):
        _unwrap("switch/caps", 599, b"")
    with pytest.raises(TwoNMalformedReplyError):
        _unwrap("switch/caps", 200, b'{"result": {}}')
    assert _unwrap("switch/ctrl", 200, b'{"success": true}') is None


@pytest.mark.parametrize("host", ["host/path", "[::1", "host?x=1", ""])
def test_a_host_that_is_not_one(host: str) -> None:
    with pytest.raises(ValueError, match="Not a host"):
        TwoNClient(aiohttp.ClientSession.__new__(aiohttp.ClientSession), host)


def test_helpers() -> None:
    assert normalize_mac("7c-1e-b3-01-02-0a") == "7C:1E:B3:01:02:0A"
    assert validate_location("x" * 127) == "x" * 127
    with pytest.raises(TwoNInvalidLocationError, match="128 characters"):
        validate_location("x" * 128)
    with pytest.raises(TwoNInvalidLocationError):
        validate_location("")
    # Material that is no key is still named, by its bytes or its text.
    assert key_fingerprint("not base64!", private=True) != key_fingerprint("AAAA", private=True)


# --- switches -------------------------------------------------------------------------------


async def test_switches(session: aiohttp.ClientSession, device: TwoNDeviceSimulator) -> None:
    client = client_of(session, device)
    caps = {item.number: item for item in await client.switch_caps()}
    assert caps[1].monostable
    assert caps[1].on_duration == pytest.approx(0.3)
    assert not caps[2].monostable
    assert caps[2].mode == "bistable"
    assert not caps[3].enabled
    assert caps[3].mode is None
    await client.switch_control(1, SwitchAction.TRIGGER)
    await client.switch_control(2, SwitchAction.ON)
    states = {state.number: state for state in await client.switch_status()}
    assert states[1].active
    assert states[2].active
    assert not states[3].active
    await client.switch_control(2, SwitchAction.OFF)
    assert not {s.number: s for s in await client.switch_status()}[2].active
    device.switches[1].locked = True
    with pytest.raises(TwoNApiError, match="action failed"):
        await client.switch_control(1, SwitchAction.TRIGGER)


async def test_a_switch_command_is_sent_once_as_a_post(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    """The connection drops after the device acted: aiohttp would send a GET again."""
    client = client_of(session, device)
    await client.switch_status()  # a kept-alive connection, as in Home Assistant
    device.inject_fault("switch/ctrl", "disconnect_after")
    with pytest.raises(TwoNAnswerLostError, match="closed the connection"):
        await client.switch_control(1, SwitchAction.TRIGGER)
    assert device.switches[1].activations == 1
    (sent,) = [r for r in device.requests if r.path == "/api/switch/ctrl" and r.authenticated]
    assert sent.method == "POST"
    assert sent.body == {"switch": "1", "action": "trigger"}
    # Refused at the door (no connection): nothing was sent, nothing is lost.
    refused = TwoNClient(session, "127.0.0.1:9", protocol="http", auth="none")
    with pytest.raises(TwoNConnectionError) as caught:
        await refused.switch_control(1, SwitchAction.ON)
    assert not isinstance(caught.value, TwoNAnswerLostError)


async def test_malformed_switch_lists(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    client = client_of(session, device)
    device.inject_fault("switch/caps", "malformed")
    with pytest.raises(TwoNMalformedReplyError):
        await client.switch_caps()


# --- mobile keys ---------------------------------------------------------------------------


async def test_reading_the_four_slots(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    keys = old_keys(2)
    device.set_keys([keys[0], None, keys[1]])
    config = await client_of(session, device).mobile_key_config()
    assert config.location == device.info["serialNumber"]  # the device's default
    assert [key is not None for key in config.slots] == [True, False, True, False]
    assert config.primary is not None
    assert config.primary.slot == 1
    assert config.primary.ctime == keys[0].ctime
    assert config.primary.private_key == _b64(keys[0])
    assert config.primary.fingerprint == _public_fingerprint(keys[0])
    # No key material in what is shown of it.
    shown = repr(config) + config.describe() + json.dumps(config.summary())
    assert _b64(keys[0]) not in shown
    assert _b64(keys[0])[:40] not in shown


@pytest.mark.parametrize("sim_options", [{"key_field": "publicKey"}])
async def test_newer_firmware_shows_public_halves(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    ecc = MobileKey.generate("ecc", ctime=1_700_000_000)
    device.set_keys([old_keys(1)[0], ecc])
    device.pairing_key = MobileKey.generate()
    config = await client_of(session, device).mobile_key_config()
    first, second = config.keys
    assert first.private_key is None
    assert first.type == "rsa"
    assert second.type == "ecc"
    assert second.fingerprint == _public_fingerprint(ecc)


@pytest.fixture
async def odd_device() -> AsyncIterator[dict[str, Any]]:
    """A server answering each API path with the reply the test puts in the dict."""
    replies: dict[str, Any] = {}

    async def serve(request: web.Request) -> web.Response:
        return web.json_response(replies[request.path.removeprefix("/api/")])

    app = web.Application()
    app.router.add_get("/api/{path:.*}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    replies["port"] = runner.addresses[0][1]
    yield replies
    await runner.cleanup()


def _odd_client(session: aiohttp.ClientSession, replies: dict[str, Any]) -> TwoNClient:
    return TwoNClient(session, f"127.0.0.1:{replies['port']}", protocol="http", auth="none")


async def test_tolerant_reading(session: aiohttp.ClientSession, odd_device: dict[str, Any]) -> None:
    """Unknown types, no or invalid creation times, fewer slots: read, not refused."""
    key = old_keys(1)[0]
    odd_device["mobilekey/config"] = {
        "success": True,
        "result": {
            "location": "Office",
            "keys": [{"type": "FIDO", "key": _b64(key), "ctime": -5}, {"type": "rsa"}, "nonsense"],
        },
    }
    odd_device["system/info"] = {"success": True, "result": {"serialNumber": "1", "variant": "X"}}
    client = _odd_client(session, odd_device)
    config = await client.mobile_key_config()
    assert config.location == "Office"
    assert config.slots[0] is not None
    assert config.slots[0].type == "unknown"
    assert config.slots[0].created is None
    assert config.slots[1:] == [None, None, None]
    info = await client.system_info()
    assert (info.device_name, info.mac, info.sw_version) == ("X", "", "")


@pytest.mark.parametrize(
    ("path", "result"),
    [
        ("mobilekey/config", {"keys": []}),
        ("mobilekey/config", ["not", "an", "object"]),
        ("system/info", {"deviceName": "no serial"}),
        ("switch/caps", {"switches": [1, 2]}),
        ("switch/status", {"switches": [{"active": True}]}),
        ("switch/status", {}),
    ],
)
async def test_replies_that_cannot_be_read(
    session: aiohttp.ClientSession, odd_device: dict[str, Any], path: str, result: Any
) -> None:
    odd_device[path] = {"success": True, "result": result}
    client = _odd_client(session, odd_device)
    reads = {
        "mobilekey/config": client.mobile_key_config,
        "system/info": client.system_info,
        "switch/caps": client.switch_caps,
        "switch/status": client.switch_status,
    }
    with pytest.raises(TwoNMalformedReplyError):
        await reads[path]()


async def test_a_device_that_never_finishes_the_handshake(
    session: aiohttp.ClientSession,
) -> None:
    stop = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await stop.wait()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(TwoNTimeoutError):
            await fetch_certificate_sha256(session, f"127.0.0.1:{port}", seconds=0.2)
    finally:
        stop.set()
        server.close()
        await server.wait_closed()


def test_a_mismatch_names_a_different_location() -> None:
    key = ClientKey(1, "rsa", "a" * 64, NOW)
    site_a = MobileKeyConfig("Site A", [key, None, None, None])
    site_b = MobileKeyConfig("Site B", [key, None, None, None])
    error = TwoNKeyMismatchError(site_a, site_b, site_b, before=site_b)
    assert "location: expected 'Site A', holds 'Site B'" in str(error)
    assert error.restored
    assert "nothing was lost: location 'Site B', slot 1: rsa key" in str(error)


@pytest.mark.parametrize("present", [0, 1, 2, 3, 4])
async def test_rotation_keeps_every_key_it_can(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator, present: int
) -> None:
    keys = old_keys(present)
    device.set_keys(keys)
    device.location = "Main building"
    client = client_of(session, device)
    new_key = generate_mobile_key(NOW)
    after = await client.rotate_mobile_key(new_key, {})
    assert after.location == "Main building"  # written back unchanged
    assert [key.fingerprint for key in after.keys] == [new_key.fingerprint] + [
        _public_fingerprint(key) for key in keys[:3]
    ]
    assert after.keys[0].created == NOW
    assert [key.ctime for key in after.keys[1:]] == [key.ctime for key in keys[:3]]
    # The device holds exactly that: the new key first, the oldest dropped only when all four
    # slots were full.
    assert device.mobile_keys[0] is not None
    assert device.mobile_keys[0].key_b64 == new_key.private_key
    assert sum(slot is not None for slot in device.mobile_keys) == min(present + 1, 4)
    assert device.count("mobilekey/config", "PUT") == 1


def test_rotation_drops_the_oldest_key_by_creation_time() -> None:
    def key(slot: int, days: int | None) -> ClientKey:
        created = None if days is None else NOW - timedelta(days=days)
        return ClientKey(slot, "rsa", f"fp{slot}", created, private_key=f"k{slot}")

    new_key = ClientKey(1, "rsa", "new", NOW, private_key="n")
    full = MobileKeyConfig("x", [key(1, 10), key(2, 400), key(3, 40), key(4, 70)])
    planned = plan_rotation(full, new_key, {})
    assert [k.fingerprint for k in planned.keys] == ["new", "fp1", "fp3", "fp4"]
    assert [k.slot for k in planned.keys] == [1, 2, 3, 4]
    # Without a creation time a key counts as the oldest; on a tie, the later slot goes.
    unknown = MobileKeyConfig("x", [key(1, 10), key(2, None), key(3, None), key(4, 70)])
    assert [k.fingerprint for k in plan_rotation(unknown, new_key, {}).keys] == [
        "new",
        "fp1",
        "fp2",
        "fp4",
    ]


async def test_an_invalid_key_the_device_drops_silently_is_detected(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    """The device shows a PKCS#8 key (written by other software) but refuses to take it back."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pkcs8 = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    device.set_keys([MobileKey("rsa", pkcs8, 1_700_000_000)])
    client = client_of(session, device)
    new_key = generate_mobile_key(NOW)
    with pytest.raises(TwoNKeyMismatchError) as caught:
        await client.rotate_mobile_key(new_key, {})
    message = str(caught.value)
    assert "slot 2: expected rsa key" in message
    assert "holds empty" in message
    assert caught.value.write_error is None
    assert caught.value.written.slots[1] is None
    # Written back, the device refuses that key again: the error says it is gone.
    assert not caught.value.restored
    assert [key.slot for key in caught.value.lost] == [1]
    assert "did not keep what it held before when that was written back either" in message
    assert "no longer on it: the rsa key in slot 1" in message
    assert "It now holds location '54-1046-0745', slot 1: empty" in message
    assert base64.b64encode(pkcs8).decode()[:40] not in message
    assert (new_key.private_key or "")[:40] not in message
    # The write, then one write back; neither is sent again (a silent refusal would repeat).
    assert device.count("mobilekey/config", "PUT") == 2


async def test_a_refused_new_key_is_repaired_nothing_lost(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    """Four keys and a new key the device will not take: without the repair it ends up
    holding [empty, k1, k2, k3], the fourth key gone though it was read just before."""
    keys = old_keys(4)
    device.set_keys(keys)
    device.inject_fault("mobilekey/config", "put_refuse_new")
    with pytest.raises(TwoNKeyMismatchError) as caught:
        await client_of(session, device).rotate_mobile_key(generate_mobile_key(NOW), {})
    assert [slot.key_b64 if slot else None for slot in device.mobile_keys] == [
        key.key_b64 for key in keys
    ]
    assert caught.value.restored
    assert caught.value.lost == []
    assert caught.value.written.slots[0] is None  # what the write left, before the repair
    assert "nothing was lost" in str(caught.value)
    assert device.count("mobilekey/config", "PUT") == 2


async def test_a_device_that_kept_part_of_a_write_and_said_success_is_repaired(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    """It kept the new primary key only: the previous primary key, the one phones use, was
    overwritten. What it held before is written back."""
    keys = old_keys(3)
    device.set_keys(keys)
    device.inject_fault("mobilekey/config", "put_partial_silent", keys_written=1)
    with pytest.raises(TwoNKeyMismatchError) as caught:
        await client_of(session, device).rotate_mobile_key(generate_mobile_key(NOW), {})
    assert [slot.key_b64 if slot else None for slot in device.mobile_keys] == [
        *(key.key_b64 for key in keys),
        None,
    ]
    assert caught.value.restored
    assert caught.value.write_error is None


async def test_repairing_a_write_on_firmware_that_hides_private_keys(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    """The private halves to write back come from ``known`` (the GET shows public halves)."""
    keys = old_keys(2)
    device.set_keys(keys)
    device.key_field = "publicKey"
    known = {_public_fingerprint(key): _b64(key) for key in keys}
    device.inject_fault("mobilekey/config", "put_partial_silent", keys_written=1)
    with pytest.raises(TwoNKeyMismatchError) as caught:
        await client_of(session, device).rotate_mobile_key(generate_mobile_key(NOW), known)
    assert caught.value.restored
    assert [slot.key_b64 if slot else None for slot in device.mobile_keys] == [
        keys[0].key_b64,
        keys[1].key_b64,
        None,
        None,
    ]


async def test_a_write_back_that_fails_says_what_the_device_holds(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    keys = old_keys(2)
    new_key = generate_mobile_key(NOW)
    client = client_of(session, device)
    # It keeps two slots of three (the second key is gone), then refuses that key back.
    device.set_keys(keys)
    device.inject_fault("mobilekey/config", "put_partial_silent", keys_written=2)
    device.inject_fault("mobilekey/config", "put_refuse_new")
    with pytest.raises(TwoNKeyMismatchError) as caught:
        await client.rotate_mobile_key(new_key, {})
    assert not caught.value.restored
    assert [key.fingerprint for key in caught.value.lost] == [_public_fingerprint(keys[1])]
    assert [key.fingerprint for key in caught.value.actual.keys] == [_public_fingerprint(keys[0])]
    assert "no longer on it: the rsa key in slot 2" in str(caught.value)
    # The write back fails twice (error 14), then the device cannot even be read.
    for times, read_fails in ((2, False), (1, True)):
        device.clear_faults()
        device.set_keys(keys)
        device.inject_fault("mobilekey/config", "put_partial_silent", keys_written=1)
        device.inject_fault("mobilekey/config", "error_envelope", times, method="PUT")
        if read_fails:
            device.inject_fault("mobilekey/config", "malformed", method="GET", skip=2)
        with pytest.raises(TwoNKeyMismatchError) as caught:
            await client.rotate_mobile_key(new_key, {})
        assert not caught.value.restored
        error = "not 2N's JSON envelope" if read_fails else "error 14"
        assert "writing back what it held before failed (" in str(caught.value)
        assert error in str(caught.value.restore_error)
        # The last reading: the new key in slot 1.
        assert caught.value.actual.slots[0] is not None
        assert caught.value.actual.slots[0].fingerprint == new_key.fingerprint


async def test_a_put_failing_half_way_is_written_again(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    keys = old_keys(4)
    device.set_keys(keys)
    device.inject_fault("mobilekey/config", "put_partial_error", keys_written=1)
    new_key = generate_mobile_key(NOW)
    after = await client_of(session, device).rotate_mobile_key(new_key, {})
    assert [key.fingerprint for key in after.keys] == [new_key.fingerprint] + [
        _public_fingerprint(key) for key in keys[:3]
    ]
    assert device.count("mobilekey/config", "PUT") == 2


async def test_a_put_failing_half_way_twice_is_undone(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    """Written again, it fails again: what the device held before is written back."""
    keys = old_keys(4)
    device.set_keys(keys)
    device.inject_fault("mobilekey/config", "put_partial_error", times=2, keys_written=1)
    new_key = generate_mobile_key(NOW)
    with pytest.raises(TwoNKeyMismatchError) as caught:
        await client_of(session, device).rotate_mobile_key(new_key, {})
    message = str(caught.value)
    assert "after the write failed" in message
    assert "error 14" in message
    assert "slot 2: expected" in message
    assert caught.value.written.slots[0] is not None
    assert caught.value.written.slots[0].fingerprint == new_key.fingerprint
    assert caught.value.restored
    assert [key.fingerprint for key in caught.value.actual.keys] == [
        _public_fingerprint(key) for key in keys
    ]
    assert device.count("mobilekey/config", "PUT") == 3  # the write, once more, the write back


async def test_a_put_cut_after_writing_is_verified_not_repeated(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    client = client_of(session, device)
    new_key = generate_mobile_key(NOW)
    before = await client.mobile_key_config()
    planned = plan_rotation(before, new_key, {})
    device.inject_fault("mobilekey/config", "disconnect_after", times=2)
    after = await client.write_mobile_keys(planned, before=before)
    assert after.keys[0].fingerprint == new_key.fingerprint
    # aiohttp would send the PUT again by itself; the client reads back instead.
    assert device.count("mobilekey/config", "PUT") == 1


async def test_a_put_cut_half_way(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    keys = old_keys(2)
    device.set_keys(keys)
    client = client_of(session, device)
    new_key = generate_mobile_key(NOW)
    before = await client.mobile_key_config()
    planned = plan_rotation(before, new_key, {})
    device.inject_fault("mobilekey/config", "put_partial", keys_written=1)
    after = await client.write_mobile_keys(planned, before=before)
    assert len(after.keys) == 3
    assert device.count("mobilekey/config", "PUT") == 2


async def test_a_refused_write_is_not_read_back(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    device.set_account("doors", "pw", ["switches_control"])
    client = client_of(session, device, username="doors", password="pw")
    config = MobileKeyConfig("x", [generate_mobile_key(NOW), None, None, None])
    with pytest.raises(TwoNPrivilegeError):
        await client.write_mobile_keys(config, before=config)
    assert device.count("mobilekey/config", "GET") == 0


@pytest.mark.parametrize("sim_options", [{"key_field": "publicKey"}])
async def test_rotation_needs_the_private_halves_it_cannot_see(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    keys = old_keys(2)
    device.set_keys(keys)
    client = client_of(session, device)
    new_key = generate_mobile_key(NOW)
    with pytest.raises(TwoNKeyMaterialMissingError, match="slot 1"):
        await client.rotate_mobile_key(new_key, {})
    assert device.count("mobilekey/config", "PUT") == 0
    known = {_public_fingerprint(key): _b64(key) for key in keys}
    after = await client.rotate_mobile_key(new_key, known)
    assert [key.private_key for key in after.keys] == [None, None, None]
    assert after.keys[0].fingerprint == new_key.fingerprint


async def test_setting_the_location(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    keys = old_keys(2)
    device.set_keys(keys)
    client = client_of(session, device)
    with pytest.raises(TwoNInvalidLocationError):
        await client.set_location("x" * 128)
    assert device.count("mobilekey/config") == 0
    after = await client.set_location("Site A")
    assert after.location == device.location == "Site A"
    assert len(after.keys) == 2
    puts = [r.body for r in device.requests if r.method == "PUT"]
    assert puts == [{"location": "Site A"}]  # the keys are left as they are
    with pytest.raises(TwoNKeyMaterialMissingError):
        await client.write_mobile_keys(
            MobileKeyConfig("x", [ClientKey(1, "rsa", "fp"), None, None, None]), before=after
        )
    # A device that answers success and keeps nothing: it still holds what it held before.
    device.inject_fault("mobilekey/config", "put_ignored")
    with pytest.raises(TwoNKeyMismatchError) as caught:
        await client.set_location("Site B")
    assert caught.value.restored
    assert device.location == "Site A"
    assert device.count("mobilekey/config", "PUT") == 2  # nothing to write back


def test_copying_a_device_without_keys_is_refused() -> None:
    empty = MobileKeyConfig("54-1046-0745", [None, None, None, None])
    with pytest.raises(TwoNNothingToCopyError, match="delete every key"):
        plan_copy(empty, {})


async def test_keys_of_other_types_are_written_back_as_they_are(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    ecc = MobileKey.generate("ecc")  # no creation time
    device.set_keys([ecc])
    new_key = generate_mobile_key(NOW)
    after = await client_of(session, device).rotate_mobile_key(new_key, {})
    assert after.keys[1].type == "ecc"
    assert after.keys[1].created is None


async def test_credentials_are_kept_out_of_requests_to_a_changed_certificate(
    session: aiohttp.ClientSession, device: TwoNDeviceSimulator
) -> None:
    client = client_of(session, device, password=DEFAULT_PASSWORD)
    device.replace_certificate()
    config = MobileKeyConfig("x", [generate_mobile_key(NOW), None, None, None])
    with pytest.raises(TwoNCertificateChangedError):
        await client.write_mobile_keys(config, before=config)
    assert device.requests == []
