"""The browser test's machinery: the simulators, a real Home Assistant, Debian's Chromium.

Everything runs on free ports of 127.0.0.1 (never 8123, 8181 or 8182: a developer's
``scripts/develop`` may be running beside it), each process in a process group of its own,
stopped in turn at the end (and told to stop should the test process die). The processes'
logs and the screenshots go to ``.artifacts/browser/`` (ignored by git, kept by CI).
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import ctypes
from dataclasses import dataclass, field
import importlib.util
import os
from pathlib import Path
import re
import signal
import socket
import subprocess
import sys
import time
from typing import IO, Any
import urllib.error
import urllib.request

from playwright.sync_api import Page, Response, expect
import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / ".artifacts" / "browser"

USER, PASSWORD = "dev", "multilock"
# The demo locks of the The Keys simulator (its --help), as scripts/develop_config.py sets them up.
FRONT_DOOR = ("Front door", "45961101", "Lp4wQx9zRt2mKd7s")
# The second gateway the test adds through the UI, with two locks of its own: the first is
# asked for by the gateway's flow (when it asks), the second is added with "Add lock".
NEW_LOCKS = (
    ("Garden gate", "45961200", "Hx3kPq9vLm2sTw7z"),
    ("Shed", "45961201", "Tn5wQe8rYu2iOp4a"),
)
WRONG_SHARE_CODE = "AAAAAAAAAAAAAAAA"
# The Doordeck simulator's built-in account (its --help).
DOORDECK_EMAIL, DOORDECK_PASSWORD = "demo@example.com", "password"

HASS_START_SECONDS = 300  # a fresh machine pip-installs packages at Home Assistant's first start
SIMULATOR_START_SECONDS = 30
STOP_SECONDS = 30

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that nothing listens on (an ephemeral one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(port: int) -> bool:
    """Return whether something accepts connections on 127.0.0.1:``port``."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def tail(path: Path, lines: int = 40) -> str:
    """Return the last lines of a log file, for failure messages."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"({path} is missing)"
    return "\n".join(text.splitlines()[-lines:])


def _stop_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the test process dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Process:
    """A background process in a process group of its own, logging to a file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def check_running(self) -> None:
        """Fail with the end of the log when the process has stopped."""
        if (code := self.popen.poll()) is not None:
            pytest.fail(
                f"{self.name} stopped (exit code {code}); end of {self.log}:\n{tail(self.log)}",
                pytrace=False,
            )

    def stop(self) -> None:
        """Stop the whole process group: SIGTERM, then SIGKILL after STOP_SECONDS."""
        pgid = self.popen.pid  # start_new_session: the process leads its own group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while time.monotonic() < deadline:
            self.popen.poll()  # reap the leader, so that the group can end
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=STOP_SECONDS)


def start(
    processes: list[Process], name: str, argv: list[str], env: dict[str, str] | None = None
) -> Process:
    """Start ``argv`` in a process group of its own, its output going to ARTIFACTS/name.log."""
    log = ARTIFACTS / f"{name}.log"
    out: IO[bytes]
    with log.open("ab") as out:
        popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_stop_with_parent,  # noqa: PLW1509 (started before any thread)
        )
    process = Process(name, popen, log)
    processes.append(process)
    return process


def wait_listening(process: Process, port: int, within: float) -> None:
    """Wait until ``process`` listens on ``port``."""
    deadline = time.monotonic() + within
    while not listening(port):
        process.check_running()
        if time.monotonic() > deadline:
            pytest.fail(
                f"{process.name} does not listen on port {port} after {within:.0f} s; "
                f"end of {process.log}:\n{tail(process.log)}",
                pytrace=False,
            )
        time.sleep(0.1)


def wait_http(process: Process, url: str, within: float) -> float:
    """Wait until ``url`` answers 200; return the seconds it took."""
    start_time = time.monotonic()
    last: object = None
    while time.monotonic() - start_time < within:
        process.check_running()
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return time.monotonic() - start_time
                last = resp.status
        except (OSError, urllib.error.URLError) as err:
            last = err
        time.sleep(1)
    pytest.fail(
        f"{url} did not answer 200 in {within:.0f} s (last: {last}); "
        f"end of {process.log}:\n{tail(process.log)}",
        pytrace=False,
    )


