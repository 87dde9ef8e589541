"""Property-based tests: the debugging tools against request logs and servers of every shape.

Generated logs mix valid records (from records.FIELDS, the reader's own table), records with one
field of any JSON type or an extreme number (1e999, 400 digits, NaN), JSON of the wrong shape,
odd strings (lone surrogates, control characters, bidi marks, 1 MB), deep nesting, broken UTF-8
and truncated lines, plain or gzip. For every tool and mode, a user must see: no traceback, an
exit code in {0, 1, 2}, text safe for a terminal, JSON that parses strictly, and every line
accounted for (lines read = valid + blank + rejected, valid records all analysed, a line made
valid counted valid, a line made invalid rejected). test-request gets the same from a loopback
server answering generated bodies and streams.

Runs: the default profile is derandomized (the same examples on every run, so ``make unit`` is
repeatable) and small enough for ``make unit`` on two cores; ``HYPOTHESIS_PROFILE=deep`` runs
far more examples, randomly, for a search on demand:

    HYPOTHESIS_PROFILE=deep .venv/bin/pytest -q tests/test_hostile_properties.py
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hostile import Answer, ScriptedServer, check_output, run_tool
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from llmobs.debugging import analyze_logs as analyze
from llmobs.debugging import tail_requests as tail
from llmobs.debugging import test_request as request
from llmobs.debugging.records import FIELDS

_SLOW_DATA = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
settings.register_profile(
    "hostile-default",
    derandomize=True,
    deadline=None,
    max_examples=40,
    database=None,
    suppress_health_check=_SLOW_DATA,
)
settings.register_profile("deep", deadline=None, max_examples=1500, suppress_health_check=_SLOW_DATA)
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "hostile-default"))

# -- values ------------------------------------------------------------------------------------------

ODD = [
    "\ud800",
    "x\udfffy",
    "\x1b[2J",
    "\x1b]0;title\x07",
    "\u202eevil",
    "\u2066",
    "\x00",
    "\r",
    "\t",
    "\u2028",
    "\x85",
]
odd_strings = st.one_of(
    st.text(max_size=12),
    st.sampled_from(ODD),
    st.lists(st.sampled_from(ODD) | st.text(max_size=3), max_size=4).map("".join),
    # long: what made the error patterns quadratic, and a 1 MB string
    st.builds(
        lambda unit, n: unit * n,
        st.sampled_from(["a-", '\\"', "1 ", "é", "\ud800", "0x1f", "'a"]),
        st.sampled_from([200, 3_000, 500_000]),
    ),
)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
json_scalars = st.none() | st.booleans() | st.integers() | finite_floats | odd_strings
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
# Raw JSON number tokens that json.dumps cannot write: overflow, hundreds of digits, constants.
EXTREME = [
    "1e999",
    "-1e999",
    "9" * 400,
    "-" + "9" * 400,
    "1e-400",
    "-0",
    "NaN",
    "Infinity",
    "-Infinity",
    "1E308",
]


def _time(moment: datetime, zone: str, precision: str) -> str:
    return moment.isoformat(timespec=precision) + zone


times = st.builds(
    _time,
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from(["+00:00", "Z", "+02:00", "-05:30"]),
    st.sampled_from(["milliseconds", "seconds", "microseconds"]),
)


def _field_values(json_type: str, span: Any) -> st.SearchStrategy[Any]:
    """Values within the schema's rules for one field (records.FIELDS)."""
    if json_type == "string":
        return st.sampled_from(span) if isinstance(span, tuple) else odd_strings
    if json_type == "boolean":
        return st.booleans()
    if json_type == "integer":
        return st.integers(*span)
    if json_type == "number":
        return st.integers(span[0], int(span[1])) | st.floats(*span)
    if json_type == "object":
        return st.dictionaries(st.text(max_size=5), json_values, max_size=3)
    return json_values


valid_records = st.fixed_dictionaries(
    {
        name: times if name == "time" else _field_values(json_type, span)
        for name, (json_type, span, required) in FIELDS.items()
        if required
    },
    optional={
        name: st.none() | _field_values(json_type, span)
        for name, (json_type, span, required) in FIELDS.items()
        if not required
    },
)

# -- lines: (bytes, expected) where expected is "valid", "rejected", "blank" or None (either) ------


def _dumps(record: dict[str, Any]) -> bytes:
    return json.dumps(record).encode()


def _with_value(record: dict[str, Any], name: str, value: Any) -> tuple[bytes, None]:
    return _dumps(record | {name: value}), None


def _with_token(record: dict[str, Any], name: str, token: str) -> tuple[bytes, None]:
    marker = "\u0001extreme\u0001"
    return _dumps(record | {name: marker}).replace(json.dumps(marker).encode(), token.encode()), None


def _truncated(record: dict[str, Any], fraction: float) -> tuple[bytes, str]:
    data = _dumps(record)
    return data[: int(len(data) * fraction)], "rejected"  # an object cut short is never JSON


def _nested(record: dict[str, Any], depth: int) -> tuple[bytes, str | None]:
    data = _dumps(record | {"metadata": "\u0001"}).replace(b'"\\u0001"', b"[" * depth + b"]" * depth)
    return data, "rejected" if depth >= 64 else None


