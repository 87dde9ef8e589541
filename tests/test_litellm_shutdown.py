"""llmobs.gateway.litellm_shutdown against stand-ins of LiteLLM's proxy module and logging worker
(LiteLLM is not installed here). With the real proxy, a SIGTERM under load loses no line: the
restart drill of molecule/stack checks it on the lab."""

import asyncio
import json
import sys
import types

import pytest

from llmobs.gateway import litellm_shutdown
from llmobs.gateway.request_log import RequestLog, RequestLogWriter, Settings


class Worker:
    """LiteLLM's logging worker: callbacks of answered requests, run later by a task."""

    def __init__(self, hang: bool = False):
        self.queued = []
        self.hang = hang

    async def flush(self):
        if self.hang:
            await asyncio.sleep(3600)
        while self.queued:
            self.queued.pop(0)()


@pytest.fixture
def proxy(monkeypatch, tmp_path):
    """A stand-in proxy: its shutdown step records that it ran; the writer never drains by itself."""
    monkeypatch.setattr(RequestLogWriter, "FLUSH_EVERY_S", 3600.0)
    calls = []

    async def proxy_shutdown_event(worker_heartbeat=None):
        calls.append(("litellm shutdown", worker_heartbeat))

    server = types.SimpleNamespace(proxy_shutdown_event=proxy_shutdown_event)
    worker = Worker()
    monkeypatch.setitem(sys.modules, litellm_shutdown.SERVER, server)
    monkeypatch.setitem(
        sys.modules, litellm_shutdown.WORKER, types.SimpleNamespace(GLOBAL_LOGGING_WORKER=worker)
    )
    log = RequestLog(Settings(log_file=str(tmp_path / "r.log")), host="gw1")
    return types.SimpleNamespace(server=server, worker=worker, log=log, calls=calls, path=tmp_path / "r.log")


def slo(request_id, status="success"):
    return {"standard_logging_object": {"litellm_call_id": request_id, "status": status, "model_group": "m"}}


def logged(path):
    return [json.loads(line)["request_id"] for line in path.read_text().splitlines()] if path.exists() else []


def test_the_shutdown_runs_litellms_queue_then_writes_every_line(proxy):
    assert litellm_shutdown.flush_at_shutdown(proxy.log)
    proxy.log.event(slo("written-before"), failed=False)
    proxy.log.event(slo("failed-attempt", "failure"), failed=True)  # its end never comes
    proxy.worker.queued.append(lambda: proxy.log.event(slo("queued-in-litellm"), failed=False))
    assert logged(proxy.path) == []
    asyncio.run(proxy.server.proxy_shutdown_event(worker_heartbeat="hb"))
    assert proxy.calls == [("litellm shutdown", "hb")]
    assert sorted(logged(proxy.path)) == ["failed-attempt", "queued-in-litellm", "written-before"]
    assert litellm_shutdown.flush_at_shutdown(proxy.log)  # a second import wraps nothing twice
    assert not hasattr(proxy.server.proxy_shutdown_event.__wrapped__, "__wrapped__")


def test_a_logging_queue_that_hangs_delays_the_shutdown_by_its_bound_only(proxy, capsys):
    proxy.worker.hang = True
    assert litellm_shutdown.flush_at_shutdown(proxy.log, limit_s=0.2)
    proxy.log.event(slo("answered"), failed=False)
    asyncio.run(proxy.server.proxy_shutdown_event())
    assert proxy.calls == [("litellm shutdown", None)] and logged(proxy.path) == ["answered"]
    assert "LiteLLM's logging queue not run to its end at shutdown: TimeoutError" in capsys.readouterr().err


def test_without_the_proxy_nothing_is_wrapped_and_a_changed_proxy_is_said(monkeypatch, tmp_path, capsys):
    log = RequestLog(Settings(log_file=str(tmp_path / "r.log")), host="gw1")
    monkeypatch.delitem(sys.modules, litellm_shutdown.SERVER, raising=False)
    assert not litellm_shutdown.flush_at_shutdown(log)  # LiteLLM as a library: atexit does it
    assert capsys.readouterr().err == ""
    monkeypatch.setitem(sys.modules, litellm_shutdown.SERVER, types.SimpleNamespace())
    assert not litellm_shutdown.flush_at_shutdown(log)
    assert "proxy_shutdown_event not found" in capsys.readouterr().err
