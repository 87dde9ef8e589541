"""Every command of README.md's ```bash blocks, run where it needs no lab, else named as needing one.

The commands are the blocks' lines with ``\\`` continuations joined, ``# comments`` dropped and
``&&``, ``||`` and ``;`` lists split. Each is taken by the first rule of RULES that matches it; a
command no rule takes fails test_every_readme_command_is_covered ("README command not covered").
What each kind of command is covered by:

- analyze-logs, tail-requests: run on a sample request log (/var/log/litellm/requests.log and
  results/logs/<host>/ are sample files; tail-requests is bounded with --file, -n and --count);
  the output shows what README's comment says.
- test-request: run against the stand-in for LiteLLM of test_test_request.py (health, /model/info
  and the x-litellm-* headers are a gateway's), with ``--url`` and ``--key`` added.
- the profiling tools, the jq lines on their exports, check-regression and report: run in README's
  order against the synthetic provider (the simulator), with ``--url`` and ``--key`` added and only
  the sweep's counts shrunk; a run that judges itself invalid (a busy machine) must exit 1 saying
  why. check-regression's baseline is the new export itself, so its verdict is known.
- cp of the example inventory, ansible-vault encrypt_string: run on a copy in a temporary folder;
  the vaulted variable must then read decrypted. ansible-playbook: --syntax-check with the same
  arguments (the copy for inventory/mysite, a password file for --ask-vault-pass).
- make X: X is a target of the Makefile (make's own database; no recipe runs).
- k6 run, locust: the script and the flags and settings they use exist (k6 inspect, locust --help);
  running them needs a gateway. So do the commands of NEEDS_A_DEPLOYMENT, for the reason given.
- a benchmark: its --help runs and names every flag the command uses (a run takes minutes and
  builds a LiteLLM venv; benchmarks/README.md has their output).

Placeholders (``<request-id>``, ...) are filled from PLACEHOLDERS; one the test does not know fails.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hostile import failure, record
from test_k6 import K6, needs_k6
from test_records import write
from test_test_request import BUNDLE_DEPLOYMENTS, MASTER, Gateway

from llmobs.simulator.profile import parse_profile
from llmobs.simulator.server import BackgroundSimulator

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.M | re.S)

# the kinds of command, by the first pattern that matches (see the module's docstring)
RULES = [
    ("log tool", r"^(scripts/debugging/)?(analyze-logs|tail-requests)\.py "),
    ("gateway client", r"^(scripts/debugging/)?test-request\.py "),
    ("profiling", r"^(scripts/profiling/)?[\w-]+\.py |^jq "),
    ("inventory", r"^cp -r inventory/example |^ansible-vault encrypt_string "),
    ("playbook", r"^ansible-playbook "),
    ("make target", r"^make [\w-]+$"),
    ("benchmark", r"^\.venv/bin/python benchmarks/\w+\.py"),
    ("k6", r"^k6 run "),
    ("locust", r"^locust "),
    ("needs a deployment", r"^KEY=|^curl |^tail -n \d+ /var/log/"),
]
NEEDS_A_DEPLOYMENT = {  # what the commands of the last rule need: they are not run
    "KEY=": "the master key of a deployment (.secrets/local/, written by site.yml)",
    "curl ": "a gateway or Prometheus deployed on this host (:4000, :9090)",
    "tail -n": "a deployed gateway's request log",
    "k6 run": "a gateway to load (its script and settings are checked)",
    "locust": "a gateway to load (its locustfile and flags are checked)",
}
PLACEHOLDERS = {"<request-id>": "fail-1", "<failing-model>": "qwen-coder-vllm", "<recommended>": "4"}


def split_commands(line: str) -> list[str]:
    """The commands of one shell line: cut at an unquoted ``#`` comment, split at ``&&``, ``||``
    and ``;`` (pipes stay in their command)."""
    commands, current, quote, i = [], "", None, 0
    while i < len(line):
        char = line[i]
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (not current or current[-1].isspace()):
            break
        elif char == ";" or line.startswith(("&&", "||"), i):
            commands.append(current)
            current, i = "", i + (1 if char == ";" else 2)
            continue
        current += char
        i += 1
    commands.append(current)
    return [" ".join(command.split()) for command in commands if command.strip()]


def readme_commands() -> list[str]:
    commands: list[str] = []
    for block in BLOCK.findall((ROOT / "README.md").read_text()):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            commands += split_commands(line)
    return list(dict.fromkeys(commands))  # a line written twice is run once


COMMANDS = readme_commands()


def kind_of(command: str) -> str | None:
    return next((kind for kind, pattern in RULES if re.search(pattern, command)), None)


def of_kind(kind: str) -> list[str]:
    return [command for command in COMMANDS if kind_of(command) == kind]


def localize(command: str, places: dict[str, str] | None = None) -> str:
    """The command with its placeholders and this machine's places replaced by the test's."""
    for old, new in (PLACEHOLDERS | (places or {})).items():
        command = command.replace(old, new)
    unknown = re.findall(r"<[\w-]+>", command)
    assert not unknown, f"README command has a placeholder the test cannot fill ({unknown}): {command}"
    return command


def shell(command: str, cwd: Path, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def flag_value(command: str, flag: str) -> str | None:
    argv = shlex.split(command)
    return argv[argv.index(flag) + 1] if flag in argv else None


def json_values(text: str) -> list[Any]:
    """The JSON values of jq's output, one after another."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while text[at:].strip():
        value, at = decoder.raw_decode(text, len(text) - len(text[at:].lstrip()))
        values.append(value)
    return values


