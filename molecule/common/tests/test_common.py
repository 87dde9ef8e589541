"""The shared helper role, seen on a host: account, download, venv, service, container drop-in."""


def test_service_account_cannot_log_in(host):
    user = host.user("llmobs-probe")
    assert user.shell == "/usr/sbin/nologin"
    assert host.file("/var/lib/llmobs-probe").user == "llmobs-probe"
    assert host.file("/var/lib/llmobs-probe").mode == 0o750
    assert host.file("/etc/llmobs-probe").user == "root"


def test_download_from_the_mirror_matches_the_pinned_sha256(host):
    wheel = host.file("/var/lib/llmobs-probe/llmobs.whl")
    served = host.run("curl -fsS http://172.30.77.1:8765/SHA256SUMS").stdout
    assert f"{wheel.sha256sum}  wheels/llmobs-" in served


def test_a_wrong_sha256_is_refused_and_leaves_no_file(host):
    assert not host.file("/var/lib/llmobs-probe/refused.whl").exists
    assert "checksum" in host.file("/var/lib/llmobs-probe/refusal.txt").content_string.lower()


def test_a_whole_venv_from_the_mirror_works_where_it_was_unpacked(host):
    venv = "/opt/llmobs-probe-whole"
    assert host.run(f"{venv}/bin/python -c 'import yaml; print(yaml.__version__)'").stdout.strip() == "6.0.4"
    stamp = host.file(f"{venv}/.llmobs-artifact").content_string.strip()
    index = host.run("curl -fsS http://172.30.77.1:8765/SHA256SUMS").stdout
    [line] = [line for line in index.splitlines() if line.startswith(stamp)]
    assert line.split()[1].startswith("files/venvs/llmobs-probe-whole-py3.11")
    assert not host.file("/var/cache/llmobs").listdir()  # the download is dropped once unpacked


def test_venv_installed_from_the_wheelhouse_works(host):
    out = host.run("/opt/llmobs-probe/bin/python -c 'import llmobs; print(llmobs.__version__)'")
    assert out.rc == 0 and out.stdout.strip() == "0.1.0"
    assert host.run("/opt/llmobs-probe/bin/llmobs-mirror --help").rc == 0


def test_service_runs_as_its_account_and_answers(host):
    service = host.service("llmobs-probe")
    assert service.is_running and service.is_enabled
    pid = host.run("systemctl show llmobs-probe -p MainPID --value").stdout.strip()
    assert host.file(f"/proc/{pid}").user == "llmobs-probe"
    assert host.run("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8799/").stdout in ("200", "404")


def test_the_sandbox_is_the_bundles_with_the_callers_override_and_the_container_relaxation(host):
    sandbox = host.file("/etc/systemd/system/llmobs-probe.service.d/40-hardening.conf")
    assert sandbox.contains("^PrivateUsers=true$") and sandbox.contains("^SystemCallFilter=@system-service$")
    assert sandbox.contains("^ProtectHome=read-only$") and not sandbox.contains("^ProtectHome=true$")
    dropin = host.file("/etc/systemd/system/llmobs-probe.service.d/90-container.conf")
    assert dropin.contains("^PrivateUsers=false")
    show = "systemctl show llmobs-probe -p ProtectSystem -p ProtectHome -p PrivateUsers"
    effective = set(host.run(show).stdout.split())
    assert effective == {"ProtectSystem=strict", "ProtectHome=read-only", "PrivateUsers=no"}
