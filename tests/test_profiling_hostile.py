"""check-regression and report.py read exports that may come from anywhere (a load host, a
colleague, a broken disk): any JSON in any field gives an answer, never a traceback."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmobs import report
from llmobs.profiling import check_regression as gate

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
ROW_KEYS = ["request_id", "model", "stream", "warmup", "status", "error", "detail", "sent_ms", "intended_ms"]
ROW_KEYS += [
    "first_byte_ms",
    "first_token_ms",
    "last_token_ms",
    "end_ms",
    "token_ms",
    "output_tokens",
    "gateway",
]
rows = st.lists(
    st.dictionaries(st.sampled_from(ROW_KEYS), json_values, max_size=len(ROW_KEYS)) | json_values, max_size=6
)
exports = st.fixed_dictionaries(
    {"schema": st.just("llmobs.profile/1")},
    optional={
        "requests": rows,
        "manifest": st.dictionaries(
            st.sampled_from(["settings", "deployments", "host", "url", "run_id"]), json_values
        )
        | json_values,
        "validity": json_values,
        "levels": st.lists(json_values, max_size=3) | json_values,
        "results": st.lists(json_values, max_size=3) | json_values,
        "recommendation": json_values,
        "errors": json_values,
        "tool": json_values,
        "formulas": json_values,
        "complete": json_values,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(exports, exports)
def test_gate_and_report_answer_any_export(tmp_path, new, old):
    (tmp_path / "new.json").write_text(json.dumps(new))
    (tmp_path / "old.json").write_text(json.dumps(old))
    code = gate.main([str(tmp_path / "new.json"), str(tmp_path / "old.json"), "--ignore", *gate.FINGERPRINT])
    assert code in (0, 1, 2)
    code = report.main(
        [str(tmp_path / "new.json"), str(tmp_path / "old.json"), "--html", str(tmp_path / "r.html")]
    )
    assert code in (0, 2)
