"""inventory/example is a whole, real cluster and passes preflight as it stands; a wrong value in it
fails preflight naming the value.

Preflight (playbooks/preflight.yml) runs unchanged against the example's four hosts, which do not
exist, and reaches none of them:

- Facts: each host's are those of a Debian 12 host with systemd
  (fixtures/facts-debian12-systemd.json, plus the host's name and address), put in a jsonfile fact
  cache. With ``gathering = smart`` Ansible skips the play's ``gather_facts: true`` for a host
  whose cached facts are marked gathered. The run shows no fact gathering, and its systemd check
  passes although this machine has no systemd: the facts are the fixture's.
- No connection override: every preflight task runs on the control node (assertions, argument
  specs, the secrets folder delegated to localhost). A check that needs the host itself would show
  here as an unreachable host, and the test fails on it.
- Secrets are generated in a temporary folder (LLMOBS_SECRETS_DIR).

The runs are independent and start together (about 10 s of CPU for the whole example, 3 s for each
one-host rejection).
"""

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from test_inventories import inventory as list_inventory

from llmobs import providers

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FACTS = Path(__file__).resolve().parent / "fixtures" / "facts-debian12-systemd.json"
GPU1, GPU2, MON1, LOAD1 = (f"{h}.example.internal" for h in ("gpu1", "gpu2", "mon1", "load1"))
# The checks of every role, each on the hosts of its group (the preflight play's include_role
# list); validate.yml names its task after the role.
CHECKED = {
    "redis": [MON1],
    "litellm": [GPU1, GPU2],
    "node_exporter": [GPU1, GPU2, MON1, LOAD1],
    "alertmanager": [MON1],
    "prometheus": [MON1],
    "grafana": [MON1],
    "locust": [LOAD1],
    "k6": [LOAD1],
}


def cache_facts(folder: Path, hostvars: dict, overrides: dict[str, dict]) -> None:
    """A jsonfile fact cache with the fixture's facts for every host, marked as gathered (what
    gather_facts marks), written through Ansible's own cache plugin."""
    from ansible.plugins.loader import cache_loader

    cache = cache_loader.get("jsonfile", _uri=str(folder))
    facts = json.loads(FACTS.read_text())
    for host, variables in hostvars.items():
        name, _, domain = host.partition(".")
        address = variables.get("common_listen_address", "127.0.0.1")
        per_host = {
            "ansible_hostname": name,
            "ansible_nodename": name,
            "ansible_fqdn": host,
            "ansible_domain": domain,
            "ansible_default_ipv4": {"address": address, "interface": "eno1", "type": "ether"},
            "ansible_all_ipv4_addresses": [address],
        }
        cache.set(host, {**facts, **per_host, **overrides.get(host, {}), "_ansible_facts_gathered": True})


