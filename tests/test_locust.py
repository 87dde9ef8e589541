"""The guide's locustfile, run by the real Locust against the simulator (loopback, a few seconds
each): the traffic mix, streamed TTFT as its own metric, raw samples, the stress user only when
named, and clear exits when nothing can work."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmobs.loadtesting.mix import UsageError, parse_models, read_mix_file
from llmobs.loadtesting.plan import plan
from llmobs.profiling import export
from llmobs.simulator.profile import parse_profile
from llmobs.simulator.server import BackgroundSimulator
from llmobs.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = ROOT / "scripts" / "loadtesting" / "locust" / "litellm_locustfile.py"
MODEL = {"ttft_ms": 40, "tokens_per_second": 400, "output_tokens": 8, "batch_capacity": 0}

# Locust is run, never imported here: importing it monkey-patches this whole test process (gevent).
pytestmark = pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="no Locust: make venv")


@pytest.fixture(scope="module")
def gateway():
    profile = parse_profile({"seed": 1, "models": {"a": MODEL, "b": MODEL, "c": MODEL}})
    with BackgroundSimulator(profile, "openai") as sim:
        yield f"http://127.0.0.1:{sim.port}"


def headless(host: str, *args: str) -> subprocess.CompletedProcess:
    """The locustfile run headless against ``host`` with ``args`` (the run's length among them)."""
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", host, "--headless", "--only-summary",
        "--mix-file", "/nonexistent", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=LOCUSTFILE.parent)


def locust(host: str, *args: str, seconds: int = 3, users: int = 3) -> subprocess.CompletedProcess:
    return headless(
        host, "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{seconds}s", *args
    )


def stopped_at_once(run, *args: str) -> subprocess.CompletedProcess:
    """A run that its start must stop: a run-time far beyond the checks at the start (with 2 s, a
    busy machine ended a run before its start had checked anything, and it exited 0), and it must
    end long before that."""
    started = time.monotonic()
    result = run(*args, seconds=50, users=1)
    assert time.monotonic() - started < 45, "the run went on to its end"
    return result


def test_the_mix_streams_and_raw_samples_of_the_default_user(gateway, tmp_path):
    samples = tmp_path / "samples.json"
    result = locust(gateway, "--models", "a=3,b=1", "--stream-share", "1", "--samples", str(samples))
    assert result.returncode == 0, result.stderr[-2000:]
    data = export.checked(export.read(samples))
    rows = data["requests"]
    assert data["tool"] == "locust"
    # how far the generator itself can be trusted (on a busy machine it may say it cannot)
    assert data["validity"]["client_cpu_share"] > 0 and data["validity"]["loop_lag_p95_ms"] >= 0
    assert rows and {r["group"] for r in rows} == {"LiteLLMUser"}
    assert {r["model"] for r in rows} <= {"a", "b"} and all(r["stream"] and r["error"] is None for r in rows)
    for row in rows:  # every chunk stamped as it came: the first token after the 40 ms TTFT
        assert row["sent_ms"] + 40 <= row["first_token_ms"] <= row["last_token_ms"] <= row["end_ms"]
        assert len(row["token_ms"]) == 8 and row["output_tokens"] == 8
    assert data["manifest"]["settings"]["mix"] == [["a", 3.0], ["b", 1.0]]
    summary = result.stdout + result.stderr
    assert "TTFT" in summary and "chat-stream" in summary  # Locust's own table shows both metrics


def test_the_stress_user_runs_only_when_named_and_does_not_pause(gateway, tmp_path):
    samples = tmp_path / "stress.json"
    result = locust(gateway, "LiteLLMStressUser", "--stream-share", "0", "--samples", str(samples), users=2)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = export.read(samples)["requests"]
    assert {r["group"] for r in rows} == {"LiteLLMStressUser"}
    # no pause: a user that waits 1-3 s between requests sends at most 4 in 3 s; these two send more
    assert len(rows) > 2 * 4, len(rows)


def test_pacing_sends_at_a_constant_rate(gateway, tmp_path):
    samples = tmp_path / "paced.json"
    flags = ("--pacing", "0.5", "--stream-share", "0", "--samples", str(samples))
    result = locust(gateway, *flags, seconds=4, users=2)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = export.read(samples)["requests"]
    # Each user sends every 0.5 s once started: 2 requests a second; with Locust's pause of 1-3 s
    # a user sends one a second at most. The rate is taken over the span the users sent in, not
    # over --run-time, whose start a busy machine eats (10 requests in 4 s were seen under load).
    sent = sorted(row["sent_ms"] for row in rows)
    assert len(sent) >= 4, len(sent)
    per_user = (len(sent) - 2) / ((sent[-1] - sent[0]) / 1000) / 2
    assert 1.2 < per_user <= 2.2, per_user


