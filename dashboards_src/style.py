"""House style: grafanalib 0.7.1 with its dated defaults fixed, for Grafana 10 and later.

grafanalib's defaults come from Grafana 6/7 (reference/dashboards.md). The dashboard modules build
panels only through the factories here, which fix them:

| grafanalib default                                 | here                                          |
|----------------------------------------------------|-----------------------------------------------|
| schemaVersion 12, legacy top-level keys            | SCHEMA_VERSION; to_json() keeps only the keys |
|                                                    | current Grafana reads                         |
| Target.intervalFactor=2 (half resolution)          | 1                                             |
| Panel.maxDataPoints=100 (coarse $__rate_interval)  | None (Grafana picks from the panel's width)   |
| Stat: noValue "none", reduceCalc "mean"            | "No data", lastNotNull, explicit thresholds   |
| Threshold() writes the base step's value as "null" | plain dicts, value None                       |
| Heatmap: the pre-9.1 panel; Table: Grafana 7 keys  | own Heatmap and Table panels below            |
| untyped datasource                                 | DATASOURCE on panels, targets, variables      |
| TimeSeries valueMin/valueMax accept int only       | percent panels use 0 and 1 (ints)             |

Layout: a dashboard is rows of (height, [(width, panel), ...]); positions and ids (1, 2, ... in
reading order) follow from it, so both are stable from build to build.
"""

from __future__ import annotations

import json
from typing import Any

import attr
from grafanalib import core as g
from grafanalib._gen import DashboardEncoder

SCHEMA_VERSION = 39  # Grafana 10.4 / 11.0
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
TAG = "llmobs"
GRID_COLUMNS = 24

# What current Grafana reads; to_json() drops every other key grafanalib writes.
DASHBOARD_KEYS = {
    "annotations", "description", "editable", "graphTooltip", "links", "panels", "refresh",
    "schemaVersion", "tags", "templating", "time", "timepicker", "timezone", "title", "uid",
}  # fmt: skip
PANEL_KEYS = {
    "datasource", "description", "fieldConfig", "gridPos", "id", "options", "targets", "title",
    "transformations", "type",
}  # fmt: skip
TARGET_KEYS = {
    "datasource", "expr", "format", "instant", "intervalFactor", "legendFormat", "range", "refId",
}  # fmt: skip


# --- queries ------------------------------------------------------------------------------------


def target(
    expr: str, legend: str = "", ref_id: str = "A", *, instant: bool = False, fmt: str = "time_series"
):
    return g.Target(
        expr=expr,
        legendFormat=legend,
        refId=ref_id,
        instant=instant,
        format=fmt,
        intervalFactor=1,
        datasource=DATASOURCE,
    )


def targets(*specs: tuple[str, str], instant: bool = False, fmt: str = "time_series") -> list:
    """Targets A, B, C... from (expr, legend) pairs."""
    return [
        target(expr, legend, chr(ord("A") + i), instant=instant, fmt=fmt)
        for i, (expr, legend) in enumerate(specs)
    ]


# --- field options ------------------------------------------------------------------------------


def steps(base: str, *levels: tuple[float, str]) -> list[dict]:
    """Threshold steps: the base colour, then (from value, colour) pairs."""
    return [{"color": base, "value": None}, *({"color": c, "value": v} for v, c in levels)]


def value_mappings(texts: dict[int, tuple[str, str]]) -> list[dict]:
    """{value: (text, colour)} as one Grafana value mapping."""
    options = {
        str(v): {"text": text, "color": color, "index": i}
        for i, (v, (text, color)) in enumerate(texts.items())
    }
    return [{"type": "value", "options": options}]


# --- panels -------------------------------------------------------------------------------------


def _base(title: str, description: str, queries: list) -> dict:
    """What every panel shares: the datasource variable, full resolution, a null base step."""
    return {
        "title": title,
        "description": description,
        "dataSource": DATASOURCE,
        "targets": queries,
        "maxDataPoints": None,
        "thresholds": steps("green"),
    }


def timeseries(
    title: str,
    description: str,
    unit: str,
    queries: list,
    *,
    stack: bool = False,
    percent: bool = False,
    legend_calcs: tuple[str, ...] = ("mean", "max", "lastNotNull"),
) -> g.TimeSeries:
    return g.TimeSeries(
        **_base(title, description, queries),
        unit=unit,
        fillOpacity=40 if stack else 10,
        showPoints="never",
        stacking={"mode": "normal" if stack else "none", "group": "A"},
        legendDisplayMode="table",
        legendCalcs=list(legend_calcs),
        tooltipMode="multi",
        tooltipSort="desc",
        valueMin=0,
        valueMax=1 if percent else None,
    )


