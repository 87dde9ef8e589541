"""Reading request logs: line validation, filters, times, quantiles, files, rotation, merging."""

import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest
from request_records import T0, record

from llmobs.debugging import records
from llmobs.debugging.records import (
    BadLines,
    Filter,
    expand_paths,
    iter_file,
    level_at_least,
    open_log,
    parse_line,
    parse_time,
    quantile,
    read_records,
)


def rec(seconds: float = 0.0, **over):
    return record(seconds, **over)


def line(record) -> str:
    return json.dumps(record) + "\n"


def write(path, recs, gz=False):
    text = "".join(line(r) for r in recs)
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


# -- parse_line -----------------------------------------------------------------------------------


def test_parse_line_accepts_a_record_as_text_or_bytes():
    record = rec()
    assert parse_line(line(record)) == (record, None)
    assert parse_line(line(record).encode()) == (record, None)
    assert parse_line("  " + line(record)) == (record, None)  # indented is still JSON
    assert parse_line(json.dumps(record) + "\r\n") == (record, None)


REJECTED = [
    ("", "blank"),
    ("   \n", "blank"),
    ('{"schema": "llmobs.request/1", "time": "2024-05', "not_json"),  # truncated by a crash
    ("=== gateway restarted ===\n", "not_json"),
    ("[1, 2]\n", "not_object"),
    (json.dumps(rec()) + json.dumps(rec()), "not_json"),  # two records glued together
    (json.dumps(rec()).replace("100.0", "NaN"), "not_json"),
    (b"\xff\xfe{", "not_json"),
    ('"text"\n', "not_object"),
    (json.dumps({**rec(), "schema": "llmobs.request/2"}), "unknown_schema"),
    (json.dumps({k: v for k, v in rec().items() if k != "schema"}), "unknown_schema"),
    (json.dumps({**rec(), "latency_ms": "100"}), "wrong_type"),
    (json.dumps({**rec(), "latency_ms": True}), "wrong_type"),
    (json.dumps({**rec(), "time": 1714564800}), "wrong_type"),
    (json.dumps({**rec(), "time": "yesterday"}), "bad_time"),
    (json.dumps({**rec(), "time": "2024-05-01T12:00:00"}), "bad_time"),  # no zone: which clock?
    (json.dumps({**rec(), "time": "2024-13-01T12:00:00.000+00:00"}), "bad_time"),
    (json.dumps({**rec(), "time": "0001-01-01T00:00:00+01:00"}), "bad_time"),  # before year 1 in UTC
    (json.dumps({k: v for k, v in rec().items() if k != "status"}), "missing_field"),
    (json.dumps({**rec(), "level": None}), "missing_field"),
    (json.dumps({**rec(), "requested_model": 3}), "wrong_type"),
    (json.dumps({**rec(), "stream": "yes"}), "wrong_type"),
    (json.dumps({**rec(), "prompt_tokens": 1.5}), "wrong_type"),
    (json.dumps({**rec(), "metadata": []}), "wrong_type"),
    (json.dumps({**rec(), "level": "CRITICAL"}), "out_of_range"),
    (json.dumps({**rec(), "status": "ok"}), "out_of_range"),
    (json.dumps({**rec(), "latency_ms": -1.0}), "out_of_range"),
    (json.dumps({**rec(), "http_status": 42}), "out_of_range"),
    (json.dumps(rec()).replace("100.0", "1e999"), "out_of_range"),
    (json.dumps(rec()).replace("100.0", "9" * 400), "out_of_range"),
    (json.dumps({**rec(), "metadata": {"a": [[[[]]]]}}).replace("[[[[]]]]", "[" * 65 + "]" * 65), "too_deep"),
    (json.dumps(rec()).replace("false", "[" * 100_000 + "]" * 100_000, 1), "too_deep"),
]


@pytest.mark.parametrize(("text", "reason"), REJECTED)
def test_parse_line_rejects_with_a_reason(text, reason):
    assert parse_line(text) == (None, reason)


def test_every_reason_is_named_and_described():
    assert set(records.REASONS) | {"blank"} >= {reason for _, reason in REJECTED}
    assert all(records.REASONS.values())


def test_metadata_nested_to_the_limit_is_valid():
    deep = {"a": 1}
    for _ in range(records.MAX_DEPTH - 2):  # the record itself and metadata are two levels
        deep = {"a": deep}
    assert parse_line(json.dumps(rec(metadata=deep)))[1] is None
    assert parse_line(json.dumps(rec(metadata={"a": deep})))[1] == "too_deep"