field_names = st.sampled_from(sorted(FIELDS))
log_lines = st.one_of(
    valid_records.map(lambda record: (_dumps(record), "valid")),
    st.builds(_with_value, valid_records, field_names, json_values),
    st.builds(_with_token, valid_records, field_names, st.sampled_from(EXTREME)),
    st.builds(
        lambda record, name: (_dumps({k: v for k, v in record.items() if k != name}), None),
        valid_records,
        field_names,
    ),
    json_values.filter(lambda value: not isinstance(value, dict)).map(
        lambda value: (json.dumps(value).encode(), "rejected")
    ),
    st.dictionaries(st.text(max_size=6), json_values, max_size=4).map(
        lambda value: (_dumps(value), "rejected")
    ),
    st.builds(_truncated, valid_records, st.floats(0.05, 0.95)),
    st.builds(_nested, valid_records, st.sampled_from([3, 63, 70, 5_000])),
    st.binary(max_size=40)
    .filter(lambda data: b"\n" not in data)
    .map(lambda data: (b"\xff" + data, "rejected")),
    st.sampled_from([b"", b"   ", b"\t"]).map(lambda data: (data, "blank")),
)
logs = st.lists(log_lines, max_size=10)


def write_log(
    folder: Path, lines: list[tuple[bytes, str | None]], compressed: bool, final_newline: bool
) -> Path:
    data = b"\n".join(line for line, _ in lines) + (b"\n" if final_newline and lines else b"")
    path = folder / "requests.log"
    path.write_bytes(gzip.compress(data) if compressed else data)
    return path


def expected_lines(lines: list[tuple[bytes, str | None]], final_newline: bool) -> int:
    if not lines:
        return 0
    count = len(lines)
    if not final_newline and lines[-1][0] == b"":
        count -= 1  # an empty last line without its newline is no line
    return count


def check_tally(tally: dict[str, Any], lines: list[tuple[bytes, str | None]], final_newline: bool) -> None:
    """Every line accounted for, and each line whose fate is known counted as it must be."""
    assert tally["lines"] == expected_lines(lines, final_newline)
    rejected = tally["bad_lines"] if isinstance(tally["bad_lines"], int) else tally["bad_lines"]["total"]
    assert (
        tally["lines"]
        == tally["valid_lines"] + tally["blank_lines"] + tally.get("unparsed_lines", 0) + rejected
    )
    known = [expected for _, expected in lines]
    if tally.get("unparsed_lines", 0) == 0:
        assert known.count("valid") <= tally["valid_lines"] <= known.count("valid") + known.count(None)
        assert rejected >= known.count("rejected")


# -- analyze-logs and tail-requests -------------------------------------------------------------------

MODES = [[], ["--errors"], ["--performance"], ["--since", "2050-01-01"], ["--top", "1", "--slow-ms", "0"]]


@PROFILE
@given(
    lines=logs,
    compressed=st.booleans(),
    final_newline=st.booleans(),
    mode=st.sampled_from(MODES),
    as_json=st.booleans(),
)
def test_analyze_logs_accounts_for_every_line_of_any_log(lines, compressed, final_newline, mode, as_json):
    with tempfile.TemporaryDirectory() as folder:
        log = write_log(Path(folder), lines, compressed, final_newline)
        code, out, err = run_tool(analyze.main, [log, *mode, *(["--json"] if as_json else [])])
    report = check_output(code, out, err, as_json)
    assert code == 0, err
    if as_json:
        check_tally(report, lines, final_newline)
        if not mode:
            assert report["summary"]["requests"] == report["valid_lines"]  # every valid record analysed


@PROFILE
@given(lines=logs, pick=st.integers(0, 9), as_json=st.booleans(), other=odd_strings)
def test_analyze_logs_trace_finds_or_says_why_in_any_log(lines, pick, as_json, other):
    ids = [json.loads(line).get("request_id") for line, expected in lines if expected == "valid"]
    wanted = ids[pick % len(ids)] if ids and pick < 7 and isinstance(ids[pick % len(ids)], str) else other
    with tempfile.TemporaryDirectory() as folder:
        log = write_log(Path(folder), lines, False, True)
        code, out, err = run_tool(analyze.main, [log, "--trace", wanted, *(["--json"] if as_json else [])])
    report = check_output(code, out, err, as_json)
    if wanted == "" or wanted.startswith("-"):
        return  # not an id argparse takes: a usage error, checked above for its form
    assert code in (0, 1), err
    if as_json:
        assert (code == 0) == bool(report["matches"])
        assert report["lines"] == expected_lines(lines, True)


