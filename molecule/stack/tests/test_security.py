"""Issue 15's security sweep on the lab: from loadgen1, every port that the lab's hosts listen on
beyond loopback is tried without a credential and with wrong ones (playbooks/security-sweep.yml);
each refuses or is open by design with its reason. Then every generated secret is looked for where
it must never be: the journals and logs of every host, the results brought home (exports, HTML
reports), and every Prometheus label. Runs after the load, profiling and debugging checks (the
files sort so), so that the logs and results hold their traffic."""

import json
import re
from pathlib import Path

import pytest
from lab_access import PROJECT, SECRETS, lab, playbook, prometheus

from llmobs.sweep import open_by_design

HOSTS = ("gateway1", "gateway2", "monitor1", "loadgen1", "loadgen2")


@pytest.fixture(scope="module")
def swept() -> dict:
    run = playbook("security-sweep.yml", timeout=300)
    found = re.search(r"report: \S*/results/(security-sweep-[0-9TZ]+\.json)", run.stdout)
    assert found, run.stdout[-4000:] + run.stderr[-2000:]
    knocks = json.loads((PROJECT / "results" / found.group(1)).read_text())
    return {"run": run, "knocks": knocks}


def test_nothing_answers_without_a_right_credential_unless_by_design(swept):
    run = swept["run"]
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    for k in swept["knocks"]:
        assert not k["findings"], k
        assert k["protocol"] != "unreachable", k  # in the lab every port is reachable from loadgen1
        assert set(k["by_design"].values()) <= set(open_by_design(k["listener"]["process"]).values()), k


def test_the_sweep_reached_every_guarded_service_and_was_refused(swept):
    """Not a vacuous pass: the services that hold data or control were each knocked on, by their
    protocol, and refused every try (a connection that failed is not a refusal). Locust's UI runs
    only during loadtest-ui.yml; tests/test_loadtesting.py checks its login."""
    refused = {  # everything tried was refused, but what is open by design (LiteLLM's "/")
        (k["listener"]["host"], k["listener"]["port"]): k
        for k in swept["knocks"]
        if k["protocol"] in ("http", "redis") and not k["findings"] and k["refused"] >= 3
    }
    expected = {
        ("gateway1", 4000): "litellm",
        ("gateway2", 4000): "litellm",
        ("monitor1", 9090): "prometheus",
        ("monitor1", 9093): "prometheus-aler",
        ("monitor1", 6379): "redis-server",
    }
    for where, process in expected.items():
        assert where in refused, (where, [k["listener"] for k in swept["knocks"]])
        assert process in refused[where]["listener"]["process"].split("/"), refused[where]
    assert refused[("monitor1", 6379)]["protocol"] == "redis"
    # of the gateways and Prometheus, only LiteLLM's documentation page answers (by design)
    for where in expected:
        assert {what.split(" (")[0] for what in refused[where]["by_design"]} <= {"/"}, refused[where]
    # every host was looked at: its node exporter is open by design, so it is in the report
    assert {k["listener"]["host"] for k in swept["knocks"]} == set(HOSTS)
    assert "0 open without a credential and not by design" in swept["run"].stdout


def generated_secrets() -> dict[str, str]:
    """The generated secrets long enough to be told from other text, by name."""
    secrets = {p.name: p.read_text().strip() for p in sorted(Path(SECRETS).iterdir()) if p.is_file()}
    return {name: value for name, value in secrets.items() if len(value) >= 12}


def grep_pattern(secrets: dict[str, str]) -> str:
    return "|".join(re.escape(value) for value in secrets.values())


def test_the_control_nodes_secrets_are_private():
    secrets = list(Path(SECRETS).iterdir())
    assert len(secrets) >= 4, secrets
    for path in secrets:
        assert path.stat().st_mode & 0o077 == 0, (path, oct(path.stat().st_mode))


def test_secret_files_on_the_hosts_are_0600_or_0640():
    """Every file on a host that holds a generated secret (found by its content) is readable by
    its owner, and at most by its group."""
    pattern = grep_pattern(generated_secrets())
    for name in HOSTS:
        host = lab(name)
        found = host.run(
            "grep -rlE -- %s /etc /var/lib /var/tmp /run 2>/dev/null || true",
            pattern,
        ).stdout.split()
        for path in found:
            mode = host.file(path).mode
            assert mode & 0o037 == 0 and mode & 0o400, (name, path, oct(mode))


def test_no_secret_in_a_log_line_a_result_or_a_prometheus_label():
    secrets = generated_secrets()
    assert secrets
    pattern = grep_pattern(secrets)
    for name in HOSTS:
        host = lab(name)
        journal = host.run("journalctl --no-pager -o cat | grep -cE -- %s || true", pattern).stdout.strip()
        logs = host.run("grep -rlE -- %s /var/log 2>/dev/null || true", pattern).stdout.split()
        assert journal == "0" and logs == [], (name, journal, logs)
    results = PROJECT / "results"
    for path in results.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not [k for k, v in secrets.items() if v in text], path
    labels = prometheus("/api/v1/labels")
    assert "instance" in labels and "job" in labels
    for label in labels:
        values = " ".join(prometheus(f"/api/v1/label/{label}/values"))
        assert not [k for k, v in secrets.items() if v in values], label
