"""How the stack's tests reach the lab: its hosts (testinfra over Ansible), secrets, gateways,
Prometheus; they wait with llmobs.waiting.wait_until (a bound, and what was waited for)."""

import base64
import json
import os
import shlex
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import testinfra

from llmobs.client import Client, ClientError
from llmobs.waiting import wait_until

PROJECT = Path(__file__).resolve().parents[3]
SECRETS = Path(os.environ["LLMOBS_SECRETS_DIR"])


def _own_copy(copy: Path) -> Path:
    """The scenario's inventory and ansible.cfg, copied once for these tests (links resolved).

    lab/molecule-check.sh runs molecule's idempotence step beside the tests, and every molecule
    command rewrites these files and re-creates the group_vars link as it starts: a playbook or a
    host lookup of the tests must never read them half-written. The copy appears whole (renamed
    into place); the script starts the idempotence run once it exists."""
    if not copy.exists():
        source = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
        building = copy.with_name(copy.name + ".part")
        shutil.rmtree(building, ignore_errors=True)
        shutil.copytree(source, building / "inventory", symlinks=False)
        shutil.copyfile(os.environ["ANSIBLE_CONFIG"], building / "ansible.cfg")
        building.rename(copy)
    os.environ["ANSIBLE_CONFIG"] = str(copy / "ansible.cfg")  # for every playbook the tests run
    return copy / "inventory" / Path(os.environ["MOLECULE_INVENTORY_FILE"]).name


_COPY = os.environ.get("LLMOBS_LAB_COPY")
INVENTORY = str(_own_copy(Path(_COPY))) if _COPY else os.environ["MOLECULE_INVENTORY_FILE"]
# the whole inventory (groups, group_vars from inventory/lab/) for playbooks, as molecule runs them
INVENTORY_DIR = str(Path(INVENTORY).parent)
MIRROR = "http://172.30.77.1:8765"
# published on the control node's loopback (molecule.yml)
GATEWAYS = {"gateway1": "http://127.0.0.1:4000", "gateway2": "http://127.0.0.1:4001"}
PROMETHEUS = "http://127.0.0.1:9090"
ALERTMANAGER = "http://127.0.0.1:9093"
REQUEST_LOG = "/var/log/litellm/requests.log"
# the simulated backend of each model on a gateway host (inventory/lab: vLLM listens on the host's
# lab address, so that Prometheus scrapes it; the others on loopback)
SIMULATORS = {
    "llama3.1:8b": "127.0.0.1:11434",
    "qwen-coder-vllm": "{host}:8001",
    "llama-3.2-3b-llamacpp": "127.0.0.1:8000",
}


def secret(name: str) -> str:
    return (SECRETS / name).read_text().strip()


KEY = "sk-" + secret("litellm_master_key")


def lab(name: str):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}")


def basic_auth(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """(status, body) of a GET from the control node; an error status is an answer, not a failure."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def prometheus(path: str, **params: str) -> Any:
    """GET from the lab's Prometheus API with its basic-auth credential; the JSON's data."""
    url = f"{PROMETHEUS}{path}?{urllib.parse.urlencode(params)}"
    status, body = http_get(url, basic_auth("llmobs", secret("prometheus_web_password")))
    answer = json.loads(body)
    assert status == 200 and answer["status"] == "success", answer
    return answer["data"]


def until_quiet(alert: str, instance: str | None = None, timeout: float = 420) -> None:
    """Wait until Prometheus has no firing or pending ``alert`` (for ``instance``, or any): a check
    that an alert fires must not see one that an earlier test left (an error ratio over 5 minutes
    takes up to that long to fall)."""

    def live() -> list[dict]:
        return [
            a
            for a in prometheus("/api/v1/alerts")["alerts"]
            if a["labels"].get("alertname") == alert and instance in (None, a["labels"].get("instance"))
        ]

    where = f" on {instance}" if instance else ""
    wait_until(live, timeout, f"{alert} to be quiet{where}", until=lambda found: not found, every=5)


# The lab's simulated GPUs answer about 220 tokens at 45/s with four requests at a time: the
# tests ask for short answers, so that a burst of 40 is done in seconds, not in a minute.
MAX_TOKENS = 16


def chat(gateway: str, model: str, prompt: str, **options: Any):
    """One short chat completion through a gateway, from the control node (llmobs.client's
    ChatResult)."""
    with Client(GATEWAYS[gateway], KEY) as client:
        return client.chat(model, prompt, **{"max_tokens": MAX_TOKENS, **options})


def outcome(gateway: str, model: str, prompt: str, **options: Any) -> str:
    """The HTTP status of one chat completion as a string, or the client's error class."""
    try:
        return str(chat(gateway, model, prompt, **options).status)
    except ClientError as error:
        return str(error.status or type(error).__name__)


def burst(gateway: str, model: str, prompts: list[str], ids: list[str] | None = None) -> list[str]:
    """The prompts sent at once (one connection each); their outcomes, in order."""
    ids = ids or [None] * len(prompts)
    with ThreadPoolExecutor(len(prompts)) as pool:
        return list(pool.map(lambda p, i: outcome(gateway, model, p, request_id=i), prompts, ids))


def log_records(host, *needles: str) -> list[dict]:
    """The request-log records (current and last rotated file) whose line holds every needle."""
    grep = " | ".join(f"grep -F -- {shlex.quote(n)}" for n in needles) or "cat"
    text = host.run(f"cat {REQUEST_LOG}.1 {REQUEST_LOG} 2>/dev/null | {grep}").stdout
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def logged(host, request_id: str, timeout: float = 20) -> dict:
    """The one record of a request, once the gateway's writer thread has written it."""
    records = wait_until(
        lambda: [r for r in log_records(host, request_id) if r["request_id"] == request_id],
        timeout,
        f"the request log of {host.backend.hostname} to record {request_id}",
    )
    assert len(records) == 1, records
    return records[0]


def faults(gateway: str, model: str, setting: dict) -> None:
    """Switch the faults of the simulated backend that serves ``model`` on a gateway host."""
    token = secret("llm_simulator_admin_token")
    result = lab(gateway).run(
        f"curl -fsS -H 'Authorization: Bearer {token}' -d {shlex.quote(json.dumps(setting))} "
        f"http://{SIMULATORS[model].format(host=gateway)}/admin/faults"
    )
    assert result.rc == 0, result.stderr


def playbook(name: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """One of the bundle's playbooks, run from the control node on the lab's inventory."""
    return subprocess.run(
        ["ansible-playbook", "-i", INVENTORY_DIR, str(PROJECT / "playbooks" / name), *args],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        timeout=timeout,
        check=False,
    )
