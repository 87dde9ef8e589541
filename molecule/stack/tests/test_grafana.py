"""Grafana on monitor1 as an operator sees it: config, provisioning, dashboards, auth.

The files are checked on every run. The server checks need Grafana itself, which no registry here
carries: they run when the lab mirror holds a Grafana .deb, and are skipped otherwise, saying so.
"""

import configparser
import hashlib
import json
import os
import re
import shlex
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml
from lab_access import INVENTORY_DIR, MIRROR, PROJECT, SECRETS, lab, secret

DASHBOARDS = PROJECT / "roles" / "grafana" / "files" / "dashboards"
ADMIN_PASSWORD = secret("grafana_admin_password")
PROMETHEUS_PASSWORD = secret("prometheus_web_password")
MONITOR = lab("monitor1")
ADDRESS = MONITOR.interface("eth0").addresses[0]  # monitor1 listens on its lab address
GRAFANA = f"http://{ADDRESS}:3000"
DASHBOARD_DIR = "/var/lib/grafana/dashboards/llmobs"
FOLDER = "LLM gateway"


def mirror_package() -> str | None:
    """The Grafana .deb the lab mirror serves (what converge.yml installs), if any."""
    with urllib.request.urlopen(MIRROR + "/SHA256SUMS", timeout=10) as response:
        index = response.read().decode()
    debs = re.findall(r"(?m)^[0-9a-f]{64}\s+(files/grafana[^/\s]*\.deb)$", index)
    return sorted(debs)[-1] if debs else None


PACKAGE = mirror_package()


def need_server(check: str) -> None:
    """Skip a check that needs the Grafana server when the lab mirror has no package for it."""
    if PACKAGE is None:
        pytest.skip(
            f"SKIPPED Grafana server check ({check}): no Grafana package in the lab mirror, so the "
            "converge rendered config, provisioning and dashboards without installing Grafana. "
            "To run it, put a Grafana .deb (e.g. grafana_11.6.0_amd64.deb from "
            "https://dl.grafana.com/oss/release/) in mirror/files/, run `python -m llmobs.mirror index`, "
            "then `molecule test -s stack`."
        )


def shipped() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def read_ini() -> configparser.ConfigParser:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(MONITOR.file("/etc/grafana/grafana.ini").content_string)
    return ini


def api(path: str, auth: str | None = None) -> tuple[int, str]:
    """GET from Grafana on the host; (status, body)."""
    user = f"-u {shlex.quote(auth)}" if auth else ""
    url = shlex.quote(GRAFANA + path)
    out = MONITOR.run(f"curl -sS -o /tmp/grafana-body -w '%{{http_code}}' {user} {url}")
    return int(out.stdout or 0), MONITOR.file("/tmp/grafana-body").content_string


ADMIN = "admin:" + ADMIN_PASSWORD


# --- always: what the role renders and copies, with or without the server


def test_grafana_ini_listens_on_the_inventory_address_with_anonymous_access_off():
    ini = read_ini()
    assert ini["server"]["http_addr"] == ADDRESS
    assert ini["server"]["http_port"] == "3000"
    assert ini["auth.anonymous"]["enabled"] == "false"
    assert ini["users"]["allow_sign_up"] == "false"
    assert ini["security"]["disable_gravatar"] == "true"
    assert ini["analytics"]["reporting_enabled"] == "false"
    assert ini["paths"]["provisioning"] == "/etc/grafana/provisioning"


def test_grafana_ini_carries_the_generated_secrets_and_is_private():
    ini = read_ini()
    assert ini["security"]["admin_user"] == "admin"
    assert ini["security"]["admin_password"] == ADMIN_PASSWORD
    assert len(ini["security"]["secret_key"]) == 32
    assert ini["security"]["secret_key"] != "SW2YcwTIb9zpOOhoPsMm"  # Grafana's public default
    f = MONITOR.file("/etc/grafana/grafana.ini")
    assert (f.user, f.group, f.mode) == ("root", "grafana", 0o640)


def test_generated_secrets_are_private_on_the_control_node():
    for name in ("grafana_admin_password", "grafana_secret_key"):
        path = SECRETS / name
        assert path.stat().st_mode & 0o777 == 0o600, name
        assert len(path.read_text().strip()) == 32, name


def test_prometheus_data_source_has_the_fixed_uid_and_basic_auth():
    f = MONITOR.file("/etc/grafana/provisioning/datasources/llmobs.yml")
    assert (f.user, f.group, f.mode) == ("root", "grafana", 0o640)  # it holds a password
    sources = yaml.safe_load(f.content_string)["datasources"]
    assert [s["uid"] for s in sources] == ["prometheus"]
    source = sources[0]
    assert source["type"] == "prometheus"
    assert source["url"] == f"http://{ADDRESS}:9090"  # the monitoring host's Prometheus
    assert source["basicAuth"] is True
    assert source["basicAuthUser"] == "llmobs"
    assert source["secureJsonData"]["basicAuthPassword"] == PROMETHEUS_PASSWORD
    assert source["jsonData"]["timeInterval"] == "10s"  # Prometheus' scrape interval
    assert source["editable"] is False


