"""Self-tests of the InVue LIVE Lock API simulator, driven with raw aiohttp and cryptography."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
import datetime as dt
import itertools
import json
import logging
from pathlib import Path
import re
import signal
import sys
import time

import aiohttp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
import pytest

from simulators.invue import (
    DEFAULT_LOCKS,
    DEFAULT_OWNER,
    SEED_ENROLMENT_CODE,
    SEED_SERIAL,
    FaultKind,
    InVueApiSimulator,
    derived_api_key,
    derived_enrolment_code,
    main,
)

OWNER = "Acme Retail Ltd"
OTHER = "Other Stores plc"
SERIAL = SEED_SERIAL
CODE = SEED_ENROLMENT_CODE
PLAIN = "0000051a00000006"  # a lock without a type
PLAIN_CODE = derived_enrolment_code(PLAIN)
ORDER = ["type", "issuer", "valid", "expires", "data", "key", "signature"]
API_KEY_SHAPE = re.compile(r"^[0-9a-f]{33}\.[0-9a-f]{33}\.[0-9a-f]{33}$")

# RSA keys are generated once for the module; each simulator draws root, owner, other owner.
_POOL = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)]


def _keys() -> Callable[[], rsa.RSAPrivateKey]:
    pool = itertools.cycle(_POOL)
    return lambda: next(pool)


def enrolment(
    serial: str = SERIAL,
    code: str = CODE,
    *,
    certificate: str = OWNER,
    lock_type: str = "CAM",
    as_base64: bool | None = True,
) -> dict[str, object]:
    body: dict[str, object] = {
        "serial_no": serial,
        "type": lock_type,
        "certificate": certificate,
        "enrolment_code": code,
    }
    if as_base64 is not None:
        body["base64"] = as_base64
    return body


@dataclass
class Reply:
    status: int
    content_type: str
    text: str
    headers: dict[str, str]

    def json(self) -> dict[str, object]:
        data = json.loads(self.text)
        assert isinstance(data, dict)
        return data

    def certificate(self) -> object:
        data = self.json()["data"]
        assert isinstance(data, dict)
        return data["key"]


@dataclass
class Ctx:
    sim: InVueApiSimulator
    http: aiohttp.ClientSession
    key: str
    other_key: str

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = "",  # "": the owner's key, None: no Authorization header
        body: object = None,
        data: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = {"Accept": "application/json", "Accept-Charset": "utf-8", **(headers or {})}
        if token is not None and "Authorization" not in sent:
            sent["Authorization"] = f"Bearer {token or self.key}"
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        async with self.http.request(
            method, self.sim.url + path, json=body, data=data, headers=sent
        ) as resp:
            return Reply(resp.status, resp.content_type, await resp.text(), dict(resp.headers))

    async def enrol(self, body: dict[str, object] | None = None, token: str | None = "") -> Reply:
        return await self.call("POST", "/v1/dlock", token=token, body=body or enrolment())


@pytest.fixture
async def ctx() -> AsyncIterator[Ctx]:
    sim = InVueApiSimulator(key_factory=_keys())
    key, other_key = sim.add_account(OWNER), sim.add_account(OTHER)
    sim.add_lock(SERIAL, CODE, "CAM")
    sim.add_lock(PLAIN)
    async with sim, aiohttp.ClientSession() as http:
        yield Ctx(sim, http, key, other_key)


def decode_base64_certificate(text: object) -> tuple[list[str], dict[str, object], bytes]:
    assert isinstance(text, str)
    raw = base64.b64decode(text, validate=True)
    cert = json.loads(raw)  # dicts keep the order of the keys as sent
    assert isinstance(cert, dict)
    return list(cert), cert, raw


def signed_bytes(cert: dict[str, object]) -> bytes:
    """The documented canonical bytes: compact JSON of type, valid, expires, data, key."""
    fields = {name: cert[name] for name in ("type", "valid", "expires", "data", "key")}
    return json.dumps(fields, separators=(",", ":")).encode()


def verify(cert: dict[str, object], certificate: x509.Certificate) -> None:
    public_key = certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    signature = cert["signature"]
    assert isinstance(signature, str)
    public_key.verify(
        base64.b64decode(signature), signed_bytes(cert), padding.PKCS1v15(), hashes.SHA256()
    )


# ----- enrolment and the two response forms -----------------------------------------------------
async def test_enrol_base64_form(ctx: Ctx) -> None:
    reply = await ctx.enrol()
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    body = reply.json()
    assert (body["status"], body["msg"]) == (200, "DLock registered successfully")
    keys, cert, raw = decode_base64_certificate(reply.certificate())
    assert keys == ORDER
    assert json.dumps(cert, separators=(",", ":")).encode() == raw
    assert (cert["type"], cert["issuer"], cert["valid"], cert["expires"], cert["data"]) == (
        "key",
        "wingman",
        0,
        0,
        {},
    )
    for name in ("key", "signature"):
        value = cert[name]
        assert isinstance(value, str)
        assert len(base64.b64decode(value, validate=True)) == 256
    verify(cert, ctx.sim.intermediate_certificate(OWNER))
    registration = ctx.sim.registration(SERIAL)
    assert registration is not None
    assert (registration.owner, registration.lock_type) == (OWNER, "CAM")


async def test_enrol_json_form_and_get_in_both_forms(ctx: Ctx) -> None:
    reply = await ctx.enrol(enrolment(as_base64=False))
    assert reply.status == 200
    native = reply.certificate()
    assert isinstance(native, dict)
    assert list(native) == ORDER
    assert native["issuer"] == "customer"  # the seed's JSON form names another issuer
    verify(native, ctx.sim.intermediate_certificate(OWNER))

    got = await ctx.call("GET", f"/v1/dlock/{SERIAL}?base64=true")
    assert got.status == 200
    _, decoded, _ = decode_base64_certificate(got.certificate())
    assert (decoded["key"], decoded["signature"]) == (native["key"], native["signature"])
    verify(decoded, ctx.sim.intermediate_certificate(OWNER))
    for query in ("", "?base64=false", "?base64=no"):
        assert (await ctx.call("GET", f"/v1/dlock/{SERIAL}{query}")).certificate() == native

    ctx.sim.default_base64 = True  # only requests that do not say are affected
    assert isinstance((await ctx.call("GET", f"/v1/dlock/{SERIAL}")).certificate(), str)
    assert (await ctx.call("GET", f"/v1/dlock/{SERIAL}?base64=false")).certificate() == native
    reply = await ctx.enrol(enrolment(PLAIN, PLAIN_CODE, lock_type="", as_base64=None))
    assert reply.status == 200
    assert isinstance(reply.certificate(), str)


async def test_keys_differ_per_lock_and_chain_is_x509(ctx: Ctx) -> None:
    first = (await ctx.enrol(enrolment(as_base64=False))).certificate()
    second = (await ctx.enrol(enrolment(PLAIN, PLAIN_CODE, as_base64=False))).certificate()
    assert isinstance(first, dict)
    assert isinstance(second, dict)
    assert first["key"] != second["key"]
    assert ctx.sim.registration(PLAIN) is not None
    intermediate, other = (ctx.sim.intermediate_certificate(o) for o in (OWNER, OTHER))
    intermediate.verify_directly_issued_by(ctx.sim.root)
    assert intermediate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == OWNER
    assert intermediate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    with pytest.raises(InvalidSignature):
        verify(first, other)  # signed with this owner's key, not another's
    with pytest.raises(InvalidSignature):
        verify({**first, "valid": 1}, intermediate)
    pem = ctx.sim.intermediate_pem(OWNER)
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    assert x509.load_pem_x509_certificate(pem.encode()) == intermediate
    chain = x509.load_pem_x509_certificates(
        ctx.sim.intermediate_pem(OWNER, with_root=True).encode()
    )
    assert chain == [intermediate, ctx.sim.root]
    assert API_KEY_SHAPE.match(ctx.key)
    assert API_KEY_SHAPE.match(derived_api_key(DEFAULT_OWNER))
    assert derived_api_key(DEFAULT_OWNER) == derived_api_key(DEFAULT_OWNER) != ctx.key


# ----- registration rules and errors ------------------------------------------------------------
async def test_duplicate_enrolment_and_other_owner(ctx: Ctx) -> None:
    first = await ctx.enrol()
    assert first.status == 200
    again = await ctx.enrol()
    assert again.status == 400
    assert again.json()["status"] == 400
    got = await ctx.call("GET", f"/v1/dlock/{SERIAL}?base64=true")
    assert (got.status, got.certificate()) == (200, first.certificate())
    foreign = await ctx.enrol(enrolment(certificate=OTHER), token=ctx.other_key)
    assert foreign.status == 403
    for method in ("GET", "DELETE"):  # "The lock was not registered to the owner of the API key"
        assert (await ctx.call(method, f"/v1/dlock/{SERIAL}", token=ctx.other_key)).status == 404
    assert ctx.sim.registration(SERIAL) is not None


async def test_certificate_of_another_owner_is_forbidden(ctx: Ctx) -> None:
    assert (await ctx.enrol(enrolment(certificate=OTHER))).status == 403
    assert (await ctx.enrol(enrolment(certificate="Nobody"))).status == 403
    assert ctx.sim.registration(SERIAL) is None


async def test_unauthorised(ctx: Ctx) -> None:
    path = f"/v1/dlock/{SERIAL}"
    for method, target in (("POST", "/v1/dlock"), ("GET", path), ("DELETE", path)):
        body = enrolment() if method == "POST" else None
        for token in (None, "0.0.0", "181d415f34379af07b2c11d144dfbe35d"):
            reply = await ctx.call(method, target, token=token, body=body)
            assert reply.status == 401, (method, token)
            assert reply.json()["status"] == 401
            assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    second = ctx.sim.add_account(OWNER)
    assert (await ctx.call("GET", path, token=second)).status == 404  # accepted, nothing there
    ctx.sim.revoke_api_key(ctx.key)
    assert (await ctx.enrol()).status == 401
    assert (await ctx.call("GET", path)).status == 401
    assert (await ctx.enrol(token=second)).status == 200  # the owner's other key still works
    lower = await ctx.call("GET", path, headers={"Authorization": f"bearer {second}"})
    assert lower.status == 200


async def test_unknown_serial_is_not_found(ctx: Ctx) -> None:
    for method in ("GET", "DELETE"):
        reply = await ctx.call(method, "/v1/dlock/0000051a000000ff?base64=true")
        assert (reply.status, reply.json()["status"]) == (404, 404)
    assert (await ctx.call("GET", "/v1/locks")).status == 404


async def test_put_and_patch_are_not_allowed(ctx: Ctx) -> None:
    for method in ("PUT", "PATCH"):
        for path in (f"/v1/dlock/{SERIAL}", "/v1/dlock"):
            for token in ("", None):
                reply = await ctx.call(method, path, token=token, body=enrolment())
                assert reply.status == 405, (method, path)
                assert reply.json() == {"status": 405, "msg": "No such method"}
    assert (await ctx.call("GET", "/v1/dlock")).headers["Allow"] == "POST"
    assert (await ctx.call("POST", f"/v1/dlock/{SERIAL}")).headers["Allow"] == "GET, DELETE"


async def test_delete_then_not_found_then_enrol_again(ctx: Ctx) -> None:
    first = await ctx.enrol()
    reply = await ctx.call("DELETE", f"/v1/dlock/{SERIAL}")
    assert (reply.status, reply.text) == (204, "")
    assert ctx.sim.registration(SERIAL) is None
    assert (await ctx.call("GET", f"/v1/dlock/{SERIAL}")).status == 404
    assert (await ctx.call("DELETE", f"/v1/dlock/{SERIAL}")).status == 404
    again = await ctx.enrol()
    assert again.status == 200
    assert again.certificate() == first.certificate()  # same lock, same code, same key


@pytest.mark.parametrize(
    "body",
    [
        enrolment(code=PLAIN_CODE),  # wrong enrolment code
        enrolment(code=""),  # no installer code
        enrolment("0000051a000000ff", derived_enrolment_code("0000051a000000ff")),  # unknown lock
        enrolment(lock_type="PAD"),  # the lock is a CAM
        enrolment(as_base64="true"),  # type: ignore[arg-type]
        {k: v for k, v in enrolment().items() if k != "type"},
        {k: v for k, v in enrolment().items() if k != "serial_no"},
        {k: v for k, v in enrolment().items() if k != "certificate"},
        [enrolment()],
        "serial_no=0000051a00000005",
    ],
)
async def test_bad_enrolment_requests(ctx: Ctx, body: object) -> None:
    reply = await ctx.call("POST", "/v1/dlock", body=body)
    assert (reply.status, reply.json()["status"]) == (400, 400)
    assert ctx.sim.registration(SERIAL) is None


async def test_enrolment_needs_json_content(ctx: Ctx) -> None:
    for data, content_type in (("{not json", "application/json"), ("{}", "text/plain")):
        reply = await ctx.call(
            "POST", "/v1/dlock", data=data, headers={"Content-Type": content_type}
        )
        assert reply.status == 400
    reply = await ctx.call("POST", "/v1/dlock", data=json.dumps(enrolment()))
    assert reply.status == 200
    plain = await ctx.enrol(enrolment(PLAIN, PLAIN_CODE, lock_type=""))
    assert plain.status == 200
    registration = ctx.sim.registration(PLAIN)
    assert registration is not None
    assert registration.lock_type == ""


# ----- faults, outage, records ------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["http_error", "unavailable", "malformed", "disconnect", "delay"])
async def test_fault_kinds(ctx: Ctx, kind: FaultKind) -> None:
    await ctx.enrol()
    path = f"/v1/dlock/{SERIAL}"
    # aiohttp retries an idempotent request once after a dropped connection: drop both.
    ctx.sim.inject_fault("/v1/dlock", kind, times=2 if kind == "disconnect" else 1, seconds=0.2)
    started = time.monotonic()
    if kind == "disconnect":
        with pytest.raises(aiohttp.ClientError):
            await ctx.call("GET", path)
        assert [r.status for r in ctx.sim.requests[-2:]] == [None, None]
        ctx.sim.inject_fault("/v1/dlock", kind)
        with pytest.raises(aiohttp.ClientError):  # POST is not retried
            await ctx.call("POST", "/v1/dlock", body=enrolment(PLAIN, PLAIN_CODE))
        assert ctx.sim.registration(PLAIN) is None
    else:
        reply = await ctx.call("GET", path)
        if kind == "delay":
            assert time.monotonic() - started >= 0.2
            assert reply.status == 200
            assert reply.certificate()
        elif kind == "malformed":
            assert reply.status == 200
            with pytest.raises(json.JSONDecodeError):
                json.loads(reply.text)
        else:
            assert reply.status == (500 if kind == "http_error" else 503)
            assert reply.content_type == "text/html"
            assert reply.text.startswith("<html>")
    assert ctx.sim.requests[-1].fault == kind
    assert (await ctx.call("GET", path)).status == 200  # one request only
    assert ctx.sim.requests[-1].fault is None


async def test_reply_lost_after_enrolment(ctx: Ctx) -> None:
    ctx.sim.inject_fault("/v1/dlock", "disconnect_after")
    with pytest.raises(aiohttp.ClientError):
        await ctx.enrol()
    assert ctx.sim.requests[-1].status is None
    assert ctx.sim.registration(SERIAL) is not None  # registered although the reply was lost
    assert (await ctx.enrol()).status == 400
    assert (await ctx.call("GET", f"/v1/dlock/{SERIAL}?base64=true")).status == 200


async def test_fault_scope_and_repetition(ctx: Ctx) -> None:
    ctx.sim.inject_fault("/v1/dlock/", "unavailable", times=2, method="GET")
    assert (await ctx.enrol()).status == 200  # POST /v1/dlock: neither prefix nor method
    assert (await ctx.call("DELETE", "/v1/dlock/x")).status == 404
    statuses = [(await ctx.call("GET", f"/v1/dlock/{SERIAL}")).status for _ in range(3)]
    assert statuses == [503, 503, 200]
    ctx.sim.inject_fault("/", "http_error", times=None)
    assert [(await ctx.enrol()).status for _ in range(2)] == [500, 500]
    ctx.sim.clear_faults()
    assert (await ctx.call("GET", f"/v1/dlock/{SERIAL}")).status == 200
    with pytest.raises(ValueError, match="unknown fault"):
        ctx.sim.inject_fault("/", "explode")  # type: ignore[arg-type]


async def test_outage(ctx: Ctx) -> None:
    ctx.sim.set_down(True)
    for method, path in (("POST", "/v1/dlock"), ("GET", f"/v1/dlock/{SERIAL}"), ("GET", "/")):
        reply = await ctx.call(method, path, body=enrolment() if method == "POST" else None)
        assert (reply.status, reply.content_type) == (503, "text/html")
    ctx.sim.set_down(False)
    assert (await ctx.enrol()).status == 200
    port = ctx.sim.port
    await ctx.sim.stop()  # refused connections, then back at the same address
    with pytest.raises(aiohttp.ClientConnectionError):
        await ctx.call("GET", f"/v1/dlock/{SERIAL}")
    await ctx.sim.start()
    assert ctx.sim.port == port
    assert (await ctx.call("GET", f"/v1/dlock/{SERIAL}")).status == 200


async def test_requests_are_recorded_and_logs_masked(
    ctx: Ctx, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="simulators.invue")
    await ctx.enrol()
    await ctx.call("GET", f"/v1/dlock/{SERIAL}?base64=true")
    await ctx.call("GET", f"/v1/dlock/{SERIAL}", token="bad")
    await ctx.call("PUT", f"/v1/dlock/{SERIAL}")
    records = [(r.method, r.path, r.query, r.owner, r.status) for r in ctx.sim.requests]
    assert records == [
        ("POST", "/v1/dlock", {}, OWNER, 200),
        ("GET", f"/v1/dlock/{SERIAL}", {"base64": "true"}, OWNER, 200),
        ("GET", f"/v1/dlock/{SERIAL}", {}, None, 401),
        ("PUT", f"/v1/dlock/{SERIAL}", {}, OWNER, 405),
    ]
    assert json.loads(ctx.sim.requests[0].body)["enrolment_code"] == CODE
    assert ctx.sim.requests[0].headers["Content-Type"] == "application/json"
    assert ctx.sim.count("/v1/dlock") == 1
    assert ctx.sim.count(f"/v1/dlock/{SERIAL}") == 3
    assert ctx.sim.count(f"/v1/dlock/{SERIAL}", "get") == 2
    assert ctx.sim.count("/v1/dlock", prefix=True) == 4
    assert len(caplog.records) == 4
    assert ctx.key not in caplog.text
    assert CODE not in caplog.text
    assert CODE[:4] in caplog.text
    assert ctx.key[:4] in caplog.text
    assert OWNER in caplog.text


# ----- modes for what the pages leave open -------------------------------------------------------
async def test_the_status_of_a_serial_registered_twice(ctx: Ctx) -> None:
    assert (await ctx.enrol()).status == 200
    ctx.sim.duplicate_status = 409
    again = await ctx.enrol()
    assert (again.status, again.json()["status"]) == (409, 409)
    assert "already registered" in str(again.json()["msg"])
    # Another owner is still refused with 403.
    assert (await ctx.enrol(enrolment(certificate=OTHER), token=ctx.other_key)).status == 403


async def test_serial_numbers_of_the_documented_shape(ctx: Ctx) -> None:
    made_up = "/v1/dlock/multilock-api-key-check"
    assert (await ctx.call("GET", made_up)).status == 404
    ctx.sim.validate_serials = True
    for method in ("GET", "DELETE"):
        reply = await ctx.call(method, made_up)
        assert (reply.status, reply.json()["status"]) == (400, 400)
        assert (await ctx.call(method, made_up, token="0.0.0")).status == 401  # the key first
    assert (await ctx.call("GET", "/v1/dlock/0000000000000000")).status == 404
    assert (await ctx.call("GET", "/v1/dlock/0000051A0000000F")).status == 404
    assert (await ctx.enrol(enrolment(serial="51a-5"))).status == 400
    assert (await ctx.enrol()).status == 200


async def test_errors_that_quote_secrets(ctx: Ctx) -> None:
    ctx.sim.echo_secrets = True
    reply = await ctx.enrol(enrolment(code="d3Jvbmc="))
    assert reply.status == 400
    msg = str(reply.json()["msg"])
    assert msg.startswith("Invalid installer code")
    assert f"accessToken={ctx.key}" in msg
    assert "enrolment_code=d3Jvbmc=" in msg
    reply = await ctx.call("GET", f"/v1/dlock/{SERIAL}", token="0.0.0")
    assert "accessToken=0.0.0, enrolment_code=None" in str(reply.json()["msg"])


@pytest.mark.parametrize("as_date", [False, True])
async def test_rate_limits(ctx: Ctx, as_date: bool) -> None:
    now = [1_800_000_000.0]
    ctx.sim = sim = InVueApiSimulator(key_factory=_keys(), clock=lambda: now[0])
    ctx.key, ctx.other_key = sim.add_account(OWNER), sim.add_account(OTHER)
    sim.add_lock(PLAIN)
    sim.retry_after_date = as_date
    await sim.start()
    try:
        sim.inject_fault("/v1/dlock", "rate_limited", seconds=2.5, method="POST")
        reply = await ctx.enrol(enrolment(PLAIN, PLAIN_CODE, lock_type=""))
        assert (reply.status, reply.json()["status"]) == (429, 429)
        expected = "Fri, 15 Jan 2027 08:00:03 GMT" if as_date else "3"
        assert reply.headers["Retry-After"] == expected
        # The key is held until the wait is over, on any path; other keys are not.
        now[0] += 2
        reply = await ctx.call("GET", f"/v1/dlock/{SERIAL}")
        assert (reply.status, reply.headers["Retry-After"]) == (429, expected if as_date else "1")
        assert sim.requests[-1].fault == "rate_limited"
        assert (await ctx.call("GET", f"/v1/dlock/{SERIAL}", token=ctx.other_key)).status == 404
        now[0] += 0.5
        assert (await ctx.enrol(enrolment(PLAIN, PLAIN_CODE, lock_type=""))).status == 200
        assert [r.received_at for r in sim.requests[:2]] == [1_800_000_000.0, 1_800_000_002.0]
    finally:
        await sim.stop()


# ----- certificates -----------------------------------------------------------------------------
def _days_left(certificate: x509.Certificate) -> float:
    return (certificate.not_valid_after_utc - dt.datetime.now(dt.UTC)).total_seconds() / 86400


async def test_intermediate_dates_and_renewal(ctx: Ctx) -> None:
    sim = ctx.sim
    sim.add_account("Soon Ltd", valid_days=10)
    sim.add_account("Gone Ltd", valid_days=-3)
    when = dt.datetime(2030, 1, 31, 12, tzinfo=dt.UTC)
    sim.add_account("Fixed Ltd", not_valid_after=when)
    soon, gone = sim.intermediate_certificate("Soon Ltd"), sim.intermediate_certificate("Gone Ltd")
    assert 9.99 < _days_left(soon) <= 10
    assert -3.01 < _days_left(gone) <= -3
    assert gone.not_valid_before_utc < gone.not_valid_after_utc
    assert sim.intermediate_certificate("Fixed Ltd").not_valid_after_utc == when
    assert 364 < _days_left(sim.intermediate_certificate(OWNER)) <= 365
    # An expired intermediate does not stop issuance; renewal keeps Key Certificates valid.
    gone_key = sim.add_account("Gone Ltd")
    reply = await ctx.enrol(enrolment(certificate="Gone Ltd", as_base64=False), token=gone_key)
    assert reply.status == 200
    cert = reply.certificate()
    assert isinstance(cert, dict)
    verify(cert, gone)
    renewed = sim.renew_intermediate("Gone Ltd", valid_days=30)
    assert 29.99 < _days_left(renewed) <= 30
    assert sim.intermediate_certificate("Gone Ltd") == renewed
    verify(cert, renewed)


# ----- command line -----------------------------------------------------------------------------
def test_help_names_the_built_in_account(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert DEFAULT_OWNER in out
    assert derived_api_key(DEFAULT_OWNER) in out
    for option in ("--host", "--port", "--owner", "--lock", "--enrolled", "--intermediate-days"):
        assert option in out
    for option in ("--write-intermediate", "--log", "--base64-default", "8184"):
        assert option in out
    # Each default lock with the enrolment code to paste into the enrolment form.
    for serial, code, lock_type in DEFAULT_LOCKS:
        assert f"{serial}  {f'type {lock_type}' if lock_type else 'no type'}\n" in out
        assert f"    {code or derived_enrolment_code(serial)}\n" in out


async def test_command_line_server(tmp_path: Path) -> None:
    pem, log = tmp_path / "intermediate.pem", tmp_path / "requests.log"
    code = "c2ltdWxhdGVkIGNvZGU="
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulators.invue", "--port", "0", "--intermediate-days", "10",
        "--lock", f"0000051a00000042:{code}:CAM", "--enrolled", "0000051a00000043",
        "--write-intermediate", str(pem), "--log", str(log),
        "--duplicate-status", "409", "--validate-serials",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    banner: list[str] = []
    try:
        async with asyncio.timeout(15):
            while not banner or not banner[-1].startswith("Press Ctrl+C"):
                banner.append((await process.stdout.readline()).decode().rstrip())
                assert banner[-1] or process.returncode is None, banner
        text = "\n".join(banner)
        url = re.search(r"http://127\.0\.0\.1:\d+", banner[0])
        assert url is not None
        api_key = derived_api_key(DEFAULT_OWNER)
        assert api_key in text
        assert code in text
        assert "0000051a00000043" in text
        assert 'enrolled by "Demo Retail Ltd"' in text
        intermediate = x509.load_pem_x509_certificate(pem.read_bytes())
        assert intermediate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
            DEFAULT_OWNER
        )
        assert 9.99 < _days_left(intermediate) <= 10
        headers = {"Authorization": f"Bearer {api_key}"}
        body = enrolment("0000051a00000042", code, certificate=DEFAULT_OWNER)
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.post(url.group() + "/v1/dlock", json=body) as resp:
                assert resp.status == 200
            async with http.post(url.group() + "/v1/dlock", json=body) as resp:
                assert resp.status == 409
            async with http.get(url.group() + "/v1/dlock/made-up") as resp:
                assert resp.status == 400
            async with http.get(url.group() + "/v1/dlock/0000051a00000043?base64=true") as resp:
                assert resp.status == 200
                _, cert, _ = decode_base64_certificate((await resp.json())["data"]["key"])
        verify(cert, intermediate)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 10)
    assert process.returncode == 0
    logged = log.read_text()
    assert "POST /v1/dlock" in logged
    assert api_key not in logged
    assert code not in logged
