"""``python -m benchmarks.run [--smoke]``: the benchmark of multilock, as one table.

Starts the simulators on loopback in a process of their own (``benchmarks.simhost``), then
real Home Assistant cores with multilock in worker processes (``benchmarks.worker``): one
for the commands (rows 1-2), and a fresh one for each run at scale (rows 3-4). Signing
(row 5) runs here. Prints the date, the machine, the table and how to read each row.

``--smoke`` runs every row at a tiny scale with a few iterations (for the tests: it checks
that every row is produced, not the figures).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
import json
import os
from pathlib import Path
import platform
import subprocess
import sys
import tempfile
import time
from typing import Any

from homeassistant.const import __version__ as HA_VERSION

from .signing import doordeck_signing, thekeys_signing
from .stats import Row, legend, median, percentile, render
from .two_n import two_n_rotation
from .two_n_events import two_n_events
from .worker import doordeck_credentials

ROOT = Path(__file__).resolve().parent.parent

FULL: dict[str, Any] = {
    "spec": {
        "thekeys": {
            "cmd": {"gateways": 1, "locks": 2},
            "floor": {"gateways": 1, "locks": 1},
            "poll": {"gateways": 4, "locks": 10},
            "scale": {"gateways": 50, "locks": 4},
        },
        "doordeck": {
            "cmd": {"sites": 1, "locks": 2},
            "scale": {"sites": 4, "locks": 100, "reporting_every": 5},
        },
    },
    "commands": {
        "warmup": 2,
        "command_slots": 20,
        "poll_cycles": 2,
        "poll_samples_per_cycle": 2,
        "burst_trials": 4,
    },
    "scale": {"runs": 3, "cycles": 2, "idle_seconds": 2},
    "signing": {"count": 15, "size": 300},
    "two_n": {"count": 15},
    "two_n_events": {"events": 40, "idle_minutes": 2, "cards": 100},
}
SMOKE: dict[str, Any] = {
    "spec": {
        "thekeys": {
            "cmd": {"gateways": 1, "locks": 2},
            "floor": {"gateways": 1, "locks": 1},
            "poll": {"gateways": 1, "locks": 3},
            "scale": {"gateways": 2, "locks": 1},
        },
        "doordeck": {
            "cmd": {"sites": 1, "locks": 2},
            "scale": {"sites": 2, "locks": 6, "reporting_every": 3},
        },
    },
    "commands": {
        "warmup": 0,
        "command_slots": 1,
        "poll_cycles": 1,
        "poll_samples_per_cycle": 1,
        "burst_trials": 1,
    },
    "scale": {"runs": 1, "cycles": 1, "idle_seconds": 0.2},
    "signing": {"count": 3, "size": 10},
    "two_n": {"count": 2},
    "two_n_events": {"events": 3, "idle_minutes": 0.05, "cards": 12},
}

# Polls per second of one entry at the default intervals (The Keys and Doordeck: 60 s).
POLLS_PER_SECOND = 1 / 60
# Doordeck audit trails read per poll at most (vendors/doordeck/audit.py: READS_PER_POLL).
AUDIT_READS_PER_POLL = 10


def machine() -> str:
    """Cores, CPU, OS, Python and Home Assistant versions."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = os.cpu_count()
    return (
        f"{cores} cores{f' ({model})' if model else ''}, {platform.system()} "
        f"{platform.machine()}, Python {platform.python_version()}, "
        f"Home Assistant {HA_VERSION}"
    )


