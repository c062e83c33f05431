"""The InVue client against the simulator: both reply forms, every error status, faults."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
import json
import re
from typing import Any

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
import pytest

from custom_components.multilock.vendors.invue.client import (
    PROBE_SERIAL,
    InVueApiError,
    InVueAuthenticationError,
    InVueBadRequestError,
    InVueCertificateError,
    InVueClient,
    InVueConflictError,
    InVueConnectionError,
    InVueForbiddenError,
    InVueMalformedReplyError,
    InVueMethodNotAllowedError,
    InVueNotFoundError,
    InVueRateLimitedError,
    InVueTimeoutError,
    KeyCertificate,
    KeyValidity,
    _certificate_of,
    parse_intermediate,
)
from simulators.invue import SEED_ENROLMENT_CODE
from tests.clock import Clock

from .conftest import BACK, FRONT, KIOSK, NEW, OTHER, OWNER, Cloud

# The seed page's Key Certificate: its base64 form, and the key and signature of both forms.
SEED_KEY = (
    "JhbnYdsos2q+VDPASclDDKdXMZ3yK42/JM+A/2d2Zq1GTM3MkyD+As/S0hbUAls454F/NtBtbXHOsvCDGhorD1/lK2wFI"
    "B5o6K7N2R+nqlGfcQldiouYZI7t/POgs7li0oigF587y9aB6CAa2T8QbpbMYC6SdIkpXLw792VAsFP45hzyd+gn3Y0HoJ"
    "tYLH86V2qbQvAeKdlqWxwb26LnJA8IeSs0/bx+1APe9GT5V30iDdUqPu5fAxurJrGisiZDr7mZLLPoFe90Yw3aveiCt8L"
    "DCMQBw3UnhtD3kQAzkRanVQWbsJOFy7RRBqI2t/4Pok97bYOPU6SrZQ9fdHLv+w=="
)
SEED_SIGNATURE = (
    "larO9Zty6nCG3DL64METR3yxDseSvgEshf7u6cuA9gGXsV6b0eeULgh29eEeyipSUheIiGy8ElQmmJktC5a7zwqvRneKl"
    "/VEPreB4Gd3NoJGmJQFSi2qv9zRAaQAeqhXbLIc7jdcjcpRrrLSDelER7/MSUcR/0qO7EISnnIHY65Xyz+FvWIgfzayqh"
    "KTWa3wDvfK3jMoUUIpatNmq5YJeOXlTw5KLWOuEyV85wmPQ1VG/jrumzprU8GUS7C+bXwC52UxgGWKzVr0JQ/heY3rZTz"
    "yE4EX60RODPMXTI92ybJmrBhU2StY2K5Sh/aYEyD7W9xaEqGsqB++xE11Tpjm2Q=="
)


def _seed_json(issuer: str) -> dict[str, Any]:
    return {
        "type": "key",
        "issuer": issuer,
        "valid": 0,
        "expires": 0,
        "data": {},
        "key": SEED_KEY,
        "signature": SEED_SIGNATURE,
    }


SEED_BASE64 = base64.b64encode(
    json.dumps(_seed_json("wingman"), separators=(",", ":")).encode()
).decode()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session (the client takes it injected)."""
    async with aiohttp.ClientSession() as session:
        yield session


def _client(
    session: aiohttp.ClientSession,
    cloud: Cloud,
    api_key: str | None = None,
    timeout: float = 5,
    clock: Clock | None = None,
) -> InVueClient:
    if clock is None:
        return InVueClient(
            session, api_key or cloud.api_key, base_url=cloud.sim.url, timeout=timeout
        )
    return InVueClient(
        session,
        api_key or cloud.api_key,
        base_url=cloud.sim.url,
        timeout=timeout,
        clock=clock.time,
        sleep=clock.sleep,
    )


