"""The five Grafana dashboards, checked without a Grafana server (reference/dashboards.md), cheapest
first: the committed JSON is a fresh build; structure (ids, grid, panel types, units,
descriptions, datasource variable, uids, windows, house style); every expression parses; every
metric it names is one the pinned LiteLLM (or an exporter, or a recording rule) emits, with the
labels it uses. Expression semantics with promtool: test_dashboards_promql.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import promql_parser as pp
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dashboards_src  # noqa: E402
from dashboards_src import build, metrics, style  # noqa: E402

BOARDS = dashboards_src.dashboards()
# The seed guide's five dashboards and the panels it lists (its notes in brackets dropped).
GUIDE = {
    "01-overview": [
        "Request rate", "Error rate", "Response time (P50, P95, P99)", "Active models",
        "Provider distribution", "Redis health", "System self-latency",
    ],
    "02-tokens": [
        "Token rate by model", "Total tokens consumed", "Input vs output tokens", "Tokens by provider",
        "Cost estimation",
    ],
    "03-performance": [
        "Latency comparison by provider", "P95 latency trends", "Latency heatmap",
        "Performance comparison table",
    ],
    "04-provider-health": [
        "Success rate by provider (%)", "Failure rate", "Provider status summary", "Traffic distribution",
    ],
    "05-system-health": [
        "Redis latency", "Redis failures", "LiteLLM self-latency", "System health score", "Cache hit rate",
        # host panels of issue 5
        "CPU utilization", "Memory utilization", "GPU utilization", "GPU memory",
    ],
}  # fmt: skip
UIDS = {
    "01-overview": "llmobs-overview",
    "02-tokens": "llmobs-tokens",
    "03-performance": "llmobs-performance",
    "04-provider-health": "llmobs-provider-health",
    "05-system-health": "llmobs-system-health",
}
PANEL_TYPES = {"timeseries", "stat", "table", "heatmap", "piechart"}
GATEWAY_VARIABLES = {"job", "instance"}
GRAFANA_VARIABLES = {"__rate_interval", "__range"}
# Durations standing for Grafana's windows, distinct so that the parsed tree tells them apart.
RATE_WINDOW, RANGE_WINDOW = "1111s", "2222s"
SAMPLE = {"job": "litellm", "instance": ".*", "model": ".*", "host": ".*"}
RANGE_FUNCTIONS = {"rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets"}
RECORDING_RULES = ROOT / "roles" / "prometheus" / "templates" / "rules"


def panels() -> Iterator[tuple[str, dict]]:
    for stem, board in BOARDS.items():
        for panel in board["panels"]:
            yield stem, panel


def expressions() -> Iterator[tuple[str, str, dict]]:
    """(where, expr, target) of every panel target and annotation."""
    for stem, panel in panels():
        for target in panel["targets"]:
            yield f"{stem} / {panel['title']} / {target['refId']}", target["expr"], target
    for stem, board in BOARDS.items():
        for annotation in board["annotations"]["list"]:
            if "expr" in annotation:
                yield f"{stem} / annotation {annotation['name']}", annotation["expr"], {"instant": False}


def parse(expr: str):
    windows = {"__rate_interval": RATE_WINDOW, "__range": RANGE_WINDOW}
    return pp.parse(dashboards_src.substitute(expr, SAMPLE | windows))


def walk(node) -> Iterator:
    """Every node of a promql_parser tree."""
    yield node
    if isinstance(node, pp.MatrixSelector):
        yield from walk(node.vector_selector)
    elif isinstance(node, pp.Call):
        for arg in node.args:
            yield from walk(arg)
    elif isinstance(node, pp.BinaryExpr):
        yield from walk(node.lhs)
        yield from walk(node.rhs)
    elif isinstance(node, (pp.AggregateExpr, pp.ParenExpr, pp.UnaryExpr, pp.SubqueryExpr)):
        yield from walk(node.expr)


def recording_rules() -> set[str]:
    text = "".join(p.read_text() for p in RECORDING_RULES.glob("*.yml.j2"))
    return set(re.findall(r"^\s*- record: (\S+)", text, re.M))


# --- the build -----------------------------------------------------------------------------------


def test_committed_json_is_a_fresh_build():
    problems = build.differences(build.OUT)
    assert not problems, "the committed dashboards are stale, run make dashboards:\n" + "\n".join(problems)


def test_build_is_deterministic_sorted_and_ends_with_a_newline():
    first, second = build.built(), build.built()
    assert first == second
    for name, text in first.items():
        assert text.endswith("}\n") and not text.endswith("\n\n"), name
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n", name


def test_the_check_mode_fails_on_a_stale_file_and_says_what_to_run(tmp_path):
    assert build.main(["--out", str(tmp_path)]) == 0
    assert build.main(["--out", str(tmp_path), "--check"]) == 0
    path = tmp_path / "03-performance.json"
    path.write_text(path.read_text().replace("$__rate_interval", "2m", 1))
    (tmp_path / "09-old.json").write_text("{}\n")
    result = subprocess.run(
        [sys.executable, "-m", "dashboards_src.build", "--out", str(tmp_path), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "03-performance.json: differs" in result.stderr
    assert "09-old.json: no dashboard builds it" in result.stderr
    assert "run make dashboards" in result.stderr


# --- structure -----------------------------------------------------------------------------------


def test_five_dashboards_with_the_guides_panels_and_stable_uids():
    assert list(BOARDS) == list(GUIDE)
    for stem, board in BOARDS.items():
        titles = [p["title"] for p in board["panels"]]
        assert sorted(titles) == sorted(GUIDE[stem]), stem
        assert board["uid"] == UIDS[stem]
        assert style.TAG in board["tags"]


def test_panel_ids_are_unique_and_the_grid_has_24_columns_without_overlap():
    for stem, board in BOARDS.items():
        ids = [p["id"] for p in board["panels"]]
        assert ids == list(range(1, len(ids) + 1)), stem
        taken: dict[tuple[int, int], str] = {}
        for panel in board["panels"]:
            pos = panel["gridPos"]
            assert pos["w"] > 0 and pos["h"] > 0 and pos["x"] >= 0 and pos["y"] >= 0, panel["title"]
            assert pos["x"] + pos["w"] <= style.GRID_COLUMNS, f"{stem} / {panel['title']} leaves the grid"
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in taken, f"{stem}: {panel['title']} overlaps {taken[(x, y)]}"
                    taken[(x, y)] = panel["title"]


def test_panel_types_are_current_no_legacy_graph():
    for stem, panel in panels():
        assert panel["type"] in PANEL_TYPES, f"{stem} / {panel['title']}: {panel['type']}"


def test_every_panel_has_a_unit_and_a_description():
    for stem, panel in panels():
        where = f"{stem} / {panel['title']}"
        if panel["type"] == "heatmap":
            unit = panel["options"]["yAxis"].get("unit")
        else:
            unit = panel["fieldConfig"]["defaults"].get("unit")
        assert unit, f"{where} has no unit"
        assert len(panel.get("description", "")) >= 40, f"{where} has no real description"


def test_every_error_panel_says_which_statuses_it_counts():
    """A panel over statuses (LiteLLM counts 4xx and 429 as failures) names 5xx, 408 and 429."""
    status_metrics = re.compile(r"failed_requests_metric|failure_responses|success_responses|status_code")
    found = 0
    for stem, panel in panels():
        if any(status_metrics.search(t["expr"]) for t in panel["targets"]):
            found += 1
            for status in ("5xx", "408", "429"):
                assert status in panel["description"], f"{stem} / {panel['title']}: says nothing of {status}"
    assert found >= 5


def test_the_datasource_variable_is_used_everywhere():
    for stem, board in BOARDS.items():
        text = json.dumps(board)
        assert "${DS_" not in text and "__inputs" not in text, stem
        variables = board["templating"]["list"]
        assert variables[0] | {"current": {}} == style.datasource_variable(), stem
        for variable in variables[1:]:
            assert variable["datasource"] == style.DATASOURCE, f"{stem}: ${variable['name']}"
        for annotation in board["annotations"]["list"][1:]:
            assert annotation["datasource"] == style.DATASOURCE, stem
        for panel in board["panels"]:
            assert panel["datasource"] == style.DATASOURCE, f"{stem} / {panel['title']}"
            assert panel["targets"], f"{stem} / {panel['title']} has no query"
            for target in panel["targets"]:
                assert target["datasource"] == style.DATASOURCE, f"{stem} / {panel['title']}"


def test_variables_are_declared_used_and_only_in_regex_matchers():
    for stem, board in BOARDS.items():
        declared = {v["name"] for v in board["templating"]["list"]} - {"datasource"}
        assert declared >= GATEWAY_VARIABLES, stem
        texts = [expr for where, expr, _ in expressions() if where.startswith(stem)]
        texts += [v["definition"] for v in board["templating"]["list"][1:]]
        used = {m.group(1) for text in texts for m in re.finditer(r"\$\{?(\w+)", text)}
        assert used - GRAFANA_VARIABLES == declared, f"{stem}: declared {declared}, used {used}"
        for text in texts:
            mine = re.findall(r"\$(?!__)\w+", text)
            in_matchers = re.findall(r'\w+=~"\$\w+"', text)
            assert len(mine) == len(in_matchers), f"{stem}: a variable outside a =~ matcher in {text}"


def test_range_queries_use_rate_interval_and_instant_summaries_the_range():
    """$__rate_interval in every range query's windows; $__range only in the instant queries of
    stats and tables, which summarise the dashboard's time range. No fixed window, no subquery."""
    for where, expr, target in expressions():
        assert not re.search(r"\[\d", expr), f"{where}: a fixed window in {expr}"
        window = RANGE_WINDOW if target["instant"] else RATE_WINDOW
        tree = parse(expr)
        nodes = list(walk(tree))
        assert not any(isinstance(n, pp.SubqueryExpr) for n in nodes), where
        ranges = [n for n in nodes if isinstance(n, pp.MatrixSelector)]
        for node in ranges:
            assert str(node).endswith(f"[{pp.display_duration(pp.parse_duration(window))}]"), (
                f"{where}: {node}"
            )
        for call in (n for n in nodes if isinstance(n, pp.Call) and n.func.name in RANGE_FUNCTIONS):
            assert isinstance(call.args[0], pp.MatrixSelector), where
    for stem, panel in panels():
        for target in panel["targets"]:
            if target["instant"]:
                assert panel["type"] in {"stat", "table"}, f"{stem} / {panel['title']}"