def test_times_in_other_zones_are_valid_and_compare_as_utc():
    record = rec(time="2024-05-01T14:00:00+02:00")
    assert parse_line(json.dumps(record)) == (record, None)  # kept as written
    assert records.time_key(record["time"]) == "2024-05-01T12:00:00.000+00:00"


def test_level_at_least():
    assert level_at_least(rec(level="ERROR"), "WARNING")
    assert level_at_least(rec(level="WARNING"), "WARNING")
    assert not level_at_least(rec(level="INFO"), "WARNING")


# -- times and quantiles ---------------------------------------------------------------------------


def test_parse_time_iso_with_and_without_zone():
    assert parse_time("2024-05-01T12:00:00Z") == T0
    assert parse_time("2024-05-01T14:00:00+02:00") == T0
    assert parse_time("2024-05-01T12:00:00") == T0  # naive means UTC
    assert parse_time("2024-05-01") == datetime(2024, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "ago"),
    [("15m", timedelta(minutes=15)), ("2h", timedelta(hours=2)), ("1d", timedelta(days=1)), ("30s", 30)],
)
def test_parse_time_relative_means_that_long_ago(text, ago):
    ago = ago if isinstance(ago, timedelta) else timedelta(seconds=ago)
    assert parse_time(text, now=T0) == T0 - ago


@pytest.mark.parametrize("text", ["yesterday", "15 minutes", "-2h", "2024-13-01", ""])
def test_parse_time_rejects_other_forms_clearly(text):
    with pytest.raises(ValueError, match=r"ISO 8601 .* or a duration ago"):
        parse_time(text)


def test_quantile_is_nearest_rank():
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert quantile(values, 0.5) == 10.0  # ceil(0.5 * 20) = 10th value
    assert quantile(values, 0.95) == 19.0
    assert quantile(values, 0.99) == 20.0  # ceil(19.8) = 20th
    assert quantile(values, 0.0) == 1.0
    assert quantile([7.0], 0.95) == 7.0
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0  # never interpolated (2.5)
    assert quantile([], 0.5) is None


# -- Filter ----------------------------------------------------------------------------------------


def test_filter_time_bounds_are_inclusive_and_compare_other_zones():
    flt = Filter(since=T0, until=T0 + timedelta(seconds=10))
    assert flt.match(rec(0)) and flt.match(rec(10))
    assert not flt.match(rec(-0.001)) and not flt.match(rec(10.001))
    assert flt.match(rec(time="2024-05-01T14:00:05+02:00"))  # another zone is parsed
    assert not flt.match(rec(time="2024-05-01T14:00:11+02:00"))


def test_filter_model_provider_level_slow_and_id():
    assert Filter(model="big").match(rec(requested_model="x", model_group="big"))
    assert not Filter(model="big").match(rec())
    assert Filter(provider="ollama_chat").match(rec())  # LiteLLM's name matches too
    assert Filter(provider="ollama-gpu1").match(rec())
    assert not Filter(provider="openai").match(rec())
    assert Filter(level="WARNING").match(rec(level="ERROR"))
    assert not Filter(level="WARNING").match(rec(level="INFO"))
    assert Filter(slow_ms=99).match(rec(latency_ms=100.0))
    assert not Filter(slow_ms=100).match(rec(latency_ms=100.0))
    assert not Filter(slow_ms=1).match(rec(latency_ms=None))
    assert Filter(request_id="t-1").match(rec(trace_id="t-1"))
    assert not Filter(request_id="req-9").match(rec())
    with pytest.raises(ValueError, match="level must be one of"):
        Filter(level="LOUD")


# -- files -------------------------------------------------------------------------------------------


def test_expand_paths_orders_rotated_files_oldest_first(tmp_path):
    names = ["requests.log", "requests.log.1", "requests.log.2.gz", "requests.log.10.gz"]
    for name in names:
        (tmp_path / name).write_text("")
    given = [str(tmp_path / n) for n in ("requests.log.1", "requests.log", "requests.log.10.gz")]
    given.append(str(tmp_path / "requests.log.2*"))  # a glob
    assert [p.name for p in expand_paths(given)] == [
        "requests.log.10.gz",
        "requests.log.2.gz",
        "requests.log.1",
        "requests.log",
    ]


