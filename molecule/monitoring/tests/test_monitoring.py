"""The monitoring layer as an operator sees it: targets up, rules loaded, auth on, alerts delivered."""

import json
import os
import shlex
import time
import uuid
from pathlib import Path

import testinfra
import yaml

SECRETS = Path(os.environ["LLMOBS_SECRETS_DIR"])
PROM_AUTH = "llmobs:" + (SECRETS / "prometheus_web_password").read_text().strip()
AM_AUTH = "llmobs:" + (SECRETS / "alertmanager_web_password").read_text().strip()
KEY = "sk-" + (SECRETS / "litellm_master_key").read_text().strip()
SIM_TOKEN = (SECRETS / "llm_simulator_admin_token").read_text().strip()
RULES = Path(__file__).resolve().parents[3] / "roles" / "prometheus" / "templates" / "rules"


def lab(name: str):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={os.environ['MOLECULE_INVENTORY_FILE']}")


MONITOR = lab("llmobs-mon-monitor")
GATEWAY = lab("llmobs-mon-gateway")
MONITOR_IP = MONITOR.interface("eth0").addresses[0]
GATEWAY_IP = GATEWAY.interface("eth0").addresses[0]
PROMETHEUS = f"http://{MONITOR_IP}:9090"
ALERTMANAGER = f"http://{MONITOR_IP}:9093"
SINK = f"http://{MONITOR_IP}:9095"


def get(url: str, auth: str | None = None) -> tuple[int, str]:
    """GET from the monitoring host; (status, body)."""
    user = f"-u {shlex.quote(auth)}" if auth else ""
    out = MONITOR.run(f"curl -sS -o /tmp/body -w '%{{http_code}}' {user} {shlex.quote(url)}")
    return int(out.stdout or 0), MONITOR.file("/tmp/body").content_string


def prometheus_api(path: str) -> dict:
    status, body = get(PROMETHEUS + path, PROM_AUTH)
    assert status == 200, body
    return json.loads(body)["data"]