def wait_started(process: Process, within: float) -> float:
    """Wait until Home Assistant has set up every integration; return the seconds it took.

    HTTP answers early in the start; on a fresh environment Home Assistant then still
    pip-installs and sets up integrations for a minute, and the web UI waits for that.
    """
    start_time = time.monotonic()
    while time.monotonic() - start_time < within:
        process.check_running()
        if "Home Assistant initialized in" in process.log.read_text(errors="replace"):
            return time.monotonic() - start_time
        time.sleep(0.5)
    pytest.fail(
        f"Home Assistant did not finish starting in {within:.0f} s; "
        f"end of {process.log}:\n{tail(process.log)}",
        pytrace=False,
    )


def _develop_config() -> Any:
    """Import scripts/develop_config.py (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(
        "develop_config", ROOT / "scripts" / "develop_config.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_hass_config(config_dir: Path, thekeys_host: str, http_port: int) -> None:
    """Write scripts/develop's configuration, against this test's ports.

    No Doordeck entry: the test signs in through the UI.
    """
    _develop_config().write_config(config_dir, thekeys_host=thekeys_host, http_port=http_port)


@dataclass
class Stack:
    """The running simulators and Home Assistant."""

    url: str  # Home Assistant's web UI
    thekeys_host: str  # the pre-configured gateway (Front door, Back door)
    new_gateway_host: str  # a second gateway, added through the UI
    doordeck_url: str
    doordeck_log: Path  # the Doordeck simulator's --log: requests and second-factor codes
    thekeys_cloud_url: str  # The Keys cloud (its demo account), for the account set-up
    # Two 2N IP Versos, HTTP with Digest (not set up): the second is a copy's source.
    two_n_hosts: tuple[str, str]
    invue_url: str  # the InVue API (its built-in owner, not set up)
    invue_intermediate: Path  # the InVue owner's intermediate certificate (PEM)
    hass_log: Path  # Home Assistant's output
    processes: list[Process] = field(default_factory=list)

    def check_running(self) -> None:
        """Fail when one of the processes has stopped."""
        for process in self.processes:
            process.check_running()

    def second_factor_codes(self, email: str) -> list[str]:
        """Return the second-factor codes the Doordeck simulator "sent" to ``email``, in order."""
        text = self.doordeck_log.read_text(encoding="utf-8") if self.doordeck_log.exists() else ""
        return re.findall(rf"Second-factor code for {re.escape(email)}: (\d+)", text)


@contextlib.contextmanager
def running_stack(config_dir: Path) -> Iterator[Stack]:
    """Start the simulators and Home Assistant (configured in ``config_dir``); stop them all."""
    python = sys.executable
    processes: list[Process] = []

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")  # so that pytest still stops everything

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        thekeys_port, new_gateway_port, doordeck_port, hass_port = (free_port() for _ in range(4))
        for name, port, extra in (
            ("thekeys", thekeys_port, []),  # the demo locks
            (
                "thekeys-new",
                new_gateway_port,
                [arg for lock in NEW_LOCKS for arg in ("--lock", ":".join(lock[1:]))],
            ),
        ):
            process = start(
                processes,
                name,
                [python, "-m", "simulators.thekeys", "--host", "127.0.0.1", "--port", str(port),
                 "--action-seconds", "1", "--log", str(ARTIFACTS / f"{name}-requests.log"),
                 *extra],
            )  # fmt: skip
            wait_listening(process, port, SIMULATOR_START_SECONDS)
        doordeck_log = ARTIFACTS / "doordeck-requests.log"
        process = start(
            processes,
            "doordeck",
            [python, "-m", "simulators.doordeck", "--host", "127.0.0.1",
             "--port", str(doordeck_port), "--second-factor", "--log", str(doordeck_log)],
        )  # fmt: skip
        wait_listening(process, doordeck_port, SIMULATOR_START_SECONDS)
        # The simulators of the README's other set-up paths, nothing set up in them yet.
        cloud_port, cloud_gateway_port, invue_port = (free_port() for _ in range(3))
        two_n_ports = (free_port(), free_port())
        invue_intermediate = ARTIFACTS / "invue-intermediate.pem"
        for name, port, extra in (
            ("thekeys_cloud", cloud_port, ["--gateway-port", str(cloud_gateway_port),
                                           "--action-seconds", "1"]),
            ("two_n", two_n_ports[0], ["--protocol", "http", "--auth", "digest"]),
            ("two_n", two_n_ports[1], ["--protocol", "http", "--auth", "digest",
                                       "--serial", "54-1046-0746", "--name", "2N IP Verso 2"]),
            ("invue", invue_port, ["--write-intermediate", str(invue_intermediate)]),
        ):  # fmt: skip
            process = start(
                processes,
                f"{name}-{port}",
                [python, "-m", f"simulators.{name}", "--host", "127.0.0.1", "--port", str(port),
                 "--log", str(ARTIFACTS / f"{name}-{port}-requests.log"), *extra],
            )  # fmt: skip
            wait_listening(process, port, SIMULATOR_START_SECONDS)

        env = dict(os.environ, PYTHONUNBUFFERED="1")
        include = ROOT / ".toolchain" / "root" / "usr" / "include"
        if include.is_dir():  # headers for the packages Home Assistant builds at first start
            env["CPATH"] = os.pathsep.join(filter(None, [str(include), env.get("CPATH")]))
        subprocess.run(
            [python, "-m", "homeassistant", "--script", "auth", "-c", str(config_dir),
             "add", USER, PASSWORD],
            check=True, cwd=ROOT, env=env, capture_output=True, timeout=120,
        )  # fmt: skip
        write_hass_config(config_dir, f"127.0.0.1:{thekeys_port}", hass_port)
        hass = start(
            processes, "home-assistant", [python, "-m", "homeassistant", "-c", str(config_dir)], env
        )
        url = f"http://127.0.0.1:{hass_port}"
        took = wait_http(hass, f"{url}/auth/providers", HASS_START_SECONDS)
        took += wait_started(hass, HASS_START_SECONDS)
        print(f"\nHome Assistant answers at {url}, started after {took:.1f} s")
        yield Stack(
            url=url,
            thekeys_host=f"127.0.0.1:{thekeys_port}",
            new_gateway_host=f"127.0.0.1:{new_gateway_port}",
            doordeck_url=f"http://127.0.0.1:{doordeck_port}",
            doordeck_log=doordeck_log,
            thekeys_cloud_url=f"http://127.0.0.1:{cloud_port}",
            two_n_hosts=(f"127.0.0.1:{two_n_ports[0]}", f"127.0.0.1:{two_n_ports[1]}"),
            invue_url=f"http://127.0.0.1:{invue_port}",
            invue_intermediate=invue_intermediate,
            hass_log=hass.log,
            processes=processes,
        )
    finally:
        # Home Assistant first (it may still talk to the simulators while it stops).
        for process in reversed(processes):
            process.stop()
        signal.signal(signal.SIGTERM, previous)


def chromium_path() -> str:
    """Return Debian's Chromium, installed by scripts/chromium when missing."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "chromium")],
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0 or not result.stdout.strip():
        pytest.fail(f"scripts/chromium found no Chromium:\n{result.stderr}", pytrace=False)
    return result.stdout.strip().splitlines()[-1]


