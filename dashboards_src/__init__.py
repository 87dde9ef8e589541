"""The five Grafana dashboards of the seed guide, as grafanalib code.

    queries.py        every PromQL expression (one place: the builder can change, the queries stay)
    style.py          house style: grafanalib 0.7.1 with its dated defaults fixed, grid layout
    variables.py      template variables (datasource, job, instance, model, host)
    overview.py ...   one module per dashboard: its panels and their layout
    metrics.py        allow-lists of the metrics a panel may name (LiteLLM's derived from the pin)
    build.py          `make dashboards`: JSON into roles/grafana/files/dashboards/

For a live check (every panel returns data from a real Prometheus), panel_queries() gives each
panel's expressions with the template variables filled in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import overview, performance, provider_health, style, system_health, tokens

MODULES = (overview, tokens, performance, provider_health, system_health)


def dashboards() -> dict[str, dict]:
    """File stem (01-overview, ...) -> the dashboard's JSON as Grafana gets it."""
    return {module.FILE: style.to_json(module.dashboard()) for module in MODULES}


def optional_panels() -> dict[str, frozenset[str]]:
    """Dashboard title -> titles of the panels that may be empty on a healthy site."""
    return {module.TITLE: getattr(module, "OPTIONAL_PANELS", frozenset()) for module in MODULES}


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replace Grafana's $name and ${name} as it would, from values (without the $)."""

    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no value for ${name} in {expr}")
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


@dataclass(frozen=True)
class PanelQueries:
    dashboard: str
    panel: str
    exprs: tuple[str, ...]
    optional: bool  # may be empty on a healthy site (GPU panels where no GPU exporter runs)


def panel_queries(
    job: str = "litellm",
    instance: str = ".*",
    model: str = ".*",
    host: str = ".*",
    rate_interval: str = "1m",
    time_range: str = "15m",
) -> list[PanelQueries]:
    """Every panel's expressions with the variables substituted as Grafana would for this
    selection. instance, model and host are regexes (``=~``); ".*" is Grafana's All.
    rate_interval stands for $__rate_interval (range queries), time_range for $__range (the
    instant queries that summarise the dashboard's time range)."""
    values = {
        "job": job,
        "instance": instance,
        "model": model,
        "host": host,
        "__rate_interval": rate_interval,
        "__range": time_range,
    }
    optional = optional_panels()
    found = []
    for board in dashboards().values():
        for panel in board["panels"]:
            found.append(
                PanelQueries(
                    dashboard=board["title"],
                    panel=panel["title"],
                    exprs=tuple(substitute(t["expr"], values) for t in panel["targets"]),
                    optional=panel["title"] in optional[board["title"]],
                )
            )
    return found
