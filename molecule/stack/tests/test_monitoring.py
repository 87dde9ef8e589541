"""The monitoring layer as an operator sees it on monitor1: rules loaded, auth on, storage as
configured, GPU-less hosts left alone, and a failing backend's alert delivered to the receiver."""

import json
import uuid
from pathlib import Path

import yaml
from lab_access import (
    ALERTMANAGER,
    PROJECT,
    PROMETHEUS,
    basic_auth,
    burst,
    faults,
    http_get,
    lab,
    prometheus,
    secret,
    until_quiet,
)

from llmobs.waiting import wait_until

RULES = PROJECT / "roles" / "prometheus" / "templates" / "rules"
MONITOR = lab("monitor1")
HOSTS = ("gateway1", "gateway2", "monitor1", "loadgen1", "loadgen2")
ERROR_RATE_ALERT = "LiteLLMHighErrorRate"


def rule_names(kind: str) -> set[str]:
    """Alert (or record) names in the rule templates this checkout ships."""
    names = set()
    for path in Path(RULES).glob("*.yml.j2"):
        for group in yaml.safe_load(path.read_text().replace("[[", "").replace("]]", ""))["groups"]:
            names |= {rule[kind] for rule in group["rules"] if kind in rule}
    return names


def test_every_rule_of_the_repo_is_loaded_and_healthy():
    loaded = [rule for group in prometheus("/api/v1/rules")["groups"] for rule in group["rules"]]
    assert {r["name"] for r in loaded if r["type"] == "alerting"} == rule_names("alert")
    assert {r["name"] for r in loaded if r["type"] == "recording"} == rule_names("record")
    unhealthy = {r["name"]: r.get("lastError") for r in loaded if r["health"] not in ("ok", "unknown")}
    assert unhealthy == {}


def test_prometheus_and_alertmanager_want_the_credential():
    checks = (
        (f"{PROMETHEUS}/api/v1/targets", secret("prometheus_web_password")),
        (f"{ALERTMANAGER}/api/v2/status", secret("alertmanager_web_password")),
    )
    for url, password in checks:
        assert http_get(url)[0] == 401, url
        assert http_get(url, basic_auth("llmobs", "wrong-password"))[0] == 401, url
        assert http_get(url, basic_auth("llmobs", password))[0] == 200, url


def test_prometheus_sends_to_alertmanager():
    address = MONITOR.interface("eth0").addresses[0]
    alertmanagers = prometheus("/api/v1/alertmanagers")["activeAlertmanagers"]
    assert [a["url"] for a in alertmanagers] == [f"http://{address}:9093/api/v2/alerts"]


def test_storage_keeps_30_days_under_a_size_cap_and_accepts_remote_writes():
    flags = prometheus("/api/v1/status/flags")
    assert flags["storage.tsdb.retention.time"] == "30d"
    # Prometheus counts sizes in powers of 1024 and shows the flag that way
    assert flags["storage.tsdb.retention.size"] == "10GiB"
    assert flags["storage.tsdb.path"] == "/var/lib/prometheus/metrics2"
    assert flags["web.enable-remote-write-receiver"] == "true"
    # an empty remote-write body is refused as bad input (400), not as a missing endpoint (404)
    password = secret("prometheus_web_password")
    out = MONITOR.run(
        f"curl -s -o /dev/null -w '%{{http_code}}' -u llmobs:{password} -X POST --data-binary '' "
        "http://monitor1:9090/api/v1/write"
    )
    assert out.stdout == "400"


def test_gpu_exporter_on_auto_leaves_gpu_less_hosts_alone():
    for name in HOSTS:
        host = lab(name)
        assert not host.file("/opt/nvidia_gpu_exporter").exists, name
        assert not host.file("/etc/systemd/system/nvidia-gpu-exporter.service").exists, name
    jobs = {t["labels"]["job"] for t in prometheus("/api/v1/targets")["activeTargets"]}
    assert "gpu" not in jobs


def test_failing_backend_raises_the_error_rate_alert_at_the_webhook():
    """The whole path: simulator faults, LiteLLM metrics, the rule, Alertmanager, the receiver.
    Only notifications that arrive after the fault count: a drill run earlier on this lab leaves
    its own (resolved) error-rate alerts in the sink."""

    def notifications() -> list[dict]:
        answer = MONITOR.run("curl -fsS http://monitor1:9095/alerts")
        assert answer.rc == 0, answer.stderr
        return json.loads(answer.stdout)

    def delivered() -> list[dict]:
        # enough failures at once to outweigh the successes of the load run in the 5-minute ratio
        outcomes = burst("gateway2", "llama3.1:8b", [f"hi {uuid.uuid4()}" for _ in range(40)])
        assert "200" not in outcomes, outcomes
        return [
            alert
            for notification in notifications()[before:]
            for alert in notification["payload"]["alerts"]
            if alert["labels"]["alertname"] == ERROR_RATE_ALERT
            and alert["labels"]["instance"] == "gateway2"
            and alert["status"] == "firing"
        ]

    until_quiet(ERROR_RATE_ALERT, "gateway2")  # one an earlier test left would be notified again
    before = len(notifications())  # the sink lists them oldest first
    faults("gateway2", "llama3.1:8b", {"error_rate": 1.0, "status": 500})
    try:
        alerts = wait_until(delivered, 240, f"{ERROR_RATE_ALERT} for gateway2 at the webhook sink", every=5)
    finally:
        faults("gateway2", "llama3.1:8b", {"reset": True})
    assert alerts[0]["annotations"].get("runbook")