def test_house_style_fixes_grafanalibs_defaults():
    for stem, board in BOARDS.items():
        assert board["schemaVersion"] == style.SCHEMA_VERSION
        assert set(board) <= style.DASHBOARD_KEYS, stem
        for panel in board["panels"]:
            where = f"{stem} / {panel['title']}"
            assert set(panel) <= style.PANEL_KEYS, where
            assert "maxDataPoints" not in panel, where
            for target in panel["targets"]:
                assert set(target) <= style.TARGET_KEYS, where
                assert target["intervalFactor"] == 1, where
                assert target["range"] is not target["instant"], where
            steps = panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
            assert steps and steps[0]["value"] is None, f"{where}: thresholds need a null base step"
            assert all(isinstance(s["value"], (int, float)) for s in steps[1:]), where
            if panel["type"] == "stat":
                assert panel["options"]["reduceOptions"]["calcs"] == ["lastNotNull"], where
                assert panel["fieldConfig"]["defaults"]["noValue"] not in ("none", ""), where
            if panel["type"] == "heatmap":
                assert panel["options"]["calculate"] is False, where
                assert {t["format"] for t in panel["targets"]} == {"heatmap"}, where
            if panel["type"] == "table":
                assert {t["format"] for t in panel["targets"]} == {"table"}, where
                assert "mappings" not in panel and "columns" not in panel, where