def test_a_request_in_flight_at_the_end_of_a_planned_run_is_measured_not_cut_off(tmp_path):
    # each answer takes 2 s, the run 1 s: every user's first request is in flight at its end
    slow = {**MODEL, "tokens_per_second": 4}
    profile = parse_profile({"seed": 1, "models": {"slow": slow}})
    args = plan("locust", "smoke", users=2, duration=1)["locust"]["args"]
    samples = tmp_path / "tail.json"
    with BackgroundSimulator(profile, "openai") as sim:
        started = time.monotonic()
        flags = ("--models", "slow", "--stream-share", "0", "--samples", str(samples))
        result = headless(f"http://127.0.0.1:{sim.port}", *flags, *args)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = export.read(samples)["requests"]
    assert len(rows) >= 2 and all(r["status"] == 200 and r["output_tokens"] == 8 for r in rows), rows
    assert max(r["end_ms"] for r in rows) > 1500  # answered after the run's 1 s, and kept
    assert time.monotonic() - started < 25  # the grace ends when the last answer is in, not at 30 s


def test_failed_requests_are_counted_with_their_class_and_latency(gateway, tmp_path):
    import urllib.request

    fault = json.dumps({"model": "b", "error_rate": 1.0, "status": 500}).encode()
    request = urllib.request.Request(f"{gateway}/admin/faults", fault, {"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()
    try:
        samples = tmp_path / "failing.json"
        result = locust(gateway, "LiteLLMStressUser", "--models", "b", "--samples", str(samples), users=1)
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{gateway}/admin/faults", method="DELETE")).close()
    assert result.returncode == 1  # Locust's exit code when requests failed
    data = export.read(samples)
    assert data["summary"]["success_rate"] == 0.0 and data["summary"]["failed"] == len(data["requests"]) > 0
    assert {(r["error"], r["status"]) for r in data["requests"]} == {("http", 500)}
    assert all(r["end_ms"] > r["sent_ms"] for r in data["requests"])


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--models", "a=x"), "--models: 'a=x' is not model=weight with a weight from 0 up"),
        (("--models", "a=0"), "--models: no model with a weight above 0"),
        (("--stream-share", "2"), "--stream-share 2.0: a share from 0 to 1"),
        (("--pacing", "-1"), "--pacing -1.0: seconds from 0 to 3600"),
    ],
)
def test_a_bad_setting_stops_the_run_with_exit_2_saying_why(gateway, args, said):
    result = stopped_at_once(locust, gateway, *args)
    assert result.returncode == 2, result.stdout[-1000:] + result.stderr[-1000:]
    assert f"litellm_locustfile: {said}" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_models_flag_is_a_mix_or_one_clear_usage_error(text):
    try:
        mix = parse_models(text)
    except UsageError as error:
        assert str(error).startswith("--models: ")
    else:
        assert mix and all(name and 0 < weight < 1e9 for name, weight in mix)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.recursive(st.none() | st.booleans() | st.floats() | st.integers()
       | st.text(max_size=20), lambda inner: st.lists(inner, max_size=4), max_leaves=12).map(
       lambda v: json.dumps(v).encode()), st.just(b"[" * 100_000)))  # fmt: skip
def test_any_mix_file_is_a_mix_or_one_clear_usage_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("mix") / "traffic-mix.json"
    path.write_bytes(data)
    try:
        mix = read_mix_file(path)
    except UsageError as error:
        assert str(error).startswith(f"--mix-file {path}: ")
    else:
        assert mix and all(isinstance(name, str) and 0 < weight < 1e9 for name, weight in mix)


def test_a_gateway_that_is_down_stops_the_run_with_exit_2_saying_so():
    result = stopped_at_once(locust, "http://127.0.0.1:9")
    assert result.returncode == 2
    assert "litellm_locustfile: " in result.stdout and "connection refused" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


# The web UI: Locust's own, with the login the locustfile adds, used through a real browser.

