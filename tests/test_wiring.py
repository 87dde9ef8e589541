"""How hosts find each other's services (llmobs.wiring): the functions, and the example inventory
rendered by Ansible itself, so that what Prometheus scrapes and what the gateways and Grafana
connect to follows from the one variable on the host that listens."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from llmobs import wiring

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GPU1, GPU2, MON1, LOAD1 = (f"{h}.example.internal" for h in ("gpu1", "gpu2", "mon1", "load1"))


def test_a_setting_is_the_hosts_own_value_first():
    assert wiring.setting({"prometheus_web_username": "ops"}, "prometheus_web_username") == "ops"


def test_else_its_roles_default_rendered_for_that_host():
    host = {"common_listen_address": "10.0.0.21"}
    assert wiring.setting(host, "prometheus_web_username") == "llmobs"
    assert wiring.setting(host, "prometheus_web_listen_address") == "10.0.0.21:9090"
    assert wiring.setting(host, "redis_exporter_listen_address") == "10.0.0.21:9121"  # role redis
    assert wiring.setting(host, "node_exporter_gpu_listen_address") == "10.0.0.21:9835"
    # a host without an address listens on the common role's default, loopback
    assert wiring.setting({}, "litellm_listen_address") == "127.0.0.1:4000"
    assert wiring.setting({}, "prometheus_remote_write_receiver") is False


def test_a_default_that_needs_more_than_the_hosts_settings_says_to_set_it():
    with pytest.raises(wiring.WiringError, match="set locust_traffic_mix in the inventory"):
        wiring.setting({}, "locust_traffic_mix")
    with pytest.raises(wiring.WiringError, match="belongs to no role"):
        wiring.setting({}, "nosuchrole_listen_address")
    with pytest.raises(wiring.WiringError, match="not a default of role prometheus"):
        wiring.setting({}, "prometheus_no_such_setting")


def test_a_wildcard_is_reached_at_the_hosts_name():
    host = {"litellm_listen_address": "0.0.0.0:4001", "inventory_hostname": GPU2}
    assert wiring.address(host, "litellm_listen_address") == f"{GPU2}:4001"
    assert wiring.address({**host, "ansible_host": "192.0.2.7"}, "litellm_listen_address") == "192.0.2.7:4001"
    assert (
        wiring.address(
            {"litellm_listen_address": "[::]:4000", "inventory_hostname": "h"}, "litellm_listen_address"
        )
        == "h:4000"
    )


def test_the_prometheus_url_follows_its_tls():
    host = {"common_listen_address": "10.0.0.21"}
    assert wiring.prometheus_url(host) == "http://10.0.0.21:9090"
    assert (
        wiring.prometheus_url({**host, "prometheus_web_tls": {"cert_file": "c"}}) == "https://10.0.0.21:9090"
    )


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("10.0.0.5", "is not host:port"),
        ("10.0.0.5:0", "is not host:port with a port from 1 to 65535"),
        ("10.0.0.5:65536", "is not host:port"),
        ("10.0.0.5:80a", "is not host:port"),
        ("::1:9100", "write an IPv6 address in brackets, as [::1]:9100"),
        ("[::g]:9100", "is not an IPv6 address"),
        ("a b:80", "is not a host name or address"),
        ("http://x:80", "is not a host name or address"),
    ],
)
def test_a_wrong_listen_address_is_named(text, said):
    assert said in wiring.problem(text)


@pytest.mark.parametrize(
    "text", ["127.0.0.1:4000", "0.0.0.0:9090", "gpu1.example.internal:8000", "[::1]:4000", ":4000"]
)
def test_a_listen_address_splits_and_joins_back(text):
    assert wiring.problem(text) == ""
    assert wiring.join(*wiring.split(text)) == text


@given(st.text(max_size=60) | st.integers() | st.none())
def test_any_value_gives_a_problem_or_splits_never_a_crash(value):
    found = wiring.problem(value)
    if not found:
        host, port = wiring.split(value)
        assert 0 < port < 65536 and wiring.join(host, port) == str(value)


def render(tmp_path: Path, *extra_inventories: Path) -> dict:
    """The example inventory's wiring as Ansible renders it: each host's view, and mon1's
    prometheus.yml."""
    out = tmp_path / "out"
    out.mkdir()
    inventories = ["-i", "inventory/example"]
    for extra in extra_inventories:
        inventories += ["-i", str(extra)]
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), *inventories, "tests/fixtures/wiring.yml", "-e", f"out={out}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={
            **os.environ,
            "ANSIBLE_FILTER_PLUGINS": str(ROOT / "roles/common/filter_plugins"),
            "ANSIBLE_LOOKUP_PLUGINS": str(ROOT / "roles/common/lookup_plugins"),
            "LLMOBS_SECRETS_DIR": str(tmp_path / "secrets"),
            "ANSIBLE_NOCOLOR": "1",
        },
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    views = {path.stem: json.loads(path.read_text()) for path in out.glob("*.json")}
    return {"hosts": views, "prometheus": yaml.safe_load((out / "prometheus.yml").read_text())}


def targets(prometheus: dict, job: str) -> dict[str, str]:
    """instance -> address of a scrape job."""
    (config,) = (c for c in prometheus["scrape_configs"] if c["job_name"] == job)
    return {s["labels"]["instance"]: address for s in config["static_configs"] for address in s["targets"]}


def test_the_example_cluster_is_wired_from_the_listening_hosts(tmp_path):
    wired = render(tmp_path)
    hosts, prometheus = wired["hosts"], wired["prometheus"]
    assert targets(prometheus, "litellm") == {GPU1: "10.0.0.11:4000", GPU2: "10.0.0.12:4000"}
    assert targets(prometheus, "node") == {
        GPU1: "10.0.0.11:9100",
        GPU2: "10.0.0.12:9100",
        MON1: "10.0.0.21:9100",
        LOAD1: "10.0.0.31:9100",
    }
    assert targets(prometheus, "redis") == {MON1: "10.0.0.21:9121"}
    assert targets(prometheus, "alertmanager") == {MON1: "10.0.0.21:9093"}
    assert prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["10.0.0.21:9093"]
    assert prometheus["alerting"]["alertmanagers"][0]["basic_auth"]["username"] == "llmobs"
    # the real vLLM on gpu1 is scraped where its api_base points
    assert targets(prometheus, "vllm") == {"gpu1.example.internal": "gpu1.example.internal:8000"}
    for gateway in (GPU1, GPU2):
        assert hosts[gateway]["litellm_redis_address"] == "10.0.0.21:6379"
    assert hosts[MON1]["grafana_prometheus_url"] == "http://10.0.0.21:9090"
    assert hosts[MON1]["grafana_prometheus_username"] == "llmobs"
    assert hosts[MON1]["grafana_prometheus_scrape_interval"] == "10s"
    assert hosts[LOAD1]["k6_prometheus_rw_url"] == ""  # the example's Prometheus has no receiver
    assert hosts[LOAD1]["locust_run_master_address"] == "10.0.0.31:5557"


def test_an_address_changed_on_the_listening_host_is_followed_everywhere(tmp_path):
    """One place: the inventory sets each value once, on the host that listens or serves."""
    extra = tmp_path / "changed.yml"
    extra.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        MON1: {
                            "prometheus_web_listen_address": "10.0.0.21:9443",
                            "prometheus_web_tls": {
                                "cert_file": "/etc/ssl/p.pem",
                                "key_file": "/etc/ssl/p.key",
                            },
                            "prometheus_web_username": "ops",
                            "prometheus_remote_write_receiver": True,
                            "redis_listen_address": "10.0.1.21:6380",
                            "alertmanager_web_username": "pager",
                            "redis_exporter_listen_address": "[fd00::21]:9121",
                        },
                        GPU2: {"litellm_listen_address": "0.0.0.0:4001", "ansible_host": "192.0.2.12"},
                        LOAD1: {"locust_master_listen_address": "10.0.0.31:6000"},
                    }
                }
            }
        )
    )
    wired = render(tmp_path, extra)
    hosts, prometheus = wired["hosts"], wired["prometheus"]
    assert targets(prometheus, "litellm") == {GPU1: "10.0.0.11:4000", GPU2: "192.0.2.12:4001"}
    assert targets(prometheus, "redis") == {MON1: "[fd00::21]:9121"}
    assert prometheus["alerting"]["alertmanagers"][0]["basic_auth"]["username"] == "pager"
    for gateway in (GPU1, GPU2):
        assert hosts[gateway]["litellm_redis_address"] == "10.0.1.21:6380"
    assert hosts[MON1]["grafana_prometheus_url"] == "https://10.0.0.21:9443"
    assert hosts[MON1]["grafana_prometheus_username"] == "ops"
    assert hosts[LOAD1]["k6_prometheus_rw_url"] == "https://10.0.0.21:9443/api/v1/write"
    assert hosts[LOAD1]["k6_prometheus_rw_username"] == "ops"
    assert hosts[LOAD1]["locust_run_master_address"] == "10.0.0.31:6000"


def test_roles_reach_other_hosts_only_through_the_wiring():
    """No role or inventory reads another host's settings as hostvars[...].<name> with a copied
    default: every such read goes through llmobs_setting / llmobs_address. (The providers list and
    the GPU exporter's fact have no default to copy.)"""
    reach = re.compile(r"hostvars\[(?:[^\[\]]|\[[^\]]*\])+\](\.|\[')\w+")
    found = []
    places = (
        "roles/*/defaults/*.yml",
        "roles/*/tasks/*.yml",
        "roles/*/templates/**/*.j2",
        "inventory/**/*.yml",
    )
    for path in (p for place in places for p in ROOT.glob(place)):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if reach.search(line) and "llm_providers" not in line and "node_exporter_gpu_active" not in line:
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []


class FactsNotGathered(dict):
    """A host's variables as Ansible's hostvars gives them when its address comes from facts that
    this run did not gather (a play run with --limit): reading the value fails."""

    def __getitem__(self, name):
        if name == "common_listen_address":  # what ansible-core 2.19 hands back: an undefined marker
            return jinja2.Undefined(hint="'dict object' has no attribute 'default_ipv4'")
        return super().__getitem__(name)


def test_an_address_from_facts_not_gathered_falls_back_to_the_roles_default():
    """Ansible works out every default of a role's spec on entry, so under --limit a read of a
    left-out host must not stop the play (known limit: the address is then the default's)."""
    host = FactsNotGathered(inventory_hostname="monitor1", common_listen_address="{{ ansible_facts... }}")
    assert wiring.address(host, "redis_listen_address") == "127.0.0.1:6379"