def test_the_seed_certificate_decodes_into_its_fields() -> None:
    assert SEED_BASE64.startswith("eyJ0eXBlIjoia2V5IiwiaXNzdWVyIjoid2luZ21hbiIs")
    certificate = KeyCertificate.from_base64(SEED_BASE64)
    assert (certificate.type, certificate.issuer) == ("key", "wingman")
    assert (certificate.valid, certificate.expires, certificate.data) == (0, 0, {})
    assert (certificate.key, certificate.signature) == (SEED_KEY, SEED_SIGNATURE)
    assert certificate.valid_from is None
    assert certificate.valid_until is None
    assert certificate.validity(datetime.now(UTC)) is KeyValidity.VALID
    # The JSON form, encoded as InVue encodes it, is the base64 form byte for byte.
    assert KeyCertificate.from_json(_seed_json("wingman")).encoded == SEED_BASE64
    # Nothing secret in its representation.
    assert SEED_KEY not in repr(certificate)
    assert SEED_SIGNATURE not in repr(certificate)


@pytest.mark.parametrize(
    ("valid", "expires", "validity"),
    [
        (0, 0, KeyValidity.VALID),
        (-1, 0, KeyValidity.VALID),
        (100, 200, KeyValidity.EXPIRED),
        (100, 10**20, KeyValidity.VALID),  # beyond any date: no bound
        (4_000_000_000, 0, KeyValidity.NOT_YET_VALID),
    ],
)
def test_key_validity(valid: int, expires: int, validity: KeyValidity) -> None:
    fields = _seed_json("customer") | {"valid": valid, "expires": expires}
    certificate = KeyCertificate.from_json(fields)
    assert certificate.validity(datetime.now(UTC)) is validity


@pytest.mark.parametrize(
    "reply",
    [
        "not base64!",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b"[1, 2]").decode(),
        base64.b64encode(json.dumps({"type": "key"}).encode()).decode(),
        base64.b64encode(json.dumps(_seed_json("x") | {"valid": "0"}).encode()).decode(),
        base64.b64encode(json.dumps(_seed_json("x") | {"expires": True}).encode()).decode(),
        base64.b64encode(json.dumps(_seed_json("x") | {"key": 5}).encode()).decode(),
        base64.b64encode(json.dumps(_seed_json("x") | {"data": []}).encode()).decode(),
        42,
        None,
    ],
)
def test_unreadable_certificates_are_malformed_replies(reply: object) -> None:
    with pytest.raises(InVueMalformedReplyError):
        KeyCertificate.from_reply(reply)


async def test_enrol_returns_the_key_certificate(
    session: aiohttp.ClientSession, cloud: Cloud
) -> None:
    client = _client(session, cloud)
    certificate = await client.enrol(
        FRONT, certificate_owner=OWNER, enrolment_code=SEED_ENROLMENT_CODE, lock_type="CAM"
    )
    assert certificate.encoded == cloud.certificate(FRONT)
    registered = cloud.sim.registrations[FRONT].certificate
    assert (certificate.key, certificate.signature) == (registered.key, registered.signature)
    assert certificate.type == "key"
    # The request as the seed shows it.
    request = cloud.sim.requests[-1]
    assert (request.method, request.path, request.status) == ("POST", "/v1/dlock", 200)
    assert request.headers["Authorization"] == f"Bearer {cloud.api_key}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Accept-Charset"] == "utf-8"
    assert json.loads(request.body) == {
        "serial_no": FRONT,
        "type": "CAM",
        "certificate": OWNER,
        "enrolment_code": SEED_ENROLMENT_CODE,
        "base64": True,
    }
    # The GET of the same lock returns the same certificate.
    again = await client.key_certificate(FRONT)
    assert again == certificate
    assert cloud.sim.requests[-1].query == {"base64": "true"}


async def test_a_reply_in_the_native_json_form_is_encoded_as_invue_would(
    session: aiohttp.ClientSession, cloud: Cloud
) -> None:
    """A server that ignores ``base64`` and answers JSON gives the same certificate."""
    cloud.sim.enrol(BACK, OWNER)
    cloud.sim.issuer_json = cloud.sim.issuer_base64
    client = _client(session, cloud)
    native = cloud.sim.registrations[BACK].certificate.as_json(cloud.sim.issuer_json)
    certificate = KeyCertificate.from_reply(native)
    assert certificate.encoded == cloud.certificate(BACK)
    assert certificate == await client.key_certificate(BACK)


