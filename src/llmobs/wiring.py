"""How the hosts find each other's services: listen addresses, and the settings of another host.

A role's defaults exist only for the hosts that run it, in the play that runs it. A host that needs
another host's service (Prometheus scraping a gateway, Grafana reading Prometheus, a gateway using
Redis, Locust's workers joining their master) sees only that host's inventory variables and facts.
``setting`` reads a variable of another host as that host's role sees it: the inventory's value,
else the owning role's default (``roles/<role>/defaults/main.yml``, the one place it is written),
rendered with that host's own settings. Roles use it through the llmobs filters::

    {{ hostvars[host] | llmobs_address('redis_listen_address') }}

Every listen address has one form, ``host:port`` (IPv6 as ``[::1]:port``). ``address`` turns one
into what a client on another host connects to: a wildcard (0.0.0.0, ::) becomes that host's
``ansible_host`` or inventory name.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROLES_DIR = Path(__file__).resolve().parents[2] / "roles"
WILDCARDS = ("0.0.0.0", "::", "")


class WiringError(ValueError):
    """A setting of another host that cannot be worked out; the message names it."""


@functools.cache
def _role_defaults(role: str) -> dict[str, Any]:
    import yaml

    path = ROLES_DIR / role / "defaults" / "main.yml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


@functools.cache
def _roles_longest_first() -> tuple[str, ...]:
    roles = (p.name for p in ROLES_DIR.iterdir() if (p / "defaults" / "main.yml").is_file())
    return tuple(sorted(roles, key=len, reverse=True))


def owner(name: str) -> str:
    """The role a variable belongs to, by its prefix (the longest role name that prefixes it)."""
    for role in _roles_longest_first():
        if name.startswith(role + "_"):
            return role
    raise WiringError(f"{name} belongs to no role of this bundle (no role's name prefixes it)")


def setting(hostvars: Mapping[str, Any], name: str, _seen: tuple[str, ...] = ()) -> Any:
    """``name`` on the host whose variables are ``hostvars``: its own value, else its role's default."""
    import jinja2

    if name in hostvars:
        # A value from facts this run did not gather (--limit leaves the host out) comes back
        # undefined: Ansible works out every default of a role's spec on entry, needed or not, so
        # this must not stop the play; the role's default stands in (as before llmobs.wiring).
        try:
            value = hostvars[name]
            if not isinstance(value, jinja2.Undefined):
                return value
        except jinja2.TemplateError:
            pass
    if name in _seen:
        raise WiringError(f"the default of {name} refers back to itself ({' -> '.join((*_seen, name))})")
    role = owner(name)
    defaults = _role_defaults(role)
    if name not in defaults:
        raise WiringError(f"{name} is not a default of role {role}")
    value = defaults[name]
    if not (isinstance(value, str) and "{" in value):
        return value
    from jinja2 import meta

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    try:
        names = meta.find_undeclared_variables(env.parse(value))
        return env.from_string(value).render({n: setting(hostvars, n, (*_seen, name)) for n in names})
    except jinja2.TemplateError as error:
        raise WiringError(
            f"the default of {name} ({value!r}) cannot be worked out for another host ({error}); "
            f"set {name} in the inventory"
        ) from None


def split(address: Any) -> tuple[str, int]:
    """``host:port`` (IPv6 as ``[addr]:port``) as (host, port); ValueError saying what is wrong."""
    text = str(address)
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not host:port with a port from 1 to 65535")
    if host.startswith("[") and host.endswith("]"):
        if not _ipv6(host[1:-1]):
            raise ValueError(f"{text!r}: {host} is not an IPv6 address")
        return host[1:-1], int(port)
    if _ipv6(host):
        raise ValueError(f"{text!r}: write an IPv6 address in brackets, as [{host}]:{port}")
    if any(c.isspace() or c in "/@:[]" for c in host):
        raise ValueError(f"{text!r}: {host!r} is not a host name or address")
    return host, int(port)


def _ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def join(host: str, port: int) -> str:
    """The inverse of ``split``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def problem(address: Any) -> str:
    """What is wrong with a listen address, or '' when it is one."""
    try:
        split(address)
    except ValueError as error:
        return str(error)
    return ""


def reach(hostvars: Mapping[str, Any]) -> str:
    """How another host reaches this one: its ``ansible_host``, else its inventory name."""
    return str(hostvars.get("ansible_host") or hostvars.get("inventory_hostname") or "127.0.0.1")


def address(hostvars: Mapping[str, Any], name: str) -> str:
    """Where a client on another host reaches the service that listens on ``name`` of this host."""
    host, port = split(setting(hostvars, name))
    return join(reach(hostvars) if host in WILDCARDS else host, port)


def prometheus_url(hostvars: Mapping[str, Any]) -> str:
    """The base URL of the Prometheus on this host (https when its web TLS is configured)."""
    scheme = "https" if setting(hostvars, "prometheus_web_tls") else "http"
    return f"{scheme}://{address(hostvars, 'prometheus_web_listen_address')}"
