"""What an operator sees on a Redis host deployed by the bundle."""

import os
import subprocess
from pathlib import Path

import pytest

PASSWORD = (Path(os.environ["LLMOBS_SECRETS_DIR"]) / "redis_password").read_text().strip()
PROJECT = Path(__file__).resolve().parents[3]


def test_redis_runs_and_starts_at_boot(host):
    service = host.service("redis-server")
    assert service.is_running
    assert service.is_enabled


def test_redis_listens_on_loopback_only_in_a_single_host_setup(host):
    assert host.socket("tcp://127.0.0.1:6379").is_listening
    assert not host.socket("tcp://0.0.0.0:6379").is_listening


def test_commands_without_the_password_are_refused(host):
    result = host.run("redis-cli -h 127.0.0.1 -p 6379 ping")
    assert "NOAUTH" in result.stdout + result.stderr


def test_a_wrong_password_is_refused(host):
    result = host.run("REDISCLI_AUTH=wrong-password redis-cli --no-auth-warning -p 6379 ping")
    assert "PONG" not in result.stdout
    assert "WRONGPASS" in result.stdout + result.stderr


def test_commands_with_the_generated_password_are_accepted(host):
    result = host.run(f"REDISCLI_AUTH={PASSWORD} redis-cli --no-auth-warning -p 6379 set llmobs:probe ok")
    assert result.stdout.strip() == "OK"
    get = host.run(f"REDISCLI_AUTH={PASSWORD} redis-cli --no-auth-warning -p 6379 get llmobs:probe")
    assert get.stdout.strip() == "ok"


def test_generated_secret_is_private_on_the_control_node():
    path = Path(os.environ["LLMOBS_SECRETS_DIR"]) / "redis_password"
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(PASSWORD) == 32


def test_files_holding_the_password_are_not_world_readable(host):
    for path, owner in (
        ("/etc/redis/redis.conf", "redis"),
        ("/etc/default/prometheus-redis-exporter", "root"),
    ):
        f = host.file(path)
        assert f.user == owner
        assert f.mode & 0o007 == 0, path


def test_memory_cap_and_policy_are_applied(host):
    run = f"REDISCLI_AUTH={PASSWORD} redis-cli --no-auth-warning -p 6379"
    assert host.run(f"{run} config get maxmemory").stdout.split()[1] == str(256 * 1024 * 1024)
    assert host.run(f"{run} config get maxmemory-policy").stdout.split()[1] == "allkeys-lru"


def test_container_dropin_relaxes_only_inside_containers(host):
    dropin = host.file("/etc/systemd/system/redis-server.service.d/90-container.conf")
    assert dropin.contains("PrivateUsers=false")
    # the distribution's hardening itself stays in its unit, for real hosts
    assert host.file("/lib/systemd/system/redis-server.service").contains("^PrivateUsers=true")


def test_exporter_is_hardened_and_reports_redis_up(host):
    exporter = host.service("prometheus-redis-exporter")
    assert exporter.is_running
    assert (
        host.run("systemctl show prometheus-redis-exporter -p ProtectSystem --value").stdout.strip()
        == "strict"
    )
    metrics = host.run("curl -fsS http://127.0.0.1:9121/metrics").stdout
    assert "\nredis_up 1\n" in metrics


def test_exporter_is_authenticated_to_redis(host):
    metrics = host.run("curl -fsS http://127.0.0.1:9121/metrics").stdout
    # the exporter reads INFO, which needs the password: connected clients are reported
    assert "redis_connected_clients " in metrics


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("127.0.0.1:63a79", "redis_listen_address"),
        ("127.0.0.1:70000", "redis_listen_address"),
        ("lots", "redis_maxmemory"),
        ("sometimes", "redis_persistence"),
    ],
)
def test_a_wrong_inventory_value_fails_in_preflight_naming_it(tmp_path, value, named):
    bad = tmp_path / "bad.yml"
    bad.write_text(f"all:\n  vars:\n    {named}: '{value}'\n")
    result = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            os.environ["MOLECULE_INVENTORY_FILE"],
            "-i",
            str(bad),
            str(PROJECT / "playbooks" / "preflight.yml"),
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        check=False,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
    )
    assert result.returncode == 2
    errors = result.stderr  # ansible-core prints task errors on stderr
    assert named in errors
    assert value in errors