@PROFILE
@given(lines=logs, as_json=st.booleans(), level=st.sampled_from([[], ["--level", "ERROR"], ["--slow"]]))
@example(lines=[(b"", "blank")], as_json=True, level=[])  # found by the deep profile: a lost first line
def test_tail_requests_accounts_for_every_line_of_any_log(lines, as_json, level):
    with tempfile.TemporaryDirectory() as folder:
        log = write_log(Path(folder), lines, False, True)
        argv = [
            "--file",
            log,
            "-n",
            100_000,
            "--for",
            0.01,
            "--no-color",
            *level,
            *(["--json"] if as_json else []),
        ]
        code, out, err = run_tool(tail.main, argv)
    shown = check_output(code, out, err, as_json, json_lines=True)
    assert code == 0, err
    if as_json:
        summary = shown[-1]["summary"]
        check_tally(summary, lines, True)
        if not level:
            assert summary["requests"] == summary["valid_lines"] == len(shown) - 1


# -- test-request against a server that answers anything ----------------------------------------------


def _json_body(value: Any) -> bytes:
    return json.dumps(value).encode()


chat_like = st.fixed_dictionaries(
    {
        "choices": st.one_of(
            json_values,
            st.lists(
                st.fixed_dictionaries(
                    {"message": json_values | st.fixed_dictionaries({"content": json_values})},
                    optional={"finish_reason": json_values, "delta": json_values},
                ),
                max_size=2,
            ),
        )
    },
    optional={
        "usage": json_values
        | st.dictionaries(st.sampled_from(["prompt_tokens", "completion_tokens"]), json_values)
    },
)
raw_bodies = st.one_of(
    json_values.map(_json_body),
    chat_like.map(_json_body),
    st.binary(max_size=60),
    st.sampled_from([b"NaN", b'{"a": Infinity}', b"[" * 50_000 + b"]" * 50_000, b"<html>\x1b[2J</html>"]),
)
events = st.one_of(
    chat_like.map(lambda value: b"data: " + _json_body(value) + b"\n\n"),
    json_values.map(lambda value: b"data: " + _json_body(value) + b"\n\n"),
    st.binary(max_size=30),
    st.just(b'data: {"error": {"message": "\x1b[31mupstream"}}\n\n'),
)


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    status = draw(st.sampled_from([200, 200, 200, 400, 401, 404, 500]))
    if draw(st.booleans()):
        chunks = draw(st.lists(events, max_size=5))
        if draw(st.booleans()):
            chunks.append(b"data: [DONE]\n\n")
        return Answer(status, content_type="text/event-stream", chunks=chunks, cut=draw(st.booleans()))
    content_type = draw(st.sampled_from(["application/json", "text/html", "text/event-stream"]))
    return Answer(status, draw(raw_bodies), content_type)


@st.composite
def model_info(draw: st.DrawFn, url: str) -> Answer:
    """Deployments whose backends are only this server or addresses that are not URLs: the probes
    of --providers must never reach beyond the loopback."""
    base = st.sampled_from([url, url + "/v1", None, 42, "not a url", "http://127.0.0.1:1", "\x1b[2J"])
    model = st.sampled_from(["ollama/x", "openai/y", "hosted_vllm/z", "anthropic/c", 7, None])
    params = st.fixed_dictionaries({}, optional={"api_base": base, "model": model}) | json_scalars
    deployment = st.fixed_dictionaries(
        {}, optional={"litellm_params": params, "model_info": json_values, "model_name": json_values}
    )
    return Answer(200, _json_body({"data": draw(st.lists(deployment | json_scalars, max_size=3))}))


@pytest.fixture(scope="module")
def server():
    with ScriptedServer() as scripted:
        yield scripted


PATHS = ["/health/liveliness", "/health/readiness", "/health/readiness/details", "/v1/models", "/api/tags"]
REQUEST_MODES = [
    [],
    ["--stream"],
    ["--list-models"],
    ["--test-routing"],
    ["--providers"],
    ["-v", "--model", "m"],
]


@PROFILE
@given(data=st.data(), mode=st.sampled_from(REQUEST_MODES), as_json=st.booleans())
def test_test_request_survives_any_answer(server, data, mode, as_json):
    for path in PATHS:
        server.answers[path] = data.draw(answers(), label=path)
    models = data.draw(st.lists(st.sampled_from(["m", "\x1b[2Jm", "\ud800"]) | st.integers(), max_size=2))
    if data.draw(st.booleans(), label="a usable model list"):
        server.answers["/v1/models"] = Answer(200, _json_body({"data": [{"id": name} for name in models]}))
    server.answers["/v1/chat/completions"] = data.draw(answers(), label="chat")
    server.answers["/model/info"] = data.draw(model_info(server.url), label="model info")
    server.answers["/v1/v1/models"] = server.answers["/v1/models"]  # a probe of api_base .../v1
    argv = [
        "--url",
        server.url,
        "--key",
        "sk-test",
        "--timeout",
        "5",
        *mode,
        *(["--json"] if as_json else []),
    ]
    code, out, err = run_tool(request.main, argv)
    result = check_output(code, out, err, as_json)
    assert code in (0, 1), err
    if as_json:
        assert result["ok"] is (code == 0)


def test_the_default_profile_is_repeatable():
    """make unit runs the same examples every time: derandomized, no database, no deadline."""
    if os.environ.get("HYPOTHESIS_PROFILE", "hostile-default") == "hostile-default":
        assert PROFILE.derandomize and PROFILE.database is None and PROFILE.deadline is None