async def test_delete_then_not_found(session: aiohttp.ClientSession, cloud: Cloud) -> None:
    cloud.sim.enrol(BACK, OWNER)
    client = _client(session, cloud)
    await client.delete(BACK)
    assert BACK not in cloud.sim.registrations
    with pytest.raises(InVueNotFoundError) as err:
        await client.delete(BACK)
    assert err.value.status == 404
    with pytest.raises(InVueNotFoundError):
        await client.key_certificate(BACK)


async def test_the_api_key_check(session: aiohttp.ClientSession, cloud: Cloud) -> None:
    await _client(session, cloud).check_api_key()
    assert cloud.sim.requests[-1].path == "/v1/dlock/0000000000000000"  # the documented shape
    assert cloud.sim.requests[-1].status == 404
    with pytest.raises(InVueAuthenticationError) as err:
        await _client(session, cloud, api_key="0.0.0").check_api_key()
    assert err.value.status == 401
    cloud.sim.revoke_api_key(cloud.api_key)
    with pytest.raises(InVueAuthenticationError):
        await _client(session, cloud).check_api_key()


async def test_the_api_key_check_with_an_api_that_checks_serial_numbers(
    session: aiohttp.ClientSession, cloud: Cloud
) -> None:
    """An API that answers 400 to a serial number of another shape still accepts the key."""
    cloud.sim.validate_serials = True
    client = _client(session, cloud)
    with pytest.raises(InVueBadRequestError):
        await client.key_certificate("multilock-api-key-check")
    await client.check_api_key()
    assert cloud.sim.requests[-1].status == 404
    # Any other refusal after the key was accepted says the same; 401 and 403 do not.
    cloud.sim.enrol(PROBE_SERIAL, OWNER)
    await client.check_api_key()
    assert cloud.sim.requests[-1].status == 200
    with pytest.raises(InVueAuthenticationError):
        await _client(session, cloud, api_key="0.0.0").check_api_key()
    # Answers that say nothing of the key are errors: a server error, a rate limit.
    cloud.sim.inject_fault("/v1/dlock", "unavailable")
    with pytest.raises(InVueApiError):
        await client.check_api_key()
    cloud.sim.inject_fault("/v1/dlock", "rate_limited", seconds=60)
    with pytest.raises(InVueRateLimitedError):
        await client.check_api_key()


@pytest.mark.parametrize("status", [400, 409])
async def test_a_serial_number_registered_twice(
    session: aiohttp.ClientSession, cloud: Cloud, status: int
) -> None:
    cloud.sim.duplicate_status = status
    cloud.sim.enrol(KIOSK, OWNER)
    client = _client(session, cloud)
    with pytest.raises(InVueBadRequestError if status == 400 else InVueConflictError) as err:
        await client.enrol(KIOSK, certificate_owner=OWNER, enrolment_code=cloud.code(KIOSK))
    assert err.value.status == status
    assert "already registered" in str(err.value)


@pytest.mark.parametrize("as_date", [False, True])
async def test_a_rate_limit_is_waited_out_once(
    session: aiohttp.ClientSession, cloud: Cloud, clock: Clock, as_date: bool
) -> None:
    """The request goes again once Retry-After (seconds or an HTTP date) is over."""
    cloud.sim.retry_after_date = as_date
    cloud.sim.enrol(FRONT, OWNER)
    client = _client(session, cloud, clock=clock)
    cloud.sim.inject_fault("/v1/dlock", "rate_limited", seconds=3, method="DELETE")
    await client.delete(FRONT)
    assert FRONT not in cloud.sim.registrations
    first, second = cloud.times("DELETE", FRONT)
    assert second - first >= 3
    assert [r.status for r in cloud.sim.requests] == [429, 204]
    # Enrolment too: InVue did not handle the refused request, so it is sent once more.
    cloud.sim.inject_fault("/v1/dlock", "rate_limited", seconds=2, method="POST")
    await client.enrol(FRONT, certificate_owner=OWNER, enrolment_code=cloud.code(FRONT))
    assert [r.status for r in cloud.sim.requests[-2:]] == [429, 200]
    # Still limited after the wait: the error says how long to wait.
    cloud.sim.inject_fault("/v1/dlock", "rate_limited", times=2, seconds=2)
    with pytest.raises(InVueRateLimitedError) as err:
        await client.delete(FRONT)
    assert err.value.retry_after == pytest.approx(2, abs=1)  # an HTTP date has whole seconds
    assert re.search(r"; retry after [23] s\)$", str(err.value))
    assert FRONT in cloud.sim.registrations


