"""security-sweep: knock on every port the hosts listen on beyond loopback, without a credential
and with wrong ones, and say what answered.

Input (``--hosts FILE``, JSON): ``[{"host": NAME, "address": ADDRESS, "ss": TEXT}]``, TEXT being
what ``ss -Hltnp`` printed on that host and ADDRESS where a wildcard listener is reached. Each
listener is tried from here:

* one line ``PING`` tells the protocols apart: Redis answers ``+PONG`` (open) or ``-NOAUTH`` (then
  ``AUTH`` with a wrong password must fail too), an HTTP server answers ``HTTP/``, anything else
  is "another protocol" (Locust's ZeroMQ channel, Alertmanager's gossip);
* an HTTP server gets ``GET`` on each of ``PATHS``, with no credential, a wrong basic credential
  and a wrong bearer key: a 2xx answer is "answered".

A listener that answered is a finding unless ``OPEN_BY_DESIGN`` lists its process (and path, or
protocol) with the reason, which the report repeats. ss names the processes only to root (with
CAP_SYS_PTRACE): for a process it shows as "?", nothing is open by design.

Exit 0: every finding is by design; 1: one is not; 2: bad input; 3: an internal error.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llmobs import wiring
from llmobs.cli import argument_parser, fail, printable, run, to_json

# Paths that give data or control on the services the bundle runs (LiteLLM, Prometheus,
# Alertmanager, the exporters, Grafana, Locust, the synthetic backends).
PATHS = (
    "/",
    "/metrics",
    "/metrics/",
    "/v1/models",
    "/key/list",
    "/api/v1/status/config",
    "/api/v1/targets",
    "/api/v2/status",
    "/api/v2/alerts",
    "/api/health",
    "/api/users",
    "/stats/requests",
    "/admin/timings",
    "/admin/faults",
    "/alerts",
    "/api/tags",
)
WRONG_PASSWORD = "not-the-password-of-the-security-sweep"
_BASIC = base64.b64encode(f"llmobs:{WRONG_PASSWORD}".encode()).decode()
CREDENTIALS: dict[str, dict[str, str]] = {
    "none": {},
    "wrong basic": {"Authorization": f"Basic {_BASIC}"},
    "wrong bearer": {"Authorization": f"Bearer sk-{WRONG_PASSWORD}"},
}

# What answers without a credential on purpose: process name as ss shows it (15 characters at
# most) -> {what: reason}; "what" is a path, "*" (every path) or "other protocol".
OPEN_BY_DESIGN: dict[str, dict[str, str]] = {
    "litellm": {"/": "LiteLLM's API documentation page (Swagger UI): no data, no control"},
    "prometheus-node": {
        "*": "the node exporter's host metrics, read-only (Debian's package has no credential "
        "set); keep port 9100 on the cluster's private network",
    },
    "prometheus-redi": {
        "*": "the Redis exporter's metrics, read-only (it holds Redis's password, never shows it); "
        "keep its port on the cluster's private network",
    },
    "locust": {
        "other protocol": "Locust's master-worker channel (ZeroMQ) has no authentication in "
        "Locust; the workers must reach it; keep it on the load hosts' private network",
    },
    "prometheus-aler": {
        "other protocol": "Alertmanager's cluster gossip (memberlist) has no authentication; "
        "only peers on the private network need it",
    },
    "llmobs-simulato": {
        "*": "the lab's synthetic backends answer like Ollama, vLLM and llama.cpp, which have no "
        "credential either; a real backend belongs on a private network behind the gateway",
    },
    "nvidia_gpu_expo": {
        "*": "the GPU exporter's metrics, read-only; keep its port on the cluster's private network",
    },
    "grafana": {
        "/api/health": "Grafana's health check: its version and database state, no data",
        "/metrics": "Grafana's own metrics, read-only ([metrics] in grafana.ini, on by default)",
    },
    "llmobs-webhook-": {
        "*": "the lab's alert receiver (never deployed by site.yml): it records what Alertmanager "
        "posts and shows it to the lab's tests",
    },
}

_SS_LINE = re.compile(
    r"^\S+\s+\d+\s+\d+\s+(?P<bind>\S+):(?P<port>\d+)\s+\S+(?:\s+users:\(\((?P<users>.*)\)\))?"
)


@dataclass
class Listener:
    host: str
    address: str  # where the sweep reaches it
    bind: str  # what it listens on
    port: int
    process: str  # the names ss gave its processes, "/" between them; "?" when it could not see them


@dataclass
class Knock:
    listener: Listener
    protocol: str = ""  # http, redis, other protocol, unreachable
    answered: list[str] = field(default_factory=list)  # what answered without a (right) credential
    refused: int = 0  # tries refused
    by_design: dict[str, str] = field(default_factory=dict)  # what -> why
    findings: list[str] = field(default_factory=list)  # answered and not by design
    note: str = ""


def target(hostvars: Any) -> dict[str, str]:
    """One host's entry of ``--hosts`` from its Ansible hostvars (``sweep_ss``: its ss output)."""
    return {
        "host": str(hostvars.get("inventory_hostname")),
        "address": wiring.reach(hostvars),
        "ss": (hostvars.get("sweep_ss") or {}).get("stdout"),  # None: ss did not run there
    }


