"""The llmobs_secret lookup: every role's generated secrets, read and made in one place."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from llmobs import secrets

ROOT = Path(__file__).resolve().parents[1]
ANSIBLE = str(Path(sys.executable).parent / "ansible")


def lookup(expr: str, folder: Path) -> subprocess.CompletedProcess:
    """Evaluate a Jinja expression on localhost with the roles' lookup plugins, as a play would."""
    env = dict(os.environ, ANSIBLE_LOOKUP_PLUGINS=str(ROOT / "roles/common/lookup_plugins"))
    env.pop("LLMOBS_SECRETS_DIR", None)
    return subprocess.run(
        [ANSIBLE, "localhost", "-c", "local", "-i", "localhost,", "-m", "ansible.builtin.debug",
         "-a", f"msg={{{{ {expr} }}}}", "-e", json.dumps({"common_secrets_path": str(folder)})],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )  # fmt: skip


def message(out: subprocess.CompletedProcess):
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    return json.loads(text[text.index("{") :])["msg"]


def test_a_secret_is_generated_once_private_and_kept(tmp_path):
    folder = tmp_path / "secrets"
    first = message(lookup("lookup('llmobs_secret', 'redis_password')", folder))
    assert len(first) == secrets.LENGTH and first.isalnum()
    assert stat.S_IMODE((folder / "redis_password").stat().st_mode) == 0o600
    assert message(lookup("lookup('llmobs_secret', 'redis_password')", folder)) == first


def test_the_master_key_carries_litellms_prefix_and_its_file_does_not(tmp_path):
    key = message(lookup("lookup('llmobs_secret', 'litellm_master_key')", tmp_path))
    assert key.startswith("sk-") and key[3:] == (tmp_path / "litellm_master_key").read_text().strip()


def test_an_existing_file_is_read_as_it_is(tmp_path):
    """Secrets generated before the plugin (by ansible.builtin.password) keep their values."""
    (tmp_path / "grafana_secret_key").write_text("AlreadyThere123\n")
    assert message(lookup("lookup('llmobs_secret', 'grafana_secret_key')", tmp_path)) == "AlreadyThere123"


def test_names_lists_every_generated_secret(tmp_path):
    assert message(lookup("query('llmobs_secret', names=true)", tmp_path)) == list(secrets.GENERATED)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["redis", "../etc/passwd", ""])
def test_an_unknown_name_fails_naming_the_known_ones(tmp_path, name):
    out = lookup(f"lookup('llmobs_secret', {name!r})", tmp_path)
    assert out.returncode != 0
    assert "is not a secret the bundle generates; known: redis_password" in out.stdout + out.stderr
    assert list(tmp_path.iterdir()) == []


def test_every_role_reads_generated_secrets_through_the_lookup():
    """One expression for a secret: no role, playbook or test reads the files another way."""
    tracked = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=ROOT, check=True)
    offenders = [
        path
        for path in tracked.stdout.split()
        if path.endswith((".yml", ".j2")) and "ansible.builtin.password" in (ROOT / path).read_text()
    ]
    assert offenders == []


def test_a_value_the_owner_host_supplies_wins_and_nothing_is_generated(tmp_path):
    """A role reading another host's secret (the gateways' Redis password) takes the value that
    host's inventory supplies; the expression is evaluated lazily, so no file appears for it."""
    out = subprocess.run(
        [ANSIBLE, "localhost", "-c", "local", "-i", "localhost,redis1,", "-m", "ansible.builtin.debug",
         "-a", "msg={{ lookup('llmobs_secret', 'redis_password', host='redis1') }}",
         "-e", json.dumps({"common_secrets_path": str(tmp_path)}),
         "-e", "redis_password=supplied-in-the-vault"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env=dict(os.environ, ANSIBLE_LOOKUP_PLUGINS=str(ROOT / "roles/common/lookup_plugins")),
    )  # fmt: skip
    assert message(out) == "supplied-in-the-vault"
    assert list(tmp_path.iterdir()) == []
    missing = lookup("lookup('llmobs_secret', 'redis_password', host='nowhere')", tmp_path)
    assert "host 'nowhere' is not in the inventory" in missing.stdout + missing.stderr