async def test_a_long_rate_limit_is_not_waited_for(
    session: aiohttp.ClientSession, cloud: Cloud, clock: Clock
) -> None:
    cloud.sim.enrol(FRONT, OWNER)
    client = _client(session, cloud, clock=clock)
    cloud.sim.inject_fault("/v1/dlock", "rate_limited", seconds=120)
    started = clock.time()
    with pytest.raises(InVueRateLimitedError) as err:
        await client.delete(FRONT)
    assert clock.time() - started < 5
    assert err.value.retry_after == 120
    assert cloud.sent("DELETE", FRONT) == 1


async def test_no_secret_in_an_error_even_when_invue_quotes_it(
    session: aiohttp.ClientSession, cloud: Cloud
) -> None:
    """An API whose error messages quote the API key and the enrolment code sent."""
    cloud.sim.echo_secrets = True
    client = _client(session, cloud)
    code = cloud.code(NEW)
    wrong_code = code[:-8] + "AAAAAAA="
    with pytest.raises(InVueBadRequestError) as refused:
        await client.enrol(NEW, certificate_owner=OWNER, enrolment_code=wrong_code)
    assert wrong_code in cloud.sim.requests[-1].body.decode()  # it was sent, and quoted
    cloud.sim.revoke_api_key(cloud.api_key)
    with pytest.raises(InVueAuthenticationError) as revoked:
        await client.key_certificate(FRONT)
    for err in (refused.value, revoked.value):
        text = f"{err} {err.message}"
        assert cloud.api_key not in text
        assert all(part not in text for part in (wrong_code[:40], cloud.api_key[:33]))
        assert "***" in text  # the rest of InVue's message is kept
    assert "Invalid installer code" in str(refused.value)


async def test_each_refusal_has_its_meaning(session: aiohttp.ClientSession, cloud: Cloud) -> None:
    client = _client(session, cloud)
    other_key = cloud.sim.add_account(OTHER)
    other = _client(session, cloud, api_key=other_key)
    # 400: a wrong enrolment code, or a serial number already registered.
    with pytest.raises(InVueBadRequestError) as bad:
        await client.enrol(NEW, certificate_owner=OWNER, enrolment_code="wrong")
    assert "Invalid installer code" in str(bad.value)
    cloud.sim.enrol(KIOSK, OWNER)
    with pytest.raises(InVueBadRequestError, match="already registered"):
        await client.enrol(KIOSK, certificate_owner=OWNER, enrolment_code=cloud.code(KIOSK))
    # 403: another owner's lock, or a certificate owner that is not the key's.
    with pytest.raises(InVueForbiddenError):
        await other.enrol(KIOSK, certificate_owner=OTHER, enrolment_code=cloud.code(KIOSK))
    with pytest.raises(InVueForbiddenError):
        await client.enrol(NEW, certificate_owner=OTHER, enrolment_code=cloud.code(NEW))
    # 404: the lock is not registered to this owner.
    with pytest.raises(InVueNotFoundError):
        await other.key_certificate(KIOSK)
    # 405: no such method.
    with pytest.raises(InVueMethodNotAllowedError) as not_allowed:
        await client._request("PUT", f"/v1/dlock/{KIOSK}")
    assert not_allowed.value.status == 405
    # No secret in any of them.
    for err in (bad.value, not_allowed.value):
        assert cloud.api_key not in str(err)
        assert cloud.code(NEW) not in str(err)
    assert cloud.api_key not in repr(client)


