"""The one factory of request-log records for the unit tests: every field of the schema
(llmobs.request/1, src/llmobs/gateway/request_log.py) as the gateway writes it, absent values
null; a test names only what it cares about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from llmobs.gateway.request_log import SCHEMA

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def stamp(seconds: float, base: datetime = T0) -> str:
    return (base + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def record(seconds: float = 0.0, **over: Any) -> dict[str, Any]:
    """A successful request ``seconds`` after T0 (its id ``req-<seconds>``), with ``over`` on top."""
    base = {
        "schema": SCHEMA,
        "time": stamp(seconds),
        "level": "INFO",
        "host": "gw1",
        "request_id": f"req-{seconds:g}",
        "trace_id": None,
        "requested_model": "llama",
        "model_group": "llama",
        "deployment": "ollama-gpu1/llama",
        "provider": "ollama-gpu1",
        "api_provider": "ollama_chat",
        "api_base": "http://10.0.0.1:11434",
        "backend_model": "llama3.1:8b",
        "stream": False,
        "status": "success",
        "http_status": 200,
        "error_class": None,
        "error_message": None,
        "latency_ms": 100.0,
        "ttft_ms": None,
        "queue_ms": None,
        "upstream_latency_ms": None,
        "overhead_ms": None,
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "total_tokens": 30,
        "cost": 0.0,
        "cache_hit": False,
        "retries": 0,
        "metadata": {},
    }
    return base | over
