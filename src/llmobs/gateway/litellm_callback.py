"""The LiteLLM callback that writes the per-request log (imported inside the LiteLLM proxy only).

The litellm role names ``llmobs.gateway.litellm_callback.request_logger`` in
``litellm_settings.callbacks`` (the llmobs package is installed in LiteLLM's venv). The logger is
created once, here, because Python caches this module.
Settings come from the JSON file named by ``LLMOBS_REQUEST_LOG_SETTINGS``. Lines the logger cannot
write are counted on the gateway's own /metrics/ as ``llmobs_request_log_lines_lost_total{reason}``.
Importing it also spares LiteLLM's Prometheus callbacks the work for series nobody reads and
most of the work of its success event (llmobs.gateway.litellm_prometheus; the services kept, and
whether the success event is lean, come from the same settings file), and
puts the log's last lines into the proxy's shutdown (llmobs.gateway.litellm_shutdown), and stamps
each stream where the proxy's HTTP server sees it (llmobs.gateway.served_times).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from llmobs.gateway.litellm_prometheus import keep_services, lean_success, skip_disabled_work
from llmobs.gateway.litellm_shutdown import SERVER, flush_at_shutdown
from llmobs.gateway.request_log import RequestLog, RequestLogWriter, Settings, lost_lines_counter
from llmobs.gateway.served_times import ServedTimes, stamp_arrivals, stamp_served_times


class RequestLogger(CustomLogger):
    def __init__(self, log: RequestLog) -> None:
        super().__init__()
        self.log = log

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj, start_time, end_time
    ) -> None:
        self.log.event(kwargs, failed=False)

    async def async_log_failure_event(
        self, kwargs: dict[str, Any], response_obj, start_time, end_time
    ) -> None:
        self.log.event(kwargs, failed=True)  # an attempt failed: the line waits for the request's end

    async def async_post_call_failure_hook(
        self, request_data: dict, original_exception: Exception, user_api_key_dict, traceback_str=None
    ):
        # once per client request that failed, after every retry and fallback
        self.log.final_failure(
            request_data.get("litellm_call_id"), request_data.get("model"), original_exception
        )
        return None  # the error goes to the client unchanged


def request_log(settings: Settings, served: ServedTimes | None) -> RequestLog:
    writer = RequestLogWriter(settings.log_file, settings.queue_size, on_lost=lost_lines_counter())
    return RequestLog(settings, writer, served=served)


def served_times() -> ServedTimes | None:
    """The proxy's app stamps its streams' arrival and first token out (gateway_ttft_ms)."""
    server = sys.modules.get(SERVER)  # None: LiteLLM as a library
    times = ServedTimes()
    if server is None or not stamp_served_times(getattr(server, "app", None), times):
        return None
    stamp_arrivals()
    return times


settings = Settings.load(os.environ.get("LLMOBS_REQUEST_LOG_SETTINGS"))
skip_disabled_work()
if settings.prometheus_lean:
    lean_success()
keep_services(settings.prometheus_services)
request_logger = RequestLogger(request_log(settings, served_times()))
flush_at_shutdown(request_logger.log)
