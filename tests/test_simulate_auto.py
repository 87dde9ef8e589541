"""`simulate: auto` on a host (roles/llm_simulator/tasks/choose.yml, run by Ansible as the role
runs it): a provider whose address answers is a real backend and is never simulated; one where
nothing answers is. What the host runs (systemd) is not needed here: no simulator runs."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml
from test_client import free_port

ROOT = Path(__file__).resolve().parents[1]


def choose(tmp_path: Path, providers: list[dict]) -> tuple[dict, str]:
    out = tmp_path / "choice.json"
    play = [
        {
            "name": "Choose",
            "hosts": "localhost",
            "gather_facts": False,
            "vars": {
                "llm_providers": providers,
                "llm_simulator_enabled": True,
                "llm_simulator_probe_timeout_s": 2,
                "llm_simulator_instances": "{{ llm_providers | llmobs_simulated_instances }}",
            },
            "tasks": [
                {"ansible.builtin.include_tasks": str(ROOT / "roles/llm_simulator/tasks/choose.yml")},
                {
                    "ansible.builtin.copy": {
                        "content": "{{ llm_simulator_choice | to_json }}",
                        "dest": f"{out}",
                    }
                },
            ],
        }
    ]
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_FILTER_PLUGINS=str(ROOT / "roles/common/filter_plugins"))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
         "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(out.read_text()), result.stdout


def provider(name: str, port: int, simulate) -> dict:
    return {
        "name": name,
        "type": "vllm",
        "api_base": f"http://127.0.0.1:{port}/v1",
        "simulate": simulate,
        "models": [{"name": f"model-{name}"}],
    }


def test_a_backend_that_answers_is_used_and_an_empty_address_is_simulated(tmp_path):
    with socket.socket() as real:  # a backend already serving on its port
        real.bind(("127.0.0.1", 0))
        real.listen()
        real_port = real.getsockname()[1]
        empty_port = free_port()
        choice, output = choose(
            tmp_path,
            [provider("real", real_port, "auto"), provider("empty", empty_port, "auto"),
             provider("forced", empty_port + 1, True), provider("off", empty_port + 2, False)],
        )  # fmt: skip
    assert [i["name"] for i in choice["run"]] == ["empty", "forced"]
    said = f"real: a backend answers on 127.0.0.1:{real_port}; used as it is, not simulated (simulate: auto)"
    assert said in output  # the play says what it chose
    assert f"empty: nothing answers on 127.0.0.1:{empty_port}; simulated there (simulate: auto)" in output