# --- expressions ---------------------------------------------------------------------------------


def test_every_expression_parses():
    failures = []
    for where, expr, _ in expressions():
        try:
            parse(expr)
        except ValueError as error:
            failures.append(f"{where}: {error}\n    {expr}")
    assert not failures, "\n".join(failures)


def test_every_metric_is_in_an_allow_list():
    allowed = set(metrics.LITELLM) | set(metrics.EXPORTERS) | recording_rules()
    unknown = []
    for where, expr, _ in expressions():
        for node in walk(parse(expr)):
            if isinstance(node, pp.VectorSelector) and node.name not in allowed:
                unknown.append(f"{where}: {node.name}")
    for stem, board in BOARDS.items():
        for variable in board["templating"]["list"][1:]:
            name = re.match(r"label_values\((\w+)", variable["definition"]).group(1)
            if name not in allowed:
                unknown.append(f"{stem} / ${variable['name']}: {name}")
    assert not unknown, "metrics that LiteLLM 1.108.7 and the exporters do not emit:\n" + "\n".join(unknown)


SCALAR = "scalar"


def labels_of(node, where: str):
    """The labels the series of an expression can carry (None: unknown; SCALAR), checking that
    every matcher, grouping and join label exists and that both sides of an operation match."""
    if isinstance(node, (pp.NumberLiteral, pp.StringLiteral)):
        return SCALAR
    if isinstance(node, (pp.ParenExpr, pp.UnaryExpr)):
        return labels_of(node.expr, where)
    if isinstance(node, pp.MatrixSelector):
        return labels_of(node.vector_selector, where)
    if isinstance(node, pp.VectorSelector):
        known = (
            metrics.labels(node.name)
            if node.name in metrics.LITELLM or node.name in metrics.EXPORTERS
            else None
        )
        for matcher in node.matchers.matchers:
            assert known is None or matcher.name in known, f"{where}: {node.name} has no label {matcher.name}"
        return known
    if isinstance(node, pp.Call):
        args = [labels_of(a, where) for a in node.args]
        name = node.func.name
        if name == "vector":
            return frozenset()
        if name == "histogram_quantile":
            assert args[1] is None or "le" in args[1], f"{where}: histogram_quantile without le"
            return None if args[1] is None else args[1] - {"le"}
        return next((a for a in args if a is not SCALAR), SCALAR)
    if isinstance(node, pp.AggregateExpr):
        inner = labels_of(node.expr, where)
        if node.modifier is None:
            return frozenset()
        grouping = set(node.modifier.labels)
        assert inner is None or grouping <= inner, f"{where}: {node.op} by {grouping - inner} absent"
        if node.modifier.type == pp.AggModifierType.By:
            return frozenset(grouping)
        return None if inner is None else inner - grouping
    if isinstance(node, pp.BinaryExpr):
        lhs, rhs = labels_of(node.lhs, where), labels_of(node.rhs, where)
        if SCALAR in (lhs, rhs):
            return rhs if lhs is SCALAR else lhs
        op, modifier = str(node.op), node.modifier
        matching = modifier.matching if modifier else None
        for side in (lhs, rhs):
            if matching is not None and matching.type == pp.LabelModifierType.Include and side is not None:
                assert set(matching.labels) <= side, f"{where}: on ({matching.labels}) not on both sides"
        if op in ("or", "and", "unless"):
            return None if None in (lhs, rhs) else (lhs | rhs if op == "or" else lhs)
        added = set(modifier.group_labels) if modifier and modifier.group_labels else set()
        if added:
            assert rhs is None or added <= rhs, f"{where}: group_left {added} not on the right"
        elif matching is None and None not in (lhs, rhs):
            assert lhs == rhs, f"{where}: {op} between {sorted(lhs)} and {sorted(rhs)} matches nothing"
        return None if lhs is None else lhs | added
    raise AssertionError(f"{where}: unexpected node {type(node).__name__}")


