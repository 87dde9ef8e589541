"""The alert rules as Prometheus gets them: rendered the way the prometheus role renders them
([[ ]] delimiters, the role's defaults), checked by promtool, and unit-tested by promtool
against tests/rules/*.test.yml (series in, expected alerts with labels and annotations out).

promtool is Debian 12's (2.42, what the hosts run), fetched by lab/promtool.sh into
.cache/tools/promtool (`make unit` does it); PROMTOOL names another binary.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import jinja2
import jinja2.meta
import pytest
import yaml

from llmobs.cli import tool_module

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "roles" / "prometheus" / "templates" / "rules"
DEFAULTS = ROOT / "roles" / "prometheus" / "defaults" / "main.yml"
TEST_FILES = ROOT / "tests" / "rules"
# Test files that run against rules rendered with other values than the role's defaults.
VARIANTS = {"slo_999.test.yml": {"prometheus_slo_availability": 0.999}}
SEVERITIES = {"page", "ticket", "warning"}
ANNOTATIONS = {"summary", "description", "runbook"}
# The bundle's tools a runbook may send the on-call to (on the gateways' and the load hosts' PATH,
# in scripts/ and playbooks/ of the clone), with the module whose parser reads a script's flags.
SCRIPTS = ("tail-requests.py", "analyze-logs.py", "test-request.py", "profile-latency.py")
SCRIPTS += ("compare-providers.py",)
TOOLS = {name: tool_module(name) for name in SCRIPTS} | {"fetch-logs.yml": None, "test-routing.yml": None}
SYSTEMD = "systemctl"
SLO_ALERTS = [f"LiteLLMErrorBudgetBurn{speed}" for speed in ("Fast", "Medium", "Slow", "Chronic")]
# Each alert's first step: the tool that investigates it, or systemd for the infrastructure alerts
# whose cause no request log shows (an exporter, Redis or the gateway link to it, the scrape job).
FIRST_STEP = {
    "LiteLLMHighErrorRate": "tail-requests.py",
    "LiteLLMHighLatencyP95": "profile-latency.py",
    "LiteLLMDeploymentOutage": "test-request.py",
    "LiteLLMGatewayDown": "test-request.py",
    "LiteLLMGatewayAbsent": SYSTEMD,
    "LiteLLMRequestLogLinesLost": SYSTEMD,
    "ScrapeTargetDown": SYSTEMD,
    "LiteLLMRedisErrors": SYSTEMD,
    "LiteLLMRedisCircuitBreakerOpen": SYSTEMD,
    "RedisDown": SYSTEMD,
    **dict.fromkeys(SLO_ALERTS, "fetch-logs.yml"),
}
# Alerts about a service that is down: after the tool (if any), the runbook checks it with systemd.
SERVICE_DOWN = {"LiteLLMGatewayDown", "ScrapeTargetDown", "RedisDown", "LiteLLMRedisCircuitBreakerOpen"}
# A script's command in a runbook: its name (a path before it allowed), then its arguments up to
# the first ; , ( ) or a colon or full stop that ends a clause.
COMMAND = re.compile(r"(?:\S*/)?(?P<tool>[\w-]+\.py)(?P<args>.*?)(?=[;,()]|[:.](?:\s|$)|$)")


def environment() -> jinja2.Environment:
    """The template module's settings as the role uses them (trim_blocks is Ansible's default)."""
    return jinja2.Environment(
        variable_start_string="[[",
        variable_end_string="]]",
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
    )


def render(dest: Path, overrides: dict) -> Path:
    values = yaml.safe_load(DEFAULTS.read_text()) | overrides
    env = environment()
    dest.mkdir(parents=True)
    for template in sorted(TEMPLATES.glob("*.yml.j2")):
        text = env.from_string(template.read_text()).render(values)
        (dest / template.name.removesuffix(".j2")).write_text(text)
    return dest


def rule_test_files() -> list[Path]:
    return sorted(TEST_FILES.glob("*.test.yml"))


def alerts(rules_dir: Path) -> list[dict]:
    found = []
    for path in sorted(rules_dir.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            found += [rule for rule in group["rules"] if "alert" in rule]
    return found


def promtool_or_skip() -> str:
    path = os.environ.get("PROMTOOL") or str(ROOT / ".cache" / "tools" / "promtool")
    try:
        subprocess.run([path, "--version"], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        message = (
            f"promtool not found at {path}: run lab/promtool.sh (Debian: takes it from the prometheus "
            "package without installing it), or set PROMTOOL to a promtool 2.42"
        )
        # On Debian (the supported control node, and CI) the rules must be proven, not skipped.
        if Path("/etc/debian_version").exists():
            pytest.fail(message)
        pytest.skip(message)
    return path


def promtool_run(promtool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def promtool() -> str:
    return promtool_or_skip()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    """Each test file's name -> a folder holding it next to the rules it tests."""
    base = tmp_path_factory.mktemp("rules")
    folders = {"defaults": render(base / "defaults", {})}
    placed = {}
    for test_file in rule_test_files():
        if test_file.name in VARIANTS:
            folder = render(base / test_file.stem, VARIANTS[test_file.name])
        else:
            folder = folders["defaults"]
        shutil.copy(test_file, folder)
        placed[test_file.name] = folder
    return {"defaults": folders["defaults"], **placed}


