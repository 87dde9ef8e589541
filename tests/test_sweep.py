"""security-sweep (llmobs.sweep): reading ss, telling protocols apart, judging what answered.
The real services are knocked on in the lab (molecule/stack/tests/test_security.py); here loopback
servers stand in for them, each speaking just enough of a protocol to be told apart."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from hostile import Answer, ScriptedServer, check_output, run_tool
from hypothesis import given, settings
from hypothesis import strategies as st

from llmobs import sweep
from llmobs.sweep import Listener, knock, parse_ss

SS = """\
LISTEN 0      4096      127.0.0.11:43981      0.0.0.0:*
LISTEN 0 2048 172.30.77.2:4000 0.0.0.0:* users:(("litellm",pid=812,fd=18),("litellm",pid=8,fd=1))
LISTEN 0      4096       127.0.0.1:11434      0.0.0.0:*    users:(("llmobs-simulato",pid=90,fd=6))
LISTEN 0      4096               *:9100             *:*    users:(("prometheus-node",pid=77,fd=3))
LISTEN 0      511        127.0.0.1:6379       0.0.0.0:*    users:(("redis-server",pid=70,fd=6))
LISTEN 0      511      172.30.77.2:6379       0.0.0.0:*    users:(("redis-server",pid=70,fd=7))
LISTEN 0      511            [::1]:6379          [::]:*    users:(("redis-server",pid=70,fd=8))
LISTEN 0      100             [::]:8089          [::]:*    users:(("locust",pid=5,fd=9))
"""


def test_ss_listeners_beyond_loopback_with_their_processes():
    listeners, bad = parse_ss("gateway1", "gateway1", SS)
    assert bad == 0
    assert [(ln.port, ln.bind, ln.address, ln.process) for ln in listeners] == [
        (4000, "172.30.77.2", "172.30.77.2", "litellm"),
        (6379, "172.30.77.2", "172.30.77.2", "redis-server"),
        (8089, "::", "gateway1", "locust"),  # a wildcard is reached at the host's address
        (9100, "*", "gateway1", "prometheus-node"),
    ]


SS_LIKE = st.builds(
    "LISTEN 0 {} {}:{} {} users:(({}))".format,
    st.integers(0, 5000),
    st.one_of(
        st.sampled_from(["*", "0.0.0.0", "[::]", "[::1]", "127.0.0.1", "10.0.0.1", "[fe80::1]%eth0"]),
        st.ip_addresses().map(str),
        st.text(max_size=12),
    ),
    st.integers(0, 70000),
    st.sampled_from(["0.0.0.0:*", "[::]:*", "*:*"]),
    st.text(max_size=30),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(), SS_LIKE), max_size=8).map("\n".join))
def test_any_text_as_ss_output_parses_or_is_counted(text):
    listeners, bad = parse_ss("h", "h", text)
    assert bad <= len(text.splitlines())
    for ln in listeners:
        assert ln.port >= 0 and ln.bind not in ("loopback", "127.0.0.1", "::1") and ln.process


@contextmanager
def raw_server(answer: Callable[[bytes], bytes], greeting: bytes = b"") -> Iterator[int]:
    """A loopback TCP server: ``greeting`` on connect, then ``answer(bytes read)`` once."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(greeting)
                conn.settimeout(2)
                with suppress(OSError):
                    conn.sendall(answer(conn.recv(4096)))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        server.close()


def here(port: int, process: str) -> Listener:
    return Listener("h", "127.0.0.1", "0.0.0.0", port, process)


def test_an_http_server_that_answers_a_path_without_a_credential_is_a_finding():
    with ScriptedServer() as server:
        server.answers["/metrics"] = Answer(200, b"up 1\n", "text/plain")
        server.answers["/v1/models"] = Answer(401, b"{}")
        port = int(server.url.rsplit(":", 1)[1])
        k = knock(here(port, "some-exporter"))
        assert k.protocol == "http"
        assert k.findings == ["/metrics", "/metrics (wrong basic: 200)", "/metrics (wrong bearer: 200)"]
        assert k.refused == 3 * (len(sweep.PATHS) - 1)
        # the same answer from a process that is open by design carries the reason instead
        exporter = knock(here(port, "prometheus-node"))
        assert not exporter.findings and set(exporter.by_design) == set(k.findings)
        assert "read-only" in exporter.by_design["/metrics"]