def test_every_label_an_expression_uses_exists_on_its_metrics():
    for where, expr, _ in expressions():
        labels_of(parse(expr), where)


def test_the_label_check_catches_a_missing_label_and_a_mismatched_division():
    with pytest.raises(AssertionError, match="has no label requested_model"):
        labels_of(pp.parse('litellm_cache_hits_metric_total{requested_model="m"}'), "probe")
    with pytest.raises(AssertionError, match="absent"):
        labels_of(
            pp.parse("sum by (exception_status) (rate(litellm_proxy_total_requests_metric_total[1m]))"),
            "probe",
        )
    with pytest.raises(AssertionError, match="matches nothing"):
        labels_of(pp.parse("sum by (instance) (redis_up) / sum(redis_up)"), "probe")


# --- the allow-list and the live check's export ---------------------------------------------------


def test_the_allow_list_is_of_the_pinned_litellm():
    pin = re.search(r"^litellm\[proxy\]==(\S+)$", (ROOT / "requirements-services.txt").read_text(), re.M)
    assert pin.group(1) == metrics.LITELLM_VERSION, (
        "re-derive the allow-list: dashboards_src/derive_litellm_metrics.py"
    )
    for name in ("litellm_proxy_total_requests_metric_total", "litellm_request_total_latency_metric_bucket"):
        assert name in metrics.LITELLM
    assert "pid" in metrics.LITELLM["litellm_deployment_state"]
    assert not [name for name in metrics.LITELLM if name.endswith("_created")]


