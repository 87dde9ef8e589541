"""drill-verdict and drill-sample (src/llmobs/drill): the ledger of a fault drill from a results
folder laid out as playbooks/drill.yml leaves it; hostile samples and metrics pages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hostile import check_output, run_tool
from hypothesis import given, settings
from hypothesis import strategies as st
from request_records import T0, record, stamp

from llmobs.drill import sample, verdict

START = T0.timestamp()


def point(call_id: str, model: str, status: int, seconds: float, error_code: int | None = None) -> str:
    tags = {"call_id": call_id, "model": model, "status": str(status)}
    if error_code is not None:
        tags["error_code"] = str(error_code)
    when = stamp(seconds).replace("+00:00", "Z")
    data = {"time": when, "value": 100.0, "tags": tags}
    return json.dumps({"metric": "http_req_duration", "type": "Point", "data": data})


def sampled(seconds: float, counts: dict[str, float], lost: float = 0.0, rss: int | None = None) -> dict:
    return {
        "t": START + seconds,
        "requests": counts,
        "lost": {"write_error": lost, "queue_full": 0.0},
        "rss": {"litellm": rss},
    }


class Run:
    """A drill's results folder: one load host, the gateways given; each request with its
    outcome, a line in the log unless told otherwise, and the samples."""

    def __init__(self, root: Path, drill: str = "rotate", **plan: Any):
        self.root = root
        self.plan = {"drill": drill, "run_id": "drill-x", "gateways": ["gw1"], **plan}
        self.points: dict[str, list[str]] = {}
        self.lines: dict[str, list[dict | str]] = {}
        self.samples: dict[str, list[dict]] = {}

    def request(
        self, gateway: str, n: int, status: int = 200, logged: int | None = None, model: str = "llama"
    ) -> None:
        """Request n to a gateway; status 0: refused (k6's error code, no answer, in no log)."""
        logged = (1 if status else 0) if logged is None else logged
        call_id = f"drill-x-lg1-{gateway}-{n}"
        code = None if status else 1211
        self.points.setdefault(gateway, []).append(point(call_id, model, status, n, code))
        for _ in range(logged):
            fields: dict[str, Any] = {"request_id": call_id, "http_status": status, "host": gateway}
            if status != 200:
                fields.update(status="failure", level="ERROR", error_class="APIConnectionError")
            self.lines.setdefault(gateway, []).append(record(n, **fields))

    def write(self) -> Path:
        (self.root / "drill.json").write_text(json.dumps(self.plan))
        for gateway, lines in self.points.items():
            folder = self.root / "lg1" / gateway
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "points.json").write_text("\n".join(lines) + "\n")
        (self.root / "gateways").mkdir(exist_ok=True)
        for gateway, records in self.lines.items():
            (self.root / "gateways" / f"{gateway}.log").write_text(
                "".join(json.dumps(r) + "\n" for r in records)
            )
        (self.root / "samples").mkdir(exist_ok=True)
        for gateway, rows in self.samples.items():
            (self.root / "samples" / f"{gateway}.jsonl").write_text(
                "".join(json.dumps(r) + "\n" for r in rows)
            )
        return self.root


def judged(root: Path, *extra: str) -> tuple[int, dict]:
    code, out, err = run_tool(verdict.main, [str(root), "--json", *extra])
    return code, check_output(code, out, err, as_json=True)


def ten_answered(tmp_path: Path, **plan: Any) -> Run:
    run = Run(tmp_path, rotations={"rename": 2, "copytruncate": 2}, **plan)
    for n in range(10):
        run.request("gw1", n)
    run.samples["gw1"] = [sampled(-1, {}), sampled(5, {"200": 4.0}), sampled(12, {"200": 10.0})]
    return run


def test_the_ledger_agrees_when_every_request_is_logged_once_and_counted(tmp_path):
    run = ten_answered(tmp_path, fault={"rotations": {"rename": 2, "copytruncate": 2}})
    code, result = judged(run.write())
    assert code == 0, result["problems"]
    book = result["ledger"]["gw1"]
    assert book["outcomes"] == {"200": {"sent": 10, "logged": 10, "counted": 10}}
    assert result["passed"]


def test_a_missing_a_doubled_and_a_foreign_line_are_each_named(tmp_path):
    run = ten_answered(tmp_path, fault={"rotations": {"rename": 2, "copytruncate": 2}})
    run.request("gw1", 10, logged=0)
    run.request("gw1", 11, logged=2)
    run.lines["gw1"].append(record(12, request_id="drill-x-someone-else"))
    run.samples["gw1"].append(sampled(14, {"200": 14.0}))
    code, result = judged(run.write())
    assert code == 1
    text = " ".join(result["problems"])
    assert "1 answered requests have no line" in text and "drill-x-lg1-gw1-10" in text
    assert "1 requests are logged twice" in text and "drill-x-lg1-gw1-11" in text
    assert "1 lines are of requests no client of the run sent" in text


