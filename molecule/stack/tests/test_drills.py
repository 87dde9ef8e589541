"""The fault drills on the lab (playbooks/drill.yml): a bounded load from both load hosts through
both gateways, one fault, and the ledger: what the clients sent = what the request logs hold =
what the gateways' metrics counted, per gateway and outcome. Then each drill's own checks, and
the stack as it was afterwards. The drills run one after another: their faults must not overlap."""

import json
import sys

import pytest
from lab_access import PROJECT, lab, playbook, prometheus, until_quiet

sys.path.insert(0, str(PROJECT))
from dashboards_src import panel_queries

# the lab's load: 8 requests/s in all (2 from each load host to each gateway), short answers
SETTINGS = ["-e", "drill_rate=8", "-e", "drill_fault_at_s=10"]


def drill(name: str, *extra: str) -> dict:
    """Run one drill; its verdict (results/<run_id>/verdict.json) with the playbook's output."""
    before = set((PROJECT / "results").glob(f"drill-{name}-*"))
    result = playbook("drill.yml", "-e", f"drill={name}", *SETTINGS, *extra, timeout=900)
    # the run's folder, whatever form Ansible's output takes (molecule's callback settings differ)
    (run,) = set((PROJECT / "results").glob(f"drill-{name}-*")) - before or [None]
    assert run is not None, result.stdout[-3000:] + result.stderr[-2000:]
    verdict = json.loads((run / "verdict.json").read_text())
    verdict["rc"], verdict["output"] = result.returncode, result.stdout[-4000:]
    return verdict


def ledger_agrees(verdict: dict) -> None:
    """Every gateway was sent load, and per outcome: sent = logged (+ lost lines) = counted."""
    assert set(verdict["ledger"]) == {"gateway1", "gateway2"}
    for gateway, book in verdict["ledger"].items():
        assert book["sent"] > 0 and book["samples"] > 0, gateway
        assert not (book["duplicated"] or book["unsent"] or book["status_differs"]), book
        # a line is missing only when the gateway could not write it, and counted it
        assert len(book["missing"]) == book["lost_lines"], (gateway, book)
        assert book["logged"] + book["lost_lines"] == book["answered"], (gateway, book)
        for outcome, row in book["outcomes"].items():
            if outcome not in ("unreachable", "timeout"):  # no gateway answered those
                assert row["counted"] <= row["sent"], (gateway, outcome, row)


@pytest.fixture(scope="module", autouse=True)
def stack_as_it_was():
    """After the drills, every service they touched runs again."""
    yield
    for host, units in (
        ("monitor1", ["redis-server"]),
        ("gateway1", ["litellm", "llm-simulator-ollama"]),
        ("gateway2", ["litellm", "llm-simulator-ollama"]),
    ):
        for unit in units:
            assert lab(host).service(unit).is_running, (host, unit)


def test_redis_stopped_the_gateways_keep_answering_and_redis_down_fires_then_resolves():
    verdict = drill("redis")
    assert verdict["rc"] == 0, verdict["problems"] or verdict["output"]
    ledger_agrees(verdict)
    assert all(set(book["outcomes"]) == {"200"} for book in verdict["ledger"].values())
    spans = verdict["alerts"]["RedisDown"]
    fault = verdict["plan"]["fault"]
    assert fault["start"] < min(s["first"] for s in spans) < fault["end"] + 30
    assert verdict["plan"]["alerts_resolved_at"] > fault["end"]
    # the dashboards show the gap: the Overview's Redis health drops to 0, the System Health's
    # Redis failures rise, over the outage (their queries, as Grafana sends them)
    health = panel_values("Redis health", fault["start"], fault["end"] + 15)
    failures = panel_values("Redis failures", fault["start"], fault["end"] + 15)
    assert health and min(health) == 0, health
    assert failures and max(failures) > 0, failures


def panel_values(title: str, start: float, end: float) -> list[float]:
    """Every value a dashboard panel's first query gives over a time range (5 s steps)."""
    (panel,) = [p for p in panel_queries(rate_interval="1m") if p.panel == title]
    found = prometheus("/api/v1/query_range", query=panel.exprs[0], start=str(start), end=str(end), step="5")
    return [float(value) for series in found["result"] for _, value in series["values"]]