def stat(
    title: str,
    description: str,
    unit: str,
    queries: list,
    *,
    thresholds: list[dict] | None = None,
    mappings: list[dict] | None = None,
    no_value: str = "No data",
    decimals: int | None = None,
) -> g.Stat:
    return g.Stat(
        **_base(title, description, queries) | {"thresholds": thresholds or steps("green")},
        format=unit,
        decimals=decimals,
        reduceCalc="lastNotNull",
        noValue=no_value,
        mappings=mappings or [],
        graphMode="none",
        colorMode="value",
    )


def piechart(title: str, description: str, unit: str, queries: list) -> g.PieChartv2:
    return g.PieChartv2(
        **_base(title, description, queries),
        unit=unit,
        pieType="donut",
        reduceOptionsCalcs=["mean"],  # the share over the whole time range
        legendDisplayMode="table",
        legendPlacement="right",
        legendValues=["percent"],
    )


@attr.s
class Heatmap(g.Panel):
    """Grafana's heatmap since 9.1 (grafanalib's Heatmap writes the old one): the buckets come
    from Prometheus (targets with format "heatmap"), the panel does not recalculate them."""

    y_unit = attr.ib(default="s")
    cell_unit = attr.ib(default="reqps")

    def to_json_data(self):
        return self.panel_json(
            {
                "type": "heatmap",
                "fieldConfig": {
                    "defaults": {"custom": {"scaleDistribution": {"type": "linear"}}},
                    "overrides": [],
                },
                "options": {
                    "calculate": False,
                    "cellGap": 1,
                    "cellValues": {"unit": self.cell_unit},
                    "color": {"mode": "scheme", "scheme": "Oranges", "scale": "exponential", "exponent": 0.5},
                    "filterValues": {"le": 1e-9},  # hide empty buckets
                    "legend": {"show": True},
                    "rowsFrame": {"layout": "auto"},
                    "tooltip": {"mode": "single", "yHistogram": True},
                    "yAxis": {"axisPlacement": "left", "unit": self.y_unit},
                },
            }
        )


def heatmap(title: str, description: str, expr: str, *, y_unit: str = "s") -> Heatmap:
    return Heatmap(**_base(title, description, [target(expr, "{{le}}", fmt="heatmap")]), y_unit=y_unit)


@attr.s
class Table(g.Panel):
    """A table of instant queries merged into one row per label set (grafanalib's Table writes
    Grafana 7 keys: top-level mappings, displayMode)."""

    unit = attr.ib(default="none")
    columns = attr.ib(factory=dict)  # "Value #A" -> shown name, in display order
    overrides = attr.ib(factory=list)
    mappings = attr.ib(factory=list)
    sort_by = attr.ib(default="")

    def to_json_data(self):
        hidden = {"Time": True}
        order = {name: i for i, name in enumerate(self.columns.values())}
        return self.panel_json(
            {
                "type": "table",
                "fieldConfig": {
                    "defaults": {"unit": self.unit, "mappings": self.mappings, "custom": {"align": "auto"}},
                    "overrides": self.overrides,
                },
                "options": {
                    "showHeader": True,
                    "cellHeight": "sm",
                    "sortBy": [{"displayName": self.sort_by, "desc": True}] if self.sort_by else [],
                },
                "transformations": [
                    {"id": "merge", "options": {}},
                    {"id": "organize", "options": {"excludeByName": hidden, "renameByName": self.columns}},
                    {"id": "organize", "options": {"indexByName": order}},
                ],
            }
        )


def table(
    title: str,
    description: str,
    unit: str,
    columns: list[tuple[str, str, str]],
    *,
    properties: dict[str, list[dict]] | None = None,
    sort_by: str = "",
) -> Table:
    """columns: (expr, shown name, unit) each, as instant queries A, B, ... in table format;
    properties: more field properties by shown name (mappings, cell options)."""
    queries = targets(*((expr, "") for expr, _, _ in columns), instant=True, fmt="table")
    names = {f"Value #{q.refId}": name for q, (_, name, _) in zip(queries, columns, strict=True)}
    overrides = []
    for _, name, col_unit in columns:
        extra = (properties or {}).get(name, [])
        if col_unit != unit or extra:
            overrides.append(
                {
                    "matcher": {"id": "byName", "options": name},
                    "properties": [{"id": "unit", "value": col_unit}, *extra],
                }
            )
    return Table(
        **_base(title, description, queries), unit=unit, columns=names, overrides=overrides, sort_by=sort_by
    )


