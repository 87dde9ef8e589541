"""`simulate: auto` and the removal of simulators on a real systemd host (gateway2): a provider
whose address answers is used as it is; one where nothing answers is simulated; a provider that
leaves llm_providers takes its simulator, unit and port with it."""

import json
from pathlib import Path

import yaml
from lab_access import PROJECT, lab, playbook

GATEWAY = lab("gateway2")
PROVIDERS = yaml.safe_load((Path(PROJECT) / "inventory/lab/group_vars/all.yml").read_text())["llm_providers"]
EXTRA = [
    # nothing listens on 8019: simulated there
    {"name": "spare", "type": "llamacpp", "api_base": "http://127.0.0.1:8019/v1", "simulate": "auto",
     "models": [{"name": "spare-model", "weight": 0}]},
    # the lab's Ollama simulator answers on 11434, a backend like any other to this provider
    {"name": "shadow", "type": "ollama", "api_base": "http://127.0.0.1:11434", "simulate": "auto",
     "models": [{"name": "shadow-model", "weight": 0}]},
]  # fmt: skip


def simulators(providers: list[dict]):
    out = playbook(
        "gateways.yml", "--limit", "gateway2", "--tags", "llm_simulator",
        "-e", json.dumps({"llm_providers": providers}),
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    return out.stdout


def answers(port: int) -> bool:
    return GATEWAY.run(f"timeout 2 bash -c ': > /dev/tcp/127.0.0.1/{port}'").rc == 0


def test_auto_simulates_where_nothing_answers_and_a_removed_provider_takes_its_simulator():
    try:
        said = simulators(PROVIDERS + EXTRA)
        assert "spare: nothing answers on 127.0.0.1:8019; simulated there (simulate: auto)" in said
        assert "shadow: a backend answers on 127.0.0.1:11434; used as it is, not simulated" in said
        assert GATEWAY.service("llm-simulator-spare").is_running and answers(8019)
        assert not GATEWAY.file("/etc/systemd/system/llm-simulator-shadow.service").exists
        # a second run keeps what auto chose: the simulator answering on 8019 is ours
        again = simulators(PROVIDERS + EXTRA)
        assert "spare: simulated on 127.0.0.1:8019 (simulate: auto; the simulator runs already)" in again
    finally:
        simulators(PROVIDERS)
    assert not GATEWAY.file("/etc/systemd/system/llm-simulator-spare.service").exists
    assert not answers(8019)
    for name in ("ollama", "vllm", "llamacpp"):
        assert GATEWAY.service(f"llm-simulator-{name}").is_running
