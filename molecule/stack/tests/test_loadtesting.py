"""The load-testing layer on the lab: the locust role's Locust, locustfile and traffic mix on the
load hosts, run with the guide's headless line against a real gateway; playbooks/loadtest.yml with
k6 and a distributed Locust on both load hosts, its verdict, preflight and kill switch."""

import json
import re
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
from lab_access import INVENTORY_DIR, KEY, PROJECT, faults, lab, log_records, playbook, prometheus, secret

from llmobs.browser import Browser, locust_stopped, locust_swarm
from llmobs.profiling import export
from llmobs.waiting import wait_until

MIX = [["llama3.1:8b", 60.0], ["qwen-coder-vllm", 25.0], ["llama-3.2-3b-llamacpp", 15.0]]
SAMPLES = "/tmp/locust-samples.json"


@pytest.fixture(scope="module")
def gateway1_address() -> str:
    facts = lab("gateway1").ansible("setup", "gather_subset=network")["ansible_facts"]
    return facts["ansible_default_ipv4"]["address"]


def test_the_role_installs_locust_the_locustfile_and_the_inventorys_mix():
    host = lab("loadgen2")
    assert host.run("locust --version").stdout.startswith("locust 2.47.0")
    assert host.file("/opt/locust/share/loadtesting/litellm_locustfile.py").exists
    assert json.loads(host.file("/etc/llmobs/traffic-mix.json").content_string) == MIX


@pytest.fixture(scope="module")
def swarm(gateway1_address) -> dict:
    """The guide's headless line (a few users for a few seconds) from loadgen1 to gateway1."""
    host = lab("loadgen1")
    command = (
        f"cd /opt/locust/share/loadtesting && LITELLM_API_KEY={KEY} "
        "timeout 120 locust -f litellm_locustfile.py "
        f"--host http://{gateway1_address}:4000 --users 4 --spawn-rate 4 --run-time 8s --headless "
        f"--html /tmp/locust-report.html --samples {SAMPLES} --run-id lab-locust --max-tokens 16 "
        "--stream-share 0.5"
    )
    result = host.run(command)
    assert result.rc == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {"data": export.checked(json.loads(host.file(SAMPLES).content_string)), "result": result}


def test_the_guides_headless_run_measures_the_real_gateway(swarm):
    data = swarm["data"]
    rows = data["requests"]
    assert rows and all(r["error"] is None and r["status"] == 200 for r in rows)
    assert {r["model"] for r in rows} <= {model for model, _ in MIX}
    streamed = [r for r in rows if r["stream"]]
    assert all(r["first_token_ms"] is not None and r["output_tokens"] == 16 for r in streamed)
    # LiteLLM's headers: the deployment that answered each request
    assert all(r["gateway"].get("model_id", "").endswith(r["model"]) for r in rows)
    assert lab("loadgen1").file("/tmp/locust-report.html").contains("TTFT")


def test_each_locust_request_is_in_the_gateways_request_log(swarm):
    rows = swarm["data"]["requests"]
    assert all(r["echoed_id"] == r["request_id"] for r in rows)
    sent = {r["request_id"] for r in rows}
    wait_until(  # the gateway's writer thread writes each line just after the answer
        lambda: sent <= {r.get("request_id") for r in log_records(lab("gateway1"), "lab-locust-")},
        30,
        "gateway1's request log to hold every request Locust sent",
    )


def test_without_a_key_the_run_stops_at_once_saying_so(gateway1_address):
    command = (
        "cd /opt/locust/share/loadtesting && timeout 60 locust -f litellm_locustfile.py "
        f"--host http://{gateway1_address}:4000 --users 1 --run-time 5s --headless"
    )
    result = lab("loadgen2").run(command)
    said = result.stdout + result.stderr
    assert result.rc == 2, said[-2000:]
    # LiteLLM 1.108.7 answers a request without a key with a 500 (its error handler imports prisma,
    # which a gateway without a database lacks), not a 401: the line says what can be known
    assert f"litellm_locustfile: the gateway at http://{gateway1_address}:4000 " in said
    assert "none found in --key, $LITELLM_API_KEY" in said


# playbooks/loadtest.yml: the generators on both load hosts, driven from the control node

