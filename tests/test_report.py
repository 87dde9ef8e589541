"""The HTML report in a real browser: Debian's chromium renders the page of real runs against the
simulator (offline: the page must need nothing from a network), a screenshot is kept in
.cache/screenshots/ to look at, and the test reads the document as the browser built it: the
verdict, and every chart with the data marks it drew."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_profiling_tools import STEADY, no_gateway_env, simulator  # noqa: F401 (a fixture)

from llmobs import report
from llmobs.profiling import compare_providers as compare
from llmobs.profiling import profile_latency as latency
from llmobs.profiling import profile_throughput as throughput

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / ".cache" / "screenshots"
CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed: apt-get install chromium (make unit does it as root)",
)


def browser(page: Path, *mode: str) -> subprocess.CompletedProcess:
    """Chromium headless on a file, without a network: --dump-dom or --screenshot."""
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"]
    offline = ["--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]  # any fetch would fail
    return subprocess.run(
        [CHROMIUM, *flags, *offline, *mode, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )


class Charts(HTMLParser):
    """The charts of a rendered document: per chart, its title and the data marks inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[dict] = []
        self.verdict = ""
        self._in_title = self._in_verdict = False
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "href"):
            if attrs.get(name) and re.match(r"(https?:)?//", attrs[name]):
                self.external.append(attrs[name])
        if tag == "script":
            self.external.append("<script>")
        if tag == "svg" and "chart" in (attrs.get("class") or ""):
            self.charts.append({"title": "", "marks": 0, "declared": int(attrs["data-marks"])})
        elif self.charts and "mark" in (attrs.get("class") or "").split():
            self.charts[-1]["marks"] += 1
        self._in_title = tag == "text" and attrs.get("class") == "title"
        if attrs.get("id") == "verdict":
            self._in_verdict = True

    def handle_endtag(self, tag):
        if tag == "div":
            self._in_verdict = False

    def handle_data(self, data):
        if self._in_title and self.charts:
            self.charts[-1]["title"] += data
            self._in_title = False
        if self._in_verdict:
            self.verdict += data


@needs_chromium
def test_the_report_of_real_runs_draws_every_chart_in_a_browser(tmp_path):
    fast = {"ttft_ms": 40, "tokens_per_second": 100, "output_tokens": 6, "batch_capacity": 0}
    with simulator(m={**STEADY, "batch_capacity": 2}, fast=fast) as sim:
        url = ["--url", sim.url]
        sweep_args = ["--model", "m", "--sweep", "--levels", "1,2,4", "--requests", "4"]
        codes = {
            "sweep": throughput.main([*url, *sweep_args, "--export", str(tmp_path / "sweep.json")]),
            "cmp": compare.main(
                [*url, "--models", "m", "fast", "--iterations", "3", "--export", str(tmp_path / "cmp.json")]
            ),
        }
        page = tmp_path / "latency.html"
        codes["latency"] = latency.main(
            [
                *url,
                "--model",
                "fast",
                "--iterations",
                "5",
                "--html",
                str(page),
                "--export",
                str(tmp_path / "latency.json"),
            ]
        )
    for name, code in codes.items():  # each tool: 0 exactly when its run was valid (and the sweep recommends)
        data = json.loads((tmp_path / f"{name}.json").read_text())
        assert code == (0 if data["validity"]["valid"] and data.get("recommendation", True) else 1), name
    assert "<svg" in page.read_text()  # --html of a tool
    sweep = json.loads((tmp_path / "sweep.json").read_text())
    fleet = tmp_path / "report.html"
    assert report.main([str(tmp_path / "sweep.json"), str(tmp_path / "cmp.json"), "--html", str(fleet)]) == 0

    dom = browser(fleet, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    parsed = Charts()
    parsed.feed(dom.stdout)
    assert parsed.external == []  # nothing to fetch: it opens air-gapped
    titles = [chart["title"] for chart in parsed.charts]
    assert titles == [
        "Latency distribution (CDF)",
        "Latency over the run",
        "TTFT over the run",
        "Inter-token latency over the run",
        "Throughput against concurrency",
        "P95 latency against concurrency",
        "Providers side by side",
    ]
    for chart in parsed.charts:
        assert chart["marks"] > 0 and chart["marks"] == chart["declared"], chart
    expected = "valid" if sweep["validity"]["valid"] else "NOT VALID"
    assert parsed.verdict.strip().startswith(expected)
    assert (
        f"recommended: {sweep['recommendation']['concurrency']}" in dom.stdout
        if sweep["recommendation"]
        else True
    )

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "profiling-report.png"
    shot.unlink(missing_ok=True)
    taken = browser(fleet, f"--screenshot={shot}", "--window-size=1400,2600")
    assert taken.returncode == 0 and shot.stat().st_size > 50_000  # a page of charts, not a blank one
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_chromium
def test_a_load_tests_page_draws_its_rate_percentiles_and_models_over_the_run(tmp_path):
    from test_loadtest_verdict import cli, host_export

    hosts = [
        host_export("loadgen1", [100.0 + n for n in range(40)], failed=5),
        host_export("loadgen2", [300.0] * 40),
    ]
    page = tmp_path / "report.html"
    assert cli(tmp_path, hosts, "--html", str(page)).returncode == 1  # 5 failures: under the 0.99 gate
    dom = browser(page, "--dump-dom")
    parsed = Charts()
    parsed.feed(dom.stdout)
    drawn = {chart["title"]: chart for chart in parsed.charts}
    for title in (
        "Requests per second over the run",
        "Latency percentiles over the run",
        "P95 latency of each model over the run",
    ):
        assert drawn[title]["marks"] > 0 and drawn[title]["marks"] == drawn[title]["declared"], drawn[title]
    assert "failed" in dom.stdout and "m1" in dom.stdout and "m2" in dom.stdout  # the legends
    shot = SCREENSHOTS / "loadtest-report.png"
    taken = browser(page, f"--screenshot={shot}", "--window-size=1400,3000")
    assert taken.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