def test_metrics_that_count_another_number_fail_the_ledger(tmp_path):
    run = ten_answered(tmp_path, fault={"rotations": {"rename": 2, "copytruncate": 2}})
    run.samples["gw1"][-1] = sampled(12, {"200": 9.0})
    code, result = judged(run.write())
    assert code == 1
    assert "its metrics counted 9 requests, its log has 10 lines" in " ".join(result["problems"])


def test_a_restart_resets_the_counters_and_the_ledger_adds_across_it(tmp_path):
    run = Run(tmp_path, drill="restart", fault={"gateway": "gw1", "start": START + 5, "end": START + 8})
    for n in range(10):
        run.request("gw1", n)
    run.request("gw1", 6, status=0)  # refused while it restarted: in no log, in no metric
    # 4 counted before the stop, 2 lines written in the gap the samples never saw, then 4 after
    run.samples["gw1"] = [
        sampled(-1, {}),
        sampled(3.5, {"200": 4.0}),
        {"t": START + 6, "error": "URLError: refused"},
        sampled(7.5, {"200": 0.0}),
        sampled(12, {"200": 4.0}),
    ]
    code, result = judged(run.write())
    book = result["ledger"]["gw1"]
    assert (book["resets"], book["counted"], book["logged"]) == (1, 8, 10)
    assert book["logged_in_reset_gaps"] >= 2
    assert book["outcomes"]["unreachable"] == {"sent": 1, "logged": 0, "counted": 0}
    assert code == 0, result["problems"]


def test_lines_lost_on_a_full_disk_are_accounted_for_by_the_lost_counter(tmp_path):
    run = Run(tmp_path, drill="rotate", fault={"rotations": {"rename": 2, "copytruncate": 2}})
    for n in range(10):
        run.request("gw1", n, logged=0 if n in (3, 4) else 1)
    run.samples["gw1"] = [sampled(-1, {}), sampled(12, {"200": 10.0}, lost=2.0)]
    code, result = judged(run.write())
    assert code == 0, result["problems"]
    assert result["ledger"]["gw1"]["lost_lines"] == 2
    run.samples["gw1"] = [sampled(-1, {}), sampled(12, {"200": 10.0}, lost=1.0)]
    code, result = judged(run.write())
    assert code == 1  # one line missing that no counter accounts for


def test_a_drill_that_must_keep_answering_fails_on_any_error(tmp_path):
    run = ten_answered(tmp_path, fault={"rotations": {"rename": 2, "copytruncate": 2}})
    run.request("gw1", 10, status=500)
    run.samples["gw1"].append(sampled(14, {"200": 10.0, "500": 1.0}))
    code, result = judged(run.write())
    assert code == 1
    assert "requests failed although the gateways must keep answering: {'500': 1}" in result["problems"]


def test_an_alert_that_never_fired_fails_the_drill_and_one_that_did_is_timed(tmp_path):
    run = ten_answered(tmp_path, drill="redis", fault={"start": START, "end": START + 30})
    run.plan["alerts_resolved_at"] = START + 50
    code, result = judged(run.write())
    assert code == 1 and "the alert RedisDown never fired" in result["problems"]
    series = {"metric": {"alertname": "RedisDown", "instance": "redis1"}, "values": [[START + 20, "1"]]}
    (tmp_path / "alerts.json").write_text(json.dumps({"status": "success", "data": {"result": [series]}}))
    code, result = judged(tmp_path)
    assert code == 0, result["problems"]
    assert "RedisDown fired 20 s after the fault" in result["checks"]
    assert "RedisDown resolved 20 s after the fault ended" in result["checks"]
    # firing already when the fault began: an earlier incident, not this fault
    series["values"] = [[START - 10, "1"], [START - 5, "1"], [START + 20, "1"]]
    (tmp_path / "alerts.json").write_text(json.dumps({"status": "success", "data": {"result": [series]}}))
    code, result = judged(tmp_path)
    assert code == 1 and "the alert RedisDown was firing already when the fault began" in " ".join(
        result["problems"]
    )


def test_the_soak_fails_on_memory_that_keeps_growing_and_passes_on_a_flat_line(tmp_path):
    run = ten_answered(tmp_path, drill="soak")
    flat = [sampled(s, {"200": 10.0}, rss=500 * 2**20 + (s % 3) * 2**16) for s in range(13, 613, 5)]
    run.samples["gw1"] += flat
    code, result = judged(run.write())
    assert code == 0, result["problems"]
    (row,) = result["memory"]
    assert abs(row["slope_mb_per_hour"]) < 5
    # 1 MB a minute: 60 MB an hour, above a limit of 30
    run.samples["gw1"] = run.samples["gw1"][:3] + [
        sampled(s, {"200": 10.0}, rss=500 * 2**20 + int(s / 60 * 2**20)) for s in range(13, 613, 5)
    ]
    code, result = judged(run.write(), "--max-growth-mb-per-hour", "30")
    assert code == 1
    assert "gw1 litellm: memory grows 60.0" in " ".join(result["problems"])
    # a step (an arena taken once, late in the run) is not sustained growth
    run.samples["gw1"] = run.samples["gw1"][:3] + [
        sampled(s, {"200": 10.0}, rss=(500 + 4 * (s > 550)) * 2**20) for s in range(13, 613, 5)
    ]
    code, result = judged(run.write(), "--max-growth-mb-per-hour", "30")
    assert code == 0, result["problems"]