def test_split_commands():
    assert split_commands("a 'x # y;' && b \"c && d\"  # e; f") == ["a 'x # y;'", 'b "c && d"']
    assert split_commands("a;b || c  x#y") == ["a", "b", "c x#y"]
    assert split_commands("# only a comment") == []


def test_every_readme_command_is_covered():
    assert len(COMMANDS) >= 40, "README's ```bash blocks were not found"
    uncovered = [f"README command not covered: {command}" for command in COMMANDS if kind_of(command) is None]
    assert not uncovered, "\n".join(uncovered)
    for command in of_kind("needs a deployment") + of_kind("k6") + of_kind("locust"):
        assert any(command.startswith(start) for start in NEEDS_A_DEPLOYMENT), f"no reason for: {command}"
    stale = [kind for kind, _ in RULES if not of_kind(kind)]
    assert not stale, f"rules that no README command matches any more: {stale}"


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    """A user's shell on a gateway or the control node: the tools on the PATH, no gateway settings."""
    path = [ROOT / ".venv" / "bin", ROOT / "scripts" / "debugging", ROOT / "scripts" / "profiling", K6.parent]
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM_", "LLMOBS_"))}
    return kept | {
        "PATH": os.pathsep.join([*map(str, path), os.environ["PATH"]]),
        "LLMOBS_SECRETS_DIR": str(tmp_path_factory.mktemp("no-secrets")),
        "NO_COLOR": "1",
        "K6_NO_USAGE_REPORT": "true",
    }


def workdir(tmp_path: Path) -> Path:
    """A folder to run commands in, whose scripts/ is the clone's (what they write stays there)."""
    (tmp_path / "scripts").symlink_to(ROOT / "scripts")
    return tmp_path


# -- analyze-logs and tail-requests on a sample log ---------------------------------------------

RATE_LIMIT = "Rate limit exceeded for request <id> after <n> retries"  # the sample's 3 messages, as a pattern
OLD_ERROR = "Connection refused"  # three hours ago: outside --since 1h and 2h


