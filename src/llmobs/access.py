"""Where the gateway is and its key, as every tool that sends it requests finds them.

The URL: ``--url``, ``$LITELLM_URL``, ``LITELLM_URL=`` in the gateway host's env file (it listens on
its inventory address), else the guide's ``http://localhost:4000``. The key, the first found:
``--key``, ``$LITELLM_API_KEY``, ``$LITELLM_MASTER_KEY``, ``LITELLM_MASTER_KEY=`` in the env file,
the control node's generated secret. Tools name the source (never the key).
"""

from __future__ import annotations

import os
from pathlib import Path

from llmobs import secrets

DEFAULT_URL = "http://localhost:4000"
# Where the litellm role writes the master key (and LITELLM_URL, the address the gateway listens
# on) on gateway hosts; mode 0600: root can read it.
GATEWAY_ENV_FILE = Path("/etc/litellm/litellm.env")
# The control node's generated secret (.secrets/<site>/, without the sk- prefix); the folder
# LLMOBS_SECRETS_DIR names wins, as it does for the roles.
REPO_SECRETS_DIR = Path(__file__).resolve().parents[2] / ".secrets" / "local"
MASTER_KEY_SECRET = "litellm_master_key"
KEY_PREFIX = secrets.GENERATED[MASTER_KEY_SECRET]


def default_url() -> str:
    """$LITELLM_URL, else the gateway host's env file (it listens on its inventory address)."""
    return os.environ.get("LITELLM_URL") or _env_file_value(GATEWAY_ENV_FILE, "LITELLM_URL") or DEFAULT_URL


def find_key(explicit: str | None) -> tuple[str | None, str]:
    """(key, where it came from); (None, "none") when no source has one."""
    if explicit:
        return explicit, "--key"
    for name in ("LITELLM_API_KEY", "LITELLM_MASTER_KEY"):
        if os.environ.get(name):
            return os.environ[name], f"${name}"
    key = _env_file_value(GATEWAY_ENV_FILE, "LITELLM_MASTER_KEY")
    if key:
        return key, str(GATEWAY_ENV_FILE)
    secret = master_key_secret()
    try:
        value = secret.read_text().strip()
    except OSError:
        value = ""
    if value:
        return (value if value.startswith(KEY_PREFIX) else KEY_PREFIX + value), str(secret)
    return None, "none"


def master_key_secret() -> Path:
    folder = os.environ.get("LLMOBS_SECRETS_DIR")
    return (Path(folder) if folder else REPO_SECRETS_DIR) / MASTER_KEY_SECRET


def env_file(path: Path) -> dict[str, str]:
    """The KEY=VALUE lines of a systemd EnvironmentFile (quotes stripped); OSError when unreadable."""
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            values[key.strip()] = value.strip().strip("'\"")
    return values


def _env_file_value(path: Path, name: str) -> str | None:
    try:
        return env_file(path).get(name) or None
    except OSError:  # absent, or not readable by this user
        return None


def key_sources() -> str:
    return f"--key, $LITELLM_API_KEY, $LITELLM_MASTER_KEY, {GATEWAY_ENV_FILE}, {master_key_secret()}"


def explain(
    kind: str,
    url: str,
    detail: str,
    key_source: str,
    status: int | None = None,
    model: str | None = None,
    available: str = "unknown",
) -> str | None:
    """One line for a request that nothing will make succeed (kind ``unreachable``, ``wrong_key``
    or ``unknown_model``), naming the gateway, the cause and what to check; None for other kinds."""
    if kind == "unreachable":
        return f"cannot reach the gateway at {url}: {detail}"
    if kind == "wrong_key":
        answer = f"HTTP {status}: {detail}"
        if key_source == "none":
            return f"the gateway at {url} wants a key ({answer}); none found in {key_sources()}"
        # LiteLLM's answer to any key but the master key when it has no database
        no_db = ""
        if "No connected db" in answer:
            no_db = " (without a database the gateway accepts only its master key)"
        return f"the gateway at {url} refused the key from {key_source} ({answer}){no_db}"
    if kind == "unknown_model":
        return f"unknown model {model!r} at {url}; available: {available}"
    if key_source == "none" and status == 500:
        # LiteLLM 1.108 answers a request without a key with a 500: its error handler imports
        # prisma, which a gateway without a database does not have
        return (
            f"the gateway at {url} failed on a request without a key (HTTP 500: {detail}); it may want "
            f"one: none found in {key_sources()}"
        )
    return None
