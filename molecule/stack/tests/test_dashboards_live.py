"""The decisive dashboard check: after a load run on the lab, every panel shows data.

A mixed load (every model, streams, repeated prompts, both gateways) runs from loadgen1; then
every query of every panel of the five dashboards, with the template variables filled in as
Grafana would for "All", goes to the live Prometheus on monitor1. A panel with no series from
any of its queries is empty, and the failure lists the empty panels by dashboard and title.
"""

import json
import re
import shlex
import sys
import time
from pathlib import Path

import pytest
from lab_access import KEY, PROJECT, lab, prometheus

from llmobs.waiting import wait_until

sys.path.insert(0, str(PROJECT))
from dashboards_src import panel_queries, substitute
from dashboards_src import queries as q

LOAD_SECONDS = 30  # three scrapes of load, and two more after it (below)
SCRAPE_INTERVAL_S = 10  # the lab's prometheus_scrape_interval (the role's default)
# Grafana's $__rate_interval at the default 6 h view and 10 s scrapes is 1m; 2m keeps the check
# steady right after the load stops, while still asking for a rate, not a stale sample.
RATE_INTERVAL = "2m"


@pytest.fixture(scope="module")
def load_run() -> dict:
    script = (Path(__file__).parent / "lab_load.py").read_text()
    gateways = "http://gateway1:4000 http://gateway2:4000"
    result = lab("loadgen1").run(
        f"python3 - {shlex.quote(KEY)} {LOAD_SECONDS} 3000 8 {gateways} <<'EOF'\n{script}\nEOF"
    )
    assert result.rc == 0, result.stderr
    ended = time.time()

    # Two scrapes of every target after the last request, so that a series born late in the load
    # has the two samples a rate needs: the latest scrape more than one interval after the end.
    def oldest_scrape() -> float:
        return min(float(s["value"][1]) for s in prometheus("/api/v1/query", query="timestamp(up)")["result"])

    wait_until(
        oldest_scrape,
        60,
        f"two scrapes of every target after the load run ended at {ended:.0f}",
        until=lambda scraped: scraped > ended + SCRAPE_INTERVAL_S,
    )
    return json.loads(result.stdout)


def has_data(expr: str) -> bool:
    return len(prometheus("/api/v1/query", query=expr)["result"]) > 0


def test_the_load_run_reached_every_gateway_and_succeeded(load_run):
    assert load_run["sent"] >= 100, load_run
    assert load_run["outcomes"].get("200", 0) >= 0.95 * load_run["sent"], load_run


def test_every_panel_of_every_dashboard_shows_data(load_run):
    panels = panel_queries(rate_interval=RATE_INTERVAL, time_range="15m")
    assert len({p.dashboard for p in panels}) == 5
    empty = []
    for panel in panels:
        if panel.optional:
            continue
        if not any(has_data(expr) for expr in panel.exprs):
            empty.append(f"{panel.dashboard} / {panel.panel}")
    assert not empty, "empty panels after the load run:\n  " + "\n  ".join(empty)


def test_optional_panels_are_only_those_of_absent_exporters(load_run):
    """The GPU panels may be empty on the GPU-less lab, and only because no GPU exporter runs."""
    optional = [p for p in panel_queries(rate_interval=RATE_INTERVAL) if p.optional]
    assert {p.panel for p in optional} == {"GPU utilization", "GPU memory"}
    assert prometheus("/api/v1/query", query='up{job="gpu"}')["result"] == []
    print("not checked (no GPU exporter in the lab):", ", ".join(p.panel for p in optional))


ALL = {"job": "litellm", "instance": ".*", "model": ".*", "host": ".*"}
VARIABLES = {
    "job": (q.VARIABLE_JOB, {"litellm"}),
    "instance": (q.VARIABLE_INSTANCE, {"gateway1", "gateway2"}),
    "model": (q.VARIABLE_MODEL, {"llama3.1:8b", "qwen-coder-vllm", "llama-3.2-3b-llamacpp"}),
    "host": (q.VARIABLE_HOST, {"gateway1", "gateway2", "monitor1", "loadgen1", "loadgen2"}),
}


@pytest.mark.parametrize("variable", VARIABLES)
def test_template_variables_offer_every_gateway_model_and_host(load_run, variable):
    """What the dashboards' drop-downs list: their label_values() queries, asked of Prometheus."""
    query, expected = VARIABLES[variable]
    selector, label = re.fullmatch(r"label_values\((.+), (\w+)\)", query).groups()
    values = set(prometheus(f"/api/v1/label/{label}/values", **{"match[]": substitute(selector, ALL)}))
    assert expected <= values, f"${variable} offers {sorted(values)}"