def sample_records(now: datetime) -> list[dict[str, Any]]:
    """gw1's log: 20 successes of llama3.1:8b in the last 5 minutes, 3 rate limits of
    qwen-coder-vllm among them (fail-0..2), an old failure (old-0) 3 hours ago."""

    def at(seconds_ago: float) -> str:
        return (now - timedelta(seconds=seconds_ago)).isoformat(timespec="milliseconds")

    qwen = {"requested_model": "qwen-coder-vllm", "model_group": "qwen-coder-vllm", "provider": "vllm-gpu1"}
    old = failure(0, f"{OLD_ERROR} to 10.0.0.11:8000", time=at(3 * 3600), request_id="old-0", **qwen)
    llama = {"requested_model": "llama3.1:8b", "model_group": "llama3.1:8b"}
    ok = [
        record(0, time=at(300 - i), request_id=f"ok-{i}", latency_ms=100.0 + 10 * i, **llama)
        for i in range(20)
    ]
    limited = [
        failure(
            0,
            f"Rate limit exceeded for request req-{i}a after {i + 2} retries",
            time=at(250 - 20 * i),
            request_id=f"fail-{i}",
            http_status=429,
            error_class="RateLimitError",
            **qwen,
        )
        for i in range(3)
    ]
    return sorted([old, *ok, *limited], key=lambda r: r["time"])


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> tuple[Path, list[dict[str, Any]]]:
    """A workdir with the sample as var/log/litellm/requests.log and as results/logs/gw1/ of
    fetch-logs.yml, next to gw2's successes."""
    folder = workdir(tmp_path_factory.mktemp("logs"))
    records = sample_records(datetime.now(UTC))
    write(folder / "var/log/litellm/requests.log", records)
    write(folder / "results/logs/gw1/requests.log", records)
    write(
        folder / "results/logs/gw2/requests.log",
        [r | {"host": "gw2"} for r in records if r["status"] == "success"],
    )
    return folder, records