def test_templates_use_only_the_alert_variables_of_the_defaults():
    defaults = yaml.safe_load(DEFAULTS.read_text())
    env = environment()
    for template in sorted(TEMPLATES.glob("*.yml.j2")):
        text = template.read_text()
        assert "{%" not in text and "{#" not in text, f"{template.name}: Jinja blocks or comments"
        used = jinja2.meta.find_undeclared_variables(env.parse(text))
        assert used, f"{template.name} uses no variable"
        for name in used:
            assert name.startswith(("prometheus_alert_", "prometheus_slo_")), f"{template.name}: {name}"
            assert name in defaults, f"{template.name}: {name} is not in defaults/main.yml"


def test_every_variant_and_test_file_is_known():
    names = {path.name for path in rule_test_files()}
    assert set(VARIANTS) <= names
    assert len(names) >= 4


@pytest.mark.parametrize("variant", ["defaults", *VARIANTS])
def test_rendered_rules_pass_promtool_check(promtool, rendered, variant):
    folder = rendered[variant]
    files = sorted(path.name for path in folder.glob("*.yml") if not path.name.endswith(".test.yml"))
    assert files == sorted(t.name.removesuffix(".j2") for t in TEMPLATES.glob("*.yml.j2"))
    result = promtool_run(promtool, "check", "rules", *files, cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_severity_and_its_annotations(tmp_path):
    found = alerts(render(tmp_path / "rules", {}))
    assert len(found) >= 12
    for rule in found:
        name = rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, name
        assert set(rule["annotations"]) == ANNOTATIONS, name
        for key, text in rule["annotations"].items():
            assert text.strip() and "\n" not in text.strip(), f"{name}: {key} is empty or not one line"
        assert "[[" not in rule["expr"] and "]]" not in rule["expr"], name


def test_every_alert_is_tested_firing_and_silent(tmp_path):
    names = {rule["alert"] for rule in alerts(render(tmp_path / "rules", {}))}
    firing, silent = set(), set()
    for test_file in rule_test_files():
        for case in yaml.safe_load(test_file.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    assert names - firing == set(), "alerts no test expects to fire"
    assert names - silent == set(), "alerts no test expects to stay silent"
    assert (firing | silent) - names == set(), "tests of alerts that do not exist"


@pytest.mark.parametrize("test_file", [path.name for path in rule_test_files()])
def test_promtool_unit_tests(promtool, rendered, test_file):
    result = promtool_run(promtool, "test", "rules", test_file, cwd=rendered[test_file])
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_expectation_fails(promtool, rendered, tmp_path):
    """The unit tests can fail: the same test with one expected label changed must."""
    folder = rendered["gateway.test.yml"]
    for rules in folder.glob("llmobs-*.yml"):
        shutil.copy(rules, tmp_path)
    suite = yaml.safe_load((folder / "gateway.test.yml").read_text())
    changed = 0
    for case in suite["tests"]:
        for check in case.get("alert_rule_test", []):
            if check["alertname"] == "LiteLLMGatewayDown" and check["exp_alerts"]:
                check["exp_alerts"][0]["exp_labels"]["severity"] = "ticket"
                changed += 1
    assert changed == 1
    (tmp_path / "wrong.test.yml").write_text(yaml.safe_dump(suite))
    result = promtool_run(promtool, "test", "rules", "wrong.test.yml", cwd=tmp_path)
    assert result.returncode != 0
    assert "LiteLLMGatewayDown" in result.stdout + result.stderr


def test_the_monitoring_docs_list_every_alert_and_its_variables(tmp_path):
    docs = (ROOT / "docs" / "monitoring.md").read_text()
    section = re.search(r"^## Alert rules\n(.*?)(?=^#{1,2} |\Z)", docs, re.S | re.M)
    assert section, "docs/monitoring.md has no '## Alert rules' section"
    text = section.group(1)
    for rule in alerts(render(tmp_path / "rules", {})):
        assert f"`{rule['alert']}`" in text, rule["alert"]
    env = environment()
    for template in TEMPLATES.glob("*.yml.j2"):
        for name in jinja2.meta.find_undeclared_variables(env.parse(template.read_text())):
            assert f"`{name}`" in text, name


def runbooks(rules_dir: Path) -> dict[str, str]:
    return {rule["alert"]: rule["annotations"]["runbook"] for rule in alerts(rules_dir)}


def named_tools(runbook: str) -> list[str]:
    """The bundle's tools a runbook names, in the order it names them."""
    found = {tool: runbook.find(tool) for tool in TOOLS if tool in runbook}
    return sorted(found, key=found.get)


def test_every_runbook_starts_with_the_tool_that_investigates_its_alert(tmp_path):
    found = runbooks(render(tmp_path / "rules", {}))
    assert set(found) == set(FIRST_STEP), "decide each alert's first step in FIRST_STEP"
    for name, runbook in found.items():
        first, tools = FIRST_STEP[name], named_tools(runbook)
        if first == SYSTEMD:
            assert SYSTEMD in runbook, f"{name}: an infrastructure alert without its systemctl check"
            continue
        assert tools and tools[0] == first, f"{name}: names {tools} first, not {first}"
        if name in SERVICE_DOWN:  # the tool says whether the service answers, then systemd says why
            assert runbook.find(first) < runbook.find(SYSTEMD), f"{name}: {first}, then systemctl"


def test_slo_runbooks_analyse_every_gateway_over_their_long_window(tmp_path):
    found = runbooks(render(tmp_path / "rules", {}))
    windows = dict(zip(SLO_ALERTS, ("1h", "6h", "1d", "3d"), strict=True))
    for name, window in windows.items():
        assert "analyze-logs.py results/logs/*/ --errors" in found[name], name
        assert f"--since {window}:" in found[name], name


def test_runbook_commands_use_only_the_flags_their_tools_have(tmp_path, capsys):
    """Each script in a runbook, with its arguments ({{ $labels.x }} and <placeholders> filled in),
    parses with the script's own parser; each playbook named exists."""
    checked = set()
    for name, runbook in runbooks(render(tmp_path / "rules", {})).items():
        text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", r"label-\1", runbook)
        text = re.sub(r"<(\w+)>", r"\1", text)
        for playbook in re.findall(r"[\w-]+\.yml", text):
            if playbook in TOOLS:
                assert (ROOT / "playbooks" / playbook).is_file(), f"{name}: {playbook}"
        for match in COMMAND.finditer(text):
            tool, argv = match["tool"], shlex.split(match["args"])
            assert tool in TOOLS, f"{name}: {tool} is not one of the bundle's tools"
            module = importlib.import_module(TOOLS[tool])
            try:
                module.parse_args(argv)
            except SystemExit:
                pytest.fail(
                    f"{name}: {tool} {shlex.join(argv)}: {capsys.readouterr().err.strip().splitlines()[-1]}"
                )
            checked.add(tool)
    assert {"tail-requests.py", "analyze-logs.py", "test-request.py", "profile-latency.py"} <= checked