RUN_ID = re.compile(r"run (\d{8}T\d{6}Z-\d+): ")


def loadtest(*args: str, timeout: float = 300) -> tuple[subprocess.CompletedProcess, Path]:
    run = playbook("loadtest.yml", *args, timeout=timeout)
    found = RUN_ID.search(run.stdout)
    assert found, run.stdout[-3000:] + run.stderr[-3000:]
    return run, PROJECT / "results" / found.group(1)


def manifest(results: Path, host: str, name: str) -> dict:
    return json.loads((results / host / name).read_text())["manifest"]


def host_rows(results: Path, name: str) -> dict[str, list[dict]]:
    return {
        host: export.checked(json.loads((results / host / name).read_text()))["requests"]
        for host in ("loadgen1", "loadgen2")
    }


def test_a_k6_smoke_split_across_both_load_hosts_is_judged_once():
    run, results = loadtest("-e", "tool=k6", "-e", "scenario=smoke", "-e", "duration=6")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "verdict: PASSED (1 thresholds met, 2 hosts)" in run.stdout
    rows = host_rows(results, "k6.json")
    assert all(rows.values()), "each load host sent its share"
    # k6 split the 5 users of the one test into segments: 3 on one host, 2 on the other
    vus = sorted(
        json.loads((results / h / "k6-summary.json").read_text())["metrics"]["vus_max"]["values"]["max"]
        for h in rows
    )
    assert vus == [2, 3]
    # started at one moment: the first requests of the hosts left within a second of each other
    firsts = [datetime.fromisoformat(manifest(results, h, "k6.json")["started_at"]) for h in rows]
    assert abs((firsts[0] - firsts[1]).total_seconds()) < 1.0, firsts
    assert "loadgen1 #1" in (results / "report.html").read_text()
    assert (results / "report.html").is_file()
    # k6 wrote its metrics to Prometheus while it ran (remote write), under the run's id
    series = wait_until(
        lambda: prometheus("/api/v1/query", query=f'sum(k6_http_reqs_total{{testid="{results.name}"}})'),
        30,
        f"Prometheus to hold k6's requests of run {results.name}",
        until=lambda found: found["result"] and float(found["result"][0]["value"][1]) > 0,
    )
    print(f"k6's requests in Prometheus: {series['result'][0]['value'][1]}")
    # every request k6 sent is in the gateway's request log under the id it carried
    sent = {r["request_id"] for host in rows.values() for r in host}
    wait_until(
        lambda: sent <= {r.get("request_id") for r in log_records(lab("gateway1"), results.name)},
        30,
        "gateway1's request log to hold every request k6 sent",
    )


def test_a_distributed_locust_smoke_runs_a_worker_on_each_load_host():
    run, results = loadtest("-e", "tool=locust", "-e", "scenario=smoke", "-e", "duration=6", "-e", "users=4")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "verdict: PASSED (1 thresholds met, 2 hosts)" in run.stdout
    rows = host_rows(results, "locust.json")
    assert all(rows.values()) and all(r["status"] == 200 for host in rows.values() for r in host)
    assert (results / "loadgen1" / "locust-report.html").is_file() and (results / "report.html").is_file()
    for name in ("loadgen1", "loadgen2"):  # the master and the workers are gone
        assert lab(name).run("systemctl list-units --no-legend 'llmobs-load-*'").stdout.strip() == ""


def test_a_failing_backend_fails_the_verdict_naming_the_threshold():
    faults("gateway1", "llama3.1:8b", {"error_rate": 1.0, "status": 500})
    try:
        run, _ = loadtest("-e", "tool=k6", "-e", "scenario=smoke", "-e", "duration=5")
    finally:
        faults("gateway1", "llama3.1:8b", {"reset": True})
    assert run.returncode != 0
    assert "FAIL success_rate>=0.99" in run.stdout and "verdict: FAILED (success_rate>=0.99)" in run.stdout