class SimHost:
    """The simulator process."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.simhost", json.dumps(spec)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            self._process.wait()
            raise RuntimeError("The simulators did not start")
        self.manifest: dict[str, Any] = json.loads(line)

    def stop(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def run_worker(
    scenario: str, manifest_file: Path, params: dict[str, Any], work: Path, timeout: float
) -> dict[str, Any]:
    """Run one Home Assistant worker; return its results."""
    out = work / f"{scenario}-{len(list(work.iterdir()))}.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.worker",
            scenario,
            str(manifest_file),
            json.dumps(params),
            str(out),
        ],
        cwd=ROOT,
        check=True,
        timeout=timeout,
    )
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


async def signing(manifest: dict[str, Any], config: dict[str, Any]) -> dict[str, list[float]]:
    """Row 5, with a key and chain the Doordeck simulator issued."""
    account = manifest["doordeck"]["cmd"]
    credentials = await doordeck_credentials(manifest["doordeck_url"], account)
    jwt, ed25519 = await doordeck_signing(
        credentials, account["locks"][0]["id"], count=config["count"], size=config["size"]
    )
    client_hmac, raw_hmac = await thekeys_signing(count=config["count"], size=config["size"])
    return {"jwt": jwt, "ed25519": ed25519, "hmac_client": client_hmac, "hmac_raw": raw_hmac}


def rows(
    commands: dict[str, Any],
    scale: list[dict[str, Any]],
    sign: dict[str, list[float]],
    two_n: dict[str, list[float]],
    events: dict[str, list[float]],
) -> list[Row]:
    """The table's rows from the workers' results."""
    first = scale[0]
    gateways, per_gateway = first["gateways"], first["locks_per_gateway"]
    dd_locks, dd_sites, dd_reporting = (
        first["doordeck_locks"],
        first["doordeck_sites"],
        first["doordeck_reporting"],
    )
    many = commands["poll_locks_many"]

    def pooled(key: str) -> list[float]:
        return [value for run in scale for value in run[key]]

    steady = [
        (
            median(run["cycle_cpu_all"]) * POLLS_PER_SECOND
            + max(0.0, run["idle_cpu_per_second"] - run["idle_cpu_before"])
        )
        * 100
        for run in scale
    ]
    steady_bare = [
        (median(run["bare_cpu_gateway"]) * run["gateways"] + median(run["bare_cpu_account"]))
        * POLLS_PER_SECOND
        * 100
        for run in scale
    ]
    return [
        Row(
            "1a",
            "The Keys: lock/unlock via HA `lock` service → entity shows it",
            "ms",
            commands["thekeys_ha"],
            "signed aiohttp request",
            commands["thekeys_direct"],
            ("ratio<=", 1.5),
            "ratio ≤ 1.5",
            "time from the service call to the entity's new state, against the same "
            "HMAC-signed `open`/`close` sent directly with aiohttp to the same gateway "
            "simulator (action time 0); one command per wall-clock second, so neither waits "
            "for a fresh timestamp.",
        ),
        Row(
            "1b",
            "Doordeck: lock/unlock via HA `lock` service → entity shows it",
            "ms",
            commands["doordeck_ha"],
            "signed aiohttp request",
            commands["doordeck_direct"],
            ("ratio<=", 1.5),
            "ratio ≤ 1.5",
            "the same for Doordeck, against an EdDSA-signed `MUTATE_LOCK` JWT (PyJWT) POSTed "
            "directly to the same simulator with the same credentials.",
        ),
        Row(
            "1c",
            "Home Assistant alone: the same `lock` service call to a minimal lock entity",
            "ms",
            commands["thekeys_minimal"],
            "signed aiohttp request",
            commands["thekeys_direct"],
            None,
            "-",
            "the floor of row 1a, which no integration can go below: the same service call, "
            "in the same Home Assistant, to a lock entity with no coordinator and no other "
            "entity that shows locking/unlocking, sends the same signed request through Home "
            "Assistant's shared aiohttp session and shows the new state (a gateway simulator "
            "of its own, in the same seconds as row 1a). Its ratio is Home Assistant's share "
            "of row 1a's; row 1a's median less this one's is multilock's own.",
        ),
        Row(
            "2",
            f"The Keys: unlock during a poll of {many} locks → reaches the gateway",
            "s",
            commands["during_poll"],
            "next free timestamp + request",
            commands["during_poll_baseline"],
            ("p95<=", 1.05),
            "≤ 1 timestamp slot (≈ 1 s)",
            "time from the service call, at a random moment in the middle of a poll cycle, "
            "until the simulator receives the `open` (one monotonic clock for both "
            "processes); the baseline is the least the protocol allows: the wait until the "
            "gateway accepts a newer timestamp, plus one direct request.",
        ),
        Row(
            "2b",
            "The Keys: burst of 10 lock/unlock calls on one lock → commands out of order",
            "",
            commands["burst_out_of_order"],
            "-",
            [],
            ("max<=", 0),
            "0",
            "10 alternating `lock`/`unlock` calls on one lock, fired as fast as Home Assistant "
            "takes them and all at once (half the trials each): how many of the commands the "
            "gateway accepted arrived in another order than the calls were made.",
        ),
        Row(
            "2c",
            "The Keys: burst of 10 → last call until the lock is in its state",
            "s",
            commands["burst_settle"],
            "-",
            [],
            ("p95<=", 2.0),
            "≤ 2 s",
            "from the last call of the burst until the gateway's lock and the entity are in "
            "that call's state; commands overtaken while waiting are not sent (their callers "
            "are told so), so only the first and the last need a timestamp each.",
        ),
        Row(
            "2d",
            "The Keys: burst of 10 → calls answered as done whose command was not carried out",
            "",
            commands["burst_false_success"],
            "-",
            [],
            ("max<=", 0),
            "0",
            "calls of the burst that returned without an error although the gateway did not "
            "accept their command.",
        ),
        Row(
            "3a",
            f"The Keys: HTTP requests per poll cycle, gateway with {per_gateway} locks",
            "",
            pooled("requests_gateway"),
            "protocol minimum",
            [2 + per_gateway],
            ("median==baseline", None),
            "minimum",
            f"requests the simulator received per gateway per cycle; the minimum is `lockers` "
            f"+ `status` + one `locker_status` per lock ({2 + per_gateway}).",
        ),
        Row(
            "3b",
            f"The Keys: HTTP requests per poll cycle, gateway with {many} locks",
            "",
            commands["poll_requests_many"],
            "protocol minimum",
            [2 + many],
            ("median==baseline", None),
            "minimum",
            f"the same for the gateways of row 2 (minimum {2 + many}; commands not counted).",
        ),
        Row(
            "3c",
            f"Doordeck: HTTP requests per poll cycle, account with {dd_locks} locks",
            "",
            pooled("requests_account"),
            "protocol minimum",
            [1 + dd_sites + dd_reporting + min(dd_locks, AUDIT_READS_PER_POLL)],
            ("median==baseline", None),
            "minimum",
            f"requests per account per cycle ({dd_sites} sites, {dd_reporting} locks that "
            f"report their state); the minimum is `/site` + one `/site/{{id}}/device` per "
            f"site + one `/device/{{id}}` per lock that reports a state + the audit trails "
            f"read in turn, at most {AUDIT_READS_PER_POLL} a cycle "
            f"({1 + dd_sites + dd_reporting + min(dd_locks, AUDIT_READS_PER_POLL)}).",
        ),
        Row(
            "3d",
            f"HA CPU time per poll cycle, per The Keys gateway ({per_gateway} locks)",
            "ms",
            pooled("cycle_cpu_gateway"),
            "same requests, bare aiohttp",
            pooled("bare_cpu_gateway"),
            None,
            "-",
            f"Home Assistant process CPU (user + system, all threads) over a poll cycle of "
            f"every entry less the Doordeck account's alone, divided by {gateways}; each "
            f"entry's poll starts at a random moment of one second, as Home Assistant's "
            f"scheduler staggers them. The baseline sends the same requests directly with "
            f"aiohttp, in the same process and at the same pace.",
        ),
        Row(
            "3e",
            f"HA CPU time per poll cycle, per Doordeck account ({dd_locks} locks)",
            "ms",
            pooled("cycle_cpu_account"),
            "same requests, bare aiohttp",
            pooled("bare_cpu_account"),
            None,
            "-",
            "the same for one cycle of the Doordeck account.",
        ),
        Row(
            "4a",
            f"Scale ({gateways} gateways x {per_gateway} locks + Doordeck {dd_locks} locks): "
            "setup → every entity has a state",
            "s",
            [run["start_time"] for run in scale],
            "same first poll, bare aiohttp",
            [run["start_baseline"] for run in scale],
            ("p95<=", 5.0),
            "≤ 5 s",
            f"from setting multilock up (all {gateways + 1} entries at once, as at Home "
            f"Assistant's start) until the last of its {first['entities']} enabled entities "
            "has a state; baseline: the same first poll (The Keys' signed `locker_status` one "
            "second apart) sent directly, all gateways at once. One fresh Home Assistant per "
            "run.",
        ),
        Row(
            "4b",
            "Scale: memory added (RSS)",
            "MB",
            [run["memory_added"] / 1e6 for run in scale],
            target=("p95<=", 30.0),
            target_text="≤ 30 MB",
            how="resident memory of the Home Assistant process after setup and the poll "
            "cycles, minus before setting multilock up (with HTTP, repairs and the entity "
            "components already loaded).",
        ),
        Row(
            "4c",
            "Scale: event-loop lag while polling, p99",
            "ms",
            [percentile(run["lag_polling"], 0.99) for run in scale],
            "same loop, idle",
            [percentile(run["lag_idle"], 0.99) for run in scale],
            ("p95<=", 0.010),
            "p99 ≤ 10 ms",
            "99th percentile (per run) of how late a 10 ms timer fires during poll cycles of "
            "every entry, started within one second as at the default intervals; the "
            "baseline is the same probe before multilock is set up.",
        ),
        Row(
            "4d",
            "Scale: steady-state CPU at default intervals",
            "%",
            steady,
            "same requests, bare aiohttp",
            steady_bare,
            ("p95<=", 2.0),
            "≤ 2 % of one core",
            "extrapolated: CPU of one poll cycle of every entry x one cycle per 60 s (the "
            "default interval), plus what multilock adds to Home Assistant's CPU between "
            "polls (idle rate after set-up minus before); in % of one core.",
        ),
        Row(
            "5a",
            "Doordeck: operation JWTs signed (client path)",
            "op",
            sign["jwt"],
            "raw Ed25519 signature",
            sign["ed25519"],
            how="time per `lock`/`unlock` through multilock's Doordeck client (JWT with the "
            "`x5c` chain, EdDSA) with a transport that answers at once, against one raw "
            "`Ed25519PrivateKey.sign` of a message as long as the JWT's signing input.",
        ),
        Row(
            "5b",
            "The Keys: HMAC-signed commands (client path)",
            "op",
            sign["hmac_client"],
            "raw HMAC-SHA256",
            sign["hmac_raw"],
            how="time per `open` through multilock's The Keys client (queue, timestamp, "
            "HMAC-SHA256, reply check) with a transport that answers at once, against one raw "
            "`hmac.new(...).digest()` + base64.",
        ),
        Row(
            "6",
            "2N: key rotation (generation + PUT + read-back) against the simulator",
            "ms",
            two_n["rotation"],
            "same requests + key generation, bare aiohttp",
            two_n["rotation_bare"],
            how="time per mobile-key rotation through multilock's 2N client, as the "
            "`rotate_mobile_key` action runs it: a 1024-bit RSA key made in the executor, "
            "the keys read, written and read back and compared, over HTTPS (pinned "
            "certificate) with Digest to the 2N simulator in a process of its own; the "
            "baseline sends the same GET, PUT and GET directly with aiohttp (the same "
            "Digest middleware and pin) around the same key generation, checking nothing.",
        ),
        Row(
            "7a",
            "2N: switch switched at the device → lock entity shows it (event log, pushed)",
            "ms",
            events["latency"],
            "same pull, bare aiohttp",
            events["latency_bare"],
            ("p95<=", 1.0),
            "p95 ≤ 1 s",
            "from the moment the 2N simulator logs a switch's change (in a process of its "
            "own, HTTPS pinned, Digest) until Home Assistant's lock entity shows it, through "
            "multilock's long-polled subscription; the baseline is a second subscription "
            "pulled directly with aiohttp (same middleware and pin), timed the same way "
            "(`time.monotonic()`, one clock for both processes).",
        ),
        Row(
            "7b",
            "2N: requests per minute while idle, event log healthy",
            "",
            events["idle_push"],
            "15 s polling (no event log)",
            events["idle_poll"],
            ("ratio<=", 1.0),
            "fewer than polling",
            "requests a 2N device receives from Home Assistant per minute while nothing "
            "happens, with its event log subscribed (a pull waits up to a minute, switches "
            "read every 5 minutes, the rest every 10), against a device without one in the "
            "same Home Assistant and the same window (switches every 15 s).",
        ),
        Row(
            "7c",
            "2N: 100 events with 5 subscription losses → events lost",
            "",
            events["lost"],
            target=("max<=", 0),
            target_text="0",
            how="100 cards, each naming its user, at the 2N simulator, with five subscription "
            "losses among them (forgotten by the device, a pull's answer lost after the "
            "device sent it, a pull error, a device restart, forgotten again): users the "
            "access event entity never showed.",
        ),
        Row(
            "7d",
            "2N: 100 events with 5 subscription losses → events shown twice",
            "",
            events["duplicated"],
            target=("max<=", 0),
            target_text="0",
            how="the same run: users the access event entity showed more than once.",
        ),
    ]


def timed_phase[T](
    phases: dict[str, float], name: str, run: Callable[[dict[str, Any]], T], config: dict[str, Any]
) -> T:
    """Run one phase of the benchmark, noting how long it took."""
    start = time.monotonic()
    result = run(config)
    phases[name] = time.monotonic() - start
    return result


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Benchmark multilock against the simulators: one table, each figure's "
        "median and p95, and its ratio to a baseline measured in the same run.",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny scale, a few iterations")
    parser.add_argument(
        "--scale-runs", type=int, help="fresh Home Assistant runs at scale (default 3)"
    )
    parser.add_argument("--json", type=Path, help="also write every sample to this file")
    args = parser.parse_args(argv)
    config = SMOKE if args.smoke else FULL
    scale_params = dict(config["scale"])
    if args.scale_runs:
        scale_params["runs"] = args.scale_runs
    started = datetime.now(UTC)
    print(f"multilock benchmark — {started:%Y-%m-%d %H:%M} UTC{' (smoke)' if args.smoke else ''}")
    print(f"machine: {machine()}", flush=True)
    simulators = SimHost(config["spec"])
    try:
        with tempfile.TemporaryDirectory(prefix="multilock-bench-") as work_dir:
            work = Path(work_dir)
            manifest_file = work / "manifest.json"
            manifest_file.write_text(json.dumps(simulators.manifest), encoding="utf-8")
            clock = time.monotonic()
            sign = asyncio.run(signing(simulators.manifest, config["signing"]))
            two_n = two_n_rotation(config["two_n"])
            phases = {"signing and 2N rotation": time.monotonic() - clock}
            events = timed_phase(phases, "2N events", two_n_events, config["two_n_events"])
            clock = time.monotonic()
            commands = run_worker("commands", manifest_file, config["commands"], work, 300)
            phases["commands"] = time.monotonic() - clock
            scale = []
            for _ in range(int(scale_params["runs"])):
                clock = time.monotonic()
                scale.append(run_worker("scale", manifest_file, scale_params, work, 300))
                phases[f"scale run {len(scale)}"] = time.monotonic() - clock
    finally:
        simulators.stop()
    if args.json:
        raw = {
            "commands": commands,
            "scale": scale,
            "signing": sign,
            "two_n": two_n,
            "two_n_events": events,
        }
        args.json.write_text(json.dumps(raw, indent=1), encoding="utf-8")
    table = rows(commands, scale, sign, two_n, events)
    seconds = (datetime.now(UTC) - started).total_seconds()
    print()
    print(render(table))
    print()
    print("How to read each row (n: samples; median and p95 over them):")
    print(legend(table))
    if commands.get("thekeys_waited"):
        print(f"({commands['thekeys_waited']} The Keys commands waited for a timestamp: dropped)")
    spent = ", ".join(f"{name} {value:.0f} s" for name, value in phases.items())
    print(f"\nWhole run: {seconds:.0f} s ({spent}).")
    if any(row.met is False for row in table):
        print("Some targets were missed (met: NO).")


if __name__ == "__main__":
    main()