def test_the_allow_list_is_what_the_pinned_litellm_registers(tmp_path):
    """Re-derives the allow-list from the real LiteLLM (about 8 s); needs a venv with the pin."""
    candidates = [ROOT / ".cache" / "bench-litellm-venv", Path("/tmp/llvenv")]
    python = next((p / "bin" / "python" for p in candidates if (p / "bin" / "litellm").exists()), None)
    if python is None:
        pytest.skip(
            "no LiteLLM venv at .cache/bench-litellm-venv or /tmp/llvenv: python3 -m venv /tmp/llvenv && "
            "/tmp/llvenv/bin/pip install -r requirements-services.txt"
        )
    output = tmp_path / "litellm_metrics.json"
    script = ROOT / "dashboards_src" / "derive_litellm_metrics.py"
    result = subprocess.run(
        [str(python), str(script), "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode == 1 and "the pin is" in result.stderr:
        pytest.skip(result.stderr.strip())
    assert result.returncode == 0, result.stderr
    assert json.loads(output.read_text()) == json.loads(metrics.ALLOW_LIST.read_text()), (
        "the committed allow-list differs from the pinned LiteLLM: re-derive it (derive_litellm_metrics.py)"
    )


def test_panel_queries_gives_every_panel_with_its_variables_filled_in():
    found = dashboards_src.panel_queries(job="litellm", instance="gateway1", model="llama3.1:8b", host="gpu1")
    assert [(q.dashboard, q.panel) for q in found] == [
        (board["title"], panel["title"]) for board in BOARDS.values() for panel in board["panels"]
    ]
    for query in found:
        assert query.exprs and not any("$" in expr for expr in query.exprs), query
        for expr in query.exprs:
            pp.parse(expr)
    assert {q.panel for q in found if q.optional} == {"GPU utilization", "GPU memory"}
    overview = next(q for q in found if q.panel == "Request rate")
    assert 'instance=~"gateway1"' in overview.exprs[1] and "[1m]" in overview.exprs[1]


def test_optional_panels_say_so_in_their_description():
    for stem, panel in panels():
        if panel["title"] in dashboards_src.optional_panels()[BOARDS[stem]["title"]]:
            assert "no data on GPU-less hosts" in panel["description"], panel["title"]


COUNTER_SUFFIXES = ("_total", "_bucket", "_count", "_sum")


def bare_counters(node) -> list[str]:
    """The counters an expression reads as raw values, not over a range (rate, increase): a raw
    counter falls to 0 when the gateway restarts, and a panel would show the fall."""
    in_ranges = {id(n.vector_selector) for n in walk(node) if isinstance(n, pp.MatrixSelector)}
    return [
        n.name
        for n in walk(node)
        if isinstance(n, pp.VectorSelector) and n.name.endswith(COUNTER_SUFFIXES) and id(n) not in in_ranges
    ]


def test_every_counter_is_read_as_a_rate_so_a_restart_does_not_show_as_a_fall():
    """The restart drill resets the gateway's counters (playbooks/drill.yml -e drill=restart)."""
    raw = [f"{where}: {name}" for where, expr, _ in expressions() for name in bare_counters(parse(expr))]
    assert not raw, "\n".join(raw)
    assert bare_counters(pp.parse("sum(litellm_proxy_total_requests_metric_total)")) == [
        "litellm_proxy_total_requests_metric_total"
    ]
    assert bare_counters(pp.parse("sum(rate(litellm_proxy_total_requests_metric_total[1m]))")) == []