def test_expand_paths_reads_directories_recursively_and_names_missing_paths(tmp_path):
    for host in ("gw2", "gw1"):
        (tmp_path / host).mkdir()
        (tmp_path / host / "requests.log").write_text("")
        (tmp_path / host / "requests.log.1").write_text("")
    (tmp_path / "gw1" / "notes.txt").write_text("not a log")
    found = [str(p.relative_to(tmp_path)) for p in expand_paths([str(tmp_path)])]
    assert found == ["gw1/requests.log.1", "gw1/requests.log", "gw2/requests.log.1", "gw2/requests.log"]
    assert expand_paths([str(tmp_path), str(tmp_path / "gw1" / "requests.log")]) == expand_paths(
        [str(tmp_path)]
    )  # named twice, read once
    with pytest.raises(FileNotFoundError, match=r"nope\.log: no such file"):
        expand_paths([str(tmp_path / "nope.log")])
    with pytest.raises(FileNotFoundError, match=r"\*.gz: no file matches"):
        expand_paths([str(tmp_path / "*.gz")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no log files"):
        expand_paths([str(tmp_path / "empty")])


def test_open_log_detects_gzip_by_its_magic_bytes(tmp_path):
    write(tmp_path / "requests.log.1", [rec(1)], gz=True)  # compressed, without .gz
    write(tmp_path / "plain.log.gz", [rec(2)])  # named .gz, but plain
    for name in ("requests.log.1", "plain.log.gz"):
        with open_log(tmp_path / name) as stream:
            assert parse_line(stream.readline())[1] is None


def test_open_log_of_an_unreadable_file_raises_an_oserror(tmp_path):
    with pytest.raises(records.LogFileError, match="cannot read"):
        open_log(tmp_path)  # a directory cannot be read as a log


def test_a_truncated_gzip_is_counted_never_raised(tmp_path):
    data = gzip.compress("".join(line(rec(i)) for i in range(2000)).encode())
    broken = tmp_path / "requests.log.2.gz"
    broken.write_bytes(data[: len(data) // 2])
    bad = BadLines()
    got = list(iter_file(broken, bad))
    assert len(got) < 2000
    assert bad.counts == {"corrupt_gzip": 1}
    assert bad.examples[0].startswith(f"{broken}:")


def test_read_records_merges_hosts_by_time_and_chains_rotations(tmp_path):
    write(tmp_path / "gw1" / "requests.log.1", [rec(0, host="gw1"), rec(4, host="gw1")], gz=True)
    write(tmp_path / "gw1" / "requests.log", [rec(6, host="gw1"), rec(9, host="gw1")])
    # a line slightly out of order within one file: nothing is lost or repeated
    write(tmp_path / "gw2" / "requests.log", [rec(1, host="gw2"), rec(7, host="gw2"), rec(5, host="gw2")])
    bad = BadLines()
    got = [(r["time"][17:23], r["host"]) for r in read_records(expand_paths([str(tmp_path)]), bad)]
    assert got == [
        ("00.000", "gw1"),
        ("01.000", "gw2"),
        ("04.000", "gw1"),
        ("06.000", "gw1"),
        ("07.000", "gw2"),
        ("05.000", "gw2"),
        ("09.000", "gw1"),
    ]
    assert bad.total == 0 and bad.lines == 7


def test_read_records_counts_bad_lines_with_places_and_applies_the_filter(tmp_path):
    path = tmp_path / "requests.log"
    path.write_text(
        "starting gateway\n"
        + line(rec(1))
        + "\n"  # blank: ignored, not bad
        + line(rec(2, requested_model="gpt", model_group="gpt"))
        + json.dumps({**rec(3), "latency_ms": "slow"})
        + "\n"
        + json.dumps({**rec(4), "schema": "other/9"})
        + "\n"
        + '{"schema": "llmobs.request/1", "ti'
    )
    bad = BadLines(max_examples=2)
    got = list(read_records([path], bad, Filter(model="llama")))
    assert [r["request_id"] for r in got] == ["req-1"]
    assert bad.counts == {"not_json": 2, "wrong_type": 1, "unknown_schema": 1}
    assert bad.total == 4 and bad.lines == 7
    assert bad.examples == [f"{path}:1: not_json", f"{path}:5: wrong_type"]
    assert bad.as_dict()["by_reason"] == {"not_json": 2, "unknown_schema": 1, "wrong_type": 1}


def test_iter_file_numbers_lines_and_can_skip_lines_without_a_text(tmp_path):
    path = write(tmp_path / "requests.log", [rec(1), rec(2, request_id="abc"), rec(3)])
    assert [n for n, _ in iter_file(path, BadLines())] == [1, 2, 3]
    bad = BadLines()
    assert [n for n, _ in iter_file(path, bad, contains="abc")] == [2]
    assert bad.lines == 3


def test_progress_is_called_every_so_many_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(records, "PROGRESS_EVERY", 2)
    path = write(tmp_path / "requests.log", [rec(i) for i in range(5)])
    seen = []
    list(read_records([path], BadLines(), progress=seen.append))
    assert seen == [2, 4]
