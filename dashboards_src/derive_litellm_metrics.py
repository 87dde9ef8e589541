#!/usr/bin/env python3
"""Write litellm_metrics.json: every metric the pinned LiteLLM proxy can expose, with its labels.

Run it with the Python of a venv holding the pinned ``litellm[proxy]`` (requirements-services.txt),
from the repository's root:

    .cache/bench-litellm-venv/bin/python dashboards_src/derive_litellm_metrics.py

(any such venv will do: ``python3 -m venv /tmp/llvenv && /tmp/llvenv/bin/pip install -r
requirements-services.txt``). It registers the collectors the way the deployed gateway does, from
LiteLLM's own code, without starting a proxy: the ``prometheus`` callback (PrometheusLogger), the
``prometheus_system`` service callback (PrometheusServicesLogger) and the in-flight middleware's
gauge, with PROMETHEUS_MULTIPROC_DIR set (the role always sets it) and the role's
``litellm_prometheus_exclude_labels``. Then it reads each collector's type, label names and
multiprocess mode and writes the series names a scrape shows (only the role's
``litellm_prometheus_metrics`` of the request metrics, only the services of
``litellm_prometheus_services``): counters with ``_total``, histograms
as ``_bucket`` (label ``le``), ``_sum`` and ``_count``, gauges as they are, plus label ``pid`` on the
gauges whose multiprocess mode keeps one series per worker. ``_created`` series are left out (the
multiprocess exposition has none), and so are the collectors of features the bundle does not use
(database, admission control, spend-log cleanup).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = Path(__file__).with_name("litellm_metrics.json")
# what the litellm role's preflight checks litellm_prometheus_metrics and _services against
NAMES = ROOT / "roles" / "litellm" / "files" / "litellm-names.yml"
ROLE_DEFAULTS = ROOT / "roles" / "litellm" / "defaults" / "main.yml"
PIN_FILE = ROOT / "requirements-services.txt"
# prometheus_client's multiprocess modes that keep one series per worker, labelled pid.
PER_WORKER_MODES = {"all", "liveall"}


def pinned_version() -> str:
    match = re.search(r"^litellm\[proxy\]==(\S+)$", PIN_FILE.read_text(), re.M)
    if not match:
        sys.exit(f"no litellm[proxy]== pin in {PIN_FILE}")
    return match.group(1)


def register() -> list:
    """The collectors the deployed gateway registers, in LiteLLM's own code."""
    import litellm
    import yaml
    from litellm.integrations.prometheus import PrometheusLogger
    from litellm.integrations.prometheus_services import PrometheusServicesLogger
    from litellm.proxy.middleware.in_flight_requests_middleware import InFlightRequestsMiddleware
    from prometheus_client import REGISTRY

    defaults = yaml.safe_load(ROLE_DEFAULTS.read_text())
    litellm.prometheus_exclude_labels = defaults["litellm_prometheus_exclude_labels"]
    if defaults["litellm_prometheus_metrics"]:  # as roles/litellm/templates/config.yaml.j2 renders it
        litellm.prometheus_metrics_config = [
            {"group": "bundle", "metrics": defaults["litellm_prometheus_metrics"]}
        ]
    PrometheusLogger()
    services = PrometheusServicesLogger()
    InFlightRequestsMiddleware._get_gauge()
    # the services the gateway does not report (llmobs.gateway.litellm_prometheus.keep_services)
    kept = set(defaults["litellm_prometheus_services"])
    unreported = {
        id(c)
        for service, owned in services.payload_to_prometheus_map.items()
        if kept and service not in kept
        for c in owned
    }
    collectors = {id(c): c for c in REGISTRY._names_to_collectors.values() if id(c) not in unreported}
    return [c for c in collectors.values() if getattr(c, "_name", "").startswith("litellm_")]


def series(collector) -> dict[str, dict]:
    kind = collector._type
    name = collector._name
    labels = sorted(collector._labelnames)
    if kind == "counter":
        return {f"{name}_total": {"type": kind, "labels": labels}}
    if kind == "histogram":
        return {
            f"{name}_bucket": {"type": kind, "labels": sorted([*labels, "le"])},
            f"{name}_sum": {"type": kind, "labels": labels},
            f"{name}_count": {"type": kind, "labels": labels},
        }
    if kind == "gauge":
        if collector._multiprocess_mode in PER_WORKER_MODES:
            labels = sorted([*labels, "pid"])
        return {name: {"type": kind, "labels": labels}}
    raise SystemExit(f"unexpected collector type {kind} for {name}")


def names_document(version: str) -> str:
    """The names prometheus_metrics_config accepts and the ServiceTypes values, as YAML."""
    from typing import get_args

    from litellm.types.integrations.prometheus import DEFINED_PROMETHEUS_METRICS
    from litellm.types.services import ServiceTypes

    lines = [
        f"# Written by dashboards_src/derive_litellm_metrics.py from litellm {version}: the names",
        "# litellm_prometheus_metrics and litellm_prometheus_services may hold (checked in preflight).",
        "---",
        f"litellm_version: {version}",
        "metrics:",
        *(f"  - {name}" for name in sorted(get_args(DEFINED_PROMETHEUS_METRICS))),
        "services:",
        *(f"  - {service.value}" for service in sorted(ServiceTypes, key=lambda s: s.value)),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=OUTPUT, help="default: %(default)s")
    output = parser.parse_args(argv).output
    # Before LiteLLM is imported: the gateway's multiprocess mode, and no download of the cost map.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="litellm-metrics-")
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("litellm")
    except PackageNotFoundError:
        print(f"no litellm in {sys.executable}: run this with a venv of {PIN_FILE.name}", file=sys.stderr)
        return 2

    if found != pinned_version():
        print(f"this venv has litellm {found}, the pin is {pinned_version()}", file=sys.stderr)
        return 1
    metrics: dict[str, dict] = {}
    for collector in register():
        metrics |= series(collector)
    document = {
        "litellm": found,
        "derived": (
            "collectors registered by LiteLLM's PrometheusLogger, PrometheusServicesLogger and the "
            "in-flight middleware, with PROMETHEUS_MULTIPROC_DIR set, the role's exclude labels, its "
            "litellm_prometheus_metrics and, of the services, those of litellm_prometheus_services"
        ),
        "regenerate": "<litellm venv>/bin/python dashboards_src/derive_litellm_metrics.py",
        "metrics": metrics,
    }
    output.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    print(f"{output}: {len(metrics)} series names of litellm {found}")
    NAMES.write_text(names_document(found))
    print(f"{NAMES}: the metric and service names of litellm {found}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