@dataclass
class Browser:
    """The browser's one page, what it loaded, and the step screenshots."""

    page: Page
    responses: list[Response] = field(default_factory=list)
    shots: int = 0

    def record(self, response: Response) -> None:
        """Keep a response of the page (the brand images' are checked)."""
        self.responses.append(response)

    def screenshot(self, name: str) -> Path:
        """Save a screenshot of the page as ARTIFACTS/NN-name.png."""
        self.shots += 1
        path = ARTIFACTS / f"{self.shots:02d}-{name}.png"
        try:
            self.page.screenshot(path=path, full_page=True, timeout=15_000)
        except Exception as err:  # a screenshot must not hide the failure being recorded
            print(f"screenshot {path.name} failed: {err}")
        return path


def log_in(browser: Browser, stack: Stack) -> None:
    """Log in as dev / multilock through the login page, unless already logged in."""
    page = browser.page
    if page.url.startswith(stack.url) and "/auth/" not in page.url:
        return
    page.goto(stack.url)
    username = page.get_by_role("textbox", name="Username")
    settings = page.get_by_role("link", name="Settings")
    expect(username.or_(settings)).to_be_visible(timeout=60_000)
    if settings.is_visible():
        return
    username.fill(USER)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(settings, "the logged-in UI (its Settings link) did not show").to_be_visible(
        timeout=60_000
    )
