"""The metrics a dashboard may name, with the labels each carries.

- LITELLM: what the pinned LiteLLM proxy exposes, derived from its code by
  derive_litellm_metrics.py into litellm_metrics.json (how: that script's docstring).
- EXPORTERS: the few exporter and Prometheus series the dashboards use, from the exporters the
  bundle installs (Debian's prometheus-node-exporter 1.5 and prometheus-redis-exporter,
  utkuozdemir/nvidia_gpu_exporter 1.3, whose docs/METRICS.md lists its names) and Prometheus itself.

Every scraped series also has the target labels job and instance.
"""

from __future__ import annotations

import json
from pathlib import Path

ALLOW_LIST = Path(__file__).with_name("litellm_metrics.json")
TARGET_LABELS = frozenset({"job", "instance"})

_document = json.loads(ALLOW_LIST.read_text())
LITELLM_VERSION: str = _document["litellm"]
LITELLM: dict[str, frozenset[str]] = {
    name: frozenset(m["labels"]) for name, m in _document["metrics"].items()
}

# name -> its labels; None: labels that vary (ALERTS carries each alert's labels).
EXPORTERS: dict[str, frozenset[str] | None] = {
    "node_cpu_seconds_total": frozenset({"cpu", "mode"}),
    "node_memory_MemAvailable_bytes": frozenset(),
    "node_memory_MemTotal_bytes": frozenset(),
    "redis_up": frozenset(),
    "nvidia_smi_utilization_gpu_ratio": frozenset({"uuid"}),
    "nvidia_smi_memory_used_bytes": frozenset({"uuid"}),
    "nvidia_smi_memory_total_bytes": frozenset({"uuid"}),
    "up": frozenset(),
    "ALERTS": None,
}


def labels(name: str) -> frozenset[str] | None:
    """The labels of a series name (target labels included); None when they vary. KeyError for
    a name that is in no allow-list."""
    found = LITELLM[name] if name in LITELLM else EXPORTERS[name]
    return None if found is None else found | TARGET_LABELS