def test_redis_is_told_apart_and_must_refuse_ping_and_a_wrong_password():
    with raw_server(lambda data: b"-NOAUTH Authentication required.\r\n") as port:
        k = knock(here(port, "redis-server"))
        assert (k.protocol, k.answered, k.refused) == ("redis", [], 3)
    with raw_server(lambda data: b"+PONG\r\n" if data.startswith(b"PING") else b"+OK\r\n") as port:
        k = knock(here(port, "redis-server"))
        assert k.findings == ["PING without AUTH", "AUTH with a wrong password", "AUTH with a wrong password"]


def test_another_protocol_is_a_finding_unless_its_process_is_open_by_design():
    zmtp = b"\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f"  # ZeroMQ's greeting, as Locust's master sends
    with raw_server(lambda data: b"", greeting=zmtp) as port:
        assert knock(here(port, "mystery")).findings == ["other protocol"]
        k = knock(here(port, "locust"))
        assert k.protocol == "other protocol" and not k.findings
        assert "ZeroMQ" in k.by_design["other protocol"] and "ff00" in k.note


def test_a_port_that_takes_no_connection_is_unreachable_said_and_no_finding():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: the connection is refused
        k = knock(here(port, "litellm"), timeout=1)
    assert k.protocol == "unreachable" and not k.findings and "refused" in k.note.lower()


def test_scoped_mapped_and_shared_addresses():
    ss = """\
LISTEN 0 5 [fe80::1]%eth0:22 [::]:* users:(("sshd",pid=1,fd=3))
LISTEN 0 5 127.0.0.53%lo:53 0.0.0.0:* users:(("systemd-resolve",pid=2,fd=3))
LISTEN 0 5 [::ffff:127.0.0.1]:7000 [::]:* users:(("a",pid=3,fd=3))
LISTEN 0 5 [::ffff:0.0.0.0]:7001 [::]:* users:(("b",pid=4,fd=3))
LISTEN 0 5 0.0.0.0:9000 0.0.0.0:* users:(("c",pid=5,fd=3))
LISTEN 0 5 [::]:9000 [::]:* users:(("d",pid=6,fd=3))
LISTEN 0 5 10.0.0.5:9000 0.0.0.0:* users:(("e",pid=7,fd=3))
LISTEN 0 5 10.0.0.6:9000 0.0.0.0:*
"""
    listeners, bad = parse_ss("h", "h.example", ss)
    assert bad == 0
    assert [(ln.address, ln.port, ln.process) for ln in listeners] == [
        ("fe80::1", 22, "sshd"),
        ("h.example", 7001, "b"),  # the IPv4-mapped wildcard; the mapped loopback is left out
        ("10.0.0.5", 9000, "e"),
        ("10.0.0.6", 9000, "?"),  # each address of a port is its own door
        ("h.example", 9000, "c/d"),  # one door, two processes (IPv4 and IPv6 wildcards)
    ]


def test_a_server_that_takes_ping_for_http_0_9_is_asked_again_properly():
    """Python's http.server answers a one-word request line without a status line: the sweep
    then sends a real GET; and a status line split over two packets is read whole."""

    def answer(data: bytes) -> bytes:
        return b"HTTP/1.1 401 Unauthorized\r\n\r\n" if data.startswith(b"GET") else b"<html>bad</html>"

    with raw_server(answer) as port:
        k = knock(here(port, "x"))
        assert (k.protocol, k.findings, k.refused) == ("http", [], 3 * len(sweep.PATHS))


