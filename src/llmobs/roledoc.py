"""roledoc: write each role's README.md from its meta/argument_specs.yml and meta/main.yml.

A role's variables are described once, in its argument spec (what ``ansible-doc -t role`` and
the roles' own validation read); the README is derived from it and never edited by hand. It
holds the role's purpose (meta/main.yml's galaxy description, the main entry point's
description), its dependencies, and for every entry point (main first, then the spec's order) a
table of its options in the spec's order: name, type, default, required or choices, description.
A default longer than a table cell is abridged there (marked with an ellipsis) and shown in full,
as the spec writes it, below the table. The output depends on the spec files only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from llmobs.cli import EXIT_CHECK_FAILED, EXIT_OK, UsageError, argument_parser, printable, run

EPILOG = """\
examples:
  python -m llmobs.roledoc              write roles/*/README.md (make role-docs)
  python -m llmobs.roledoc --check      list the stale ones, change nothing

exit codes: 0 written or up to date, 1 --check found stale files, 2 bad arguments or an
unreadable or malformed spec, 3 an internal error (--debug for the traceback)
"""

SPEC = Path("meta") / "argument_specs.yml"
META = Path("meta") / "main.yml"
GENERATED = (
    "<!-- Generated from meta/argument_specs.yml and meta/main.yml by `make role-docs`"
    " (python -m llmobs.roledoc); do not edit. -->"
)
CELL_LIMIT = 80  # characters of a default shown in a table cell before it is abridged
ABRIDGED = 50  # about as many kept of an abridged one
NO_DESCRIPTION = "*(no description in the spec)*"


class SpecError(UsageError):
    """A spec or meta file that cannot be read or does not have the expected shape (exit 2)."""


@dataclass
class Option:
    name: str
    spec: dict[str, Any]
    raw_default: str | None  # the default as the spec file writes it, for the full listing


@dataclass
class EntryPoint:
    name: str
    short_description: str
    description: str
    options: list[Option] = field(default_factory=list)


@dataclass
class Role:
    name: str
    galaxy_description: str
    dependencies: list[str]
    platforms: list[str]
    min_ansible_version: str
    entry_points: list[EntryPoint]

    def option_names(self) -> set[str]:
        return {option.name for entry in self.entry_points for option in entry.options}


# --- reading -------------------------------------------------------------------------------------


def _read_yaml(path: Path) -> tuple[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"{path}: cannot read it ({error})") from None
    try:
        return text, yaml.safe_load(text)
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        raise SpecError(f"{path}: not valid YAML{line} ({problem})") from None


def _text(value: Any) -> str:
    """A description as one paragraph: a list of paragraphs joined, white space folded."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = " ".join(str(item) for item in value if item is not None)
    return " ".join(str(value).split())


def _paragraphs(value: Any) -> str:
    """An entry point's description: each item of a list its own paragraph (blank-line separated)."""
    items = value if isinstance(value, list) else [value]
    return "\n\n".join(text for text in (_text(item) for item in items) if text)


def _listed(value: Any) -> list[Any]:
    """A list from meta/main.yml, where one item may stand alone."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _mapping(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return value_node
    return None


def _raw_defaults(text: str, entry: str) -> dict[str, str]:
    """Each option's default of one entry point as the spec file writes it (YAML source)."""
    options = _mapping(_mapping(_mapping(yaml.compose(text), "argument_specs"), entry), "options")
    found: dict[str, str] = {}
    for key_node, value_node in options.value if isinstance(options, yaml.MappingNode) else []:
        default = _mapping(value_node, "default")
        if default is not None:
            source = text[default.start_mark.index : default.end_mark.index].rstrip()
            found[str(key_node.value)] = " " * default.start_mark.column + source
    return found


def _options(path: Path, entry: str, options: Any, raw: dict[str, str], prefix: str = "") -> list[Option]:
    if options is None:
        return []
    if not isinstance(options, dict):
        raise SpecError(f"{path}: {entry}: options is not a mapping of option names")
    found = []
    for name, spec in options.items():
        if not isinstance(spec, dict):
            raise SpecError(f"{path}: {entry}: option {prefix}{name} is not a mapping")
        full = f"{prefix}{name}"
        found.append(Option(full, spec, None if prefix else raw.get(str(name))))
        found += _options(path, entry, spec.get("options"), raw, f"{full}.")
    return found


def read_role(role_dir: Path) -> Role:
    """One role's spec and meta, or SpecError naming the file and what is wrong with it."""
    spec_path = role_dir / SPEC
    text, data = _read_yaml(spec_path)
    specs = data.get("argument_specs") if isinstance(data, dict) else None
    if not isinstance(specs, dict) or not specs:
        raise SpecError(f"{spec_path}: no argument_specs mapping of entry points")
    entries = []
    for name in sorted(specs, key=lambda entry: (entry != "main", list(specs).index(entry))):
        entry = specs[name]
        if not isinstance(entry, dict):
            raise SpecError(f"{spec_path}: entry point {name} is not a mapping")
        options = _options(spec_path, str(name), entry.get("options"), _raw_defaults(text, str(name)))
        entries.append(
            EntryPoint(
                str(name),
                _text(entry.get("short_description")),
                _paragraphs(entry.get("description")),
                options,
            )
        )
    galaxy: dict[str, Any] = {}
    dependencies: list[str] = []
    if (role_dir / META).exists():
        _, meta = _read_yaml(role_dir / META)
        if meta is not None and not isinstance(meta, dict):
            raise SpecError(f"{role_dir / META}: not a mapping")
        meta = meta or {}
        galaxy = meta.get("galaxy_info") or {}
        if not isinstance(galaxy, dict):
            raise SpecError(f"{role_dir / META}: galaxy_info is not a mapping")
        for dependency in _listed(meta.get("dependencies")):
            named = (
                dependency.get("role", dependency.get("name")) if isinstance(dependency, dict) else dependency
            )
            dependencies.append(str(named))
    platforms = []
    for platform in _listed(galaxy.get("platforms")):
        if isinstance(platform, dict) and platform.get("name"):
            versions = _listed(platform.get("versions"))
            platforms.append(" ".join([str(platform["name"]), *map(str, versions)]))
    return Role(
        name=role_dir.name,
        galaxy_description=_text(galaxy.get("description")),
        dependencies=dependencies,
        platforms=platforms,
        min_ansible_version=str(galaxy.get("min_ansible_version") or ""),
        entry_points=entries,
    )


def role_dirs(roles_dir: Path) -> list[Path]:
    """The roles below roles_dir: folders with tasks or an argument spec (files/ alone is not one)."""
    if not roles_dir.is_dir():
        raise SpecError(f"{roles_dir}: no such folder (run from the bundle's folder or give --roles-dir)")
    found = sorted(p for p in roles_dir.iterdir() if (p / "tasks").is_dir() or (p / SPEC).is_file())
    if not found:
        raise SpecError(f"{roles_dir}: no roles in it")
    return found


# --- rendering -----------------------------------------------------------------------------------


def code(text: str) -> str:
    """A Markdown code span around text, whatever backticks it holds."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def one_line(value: Any) -> str:
    """A default on one line: a string as it is (line breaks and their indentation folded to one
    space), an empty one as "", anything else as JSON."""
    if isinstance(value, str):
        return re.sub(r"\s*\n\s*", " ", value).strip() if value.strip() else json.dumps(value)
    return json.dumps(value, ensure_ascii=False)


def abridge(text: str) -> str:
    """The start of a long default, about ABRIDGED characters: cut at white space where there is
    some near the end, else after a slash or before a bracket, else where it comes."""
    window = range(ABRIDGED, ABRIDGED // 2, -1)
    for boundary, keep in ((" ", 0), ("/", 1), ("[", 0), ("(", 0)):
        cut = next((i + keep for i in window if text[i] == boundary), None)
        if cut is not None:
            return text[:cut].rstrip()
    return text[:ABRIDGED]


def full_default(option: Option) -> str:
    """The option and its default as YAML one could paste into group_vars: the spec's own text
    (a scalar or flow collection after the name, a block collection below it) where it reads back
    to the same value, else a dump of the value."""
    value = option.spec.get("default")
    if option.raw_default is not None:
        first, *rest = option.raw_default.split("\n")
        after_name = f"{option.name}: {first.strip()}" + (
            "\n" + textwrap.indent(textwrap.dedent("\n".join(rest)), "  ") if rest else ""
        )
        below_name = f"{option.name}:\n" + textwrap.indent(textwrap.dedent(option.raw_default), "  ")
        for candidate in (after_name, below_name):
            if _reads_back(candidate, option.name, value):
                return candidate
    dumped = yaml.safe_dump({option.name: value}, sort_keys=False, allow_unicode=True, width=100)
    return dumped.rstrip("\n")


def _reads_back(text: str, name: str, value: Any) -> bool:
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    return isinstance(loaded, dict) and list(loaded) == [name] and loaded[name] == value


_SPECIAL = re.compile(r"[\\*<>]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_ENTITY = {"<": "&lt;", ">": "&gt;"}


def _escape(text: str) -> str:
    return _SPECIAL.sub(lambda match: _ENTITY.get(match[0], "\\" + match[0]), text)


def prose(text: str, names: set[str]) -> str:
    """Spec text for Markdown: special characters escaped, existing code spans kept, and the
    bundle's variable names set as code."""
    pattern = "|".join(re.escape(name) for name in sorted(names, key=lambda n: (-len(n), n)))
    name_re = re.compile(rf"(?<![\w.$/-])({pattern})(?!\w)") if names else None
    parts = []
    for i, piece in enumerate(re.split(r"(`[^`]+`)", text)):
        if i % 2:
            parts.append(piece)
            continue
        for j, bit in enumerate(name_re.split(piece) if name_re else [piece]):
            parts.append(code(bit) if j % 2 else _escape(bit))
    return "".join(parts)


def type_of(spec: dict[str, Any]) -> str:
    kind = str(spec.get("type") or "str (implied)")
    elements = spec.get("elements")
    return f"{kind} of {elements}" if elements and kind == "list" else kind


def constraints(spec: dict[str, Any]) -> str:
    said = []
    if spec.get("required"):
        said.append("**required**")
    choices = spec.get("choices")
    if choices:
        said.append("one of " + ", ".join(code(one_line(choice)) for choice in choices))
    if spec.get("no_log"):
        said.append("secret (no_log)")
    return "; ".join(said)


def default_cell(option: Option, long_ones: list[Option]) -> str:
    if "default" not in option.spec:
        return "—"
    shown = one_line(option.spec["default"])
    if len(shown) <= CELL_LIMIT:
        return code(shown)
    long_ones.append(option)
    return f"{code(abridge(shown))} … (in full below)"


def cell(text: str) -> str:
    """Text in a table cell: a pipe escaped (GitHub reads it so in code spans too), on one line."""
    return text.replace("|", "\\|").replace("\n", " ")


def render_entry(role: Role, entry: EntryPoint, names: set[str]) -> list[str]:
    title = f"## Entry point `{entry.name}`" + (
        f": {prose(entry.short_description, names)}" if entry.short_description else ""
    )
    how = (
        f"Applied as the role itself (`roles: [{role.name}]`, or `include_role` without `tasks_from`)."
        if entry.name == "main"
        else f"Applied with `ansible.builtin.include_role: {{name: {role.name}, tasks_from: {entry.name}}}`."
    )
    lines = [title, ""]
    for paragraph in entry.description.split("\n\n") if entry.description else []:
        lines += [prose(paragraph, names), ""]
    lines += [how, ""]
    if not entry.options:
        return [*lines, "No options.", ""]
    lines += [
        "| variable | type | default | required / choices | description |",
        "|---|---|---|---|---|",
    ]
    long_ones: list[Option] = []
    for option in entry.options:
        description = _text(option.spec.get("description"))
        row = [
            code(option.name),
            type_of(option.spec),
            default_cell(option, long_ones),
            constraints(option.spec),
            prose(description, names) if description else NO_DESCRIPTION,
        ]
        lines.append("| " + " | ".join(cell(item) for item in row) + " |")
    lines.append("")
    if long_ones:
        lines += ["Those defaults in full, as the spec writes them:", "", "```yaml"]
        for option in long_ones:
            lines.append(full_default(option))
        lines += ["```", ""]
    return lines


def render(role: Role, names: set[str] | None = None) -> str:
    """The README of one role. ``names``: the variables set as code in descriptions (the
    bundle's, so that one role's text may name another's); the role's own by default."""
    names = role.option_names() if names is None else names
    main = next((entry for entry in role.entry_points if entry.name == "main"), None)
    lines = [GENERATED, "", f"# Role `{role.name}`", ""]
    purpose = role.galaxy_description or (main.short_description if main else "")
    if purpose:
        lines += [prose(purpose.rstrip(".") + ".", names), ""]
    facts = []
    if role.dependencies:
        facts.append("Depends on " + ", ".join(code(d) for d in role.dependencies) + ".")
    if role.platforms:
        facts.append("Runs on " + ", ".join(role.platforms) + ".")
    if role.min_ansible_version:
        facts.append(f"Needs ansible-core {role.min_ansible_version} or newer.")
    if facts:
        lines += [" ".join(facts), ""]
    lines += [
        f"Its variables, by entry point, in the order of `meta/argument_specs.yml` (the same as "
        f"`ansible-doc -t role {role.name}`); the defaults are those of `defaults/main.yml`.",
        "",
    ]
    if len(role.entry_points) > 1:
        for entry in role.entry_points:
            about = f": {prose(entry.short_description, names)}" if entry.short_description else ""
            lines.append(f"- `{entry.name}`{about}")
        lines.append("")
    for entry in role.entry_points:
        lines += render_entry(role, entry, names)
    return "\n".join(lines).rstrip("\n") + "\n"


# --- the command ---------------------------------------------------------------------------------


@dataclass
class Result:
    written: list[Path] = field(default_factory=list)
    stale: list[Path] = field(default_factory=list)
    undocumented: list[str] = field(default_factory=list)
    total: int = 0


def generate(roles_dir: Path, check: bool = False) -> Result:
    """Render every role's README; write the changed ones, or with check only list them."""
    roles = [read_role(path) for path in role_dirs(roles_dir)]
    names = set().union(*(role.option_names() for role in roles))
    result = Result(total=len(roles))
    for role in roles:
        result.undocumented += [
            f"{role.name}: {entry.name}: {option.name} has no {what}"
            for entry in role.entry_points
            for option in entry.options
            for what in ("description", "type")
            if not option.spec.get(what)
        ]
        path = roles_dir / role.name / "README.md"
        text = render(role, names)
        try:
            current = path.read_text(encoding="utf-8") if path.exists() else None
        except (OSError, UnicodeDecodeError):
            current = None
        if current == text:
            continue
        if check:
            result.stale.append(path)
            continue
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as error:
            raise UsageError(f"{path}: cannot write it ({error.strerror})") from None
        result.written.append(path)
    return result


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


def _main(argv: list[str]) -> int:
    parser = argument_parser(__doc__, EPILOG, prog="python -m llmobs.roledoc", debug=True)
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 naming the READMEs that are stale"
    )
    parser.add_argument(
        "--roles-dir", type=Path, default=Path("roles"), metavar="DIR", help="the roles (default: roles)"
    )
    args: argparse.Namespace = parser.parse_args(argv)
    result = generate(args.roles_dir, check=args.check)
    for warning in result.undocumented:
        print(printable(f"warning: {warning}"), file=sys.stderr)
    if result.stale:
        for path in result.stale:
            print(printable(f"stale: {path}"), file=sys.stderr)
        print(
            f"{len(result.stale)} of {result.total} role READMEs are stale: run make role-docs",
            file=sys.stderr,
        )
        return EXIT_CHECK_FAILED
    for path in result.written:
        print(printable(f"wrote {path}"))
    state = "up to date" if args.check or not result.written else f"{len(result.written)} written"
    print(f"role READMEs: {result.total}, {state}")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())


def checked_options(role: str) -> dict[str, Any]:
    """The main entry point's options of a role of this bundle as ``validate_argument_spec`` takes
    them (common/validate.yml), without their defaults: the variables are set by the time they are
    checked, and a default is a template (a secret, another host's setting) that must not be
    worked out just to check a type (under --limit it may not be computable at all)."""
    path = Path(__file__).resolve().parents[2] / "roles" / role / SPEC
    options = yaml.safe_load(path.read_text(encoding="utf-8"))["argument_specs"]["main"]["options"]
    return {name: {k: v for k, v in spec.items() if k != "default"} for name, spec in options.items()}
