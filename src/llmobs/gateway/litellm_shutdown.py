"""The request log's last lines when the LiteLLM proxy stops (a restart, a deploy, systemd's SIGTERM).

uvicorn ends a server stopped by a signal by raising that signal again once the app has shut down;
SIGTERM's default action then ends the process at once, so no atexit hook runs: neither LiteLLM's
logging worker's (its queue holds the callbacks of requests already answered) nor the request
log's (its writer drains every 50 ms). ``flush_at_shutdown`` puts both into the proxy's own
shutdown: the logging worker's queue is run first, with a bound, then LiteLLM shuts down, then
the request log writes what it holds.

Imported inside the LiteLLM proxy only (by litellm_callback).
"""

from __future__ import annotations

import asyncio
import functools
import sys
from typing import Any

from llmobs.gateway.request_log import RequestLog

SERVER = "litellm.proxy.proxy_server"
WORKER = "litellm.litellm_core_utils.logging_worker"


def flush_at_shutdown(log: RequestLog, limit_s: float = 10.0) -> bool:
    """Wrap the proxy's shutdown step; False (and a line on stderr) when there is none to wrap.

    LiteLLM's lifespan calls ``proxy_shutdown_event`` by its module-level name, so replacing that
    name is enough. Outside the proxy (LiteLLM as a library) there is no such step and the atexit
    hooks run as usual."""
    server = sys.modules.get(SERVER)
    if server is None:
        return False
    original = getattr(server, "proxy_shutdown_event", None)
    if not callable(original):
        print(
            f"llmobs request log: WARNING: {SERVER}.proxy_shutdown_event not found; the lines of the "
            "last requests before a stop may be lost",
            file=sys.stderr,
        )
        return False
    if getattr(original, "_llmobs_flushes", False):
        return True

    @functools.wraps(original)
    async def shutdown(*args: Any, **kwargs: Any) -> Any:
        worker = getattr(sys.modules.get(WORKER), "GLOBAL_LOGGING_WORKER", None)
        try:
            if worker is not None:
                await asyncio.wait_for(worker.flush(), limit_s)
        except Exception as error:  # shutdown goes on whatever happens here
            print(
                f"llmobs request log: WARNING: LiteLLM's logging queue not run to its end at shutdown: "
                f"{type(error).__name__}: {error}",
                file=sys.stderr,
            )
        try:
            return await original(*args, **kwargs)
        finally:
            log.flush()
            log.writer.close()

    shutdown._llmobs_flushes = True  # type: ignore[attr-defined]
    server.proxy_shutdown_event = shutdown
    return True
