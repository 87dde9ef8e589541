"""How the stack's tests reach the lab: its hosts (testinfra over Ansible), secrets, Prometheus."""

import base64
import json
import os
import urllib.parse
import urllib.request
from pathlib import Path

import testinfra

PROJECT = Path(__file__).resolve().parents[3]
SECRETS = Path(os.environ["LLMOBS_SECRETS_DIR"])
INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
# the whole inventory (groups, group_vars from inventory/lab/) for playbooks, as molecule runs them
INVENTORY_DIR = str(Path(INVENTORY).parent)
MIRROR = "http://172.30.77.1:8765"
PROMETHEUS = "http://127.0.0.1:9090"  # monitor1's, published on the control node's loopback


def secret(name: str) -> str:
    return (SECRETS / name).read_text().strip()


KEY = "sk-" + secret("litellm_master_key")


def lab(name: str):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}")


def prometheus(path: str, **params: str) -> dict:
    """GET from the lab's Prometheus API with its basic-auth credential; the JSON's data."""
    url = f"{PROMETHEUS}{path}?{urllib.parse.urlencode(params)}"
    credential = base64.b64encode(f"llmobs:{secret('prometheus_web_password')}".encode()).decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {credential}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    assert answer["status"] == "success", answer
    return answer["data"]
