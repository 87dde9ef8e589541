"""The artefact mirror: index, verification, serving, and its command-line contract."""

import json
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from llmobs import mirror


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llmobs.mirror", *args], capture_output=True, text=True)


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch) -> Path:
    """The artefact cache of each test in its tmp folder, never the user's ~/.cache."""
    cache = tmp_path / "artefact-cache"
    monkeypatch.setenv("LLMOBS_ARTEFACT_CACHE", str(cache))
    return cache


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "k6").write_bytes(b"binary")
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / "x-1.0-py3-none-any.whl").write_bytes(b"wheel")
    (tmp_path / "wheels" / ".recipe").write_text("hidden files are not served content\n")
    return tmp_path


def test_index_lists_every_file_with_its_sha256(folder):
    assert mirror.write_index(folder) == 2
    lines = (folder / "SHA256SUMS").read_text().splitlines()
    assert lines == [
        f"{mirror.sha256_file(folder / 'files/k6')}  files/k6",
        f"{mirror.sha256_file(folder / 'wheels/x-1.0-py3-none-any.whl')}  wheels/x-1.0-py3-none-any.whl",
    ]


def test_verify_passes_then_catches_tampering_and_loss(folder):
    run("index", "--dir", str(folder))
    assert run("verify", "--dir", str(folder)).returncode == 0
    (folder / "files" / "k6").write_bytes(b"tampered")
    (folder / "wheels" / "x-1.0-py3-none-any.whl").unlink()
    (folder / "files" / "new").write_bytes(b"new")
    result = run("verify", "--dir", str(folder), "--json")
    assert result.returncode == 1
    assert '"bad": [\n    "files/k6"' in result.stdout
    assert "wheels/x-1.0-py3-none-any.whl" in result.stdout
    assert '"unindexed": [\n    "files/new"' in result.stdout