def test_dashboard_provider_points_at_the_folder_with_ui_edits_off():
    f = MONITOR.file("/etc/grafana/provisioning/dashboards/llmobs.yml")
    assert (f.user, f.group, f.mode) == ("root", "grafana", 0o640)
    (provider,) = yaml.safe_load(f.content_string)["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == DASHBOARD_DIR
    assert provider["folder"] == FOLDER
    assert provider["allowUiUpdates"] is False
    assert provider["disableDeletion"] is True
    assert provider["updateIntervalSeconds"] == 30


def test_the_five_dashboards_are_in_place_as_built():
    expected = shipped()
    assert len(expected) == 5
    present = MONITOR.run(f"ls {DASHBOARD_DIR}").stdout.split()
    assert sorted(present) == sorted(expected)
    for name in expected:
        local = hashlib.sha256((DASHBOARDS / name).read_bytes()).hexdigest()
        assert MONITOR.file(f"{DASHBOARD_DIR}/{name}").sha256sum == local, name


def test_dashboards_have_one_owner():
    for path in ("/var/lib/grafana/dashboards", DASHBOARD_DIR):
        d = MONITOR.file(path)
        assert (d.user, d.group, d.mode) == ("root", "grafana", 0o755), path
    for name in shipped():
        f = MONITOR.file(f"{DASHBOARD_DIR}/{name}")
        assert (f.user, f.group, f.mode) == ("root", "grafana", 0o644), name


def test_grafana_account_cannot_log_in():
    user = MONITOR.user("grafana")
    assert user.group == "grafana"
    assert user.shell in ("/usr/sbin/nologin", "/bin/false")
    data = MONITOR.file("/var/lib/grafana")
    assert (data.user, data.group) == ("grafana", "grafana")


def test_unit_dropins_harden_grafana():
    dropin = MONITOR.file("/etc/systemd/system/grafana-server.service.d/40-hardening.conf")
    assert dropin.contains("^ProtectSystem=strict$")
    assert dropin.contains("^ReadWritePaths=/var/lib/grafana /var/log/grafana$")
    assert dropin.contains("^NoNewPrivileges=true$")
    assert MONITOR.file("/etc/systemd/system/grafana-server.service.d/90-container.conf").exists


def run_preflight(tmp_path: Path, settings: dict) -> subprocess.CompletedProcess:
    """The preflight play on monitor1 with settings given as extra vars (they win over the lab's
    group_vars, as a wrong value in an operator's inventory would win over the defaults)."""
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump(settings))
    return subprocess.run(
        [
            *("ansible-playbook", "-i", INVENTORY_DIR, "-e", f"@{bad}", "--limit", "monitor1"),
            str(PROJECT / "playbooks" / "preflight.yml"),
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        check=False,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
    )


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"grafana_install_method": "deb", "grafana_deb_sha256": ""}, "grafana_deb_sha256"),
        ({"grafana_install_method": "tarball"}, "grafana_install_method"),
        (
            {"grafana_install_method": "mirror", "grafana_install": True, "grafana_version": "0.0.1"},
            "grafana_install_method=mirror",
        ),
        ({"grafana_ini": {"security": {"admin_password": "admin"}}}, "grafana_ini.security"),
        ({"grafana_ini": {"server": {"http_port": "lots"}}}, "grafana_ini.server.http_port"),
    ],
    ids=[
        "deb-without-sha256",
        "unknown-method",
        "no-such-package-in-mirror",
        "admin-password-in-ini",
        "bad-port",
    ],
)
def test_a_wrong_inventory_value_fails_in_preflight_naming_it(tmp_path, settings, named):
    result = run_preflight(tmp_path, settings)
    assert result.returncode == 2, result.stdout[-2000:]
    assert named in result.stderr + result.stdout


# --- only with the server installed (a Grafana .deb in the lab mirror)


def test_the_mirrors_package_is_installed_and_runs_hardened():
    need_server("the package installed, grafana-server running hardened on monitor1's address")
    assert MONITOR.file("/usr/share/grafana/bin/grafana").exists
    service = MONITOR.service("grafana-server")
    assert service.is_running and service.is_enabled
    assert MONITOR.run("systemctl show grafana-server -p ProtectSystem --value").stdout.strip() == "strict"
    assert MONITOR.socket(f"tcp://{ADDRESS}:3000").is_listening
    assert not MONITOR.socket("tcp://0.0.0.0:3000").is_listening


def test_health_endpoint_reports_ok():
    need_server("/api/health answers ok")
    status, body = api("/api/health")
    assert status == 200, body
    assert json.loads(body)["database"] == "ok"


def test_the_admin_password_from_the_secrets_works():
    need_server("the admin password from the secrets works, admin/admin does not")
    status, body = api("/api/user", ADMIN)
    assert status == 200, body
    assert json.loads(body)["login"] == "admin"
    status, _ = api("/api/user", "admin:admin")
    assert status == 401


def test_anonymous_access_is_refused():
    need_server("anonymous access refused")
    for path in ("/api/search", "/api/dashboards/uid/llmobs-overview", "/api/datasources"):
        status, _ = api(path)
        assert status == 401, path


def test_search_lists_the_five_dashboards_in_their_folder():
    need_server("/api/search lists the five dashboards in their folder")
    status, body = api("/api/search?type=dash-db", ADMIN)
    assert status == 200, body
    found = {d["uid"]: d for d in json.loads(body)}
    for dashboard in shipped().values():
        assert dashboard["uid"] in found, dashboard["title"]
        assert found[dashboard["uid"]]["folderTitle"] == FOLDER
        assert found[dashboard["uid"]]["title"] == dashboard["title"]
        status, body = api(f"/api/dashboards/uid/{dashboard['uid']}", ADMIN)
        assert status == 200, body
        assert json.loads(body)["meta"]["provisioned"] is True


def test_the_prometheus_data_source_exists_with_uid_prometheus():
    need_server("the data source with uid prometheus exists")
    status, body = api("/api/datasources/uid/prometheus", ADMIN)
    assert status == 200, body
    source = json.loads(body)
    assert source["type"] == "prometheus"
    assert source["url"] == f"http://{ADDRESS}:9090"
    assert source["basicAuth"] is True
    assert source["basicAuthUser"] == "llmobs"
    assert source["secureJsonFields"].get("basicAuthPassword") is True
