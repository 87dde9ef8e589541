"""The lookup every role reads a generated secret with: lookup('llmobs_secret', 'redis_password').

The table of secrets is llmobs.secrets; the files are made and read by ansible.builtin.password,
so a file generated before this plugin existed reads the same.
"""

import sys
from pathlib import Path

from ansible.errors import AnsibleError
from ansible.plugins.loader import lookup_loader
from ansible.plugins.lookup import LookupBase

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))

from llmobs import secrets

DOCUMENTATION = """
name: llmobs_secret
short_description: a secret generated on the control node (created on first use, 0600)
description:
  - Returns each named secret from the site's secrets folder (common_secrets_path, set by the
    common role), generating it on first use.
  - "With names=true, the names of every secret the bundle generates (the common role creates
    them at once, before any host reads one)."
  - litellm_master_key comes with LiteLLM's sk- prefix.
  - "With host=H (a role reading another role's secret, e.g. the gateways' Redis password), the
    value H's inventory supplies for that name (ansible-vault) wins; nothing is generated then."
options:
  _terms:
    description: Secret names (llmobs.secrets.GENERATED).
    required: false
  host:
    description: The inventory host that owns the secret; a value supplied there wins.
    type: str
  names:
    description: List the secrets' names instead of reading values.
    type: bool
    default: false
"""

RETURN = """
_raw:
  description: the secrets' values, in the order asked
  type: list
  elements: str
"""


class LookupModule(LookupBase):
    def run(self, terms, variables=None, names=False, host=None, **kwargs):
        if names:
            return list(secrets.GENERATED)
        for name in terms:
            problem = secrets.unknown(str(name))
            if problem:
                raise AnsibleError(f"llmobs_secret: {problem}")
        folder = (variables or {}).get("common_secrets_path")
        if not folder:
            raise AnsibleError("llmobs_secret: common_secrets_path is not set (the common role sets it)")
        folder = self._templar.template(folder)
        password = lookup_loader.get("ansible.builtin.password", loader=self._loader, templar=self._templar)
        values = []
        for name in terms:
            supplied = self._supplied(variables or {}, host, name) if host else None
            if supplied is not None:
                values.append(supplied)
                continue
            (value,) = password.run(
                [f"{folder}/{name}"], variables, length=secrets.LENGTH, chars=list(secrets.CHARS)
            )
            values.append(secrets.GENERATED[name] + value)
        return values

    @staticmethod
    def _supplied(variables, host, name):
        """The value the owner host's inventory (or the extra vars) gives the secret, if any. Only
        the inventory's: another role's defaults are not among a host's variables here."""
        hostvars = variables.get("hostvars") or {}
        if host not in hostvars:
            raise AnsibleError(f"llmobs_secret: host {host!r} is not in the inventory")
        owner = hostvars[host]
        return owner.get(name)