@pytest.mark.parametrize("command", of_kind("log tool"))
def test_log_tool_on_a_sample_log(command, logs, env):
    folder, records = logs
    line = localize(command, {"/var/log/litellm/": f"{folder}/var/log/litellm/"})
    errors = [r["request_id"] for r in records if r["level"] == "ERROR"]
    if "tail-requests.py" in line:  # bounded: the lines already in the log, then it stops
        line += f" --file {folder}/var/log/litellm/requests.log -n {len(records)} --count {len(errors)}"
    result = shell(line, folder, env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    if "tail-requests.py" in line:
        assert flag_value(command, "--level") == "ERROR", f"no expectation for {command}"
        shown = re.findall(r" ERROR +gw1 (\S+) ", out)
        assert shown == errors, out  # every ERROR line, nothing else
        assert f"{len(errors)} requests, {len(errors)} errors" in out
    elif "--trace" in line:
        request_id = flag_value(line, "--trace")
        (traced,) = [r for r in records if r["request_id"] == request_id]
        assert f"Trace of {request_id}: 1 line(s)" in out and traced["error_message"] in out
    elif "--errors" in line:
        (row,) = [row for row in out.splitlines() if RATE_LIMIT in row]
        by_model_and_provider = ["3", "RateLimitError", "429", "qwen-coder-vllm", "vllm-gpu1"]
        assert row.split()[:5] == by_model_and_provider, row
        assert (OLD_ERROR in out) is ("--since" not in line), out
    elif "--performance" in line:
        assert "Latency by model" in out and "Latency by provider" in out
        header = next(row.split() for row in out.splitlines() if "p95" in row)
        assert {"p50", "p95", "p99", "ttft", "overhead"} <= set(header), header
    else:
        pytest.fail(f"no expectation for {command}")


# -- test-request against a stand-in for LiteLLM -------------------------------------------------


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    with Gateway(BUNDLE_DEPLOYMENTS) as stand_in:
        yield stand_in


@pytest.mark.parametrize("command", of_kind("gateway client"))
def test_test_request_against_a_gateway(command, gateway, env, tmp_path):
    result = shell(f"{localize(command)} --url {gateway.url} --key {MASTER}", workdir(tmp_path), env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    if "--test-routing" in command:
        rows = {row.split()[0]: row.split() for row in out.splitlines() if row.split()[1:2] == ["200"]}
        for deployment in BUNDLE_DEPLOYMENTS:  # every model, and the deployment that served it
            assert deployment["model_info"]["id"] in rows[deployment["model_name"]], out
        return
    model = localize(flag_value(command, "--model") or pytest.fail(f"no expectation for {command}"))
    (served,) = [d for d in BUNDLE_DEPLOYMENTS if d["model_name"] == model]
    assert "liveliness" in out and "readiness" in out  # health
    assert re.search(rf"x-litellm-model-id +{re.escape(served['model_info']['id'])}\n", out), out
    assert "reply\n  Hello there friend" in out
    if "-v" in command.split():
        assert f"gateway {gateway.url}, key from --key" in out and "x-litellm-key-spend" in out
    assert MASTER not in out + result.stderr


# -- the profiling tools against the simulator, in README's order --------------------------------

# 20 ms to the first token, then 4 gaps of 5 ms; two requests at once, more wait: the sweep stops
QUICK = {"ttft_ms": 20, "tokens_per_second": 200, "output_tokens": 5, "batch_capacity": 2}
MODELS = ("llama3.1:8b", "qwen-coder-vllm", "new-model")
SHRUNK = {"--sweep": " --levels 1,2,4,8 --requests 8"}  # a sweep's default runs to 256 at once


def run_measurement(line: str, folder: Path, env: dict[str, str], url: str) -> None:
    """A profiling tool's run: exit 0 when it judged itself valid, else 1, and its export written."""
    export = flag_value(line, "--export")
    line += f" --url {url} --key sk-readme" + "".join(more for flag, more in SHRUNK.items() if flag in line)
    if export is None:  # the export says whether the run was valid
        export = f"unnamed-{len(list(folder.glob('unnamed-*')))}.json"
        line += f" --export {export}"
    result = shell(line, folder, env)
    data = json.loads((folder / export).read_text())
    assert result.returncode == (0 if data["validity"]["valid"] else 1), result.stderr + str(data["validity"])
    assert data["complete"] and data["summary"]["success_rate"] == 1.0, result.stdout
    argv = shlex.split(line)
    if "--model" in argv:
        assert data["manifest"]["settings"]["model"] == flag_value(line, "--model")
    if "--models" in argv:
        named = list(
            itertools.takewhile(lambda word: not word.startswith("-"), argv[argv.index("--models") + 1 :])
        )
        assert [result["model"] for result in data["results"]] == named
    if not data["validity"]["valid"]:  # a busy machine: the run says why, and gives no clean number
        assert data["validity"]["problems"][0] in result.stdout, result.stdout
    elif "--sweep" in line:
        assert "recommended concurrency: " in result.stdout  # README: it prints the recommendation


def run_on_exports(line: str, folder: Path, env: dict[str, str]) -> None:
    """jq, check-regression and report on the exports written before."""
    argv = shlex.split(line)
    if argv[0].endswith("check-regression.py") and not (folder / argv[2]).exists():
        # the baseline is an earlier run's export; the new run itself gives a known verdict
        shutil.copy(folder / argv[1], folder / argv[2])
    result = shell(line, folder, env)
    assert result.returncode == 0, result.stdout + result.stderr
    if argv[0] == "jq":
        values = json_values(result.stdout)
        assert values, f"{line}: no output"
        for value in values:  # numbers measured; rows naming a model (the simulator names no provider)
            if isinstance(value, dict):
                assert value["model"] in MODELS and all(v for k, v in value.items() if k != "provider"), value
            else:
                assert isinstance(value, float) and value > 0, value
    elif argv[0].endswith("check-regression.py"):
        assert "no regression" in result.stdout.lower(), result.stdout
    elif argv[0].endswith("report.py"):
        page = (folder / flag_value(line, "--html")).read_text()
        assert page.lstrip().lower().startswith("<!doctype html") and "</html>" in page
    else:
        pytest.fail(f"no expectation for {line}")


def test_profiling_commands_against_the_simulator(env, tmp_path):
    folder = workdir(tmp_path)
    profile = parse_profile({"seed": 1, "models": dict.fromkeys(MODELS, QUICK)})
    measuring = ("profile-latency.py", "profile-throughput.py", "compare-providers.py")
    with BackgroundSimulator(profile, "vllm") as simulator:
        for command in of_kind("profiling"):
            line = localize(command)
            if shlex.split(line)[0].endswith(measuring):
                run_measurement(line, folder, env, simulator.url)
            else:
                run_on_exports(line, folder, env)


# -- the inventory copy, ansible-vault and the playbooks' syntax ---------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory, env) -> tuple[dict[str, str], dict[str, str]]:
    """README's inventory commands run in order on a copy in a temporary folder: (places, env)."""
    folder = tmp_path_factory.mktemp("site")
    (folder / "inventory").mkdir()
    password = folder / "vault-password"
    password.write_text("readme-test\n")
    places = {
        "inventory/mysite": f"{folder}/inventory/mysite",
        "--ask-vault-pass": f"--vault-password-file {password}",
    }
    ansible = env | {"ANSIBLE_VAULT_PASSWORD_FILE": str(password)}
    for command in of_kind("inventory"):
        result = shell(localize(command, places), ROOT, ansible)
        assert result.returncode == 0, f"{command}: {result.stderr}"
    return places, ansible


def test_the_inventory_copy_reads_the_vaulted_variables(site):
    places, ansible = site
    copy = places["inventory/mysite"]
    assert (Path(copy) / "hosts.yml").is_file() and (Path(copy) / "group_vars" / "all.yml").is_file()
    for command in of_kind("inventory"):
        if command.startswith("ansible-vault"):
            name, value = flag_value(command, "--name"), shlex.split(command.split(">>")[0])[-1]
            assert "$ANSIBLE_VAULT" in (ROOT / localize(command, places).split(">> ")[1]).read_text()
            # the debug action runs on the control node: no host is asked
            shown = shell(f"ansible -i {copy} all -m ansible.builtin.debug -a var={name}", ROOT, ansible)
            assert shown.returncode == 0, shown.stdout + shown.stderr
            assert shown.stdout.count(f'"{name}": "{value}"') == len(re.findall(r"=> \{", shown.stdout)) > 0


def syntax_check_of(command: str, places: dict[str, str]) -> tuple[tuple[str, ...], list[str], list[str]]:
    """(the options that are not -e, the playbooks, the -e options) of an ansible-playbook line."""
    argv = shlex.split(localize(command, places))[1:]
    options, playbooks, extra = [], [], []
    while argv:
        word = argv.pop(0)
        if word in ("-e", "--extra-vars"):
            extra += [word, argv.pop(0)]
        elif word.endswith(".yml") and not (options and options[-1] in ("-i", "--inventory")):
            playbooks.append(word)
        else:
            options.append(word)
    return tuple(options), playbooks, extra


@pytest.fixture(scope="module")
def syntax_checks(site) -> Iterator[dict[str, tuple[Callable[[], tuple[int, str]], list[str]]]]:
    """{command: (its syntax check's exit code and output, its playbooks)}. Commands whose options
    differ only in their playbooks and -e values share one ansible-playbook --syntax-check, given
    all of those (a run starts in about a second: eleven would take half a minute); the checks
    run at once."""
    places, ansible = site
    groups: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}
    parts = {command: syntax_check_of(command, places) for command in of_kind("playbook")}
    for options, playbooks, extra in parts.values():
        group = groups.setdefault(options, ([], []))
        group[0].extend(p for p in playbooks if p not in group[0])
        group[1].extend(extra)
    started = {
        options: subprocess.Popen(
            ["ansible-playbook", "--syntax-check", *options, *playbooks, *extra],
            cwd=ROOT,
            env=ansible,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for options, (playbooks, extra) in groups.items()
    }
    outputs: dict[tuple[str, ...], str] = {}

    def finished(options: tuple[str, ...]) -> tuple[int, str]:
        if options not in outputs:
            outputs[options] = started[options].communicate(timeout=120)[0]
        return started[options].returncode, outputs[options]

    yield {
        command: (functools.partial(finished, options), playbooks)
        for command, (options, playbooks, _) in parts.items()
    }
    for process in started.values():
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.parametrize("command", of_kind("playbook"))
def test_playbook_command_passes_the_syntax_check(command, syntax_checks):
    finished, playbooks = syntax_checks[command]
    code, out = finished()
    assert code == 0, out
    assert playbooks and all(f"playbook: {playbook}" in out for playbook in playbooks), out
    # every -e variable is one the play reads, outside a comment (a misspelt one is ignored silently)
    extra = syntax_check_of(command, {})[2][1::2]
    names = [n for e in extra for n in (json.loads(e) if e.startswith("{") else [e.split("=")[0]])]
    read = "".join((ROOT / playbook).read_text() for playbook in playbooks)
    for name in names:
        assert re.search(rf"^(?!\s*#).*\b{name}\b", read, re.M), f"{playbooks} read no {name}"


# -- make, k6, locust ---------------------------------------------------------------------------


def test_make_targets_exist():
    """Every `make X` of README, in a block or in the text, is a target; make's database tells
    (question mode with the default goal, help: no recipe runs)."""
    database = subprocess.run(["make", "-qp"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    targets = set(re.findall(r"^([\w.-]+):(?!=)", database, re.M))
    named = [command.split()[1] for command in of_kind("make target")]
    named += re.findall(r"`make ([\w-]+)`", (ROOT / "README.md").read_text())
    assert {"deploy", "test"} <= set(named) and not set(named) - targets, set(named) - targets


@pytest.mark.parametrize("command", of_kind("benchmark"))
def test_benchmark_command_uses_flags_it_has(command, env):
    result = shell(f"{command.split()[0]} {command.split()[1]} --help", ROOT, env)
    assert result.returncode == 0, result.stderr
    for flag in (word for word in shlex.split(command) if word.startswith("-")):
        assert re.search(rf"(^|[ ,]){re.escape(flag)}\b", result.stdout, re.M), f"no {flag}: {command}"


@needs_k6
@pytest.mark.parametrize("command", of_kind("k6"))
def test_k6_command_names_a_script_and_settings_it_reads(command, env):
    result = shell(command.replace("k6 run ", "k6 inspect ", 1), ROOT, env)
    assert result.returncode == 0, result.stderr  # the script loads; an unknown SCENARIO throws
    options = json.loads(result.stdout)
    script = ROOT / shlex.split(command)[-1]
    sources = script.read_text() + "".join(p.read_text() for p in (script.parent / "lib").glob("*.js"))
    for name, value in re.findall(r"-e (\w+)=(\S+)", command):
        assert f"__ENV.{name}" in sources, f"{script.name} reads no {name}"
        if name == "SCENARIO":
            assert list(options["scenarios"]) == [value]


@pytest.mark.parametrize("command", of_kind("locust"))
def test_locust_command_uses_flags_locust_has(command, env):
    locustfile = flag_value(command, "-f")
    assert locustfile and (ROOT / locustfile).is_file(), command
    result = shell(f"locust -f {locustfile} --help", ROOT, env)
    assert result.returncode == 0, result.stderr
    for flag in (word for word in shlex.split(command) if word.startswith("-")):
        assert re.search(rf"(^|[ ,]){re.escape(flag)}\b", result.stdout, re.M), f"locust has no {flag}"
