"""What every simulator's HTTP server has in common (the vendors' sides share nothing else)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import ssl

from aiohttp import web

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def serve(
    handler: Handler,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    client_max_size: int = 1024**2,
) -> tuple[web.AppRunner, int]:
    """Serve every request with ``handler`` on host:port (0: a free port).

    Return the runner (``cleanup()`` stops it) and the port listened on.
    """
    app = web.Application(client_max_size=client_max_size)
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, ssl_context=ssl_context, reuse_address=True).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, int(runner.addresses[0][1])