def parse_ss(host: str, address: str, text: str) -> tuple[list[Listener], int]:
    """The listeners of ``ss -Hltnp`` beyond loopback, one per address and port to knock on (the
    processes of a shared one merged), and the count of lines that did not parse."""
    listeners: dict[tuple[str, int], Listener] = {}
    bad = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _SS_LINE.match(line.strip())
        bind = _bind(match["bind"]) if match else None
        if bind is None:
            bad += 1
            continue
        if bind == "loopback":
            continue
        names = re.findall(r'"([^"]*)"', match["users"] or "")
        port = int(match["port"])
        key = (address if bind in WILDCARDS else bind, port)
        known = listeners.get(key)
        if known is None:
            listeners[key] = Listener(host, key[0], bind, port, "/".join(dict.fromkeys(names)) or "?")
        elif names:
            merged = [*known.process.split("/"), *names]
            known.process = "/".join(dict.fromkeys(n for n in merged if n != "?"))
    return sorted(listeners.values(), key=lambda ln: (ln.port, ln.address)), bad


WILDCARDS = ("*", "0.0.0.0", "::")


def _bind(text: str) -> str | None:
    """An address as ss prints it (``[::]``, ``*``, ``[fe80::1]%eth0``, ``127.0.0.53%lo``):
    the address, one of WILDCARDS, "loopback", or None when it is none of those."""
    text = text.split("%")[0].strip("[]")
    if text == "*":
        return text
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    ip = getattr(ip, "ipv4_mapped", None) or ip
    if ip.is_loopback:
        return "loopback"
    if ip.is_unspecified:
        return "0.0.0.0" if ip.version == 4 else "::"
    return str(ip)


class Unreachable(Exception):
    """No connection to a listener (refused, filtered, no route): nothing to knock on from here."""


def _exchange(address: str, port: int, data: bytes, timeout: float) -> bytes:
    """Send ``data`` on a new connection; the first line of the answer (at most 256 bytes, what
    came before ``timeout``, the peer's close or its reset)."""
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except socket.gaierror:
        raise  # a name that does not resolve is the input's fault, not the listener's
    except OSError as error:
        raise Unreachable(error.strerror or str(error)) from None
    reply = b""
    with sock:
        try:
            sock.sendall(data)
            while b"\n" not in reply and len(reply) < 256:
                chunk = sock.recv(256 - len(reply))
                if not chunk:
                    break
                reply += chunk
        except OSError:  # a timeout, or a reset: what came is the answer
            pass
    return reply