async def test_an_html_error_page_is_summarised(
    session: aiohttp.ClientSession, cloud: Cloud
) -> None:
    client = _client(session, cloud)
    cloud.sim.set_down()
    with pytest.raises(InVueApiError) as err:
        await client.key_certificate(FRONT)
    assert type(err.value) is InVueApiError
    assert err.value.status == 503
    assert str(err.value).endswith("(HTTP 503 Service Unavailable)")
    assert "<html>" not in str(err.value)
    cloud.sim.set_down(False)
    cloud.sim.inject_fault("/v1/dlock", "http_error")
    with pytest.raises(InVueApiError, match="HTTP 500 Internal Server Error"):
        await client.key_certificate(FRONT)


def test_an_unknown_status_is_named_by_its_number() -> None:
    assert str(InVueApiError(599)) == "InVue refused the request (HTTP 599)"
    assert str(InVueApiError(599, "Odd")) == "InVue refused the request (HTTP 599: Odd)"


async def test_faults(session: aiohttp.ClientSession, cloud: Cloud) -> None:
    cloud.sim.enrol(FRONT, OWNER)
    client = _client(session, cloud, timeout=0.3)
    cloud.sim.inject_fault("/v1/dlock", "malformed")
    with pytest.raises(InVueMalformedReplyError):
        await client.key_certificate(FRONT)
    # aiohttp sends an idempotent request once more after a dropped connection.
    cloud.sim.inject_fault("/v1/dlock", "disconnect", times=2)
    with pytest.raises(InVueConnectionError):
        await client.key_certificate(FRONT)
    cloud.sim.inject_fault("/v1/dlock", "delay", seconds=0.5)
    with pytest.raises(InVueTimeoutError):
        await client.key_certificate(FRONT)
    await asyncio.sleep(0.4)  # the simulator finishes its delayed reply
    await cloud.sim.stop()
    with pytest.raises(InVueConnectionError, match="cannot be reached"):
        await client.key_certificate(FRONT)


async def test_a_lost_deletion_reply_is_resent_and_answered_404(
    session: aiohttp.ClientSession, cloud: Cloud
) -> None:
    """aiohttp sends a DELETE whose reply was lost once more: InVue no longer has the lock."""
    cloud.sim.enrol(FRONT, OWNER)
    cloud.sim.inject_fault("/v1/dlock", "disconnect_after", method="DELETE")
    with pytest.raises(InVueNotFoundError):
        await _client(session, cloud).delete(FRONT)
    assert FRONT not in cloud.sim.registrations
    assert cloud.sent("DELETE", FRONT) == 2


@pytest.mark.parametrize("reply", [None, [], {"data": None}, {"data": {"key": None}}])
def test_a_reply_without_a_certificate_is_malformed(reply: object) -> None:
    with pytest.raises(InVueMalformedReplyError):
        _certificate_of(reply)


def test_intermediate_certificates(cloud: Cloud) -> None:
    pem = cloud.pem()
    certificate = parse_intermediate(pem)
    expected = cloud.sim.intermediate_certificate(OWNER)
    assert certificate.not_valid_after == expected.not_valid_after_utc
    assert certificate.common_name == OWNER
    assert "CN=Demo Retail Ltd" in certificate.subject
    assert "InVue Simulator Root CA" in certificate.issuer
    assert certificate.pem == pem
    assert not certificate.expired(datetime.now(UTC))
    assert certificate.expired(certificate.not_valid_after + timedelta(seconds=1))
    assert pem not in repr(certificate)
    # A chain (root after or before it) gives the intermediate.
    root = cloud.sim.root_pem()
    assert parse_intermediate(root + pem) == certificate
    assert parse_intermediate(cloud.sim.intermediate_pem(OWNER, with_root=True)) == certificate
    # Line breaks lost in pasting, spaces and text around it do not matter.
    body = "".join(pem.splitlines()[1:-1])
    pasted = f"my cert: -----BEGIN CERTIFICATE----- {body} -----END CERTIFICATE----- thanks"
    assert parse_intermediate(pasted) == certificate
    # Only a root: that is what there is.
    assert parse_intermediate(root).common_name == "InVue Simulator Root CA"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a certificate",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
    ],
)
def test_unreadable_intermediate_certificates(text: str) -> None:
    with pytest.raises(InVueCertificateError):
        parse_intermediate(text)


def test_an_intermediate_without_common_name() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, OWNER)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    assert parse_intermediate(pem).common_name is None