def test_usage_errors_exit_2_with_a_message(tmp_path):
    missing = run("verify", "--dir", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    no_index = run("verify", "--dir", str(tmp_path))
    assert no_index.returncode == 2 and "SHA256SUMS" in no_index.stderr
    (tmp_path / "SHA256SUMS").write_text("not a checksum line\n")
    garbled = run("verify", "--dir", str(tmp_path))
    assert garbled.returncode == 2 and "SHA256SUMS:1" in garbled.stderr
    assert run("build", "--requirements", str(tmp_path / "none.txt")).returncode == 2
    assert run("frobnicate").returncode == 2


def test_help_documents_every_command():
    out = run("--help").stdout
    for command in ("build", "venv", "index", "verify", "serve"):
        assert command in out


def test_serve_answers_http_with_the_files(folder):
    server = mirror.http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), mirror.functools.partial(mirror.QuietHandler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/files/k6"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.read() == b"binary"
    finally:
        server.shutdown()


def test_serve_refuses_an_address_in_use():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--dir", ".", "--bind", "127.0.0.1", "--port", str(port))
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_build_skips_when_the_recipe_is_unchanged(tmp_path, monkeypatch, root):
    calls = []
    monkeypatch.setattr(
        mirror.subprocess, "run", lambda cmd, **_: ("wheel" in cmd and calls.append(cmd)) or _Done()
    )
    wheel = tmp_path / "llmobs-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    monkeypatch.setattr(mirror, "own_wheel", lambda project, out: (wheel, True))
    requirements = tmp_path / "req.txt"
    requirements.write_text("PyYAML==6.0.4\n")
    first = mirror.build(tmp_path / "m", requirements, root)
    second = mirror.build(tmp_path / "m", requirements, root)
    assert (first["built"], second["built"]) == (True, False)
    requirements.write_text("PyYAML==6.0.3\n")
    assert mirror.build(tmp_path / "m", requirements, root)["built"] is True
    assert len(calls) == 2


def test_a_second_mirror_takes_the_third_party_wheels_from_the_cache(tmp_path, monkeypatch, root, own_cache):
    """A fresh clone (a new mirror folder) on the same control node resolves nothing again until
    the pins change; the llmobs wheel, which changes with every commit, is always its own."""
    calls = []

    def pip_wheel(cmd, **_):
        if "wheel" in cmd:
            calls.append(cmd)
            out = Path(cmd[cmd.index("--wheel-dir") + 1])
            (out / f"yaml-{len(calls)}.whl").write_bytes(b"third party")
        return _Done()

    monkeypatch.setattr(mirror.subprocess, "run", pip_wheel)
    wheel = tmp_path / "llmobs-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"ours")
    monkeypatch.setattr(mirror, "own_wheel", lambda project, out: (wheel, True))
    requirements = tmp_path / "req.txt"
    requirements.write_text("PyYAML==6.0.4\n")
    mirror.build(tmp_path / "a", requirements, root, cache=own_cache)
    second = mirror.build(tmp_path / "b", requirements, root, cache=own_cache)
    assert second["built"] is True and len(calls) == 1
    assert sorted(p.name for p in (tmp_path / "b" / "wheels").glob("*.whl")) == [wheel.name, "yaml-1.whl"]
    assert mirror.verify(tmp_path / "b") == ([], [], [])
    mirror.build(tmp_path / "c", requirements, root)  # no cache: resolved again
    requirements.write_text("PyYAML==6.0.3\n")
    mirror.build(tmp_path / "d", requirements, root, cache=own_cache)
    assert len(calls) == 3
    assert [p.name for p in (tmp_path / "d" / "wheels").glob("yaml-*.whl")] == ["yaml-3.whl"]


class _Done:
    returncode = 0
    stdout = "3.11.2 x86_64\n"


def test_own_wheel_is_reproducible_and_rebuilt_only_when_sources_change(tmp_path, root):
    first, built = mirror.own_wheel(root, tmp_path / "a")
    again, rebuilt = mirror.own_wheel(root, tmp_path / "a")
    other, _ = mirror.own_wheel(root, tmp_path / "b")
    assert (built, rebuilt) == (True, False)
    assert first == again
    assert mirror.sha256_file(first) == mirror.sha256_file(other)  # same sources, same bytes


def _wheel_with_a_script(wheels: Path) -> None:
    """A minimal wheel whose console script pip writes with the venv's python in its shebang."""
    import zipfile

    files = {
        "hello.py": "def main():\n    print('hello from', __file__)\n",
        "hello-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: hello\nVersion: 1.0\n",
        "hello-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        "hello-1.0.dist-info/entry_points.txt": "[console_scripts]\nhello = hello:main\n",
    }
    record = "".join(f"{name},,\n" for name in files) + "hello-1.0.dist-info/RECORD,,\n"
    wheels.mkdir(parents=True)
    with zipfile.ZipFile(wheels / "hello-1.0-py3-none-any.whl", "w") as archive:
        for name, text in {**files, "hello-1.0.dist-info/RECORD": record}.items():
            archive.writestr(name, text)


@pytest.mark.skipif(not Path(mirror.HOST_PYTHON).exists(), reason=f"needs {mirror.HOST_PYTHON} (Debian's)")
def test_venv_artefact_runs_where_it_is_unpacked_and_is_built_once(tmp_path):
    """Built in a staging folder, the venv works at its final path: scripts, byte code, prompt."""
    root, target = tmp_path / "mirror", tmp_path / "opt" / "hello"
    _wheel_with_a_script(root / "wheels")
    version, _ = mirror.interpreter(mirror.HOST_PYTHON)
    args = ("venv", "--dir", str(root), "--name", "hello", "--path", str(target))
    first = run(*args, "--python-version", version, "hello==1.0")
    assert first.returncode == 0, first.stderr
    built = json.loads(first.stdout)
    assert built["built"] is True and built["path"].startswith(f"files/venvs/hello-py{version}-")
    assert f"{built['sha256']}  {built['path']}" in (root / "SHA256SUMS").read_text()
    again = json.loads(run(*args, "--python-version", version, "hello==1.0").stdout)
    assert again == {**built, "built": False}
    elsewhere = (*args[:2], str(tmp_path / "fresh-clone-mirror"), *args[3:], "--python-version", version)
    cached = run(*elsewhere, "hello==1.0")  # from the cache: neither wheelhouse nor pip needed
    assert json.loads(cached.stdout) == {**built, "built": False}, cached.stderr
    assert "from the cache" in cached.stderr

    target.mkdir(parents=True)
    # as the hosts unpack it (GNU tar; Debian 12's Python 3.11.2 has no extraction filters)
    subprocess.run(["tar", "-xf", str(root / built["path"]), "-C", str(target)], check=True)
    staging = str(root / "files" / "venvs" / ".build")
    leftovers = [p for p in target.rglob("*") if p.is_file() and staging.encode() in p.read_bytes()]
    assert leftovers == []
    said = subprocess.run([str(target / "bin" / "hello")], capture_output=True, text=True, check=True)
    assert said.stdout.strip() == f"hello from {target}/lib/python{version[:4]}/site-packages/hello.py"
    assert "(hello) " in (target / "bin" / "activate").read_text()


def test_venv_refuses_to_build_for_another_python(tmp_path):
    result = run(
        "venv",
        "--dir",
        str(tmp_path),
        "--name",
        "x",
        "--path",
        "/opt/x",
        "--python-version",
        "2.7.18",
        "x==1",
    )
    assert result.returncode == 1
    assert "the hosts run Python 2.7.18" in result.stderr and "llmobs-mirror venv" in result.stderr
    assert (
        run(
            "venv", "--dir", str(tmp_path), "--name", "x", "--path", "opt/x", "--python-version", "3", "x"
        ).returncode
        == 2
    )


def test_declared_venvs_are_the_blocks_after_a_venv_line(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "PyYAML==6.0.4\n# venv gw /opt/gw\na==1\nb[x]==2\n\nc==3\n"
        "# venv other /opt/o\nd==4\n# comment\ne==5\n"
    )
    assert mirror.declared_venvs(requirements) == [
        ("gw", "/opt/gw", ["a==1", "b[x]==2"]),
        ("other", "/opt/o", ["d==4"]),
    ]