def _http_status(listener: Listener, path: str, headers: dict[str, str], timeout: float) -> int:
    host = f"[{listener.address}]" if ":" in listener.address else listener.address
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{listener.port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    reply = _exchange(listener.address, listener.port, ("\r\n".join(lines) + "\r\n\r\n").encode(), timeout)
    if not reply.startswith(b"HTTP/"):
        return -1  # not an HTTP server
    status = reply.split(b"\r\n", 1)[0].split(b" ")
    return int(status[1]) if len(status) > 1 and status[1].isdigit() else 0


def knock(listener: Listener, timeout: float = 3.0) -> Knock:
    """Try one listener the ways the module's doc says."""
    result = Knock(listener)
    try:
        _try(listener, result, timeout)
    except Unreachable as error:
        if not result.protocol:  # never reached: say so, it is no finding (a firewall does that)
            result.protocol, result.note = "unreachable", str(error)
        else:  # it went away while being tried: what was not tried is not known to refuse
            result.answered.append(f"not tried to the end ({error})")
    allowed = open_by_design(listener.process)
    for what in result.answered:
        reason = allowed.get(what.split(" (")[0]) or allowed.get("*")
        if reason is not None and not what.startswith("not tried"):
            result.by_design[what] = reason
        else:
            result.findings.append(what)
    return result


def open_by_design(process: str) -> dict[str, str]:
    """What answers by design for a listener of ``process`` (ss's names, "/" between them)."""
    return {what: why for name in process.split("/") for what, why in OPEN_BY_DESIGN.get(name, {}).items()}


def _try(listener: Listener, result: Knock, timeout: float) -> None:
    hello = _exchange(listener.address, listener.port, b"PING\r\n", timeout)
    if hello.startswith((b"+PONG", b"-NOAUTH", b"-ERR", b"-WRONGPASS")):
        result.protocol = "redis"
        if hello.startswith(b"+PONG"):
            result.answered.append("PING without AUTH")
        else:
            result.refused += 1
        for auth in (f"AUTH {WRONG_PASSWORD}\r\n", f"AUTH llmobs {WRONG_PASSWORD}\r\n"):
            if _exchange(listener.address, listener.port, auth.encode(), timeout).startswith(b"+"):
                result.answered.append("AUTH with a wrong password")
            else:
                result.refused += 1
    # (a server that takes "PING" for HTTP/0.9 answers without a status line: ask it properly)
    elif hello.startswith(b"HTTP/") or _http_status(listener, "/", {}, timeout) >= 0:
        result.protocol = "http"
        for path in PATHS:
            for kind, headers in CREDENTIALS.items():
                status = _http_status(listener, path, headers, timeout)
                if 200 <= status < 300:  # a redirect or a refusal gives nothing
                    result.answered.append(path if kind == "none" else f"{path} ({kind}: {status})")
                else:
                    result.refused += 1
    else:  # it took the connection and speaks something else (or nothing)
        result.protocol = "other protocol"
        result.answered.append("other protocol")
        result.note = f"first bytes {hello[:16].hex() or '(none)'}"


def load_hosts(path: str) -> list[Listener]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        fail(f"cannot read {path}: {error}")
    keys = ("host", "address")
    if not isinstance(data, list) or not all(
        isinstance(h, dict) and all(isinstance(h.get(k), str) for k in keys) for h in data
    ):
        fail(f"{path}: expected a list of {{host, address, ss}} objects, each value a string")
    listeners: list[Listener] = []
    for entry in data:
        if not isinstance(entry.get("ss"), str):
            fail(f"{path}: no ss output of {entry['host']} (did ss fail there?): it cannot be swept")
        found, bad = parse_ss(entry["host"], entry["address"], entry["ss"])
        if bad:
            fail(f"{path}: {bad} line(s) of {entry['host']}'s ss output are not `ss -Hltnp` lines")
        listeners += found
    return listeners


def report(knocks: list[Knock]) -> str:
    lines = []
    for k in knocks:
        ln = k.listener
        where = f"{ln.host} {ln.bind}:{ln.port} ({ln.process}, {k.protocol})"
        if k.findings:
            lines.append(f"OPEN        {where}: answered {', '.join(k.findings)}")
        elif k.by_design:
            lines.append(f"by design   {where}: {'; '.join(sorted(set(k.by_design.values())))}")
        elif k.protocol == "unreachable":
            lines.append(f"unreachable {where}: {k.note}")
        else:
            lines.append(f"refused     {where}: {k.refused} tries")
    open_ = sum(1 for k in knocks if k.findings)
    unreachable = sum(1 for k in knocks if k.protocol == "unreachable")
    lines.append(
        f"{len(knocks)} listeners, {open_} open without a credential and not by design, "
        f"{unreachable} unreachable from here"
    )
    return printable("\n".join(lines))


EPILOG = """examples:
  security-sweep --hosts listeners.json          (playbooks/security-sweep.yml writes it)
  security-sweep --hosts listeners.json --json
  security-sweep --hosts listeners.json --export sweep.json   (the text on stdout, JSON in the file)
  security-sweep --list                          (what answers by design, and why)

exit codes: 0 nothing answered that is not by design, 1 something did, 2 bad input, 3 internal error
"""


def _main(argv: list[str]) -> int:
    parser = argument_parser(__doc__, EPILOG, debug=True)
    parser.add_argument("--hosts", help="JSON list of {host, address, ss} (see above)")
    parser.add_argument("--list", action="store_true", help="list what answers by design, and why")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per connection (default 3)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--export", metavar="FILE", help="also write the report as JSON to FILE")
    args = parser.parse_args(argv)
    if args.list:
        for process, allowed in OPEN_BY_DESIGN.items():
            for what, why in allowed.items():
                print(f"{process:16} {what:15} {why}")
        return 0
    if not args.hosts:
        parser.error("--hosts is required (or --list)")
    if not args.timeout > 0:
        parser.error("--timeout must be a positive number of seconds")
    listeners = load_hosts(args.hosts)
    try:
        knocks = [knock(listener, args.timeout) for listener in listeners]
    except socket.gaierror as error:
        fail(f"a host's address does not resolve here: {error.strerror or error}")
    data = to_json([_as_dict(k) for k in knocks])
    if args.export:
        Path(args.export).write_text(data + "\n", encoding="utf-8")
    print(data if args.json else report(knocks))
    return 1 if any(k.findings for k in knocks) else 0


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


def _as_dict(k: Knock) -> dict[str, Any]:
    return {**asdict(k), "listener": asdict(k.listener)}