def test_the_list_of_what_is_open_by_design_and_json_output(tmp_path):
    code, out, err = run_tool(sweep.main, ["--list"])
    check_output(code, out, err, as_json=False)
    assert code == 0 and "locust" in out and "ZeroMQ" in out
    # knocks only on loopback: wildcard listeners reached at 127.0.0.1 (a refusing HTTP server and
    # a port bound but not listening)
    with ScriptedServer() as server, socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        ports = (int(server.url.rsplit(":", 1)[1]), closed.getsockname()[1])
        ss = "".join(f'LISTEN 0 5 0.0.0.0:{p} 0.0.0.0:* users:(("prometheus",pid=1,fd=3))\n' for p in ports)
        hosts = tmp_path / "hosts.json"
        hosts.write_text(json.dumps([{"host": "h", "address": "127.0.0.1", "ss": ss}]))
        code, out, err = run_tool(sweep.main, ["--hosts", hosts, "--json", "--timeout", "1"])
    knocked = check_output(code, out, err, as_json=True)
    assert code == 0
    assert sorted((k["listener"]["port"], k["protocol"], k["findings"]) for k in knocked) == sorted(
        [(ports[0], "http", []), (ports[1], "unreachable", [])]
    )
    for bad in (["--hosts", hosts, "--timeout", "0"], ["--timeout", "1"]):
        code, out, err = run_tool(sweep.main, bad)
        check_output(code, out, err, as_json=False)
        assert code == 2


def test_a_host_whose_ss_did_not_run_cannot_be_swept(tmp_path):
    hosts = tmp_path / "hosts.json"
    hosts.write_text(json.dumps([{"host": "gateway2", "address": "gateway2", "ss": None}]))
    code, out, err = run_tool(sweep.main, ["--hosts", hosts])
    check_output(code, out, err, as_json=False)
    assert code == 2 and "no ss output of gateway2" in err


def test_the_command_reports_exits_1_on_a_finding_and_exports_json(tmp_path):
    with ScriptedServer() as server:
        server.answers["/api/v1/targets"] = Answer(200, b"{}")
        port = int(server.url.rsplit(":", 1)[1])
        hosts = tmp_path / "hosts.json"
        ss = f'LISTEN 0 5 0.0.0.0:{port} 0.0.0.0:* users:(("prometheus",pid=1,fd=3))\n'
        hosts.write_text(json.dumps([{"host": "monitor1", "address": "127.0.0.1", "ss": ss}]))
        export = tmp_path / "report.json"
        code, out, err = run_tool(sweep.main, ["--hosts", hosts, "--export", export])
        check_output(code, out, err, as_json=False)
        assert code == 1
        assert out.splitlines()[0].startswith(f"OPEN        monitor1 0.0.0.0:{port} (prometheus, http)")
        assert "1 listeners, 1 open without a credential and not by design" in out
        [knocked] = json.loads(export.read_text())
        assert knocked["listener"]["host"] == "monitor1" and knocked["findings"][0] == "/api/v1/targets"


NO_COLON = st.characters(exclude_characters=":")


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.recursive(
            # no ":" in any string, so no line parses as a listener: nothing is knocked on
            st.none()
            | st.booleans()
            | st.integers()
            | st.text(st.characters(exclude_characters=":"), max_size=20),
            lambda inner: (
                st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
            ),
            max_leaves=10,
        ).map(lambda value: json.dumps(value).encode()),
    )
)
def test_a_hosts_file_of_any_shape_is_a_usage_error_never_a_traceback(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("sweep") / "hosts.json"
    path.write_bytes(content)
    code, out, err = run_tool(sweep.main, ["--hosts", path, "--timeout", "0.2"])
    check_output(code, out, err, as_json=False)
    assert code in (0, 2)  # no listener in what it can read: 0; unreadable: 2 and why
    assert code == 0 or err.startswith("error: ")


def test_the_documented_list_names_what_the_code_opens_by_design():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "security.md").read_text()
    table = doc.split("Open by design", 1)[1].split("\n\n", 2)[1]
    documented = set(re.findall(r"^\| `([^`]+)`", table, re.M))
    assert documented == set(sweep.OPEN_BY_DESIGN)