def test_a_wrong_setting_or_a_run_beyond_the_bounds_stops_in_preflight():
    run = playbook("loadtest.yml", "-e", "tool=k6", "-e", "scenario=chaos", timeout=120)
    said = run.stdout + run.stderr  # the failure's message goes where the callback puts it
    assert run.returncode != 0 and "chaos" in said and "one of smoke, load, stress, spike, soak" in said
    run = playbook("loadtest.yml", "-e", "tool=locust", "-e", "users=100000", timeout=120)
    said = run.stdout + run.stderr
    assert run.returncode != 0 and "the inventory allows at most loadtest_max_users=500" in said


def measuring(host: str) -> bool:
    """A k6 unit of loadtest.yml runs on the host and its points hold a request."""
    units = lab(host).run("systemctl list-units --no-legend --state=active 'llmobs-load-*-k6.service'").stdout
    found = re.search(r"llmobs-load-(\S+)-k6\.service", units)
    points = f"/var/tmp/llmobs-loadtest/{found.group(1)}/points.json" if found else "/nonexistent"
    return bool(found) and lab(host).run(f'grep -q \'"metric":"http_reqs"\' {points}').rc == 0


def test_the_kill_switch_stops_a_long_run_on_every_host_and_the_run_says_so():
    command = ["ansible-playbook", "-i", INVENTORY_DIR, str(PROJECT / "playbooks" / "loadtest.yml")]
    command += ["-e", "tool=k6", "-e", "scenario=soak", "-e", "duration=600", "-e", "users=4"]
    long_run = subprocess.Popen(
        command, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        # k6 running on both load hosts and each with a request measured (a run stopped before any
        # request is stopped too, but has nothing to fetch)
        wait_until(
            lambda: all(measuring(h) for h in ("loadgen1", "loadgen2")),
            120,
            "k6's first requests on both load hosts",
        )
        started = time.monotonic()
        stop = playbook("loadtest-stop.yml", timeout=60)
        took = time.monotonic() - started
        assert stop.returncode == 0, stop.stdout[-3000:]
        # on each host, from the switch's arrival to no generator left (the playbook's own start
        # on the control node comes before it: printed, it depends on how busy that machine is)
        each = [int(ms) for ms in re.findall(r"every generator stopped in (\d+) ms", stop.stdout)]
        print(f"the kill switch took {took:.1f} s on the control node, {each} ms on the load hosts")
        assert len(each) == 2 and max(each) <= 10_000
        output, _ = long_run.communicate(timeout=180)
    finally:
        if long_run.poll() is None:
            long_run.kill()
    assert long_run.returncode != 0
    for name in ("loadgen1", "loadgen2"):
        assert f"NOT VALID: {name}: stopped by the kill switch (loadtest-stop.yml) at" in output, output[
            -4000:
        ]
    results = PROJECT / "results" / RUN_ID.search(output).group(1)
    assert all((results / h / "points.json").is_file() for h in ("loadgen1", "loadgen2"))


@pytest.fixture(scope="module")
def browser():
    installed = subprocess.run(
        [str(PROJECT / "lab" / "chromium.sh")], capture_output=True, text=True, check=False
    )
    assert installed.returncode == 0, f"Debian's chromium for the web UI test: {installed.stderr}"
    with Browser() as page:
        yield page


def test_the_locust_web_ui_through_the_labs_port_asks_for_the_login_and_runs_a_swarm(browser):
    started = playbook("loadtest-ui.yml", "-e", "ui_hours=0.2", timeout=300)
    try:
        assert started.returncode == 0, started.stdout[-4000:] + started.stderr[-2000:]
        assert "login: operator, the password locust_web_password (" in started.stdout
        page = browser  # the lab publishes loadgen1's port 8089 on this machine
        counted = locust_swarm(
            page, "http://127.0.0.1:8089/", ("operator", secret("locust_web_password")), 4, "15s"
        )
        shot = page.screenshot(PROJECT / ".cache" / "screenshots" / "lab-locust-ui.png")
        print(f"the lab's Locust UI counted {counted} requests; screenshot: {shot}")
        shown = page.text()
        assert re.search(r"Workers\s+2", shown), shown[:500]
        # the run time reached Locust: the swarm stops by itself after its 15 s
        locust_stopped(page, "http://127.0.0.1:8089/", 120)
    finally:
        stopped = playbook("loadtest-stop.yml", timeout=120)
    assert stopped.returncode == 0 and "locust-master" in stopped.stdout