# --- dashboards ---------------------------------------------------------------------------------


def datasource_variable() -> dict:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},  # Grafana selects the default Prometheus data source
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
    }


def query_variable(name: str, label: str, query: str, *, default: str | None = None) -> dict:
    """A variable from Prometheus labels. Without a default it is multi-valued with All (.*)."""
    every = default is None
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-values"},
        "definition": query,
        "refresh": 2,  # on time range change: new gateways and models appear
        "sort": 1,
        "multi": every,
        "includeAll": every,
        **({"allValue": ".*"} if every else {}),
        "current": {"text": ["All"], "value": ["$__all"]} if every else {"text": default, "value": default},
        "hide": 0,
        "regex": "",
        "options": [],
    }


def firing_alerts(expr: str) -> dict:
    """Annotation: alerts firing in Prometheus, on every time series."""
    return {
        "name": "Firing alerts",
        "datasource": DATASOURCE,
        "enable": True,
        "expr": expr,
        "iconColor": "red",
        "step": "1m",
        "titleFormat": "{{alertname}}",
        "textFormat": "{{severity}} on {{instance}}",
        "tagKeys": "severity",
        "useValueForTime": False,
    }


BUILT_IN_ANNOTATIONS = {
    "builtIn": 1,
    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
    "enable": True,
    "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)",
    "name": "Annotations & Alerts",
    "type": "dashboard",
}


def layout(rows: list[tuple[int, list[tuple[int, g.Panel]]]]) -> list[g.Panel]:
    """Place rows of (height, [(width, panel), ...]) top to bottom, left to right; ids in reading
    order. A row must fill the 24 columns exactly."""
    placed, y = [], 0
    for height, row in rows:
        x = 0
        for width, panel in row:
            placed.append(
                attr.evolve(panel, id=len(placed) + 1, gridPos=g.GridPos(h=height, w=width, x=x, y=y))
            )
            x += width
        if x != GRID_COLUMNS:
            raise ValueError(f"a row is {x} columns wide, not {GRID_COLUMNS}: {[p.title for _, p in row]}")
        y += height
    return placed


def dashboard(
    *, title: str, uid: str, description: str, variables: list[dict], annotation: str, rows: list
) -> g.Dashboard:
    return g.Dashboard(
        title=title,
        uid=uid,
        description=description,
        tags=[TAG],
        panels=layout(rows),
        templating=g.Templating(list=[datasource_variable(), *variables]),
        annotations=g.Annotations(list=[BUILT_IN_ANNOTATIONS, firing_alerts(annotation)]),
        links=[
            {
                "title": "LLM gateway dashboards",
                "type": "dashboards",
                "tags": [TAG],
                "asDropdown": False,
                "includeVars": True,
                "keepTime": True,
            }
        ],
        schemaVersion=SCHEMA_VERSION,
        graphTooltip=g.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR,
        refresh="30s",
        timezone="browser",
        editable=True,
    )


# --- JSON ---------------------------------------------------------------------------------------


def _prune(value: Any) -> Any:
    """Drop None-valued keys, except a threshold step's "value" (null is Grafana's base step)."""
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v is not None or k == "value"}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def to_json(board: g.Dashboard) -> dict:
    """The dashboard as Grafana gets it: grafanalib's JSON with only the keys Grafana reads."""
    data = json.loads(json.dumps(board.to_json_data(), cls=DashboardEncoder))
    data = {k: v for k, v in data.items() if k in DASHBOARD_KEYS}
    data["timepicker"] = {"refresh_intervals": data["timepicker"]["refresh_intervals"]}
    panels = []
    for panel in data["panels"]:
        panel = {k: v for k, v in panel.items() if k in PANEL_KEYS}
        panel["targets"] = [
            {k: v for k, v in t.items() if k in TARGET_KEYS} | {"range": not t["instant"]}
            for t in panel["targets"]
        ]
        if not panel.get("transformations"):
            panel.pop("transformations", None)
        panels.append(panel)
    data["panels"] = panels
    return _prune(data)