def test_usage_errors_say_what_is_wrong(tmp_path):
    code, out, err = run_tool(verdict.main, [str(tmp_path)])
    assert code == 2 and "no drill.json" in err
    (tmp_path / "drill.json").write_text('{"drill": "flood"}')
    code, out, err = run_tool(verdict.main, [str(tmp_path)])
    assert code == 2 and "no drill named in it" in err
    code, out, err = run_tool(verdict.main, ["--list", "--json"])
    assert code == 0 and "redis" in json.loads(out)


METRICS = """# HELP litellm_proxy_total_requests_metric_total x
litellm_proxy_total_requests_metric_total{requested_model="a",status_code="200"} 3.0
litellm_proxy_total_requests_metric_total{requested_model="b\\"}",status_code="200"} 2.0
litellm_proxy_total_requests_metric_total{requested_model="a",status_code="500"} 1.0
llmobs_request_log_lines_lost_total{reason="write_error"} 4.0
litellm_proxy_total_requests_metric_created{status_code="200"} 1.7e9
"""


def test_the_sampler_reads_the_request_counter_by_status_and_the_lost_lines():
    assert sample.counters(METRICS) == {"requests": {"200": 5.0, "500": 1.0}, "lost": {"write_error": 4.0}}


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_metrics_page_is_read_without_an_exception(text):
    found = sample.counters(METRICS + text)
    assert set(found) == {"requests", "lost"}


ROW = st.dictionaries(
    st.sampled_from(["t", "requests", "lost", "error", "rss"]),
    st.one_of(
        st.none(),
        st.floats(allow_nan=True),
        st.integers(),
        st.text(max_size=5),
        st.dictionaries(st.text(max_size=3), st.one_of(st.floats(), st.integers(), st.text(max_size=3))),
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(ROW, st.text(max_size=30)), max_size=20))
def test_hostile_samples_never_crash_the_verdict(tmp_path_factory, rows):
    root = tmp_path_factory.mktemp("run")
    run = Run(root, drill="soak")
    run.request("gw1", 1)
    run.write()
    text = "".join((json.dumps(r) if isinstance(r, dict) else r) + "\n" for r in rows)
    (root / "samples" / "gw1.jsonl").write_text(text)
    code, out, err = run_tool(verdict.main, [str(root), "--json"])
    assert code in (0, 1), err
    check_output(code, out, err, as_json=True)


ANY_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(sorted(verdict.DRILLS)),
    st.dictionaries(
        st.sampled_from(["fault", "gateways", "alerts_resolved_at", "alerts", "run_id"]), ANY_JSON
    ),
    ANY_JSON,
)
def test_hostile_plans_and_alerts_never_crash_the_verdict(tmp_path_factory, drill, plan, alerts):
    root = tmp_path_factory.mktemp("run")
    run = Run(root, drill=drill, **plan)
    run.request("gw1", 1)
    run.samples["gw1"] = [sampled(-1, {}), sampled(3, {"200": 1.0})]
    run.write()
    (root / "alerts.json").write_text(json.dumps(alerts, allow_nan=True))
    code, out, err = run_tool(verdict.main, [str(root), "--json"])
    assert code in (0, 1), err
    check_output(code, out, err, as_json=True)


def test_a_full_disk_drill_wants_lost_lines_counted_logging_resumed_and_no_restart(tmp_path):
    fault = {
        "gateway": "gw1",
        "start": START + 2,
        "end": START + 5,
        "pids": ["41", "41"],
        "back_on_disk": True,
    }
    run = Run(tmp_path, drill="disk_full", fault=fault)
    for n in range(10):
        run.request("gw1", n, logged=0 if n in (3, 4, 5) else 1)
    run.lines["gw1"].insert(3, "cut short")  # the line the disk cut: one bad line, its record lost
    run.samples["gw1"] = [sampled(-1, {}), sampled(12, {"200": 10.0}, lost=3.0)]
    series = {
        "metric": {"alertname": "LiteLLMRequestLogLinesLost", "instance": "gw1"},
        "values": [[START + 9, "1"]],
    }
    run.plan["alerts"] = {"result": [series]}
    code, result = judged(run.write())
    assert code == 0, result["problems"]
    assert "gw1: 3 lines lost and counted {'write_error': 3}" in result["checks"]
    assert "gw1: 2 of 2 requests after the room came back are logged" in result["checks"]
    run.plan["fault"] = {**fault, "pids": ["41", "97"]}
    code, result = judged(run.write())
    assert code == 1 and "gw1 restarted during the drill (its process: ['41', '97'])" in result["problems"]