def test_the_request_log_rotated_both_ways_under_load_loses_and_doubles_nothing():
    verdict = drill("rotate")
    assert verdict["rc"] == 0, verdict["problems"] or verdict["output"]
    ledger_agrees(verdict)
    assert verdict["plan"]["fault"]["rotations"] == {"rename": 2, "copytruncate": 2}
    assert all(book["lost_lines"] == 0 for book in verdict["ledger"].values())


def test_a_gateway_restarted_under_load_loses_no_line_of_a_request_it_answered():
    verdict = drill("restart", "-e", "drill_gateway=gateway2")
    assert verdict["rc"] == 0, verdict["problems"] or verdict["output"]
    ledger_agrees(verdict)
    assert verdict["ledger"]["gateway2"]["resets"] >= 1  # its counters started again from 0
    assert set(verdict["ledger"]["gateway1"]["outcomes"]) == {"200"}  # the other gateway did not notice


def test_a_provider_killed_fails_its_model_cleanly_and_leaves_the_others_alone():
    # the main model (60 % of the mix) for 45 s: the failed share of the last 5 minutes passes the
    # alert's 5 % however much load the drills before sent. The drill refuses to judge an alert
    # that was firing when its fault began: as an operator would, wait for an earlier one to end.
    until_quiet("LiteLLMHighErrorRate")
    verdict = drill("provider", "-e", "drill_model=llama3.1:8b", "-e", "drill_fault_s=45")
    assert verdict["rc"] == 0, verdict["problems"] or verdict["output"]
    ledger_agrees(verdict)
    failed = {o for book in verdict["ledger"].values() for o in book["outcomes"] if o != "200"}
    assert failed and all(o.isdigit() and int(o) >= 400 for o in failed), failed  # HTTP errors, never a hang
    assert "LiteLLMHighErrorRate" in verdict["alerts"]


def test_a_hung_backend_ends_in_408_at_its_timeout_and_no_worker_stays_stuck():
    verdict = drill("hang", "-e", "drill_model=llama-3.2-3b-llamacpp")  # timeout_s: 20 in the lab
    assert verdict["rc"] == 0, verdict["problems"] or verdict["output"]
    ledger_agrees(verdict)
    outcomes = {o for book in verdict["ledger"].values() for o in book["outcomes"]}
    assert outcomes == {"200", "408"}
    counted_408 = sum(book["outcomes"]["408"]["counted"] for book in verdict["ledger"].values())
    assert counted_408 > 0  # what the SLO's error budget counts (status 408 is a server error there)


def test_a_full_log_disk_loses_lines_countably_alerts_and_logging_resumes_without_a_restart():
    verdict = drill("disk_full", "-e", "drill_gateway=gateway1")
    assert verdict["rc"] == 0, verdict["problems"] or verdict["output"]
    ledger_agrees(verdict)
    assert verdict["ledger"]["gateway1"]["lost_lines"] > 0  # the lines it could not write, counted
    assert verdict["ledger"]["gateway2"]["lost_lines"] == 0
    assert "LiteLLMRequestLogLinesLost" in verdict["alerts"]
    # the small filesystem is gone from the folder, as the gateway sees it (its own mount namespace)
    seen = lab("gateway1").run(
        "nsenter --target $(systemctl show --property=MainPID --value litellm) --mount -- "
        "findmnt --noheadings --output FSTYPE --target /var/log/litellm"
    )
    assert seen.rc == 0 and seen.stdout.split()[-1] != "tmpfs", seen.stdout


def test_a_short_soak_keeps_memory_flat_and_the_ledger_whole():
    verdict = drill("soak", "-e", "drill_duration_s=120")
    assert verdict["rc"] == 0, verdict["problems"] or verdict["output"]
    ledger_agrees(verdict)
    units = {(row["gateway"], row["unit"]) for row in verdict["memory"]}
    assert ("gateway1", "litellm.service") in units and ("gateway2", "litellm.service") in units
