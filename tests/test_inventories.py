"""The inventories place hosts in the fixed groups the playbooks target."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GROUPS = ("gateways", "redis", "monitoring", "loadgen")


def inventory(path: str) -> dict:
    out = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-inventory"), "-i", path, "--list"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout)


def members(inv: dict, group: str) -> set[str]:
    return set(inv.get(group, {}).get("hosts", []))


def test_local_default_is_one_host_in_every_group():
    inv = inventory("inventory/local.yml")
    for group in GROUPS:
        assert members(inv, group) == {"localhost"}
    host = inv["_meta"]["hostvars"]["localhost"]
    assert host["ansible_connection"] == "local"
    assert host["common_listen_address"] == "127.0.0.1"


def test_lab_has_five_hosts_with_redis_on_the_monitoring_host():
    inv = inventory("inventory/lab")
    assert members(inv, "gateways") == {"gateway1", "gateway2"}
    assert members(inv, "redis") == {"monitor1"}
    assert members(inv, "monitoring") == {"monitor1"}
    assert members(inv, "loadgen") == {"loadgen1", "loadgen2"}
    for host in inv["_meta"]["hostvars"].values():
        assert host["ansible_connection"] == "community.docker.docker"
        assert host["common_mirror_url"].startswith("http://172.30.77.1:")


@pytest.mark.parametrize("path", ["inventory/local.yml", "inventory/lab", "inventory/example"])
def test_every_inventory_names_its_site(path):
    inv = inventory(path)
    sites = {h.get("common_site") for h in inv["_meta"]["hostvars"].values()}
    assert len(sites) == 1 and None not in sites
