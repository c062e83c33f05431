"""Every simulator of a benchmark run, in a process of its own, with a small control API.

``python -m benchmarks.simhost SPEC_JSON`` starts, on 127.0.0.1, one The Keys gateway
simulator per gateway of the spec and one Doordeck simulator with an account per Doordeck
entry of the spec, prints one JSON line (the manifest: addresses, locks, share codes,
accounts, and the control URL) and serves until its standard input closes.

The spec::

    {"thekeys": {"<group>": {"gateways": 50, "locks": 4}, ...},
     "doordeck": {"<group>": {"sites": 4, "locks": 100, "reporting_every": 5,
                              "unlock_time": 3600}, ...}}

The control API (JSON) lets the Home Assistant process read what the simulators received:

* ``GET /thekeys/{index}/requests?since=N`` → ``{"total": T, "requests": [[path,
  received_at (time.monotonic, the same clock in every process of the machine), ts,
  identifier, ts_accepted], ...]}`` for requests ``N..T-1`` of gateway ``index``;
* ``GET /thekeys/totals`` → ``{"totals": [requests received by each gateway]}``;
* ``GET /doordeck/requests?since=N`` → ``{"total": T, "requests": [[method, path,
  status], ...]}``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import string
import sys
from typing import Any

from aiohttp import web

from simulators.doordeck import DoordeckSimulator
from simulators.thekeys import TheKeysGatewaySimulator

_ALPHABET = string.ascii_letters + string.digits


def _share_code() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(16))


class SimHost:
    """The simulators of one run and the control API over them."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.gateways: list[TheKeysGatewaySimulator] = []
        self.doordeck = DoordeckSimulator()
        self.manifest: dict[str, Any] = {"thekeys": {}, "doordeck": {}}
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Start every simulator and the control API; fill in the manifest."""
        for group, config in self.spec.get("thekeys", {}).items():
            entries = []
            for _ in range(int(config["gateways"])):
                index = len(self.gateways)
                simulator = TheKeysGatewaySimulator()
                locks = []
                for number in range(int(config["locks"])):
                    identifier = 40_000_000 + index * 100 + number
                    code = _share_code()
                    simulator.add_lock(identifier, code)
                    locks.append([identifier, code])
                await simulator.start()
                self.gateways.append(simulator)
                entries.append({"index": index, "address": simulator.address, "locks": locks})
            self.manifest["thekeys"][group] = entries
        sim = self.doordeck
        for group, config in self.spec.get("doordeck", {}).items():
            email, password = f"{group}@bench.example", secrets.token_urlsafe(12)
            account = sim.add_account(email, password)
            sites = [sim.add_site(f"{group} site {n + 1}") for n in range(int(config["sites"]))]
            every = int(config.get("reporting_every", 1))
            locks = []
            for number in range(int(config["locks"])):
                reports = number % every == 0
                lock = sim.add_lock(
                    sites[number % len(sites)].id,
                    f"{group} lock {number + 1}",
                    unlock_time=float(config.get("unlock_time", 3600)),
                    reports_locked=reports,
                    access={account.id: "ADMIN"},
                )
                locks.append({"id": lock.id, "name": lock.name, "reports_state": reports})
            self.manifest["doordeck"][group] = {
                "email": email,
                "password": password,
                "user_id": account.id,
                "sites": len(sites),
                "locks": locks,
            }
        if self.spec.get("doordeck"):
            await sim.start()
        self.manifest["doordeck_url"] = sim.url
        app = web.Application()
        app.router.add_get("/thekeys/totals", self._totals)
        app.router.add_get("/thekeys/{index}/requests", self._thekeys_requests)
        app.router.add_get("/doordeck/requests", self._doordeck_requests)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.manifest["control"] = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        """Stop the control API and every simulator."""
        if self._runner is not None:
            await self._runner.cleanup()
        for simulator in self.gateways:
            await simulator.stop()
        await self.doordeck.stop()

    async def _totals(self, request: web.Request) -> web.Response:
        return web.json_response({"totals": [len(g.requests) for g in self.gateways]})

    async def _thekeys_requests(self, request: web.Request) -> web.Response:
        requests = self.gateways[int(request.match_info["index"])].requests
        since = int(request.query.get("since", "0"))
        return web.json_response(
            {
                "total": len(requests),
                "requests": [
                    [
                        r.path,
                        r.received_at,
                        r.form.get("ts"),
                        r.form.get("identifier"),
                        r.ts_accepted,
                    ]
                    for r in requests[since:]
                ],
            }
        )

    async def _doordeck_requests(self, request: web.Request) -> web.Response:
        requests = self.doordeck.requests
        since = int(request.query.get("since", "0"))
        return web.json_response(
            {
                "total": len(requests),
                "requests": [[r.method, r.path, r.status] for r in requests[since:]],
            }
        )


async def _serve(spec: dict[str, Any]) -> None:
    host = SimHost(spec)
    await host.start()
    print(json.dumps(host.manifest), flush=True)
    try:
        # Serve until the benchmark closes our standard input (or dies).
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        await host.stop()


def main() -> None:
    """Run the simulators of the spec given as the only argument."""
    asyncio.run(_serve(json.loads(sys.argv[1])))


if __name__ == "__main__":
    main()