def start_preflight(
    folder: Path, hostvars: dict, args: list[str], facts: dict[str, dict]
) -> subprocess.Popen:
    folder.mkdir()
    cache_facts(folder / "facts", hostvars, facts)
    env = {
        **os.environ,
        "ANSIBLE_CACHE_PLUGIN": "jsonfile",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(folder / "facts"),
        "ANSIBLE_GATHERING": "smart",
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "ANSIBLE_NOCOLOR": "1",
        "LLMOBS_SECRETS_DIR": str(folder / "secrets"),
    }
    return subprocess.Popen(
        [str(BIN / "ansible-playbook"), "-i", "inventory/example", "playbooks/preflight.yml", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env=env,
    )


# Wrong values preflight must reject: the host whose check fails, the run's extra arguments ({tmp}
# is the runs' folder), facts that replace the fixture's, and what the failure must say. The
# provider case breaks the example's own list (one api_base loses its scheme); the facts case makes
# the cache say the host runs another init (which also shows that preflight reads the cached facts).
REJECTED = {
    "redis_maxmemory": (
        MON1,
        ["-e", "redis_maxmemory=lots"],
        {},
        f"redis_maxmemory=lots on {MON1} is invalid",
    ),
    "litellm_num_workers": (
        GPU1,
        ["-e", "litellm_num_workers=four"],
        {},
        "argument 'litellm_num_workers' is of type str and we were unable to convert to int: \"'four'\"",
    ),
    # every listen address is host:port; an IPv6 one in brackets
    "litellm_listen_address": (
        GPU1,
        ["-e", "litellm_listen_address=10.0.0.5"],
        {},
        f"litellm_listen_address on {GPU1} is invalid: '10.0.0.5' is not host:port"
        " with a port from 1 to 65535",
    ),
    "node_exporter_listen_address": (
        MON1,
        ["-e", "node_exporter_listen_address=::1:9100"],
        {},
        "'::1:9100': write an IPv6 address in brackets, as [::1]:9100",
    ),
    "litellm_fallbacks": (
        GPU1,
        ["-e", json.dumps({"litellm_fallbacks": [{"qwen2.5-coder-7b": ["qwen2.5-coder:14b"]}]})],
        {},
        "fallback 'qwen2.5-coder-7b' -> 'qwen2.5-coder:14b': no such model",
    ),
    "llm_providers": (
        GPU2,
        ["-e", "@{tmp}/broken-providers.json"],
        {},
        "provider 'vllm-gpu1' (entry 1): api_base 'gpu1.example.internal:8000/v1' is not an http(s) URL",
    ),
    # a vaulted secret is the one the play uses: too short, it fails the check of its length
    "vaulted_redis_password": (
        MON1,
        ["-e", "@{tmp}/vaulted-short.yml", "--vault-password-file", "{tmp}/vault-password"],
        {},
        "redis_password must have at least 16 characters",
    ),
    "service_mgr": (
        LOAD1,
        [],
        {LOAD1: {"ansible_service_mgr": "sysvinit"}},
        f"{LOAD1} runs sysvinit as init",
    ),
}


def vault(folder: Path, name: str, value: str) -> None:
    """redis_password encrypted with ansible-vault, as README shows, into folder/name."""
    password = folder / "vault-password"
    password.write_text("example-test\n")
    encrypted = subprocess.run(
        [str(BIN / "ansible-vault"), "encrypt_string", "--vault-password-file", str(password),
         "--name", "redis_password", value],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    (folder / name).write_text(encrypted.stdout)


@pytest.fixture(scope="module")
def inventory() -> dict:
    return list_inventory("inventory/example")


@pytest.fixture(scope="module")
def runs(inventory, tmp_path_factory) -> dict[str, tuple[int, str, Path]]:
    """The example's preflight, and one run per wrong value, all at once: (rc, output, folder)."""
    base = tmp_path_factory.mktemp("preflight")
    hostvars = inventory["_meta"]["hostvars"]
    broken = copy.deepcopy(hostvars[GPU1]["llm_providers"])
    broken[0]["api_base"] = broken[0]["api_base"].removeprefix("http://")
    (base / "broken-providers.json").write_text(json.dumps({"llm_providers": broken}))
    vault(base, "vaulted-short.yml", "short-secret")
    vault(base, "vaulted.yml", "a-long-random-value-from-the-vault")
    supplied = ["-e", f"@{base}/vaulted.yml", "--vault-password-file", f"{base}/vault-password"]
    cases = {"example": ([], {}), "vaulted": (supplied, {})} | {
        name: (["--limit", host, *(a.replace("{tmp}", str(base)) for a in args)], facts)
        for name, (host, args, facts, _) in REJECTED.items()
    }
    started = {
        name: (start_preflight(base / name, hostvars, args, facts), base / name)
        for name, (args, facts) in cases.items()
    }
    results = {}
    for name, (process, folder) in started.items():
        out, _ = process.communicate(timeout=300)
        results[name] = (process.returncode, out, folder)
    return results


def recap(out: str) -> dict[str, dict[str, int]]:
    return {
        host: {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)}
        for host, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", out, re.M)
    }


def test_the_example_passes_preflight_on_every_host(runs):
    rc, out, folder = runs["example"]
    assert rc == 0, out
    stats = recap(out)
    assert set(stats) == {GPU1, GPU2, MON1, LOAD1}, out
    for host, counts in stats.items():
        assert counts["failed"] == 0 and counts["unreachable"] == 0, f"{host}: {counts}\n{out}"
    # the facts came from the cache: nothing was gathered, nothing reached
    assert "TASK [Gathering Facts]" not in out
    for role, hosts in CHECKED.items():
        task = f"TASK [common : Validate the settings of role {role}]"
        assert task in out, f"preflight did not check {role}"
        section = out.split(task, 1)[1].split("TASK [", 1)[0]
        assert sorted(re.findall(r"^ok: \[(\S+)\]", section, re.M)) == sorted(hosts), section
    secrets = folder / "secrets"
    assert {"redis_password", "litellm_master_key"} <= {p.name for p in secrets.iterdir()}
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in secrets.iterdir())


@pytest.mark.parametrize("case", REJECTED)
def test_preflight_rejects_a_wrong_value_naming_it(runs, case):
    host, _, _, message = REJECTED[case]
    rc, out, _ = runs[case]
    assert rc != 0, out
    assert message in out, out
    assert recap(out)[host]["failed"] == 1 and recap(out)[host]["unreachable"] == 0, out


def test_the_example_is_two_gpu_hosts_with_real_backends(inventory):
    hostvars = inventory["_meta"]["hostvars"]
    assert set(inventory["gateways"]["hosts"]) == {GPU1, GPU2}
    assert set(inventory["redis"]["hosts"]) == set(inventory["monitoring"]["hosts"]) == {MON1}
    assert set(inventory["loadgen"]["hosts"]) == {LOAD1}
    listed = hostvars[GPU1]["llm_providers"]
    # one list for every host: the gateways, Prometheus and the load generators read the same
    assert all(h["llm_providers"] == listed for h in hostvars.values())
    assert providers.problems(listed) == []
    assert providers.simulated_instances(listed) == [], "the example must not start simulators"
    # each GPU host serves one real backend on that server's own default port
    served = {(urlsplit(p["api_base"]).hostname, p["type"], urlsplit(p["api_base"]).port) for p in listed}
    assert served == {(GPU1, "vllm", 8000), (GPU2, "ollama", 11434)}
    fallbacks = hostvars[GPU1]["litellm_fallbacks"]
    assert fallbacks and providers.fallback_problems(listed, fallbacks) == []


def test_a_vaulted_secret_is_used_and_nothing_is_generated_for_it(runs):
    rc, out, folder = runs["vaulted"]
    assert rc == 0, out
    generated = {p.name for p in (folder / "secrets").iterdir()}
    assert "redis_password" not in generated and "litellm_master_key" in generated, generated


def test_the_example_holds_no_secret(inventory):
    """Secrets are generated on the control node or vaulted; a plain one in git fails here."""
    secretish = re.compile(r"(password|secret|token|_key)$")
    for host, variables in inventory["_meta"]["hostvars"].items():
        for name, value in variables.items():
            if secretish.search(name):
                assert isinstance(value, dict) and "__ansible_vault" in value, f"{host}: {name} in plain text"
        for provider in variables.get("llm_providers", []):
            assert "api_key" not in provider or "vault" in str(provider["api_key"]), (
                f"{host}: api_key in plain text"
            )
