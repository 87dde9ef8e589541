"""The secrets the bundle generates on the control node, in one table.

Each is a file of 32 letters and digits, mode 0600, in the site's secrets folder (the roles'
``common_secrets_path``: ``$LLMOBS_SECRETS_DIR``, else ``.secrets/<site>/`` beside ansible.cfg),
created on first use and kept. The roles read them through the ``llmobs_secret`` lookup
(roles/common/lookup_plugins); a value supplied in the inventory (ansible-vault) wins and nothing
is generated for it.
"""

from __future__ import annotations

# name -> the prefix the value is used with (LiteLLM's keys start with sk-; the file does not)
GENERATED: dict[str, str] = {
    "redis_password": "",
    "litellm_master_key": "sk-",
    "llm_simulator_admin_token": "",
    "prometheus_web_password": "",
    "alertmanager_web_password": "",
    "grafana_admin_password": "",
    "grafana_secret_key": "",
    "locust_web_password": "",
}
LENGTH = 32
CHARS = ("ascii_letters", "digits")


def unknown(name: str) -> str | None:
    """A one-line problem for a name that is not a generated secret, else None."""
    if name in GENERATED:
        return None
    return f"{name!r} is not a secret the bundle generates; known: {', '.join(GENERATED)}"