def eventually(check, timeout: float, every: float = 5):
    """check() until it returns something truthy; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def rule_names(kind: str) -> set[str]:
    """Alert (or record) names in the rule templates this checkout ships."""
    names = set()
    for path in RULES.glob("*.yml.j2"):
        for group in yaml.safe_load(path.read_text().replace("[[", "").replace("]]", ""))["groups"]:
            names |= {rule[kind] for rule in group["rules"] if kind in rule}
    return names


def test_every_target_is_up_and_named_after_its_host():
    expected = {
        ("prometheus", "llmobs-mon-monitor"),
        ("alertmanager", "llmobs-mon-monitor"),
        ("node", "llmobs-mon-monitor"),
        ("node", "llmobs-mon-gateway"),
        ("litellm", "llmobs-mon-gateway"),
        ("redis", "llmobs-mon-gateway"),
        ("vllm", "llmobs-mon-gateway"),
    }

    def health():
        targets = prometheus_api("/api/v1/targets")["activeTargets"]
        found = {(t["labels"]["job"], t["labels"]["instance"]): t for t in targets}
        if set(found) == expected and all(t["health"] == "up" for t in found.values()):
            return found
        return None

    found = eventually(health, timeout=60)
    targets = prometheus_api("/api/v1/targets")["activeTargets"]
    report = {(t["labels"]["job"], t["labels"]["instance"]): (t["health"], t["lastError"]) for t in targets}
    assert found, report


def test_every_rule_of_the_repo_is_loaded_and_healthy():
    groups = prometheus_api("/api/v1/rules")["groups"]
    loaded = [rule for group in groups for rule in group["rules"]]
    assert {r["name"] for r in loaded if r["type"] == "alerting"} == rule_names("alert")
    assert {r["name"] for r in loaded if r["type"] == "recording"} == rule_names("record")
    unhealthy = {r["name"]: r.get("lastError") for r in loaded if r["health"] not in ("ok", "unknown")}
    assert unhealthy == {}


def test_prometheus_and_alertmanager_want_the_credential():
    checks = ((PROMETHEUS + "/api/v1/targets", PROM_AUTH), (ALERTMANAGER + "/api/v2/status", AM_AUTH))
    for url, auth in checks:
        assert get(url)[0] == 401, url
        assert get(url, auth.split(":")[0] + ":wrong-password")[0] == 401, url
        assert get(url, auth)[0] == 200, url


def test_prometheus_sends_to_alertmanager():
    alertmanagers = prometheus_api("/api/v1/alertmanagers")["activeAlertmanagers"]
    assert [a["url"] for a in alertmanagers] == [f"http://{MONITOR_IP}:9093/api/v2/alerts"]


def test_storage_keeps_30_days_under_a_size_cap_and_accepts_remote_writes():
    flags = prometheus_api("/api/v1/status/flags")
    assert flags["storage.tsdb.retention.time"] == "30d"
    # Prometheus counts sizes in powers of 1024 and shows the flag that way
    assert flags["storage.tsdb.retention.size"] == "10GiB"
    assert flags["storage.tsdb.path"] == "/var/lib/prometheus/metrics2"
    assert flags["web.enable-remote-write-receiver"] == "true"
    # an empty remote-write body is refused as bad input (400), not as a missing endpoint (404)
    out = MONITOR.run(
        f"curl -s -o /dev/null -w '%{{http_code}}' -u {shlex.quote(PROM_AUTH)} "
        f"-X POST --data-binary '' {PROMETHEUS}/api/v1/write"
    )
    assert out.stdout == "400"


def test_gpu_exporter_on_auto_leaves_gpu_less_hosts_alone():
    for host in (MONITOR, GATEWAY):
        assert not host.file("/opt/nvidia_gpu_exporter").exists
        assert not host.file("/etc/systemd/system/nvidia-gpu-exporter.service").exists
    jobs = {t["labels"]["job"] for t in prometheus_api("/api/v1/targets")["activeTargets"]}
    assert "gpu" not in jobs


def set_faults(faults: dict) -> None:
    """Switch the Ollama simulator's faults at run time (its admin API, on the gateway host)."""
    out = GATEWAY.run(
        f"curl -fsS -H 'Authorization: Bearer {SIM_TOKEN}' -H 'Content-Type: application/json' "
        f"-d {shlex.quote(json.dumps(faults))} http://127.0.0.1:11434/admin/faults"
    )
    assert out.rc == 0, out.stderr


def send_requests(count: int) -> list[str]:
    """count chat completions, each with new content (no cache hit); their HTTP statuses."""
    commands = []
    for _ in range(count):
        body = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": f"hi {uuid.uuid4()}"}]}
        commands.append(
            f"curl -s -o /dev/null -w '%{{http_code}}\\n' -H 'Authorization: Bearer {KEY}' "
            f"-H 'Content-Type: application/json' -d {shlex.quote(json.dumps(body))} "
            f"http://{GATEWAY_IP}:4000/v1/chat/completions"
        )
    return GATEWAY.run("; ".join(commands)).stdout.split()


def test_failing_backend_raises_the_error_rate_alert_at_the_webhook():
    """The whole path: simulator faults, LiteLLM metrics, the rule, Alertmanager, the receiver."""
    set_faults({"error_rate": 1.0, "status": 500})
    try:

        def delivered():
            statuses = send_requests(5)
            assert statuses and "200" not in statuses, statuses
            status, body = get(SINK + "/alerts")
            assert status == 200, body
            return [
                alert
                for payload in json.loads(body)
                for alert in payload["payload"]["alerts"]
                if alert["labels"]["alertname"] == ERROR_RATE_ALERT and alert["status"] == "firing"
            ]

        alerts = eventually(delivered, timeout=240, every=5)
        assert alerts, prometheus_api("/api/v1/alerts")
        assert alerts[0]["labels"]["instance"] == "llmobs-mon-gateway"
        assert alerts[0]["annotations"].get("runbook")
    finally:
        set_faults({"reset": True})


ERROR_RATE_ALERT = "LiteLLMHighErrorRate"
