"""The roles' READMEs are generated from their argument specs (llmobs.roledoc): the committed ones
are current, and the generator renders what a spec says, refuses what it cannot read (exit 2)
and never writes a different file for the same spec."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from llmobs import roledoc

ROOT = Path(__file__).resolve().parents[1]

SPEC = """\
---
argument_specs:
  main:
    short_description: A toy service
    options:
      toy_port:
        type: int
        default: 8080
        description: Its port.
      toy_mode:
        type: str
        choices: [fast, slow]
        default: fast
        description:
          - How it runs; see toy_port.
      toy_filter:
        type: str
        default: "{{ toy_items | map('upper') | join(',') }}"
        description: A filter with a pipe | and <angle> brackets.
      toy_secret:
        type: str
        no_log: true
        default: >-
          {{ lookup('ansible.builtin.password', common_secrets_path ~ '/toy_secret',
                    length=32, chars=['ascii_letters', 'digits']) }}
        description: Generated unless supplied.
      toy_settings:
        type: dict
        default:
          alpha: 1
          beta: [x, y]
          gamma: a rather long string value that pushes the default past the cell limit
        description: Nested settings.
      toy_undocumented:
        type: list
        elements: str
        default: []
  run:
    short_description: One run of the toy
    options:
      toy_run_id: {type: str, required: true, description: The run's id.}
"""

META = """\
---
galaxy_info:
  role_name: toy
  description: A toy role for the generator's tests
  min_ansible_version: "2.19"
  platforms:
    - name: Debian
      versions: [bookworm]
dependencies:
  - role: common
"""


@pytest.fixture
def roles(tmp_path: Path) -> Path:
    role = tmp_path / "roles" / "toy"
    (role / "meta").mkdir(parents=True)
    (role / "tasks").mkdir()
    (role / "meta" / "argument_specs.yml").write_text(SPEC)
    (role / "meta" / "main.yml").write_text(META)
    return tmp_path / "roles"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmobs.roledoc", *args], capture_output=True, text=True, cwd=ROOT, check=False
    )


def test_the_committed_role_readmes_are_current():
    result = roledoc.generate(ROOT / "roles", check=True)
    stale = [str(path.relative_to(ROOT)) for path in result.stale]
    assert stale == [], f"stale role READMEs {stale}: run make role-docs"


def test_every_role_has_a_readme_and_nothing_else_does():
    roles = [path.name for path in roledoc.role_dirs(ROOT / "roles")]
    assert roles == sorted(path.parent.name for path in ROOT.glob("roles/*/README.md"))


def test_the_readme_shows_what_the_spec_says(roles: Path):
    text = roledoc.render(roledoc.read_role(roles / "toy"))
    assert text.startswith("<!-- Generated from meta/argument_specs.yml")
    assert "# Role `toy`\n\nA toy role for the generator's tests.\n" in text
    assert "Depends on `common`. Runs on Debian bookworm. Needs ansible-core 2.19 or newer." in text
    # main first, then the others; a table per entry point, in the spec's order
    assert text.index("## Entry point `main`: A toy service") < text.index("## Entry point `run`")
    assert "tasks_from: run" in text
    assert "| `toy_port` | int | `8080` |  | Its port. |" in text
    # choices, a list description, another variable's name set as code
    assert "| `toy_mode` | str | `fast` | one of `fast`, `slow` | How it runs; see `toy_port`. |" in text
    # a pipe never splits the table, in a code span or in prose; angle brackets stay visible
    assert r"`{{ toy_items \| map('upper') \| join(',') }}`" in text
    assert r"a pipe \| and &lt;angle&gt; brackets" in text
    assert "| `toy_run_id` | str | — | **required** | The run's id. |" in text
    assert "list of str" in text


def test_a_long_default_is_abridged_in_the_table_and_whole_below_it(roles: Path):
    text = roledoc.render(roledoc.read_role(roles / "toy"))
    row = next(line for line in text.splitlines() if line.startswith("| `toy_secret`"))
    assert "`{{ lookup('ansible.builtin.password',` … (in full below)" in row
    assert "secret (no_log)" in row
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    # the spec's own text, which reads back to the very same values
    assert "toy_secret: >-\n  {{ lookup('ansible.builtin.password'," in block
    loaded = yaml.safe_load(block)
    spec = yaml.safe_load(SPEC)["argument_specs"]["main"]["options"]
    assert loaded == {name: spec[name]["default"] for name in ("toy_secret", "toy_settings")}


def test_an_option_without_a_description_is_shown_as_such_and_warned_of(roles: Path):
    text = roledoc.render(roledoc.read_role(roles / "toy"))
    assert "| `toy_undocumented` | list of str | `[]` |  | *(no description in the spec)* |" in text
    result = cli("--roles-dir", str(roles))
    assert result.returncode == 0, result.stderr
    assert "warning: toy: main: toy_undocumented has no description" in result.stderr


def test_write_then_check_then_stale(roles: Path):
    assert cli("--roles-dir", str(roles), "--check").returncode == 1
    first = cli("--roles-dir", str(roles))
    assert first.returncode == 0
    assert "wrote" in first.stdout
    readme = roles / "toy" / "README.md"
    written = readme.read_text()
    again = cli("--roles-dir", str(roles))
    assert (again.returncode, readme.read_text()) == (0, written)  # deterministic
    assert "up to date" in again.stdout
    assert cli("--roles-dir", str(roles), "--check").returncode == 0
    readme.write_text(written.replace("Its port.", "Its port!"))
    stale = cli("--roles-dir", str(roles), "--check")
    assert stale.returncode == 1
    assert f"stale: {readme}" in stale.stderr
    assert "run make role-docs" in stale.stderr
    assert readme.read_text() != written  # --check changes nothing


def test_a_role_without_a_spec_is_an_input_error(roles: Path):
    (roles / "bare" / "tasks").mkdir(parents=True)
    result = cli("--roles-dir", str(roles))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {roles / 'bare' / 'meta' / 'argument_specs.yml'}: no such file"
    assert not (roles / "toy" / "README.md").exists()  # nothing written from half the roles


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("argument_specs: [\n", "not valid YAML at line"),
        ("just a string\n", "no argument_specs mapping"),
        ("argument_specs: {main: [1]}\n", "entry point main is not a mapping"),
        ("argument_specs: {main: {options: [a]}}\n", "options is not a mapping"),
        ("argument_specs: {main: {options: {a: 1}}}\n", "option a is not a mapping"),
    ],
)
def test_a_malformed_spec_is_an_input_error(roles: Path, text: str, says: str):
    (roles / "toy" / "meta" / "argument_specs.yml").write_text(text)
    result = cli("--roles-dir", str(roles), "--check")
    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_roles_folder_and_a_bad_flag_are_usage_errors(tmp_path: Path):
    result = cli("--roles-dir", str(tmp_path / "none"))
    assert (result.returncode, "no such folder" in result.stderr) == (2, True)
    assert cli("--bogus").returncode == 2


def test_help():
    result = cli("--help")
    assert result.returncode == 0
    assert "--check" in result.stdout
    assert "README.md" in result.stdout


def test_an_internal_error_is_one_line_and_exit_3(roles: Path, monkeypatch, capsys):
    def broken(*_args, **_kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(roledoc, "render", broken)
    assert roledoc.main(["--roles-dir", str(roles)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("internal error: KeyError") and err.count("\n") == 1
    assert roledoc.main(["--roles-dir", str(roles), "--debug"]) == 3
    assert "Traceback" in capsys.readouterr().err


def test_the_options_validation_checks_carry_no_default_to_work_out():
    """common/validate.yml checks types and choices of values already set; a default there would be
    templated (another host's address, a secret) and can fail under --limit."""
    options = roledoc.checked_options("litellm")
    assert options["litellm_num_workers"] == {"type": "int", "description": "Worker processes."}
    assert "litellm_redis_address" in options
    assert not [name for name, spec in options.items() if "default" in spec]