SCREENSHOTS = ROOT / ".cache" / "screenshots"
ACCOUNT = {"LOCUST_WEB_USERNAME": "operator", "LOCUST_WEB_PASSWORD": "correct-horse"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def web_ui(host: str, *args: str, env: dict[str, str] | None = None) -> Iterator[tuple[int, Path]]:
    """Locust with its web UI (no --headless) until the block ends; its port and its output."""
    port, output = free_port(), Path(tempfile.mkstemp(prefix="locust-ui-")[1])
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", host, "--web-port", str(port),
        "--mix-file", "/nonexistent", "--key", "sk-test", *args,
    ]  # fmt: skip
    with output.open("w") as sink:
        process = subprocess.Popen(
            command,
            env={**os.environ, **(env or {})},
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=LOCUSTFILE.parent,
        )
    try:
        wait_until(
            lambda: process.poll() is not None or _answers(port), 30, f"Locust's web UI on port {port}"
        )
        yield port, output
    finally:
        process.terminate()
        process.wait(30)


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium: apt-get install chromium")
def test_the_web_ui_asks_for_the_login_then_starts_a_swarm_that_counts_requests(gateway):
    from llmobs.browser import Browser, locust_stopped, locust_swarm

    with (
        web_ui(gateway, "--web-login", "--web-host", "127.0.0.1", env=ACCOUNT) as (port, _),
        Browser() as page,
    ):
        page.open(f"http://127.0.0.1:{port}/")
        page.wait_for("location.pathname === '/login'", 20, "the login page")
        page.type("input[name=username]", "operator")
        page.type("input[name=password]", "wrong")
        page.click("button[type=submit]")
        page.wait_for("document.body.innerText.includes('Wrong username or password')", 20, "the refusal")
        started = time.monotonic()
        form = SCREENSHOTS / "locust-form.png"  # the form as sent: 3 users, 3 a second, for 20 s
        counted = locust_swarm(
            page, f"http://127.0.0.1:{port}/", ("operator", "correct-horse"), 3, "20s", form
        )
        print(f"the UI counted {counted} requests; screenshots: {form}")
        # The run time reached Locust: the swarm stops by itself, not before 20 s, and the page says
        # so (the run time was once typed into the ramp-up field instead, 3 then 20 making 320
        # users a second, and the swarm ran until the test ended Locust).
        locust_stopped(page, f"http://127.0.0.1:{port}/", 120)
        assert time.monotonic() - started >= 20
        stats = "fetch('stats/requests').then(r => r.json()).then(s => [s.state, s.user_count])"
        assert page.evaluate(stats) == ["stopped", 0]
        page.wait_for("/Aggregated\\s+\\d+/.test(document.body.innerText)", 30, "the statistics of the run")
        shot = page.screenshot(SCREENSHOTS / "locust-ui.png")
        print(f"the swarm stopped by itself; screenshot: {shot}")
        assert "chat" in page.text()
        # the ramp-up typed is the one Locust took: its own log, in the page's Logs tab
        tabs = "[...document.querySelectorAll('[role=tab]')]"
        page.evaluate(f"{tabs}.find(t => /^logs$/i.test(t.textContent.trim())).click()")
        ramping = "/Ramping to \\d+ users at a rate of [\\d.]+ per second/g"
        logged = page.wait_for(
            f"(document.body.innerText.match({ramping}) || []).join('; ')",
            20,
            "Locust's log in the Logs tab",
        )
        assert logged == "Ramping to 3 users at a rate of 3.00 per second", logged


def test_the_web_ui_never_listens_beyond_loopback_without_a_login(gateway):
    with web_ui(gateway) as (port, output):  # the guide's line: Locust alone would take every interface
        assert "web UI on loopback only (http://127.0.0.1:" in output.read_text()
        assert _answers(port)
    refused = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", gateway, "--web-host", "0.0.0.0"],
        capture_output=True, text=True, timeout=60, cwd=LOCUSTFILE.parent,
    )  # fmt: skip
    assert refused.returncode == 2
    assert (
        "--web-host 0.0.0.0: a web UI that starts load listens beyond loopback only behind --web-login"
        in (refused.stderr)
    )
    no_account = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", gateway, "--web-login"],
        capture_output=True, text=True, timeout=60, cwd=LOCUSTFILE.parent,
        env={k: v for k, v in os.environ.items() if not k.startswith("LOCUST_WEB_")},
    )  # fmt: skip
    assert no_account.returncode == 2
    assert (
        "--web-login needs the account in $LOCUST_WEB_USERNAME and $LOCUST_WEB_PASSWORD" in no_account.stderr
    )
