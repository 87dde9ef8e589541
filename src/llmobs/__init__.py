"""Shared code of the LLM gateway observability bundle.

Every script under scripts/, the services the roles deploy and the playbooks' helpers import
from here; nothing is copied between them.
"""

__version__ = "0.1.0"
