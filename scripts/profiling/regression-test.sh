#!/bin/bash
# regression-test.sh (run in CI/CD): the seed guide's Scenario 4, as written.
# It compares the P95 of a fresh run with previous-baseline.json by the point estimate alone;
# scripts/profiling/check-regression.py does the same with the noise between the runs taken into
# account, the success rate, and a check that both runs measured the same setup.

# Run baseline profiling
./scripts/profiling/profile-latency.py --export baseline-latency.json

# Extract P95 latency
BASELINE_P95=$(jq '.summary.p95_latency_ms' baseline-latency.json)

# Compare with previous baseline
PREVIOUS_P95=$(jq '.summary.p95_latency_ms' previous-baseline.json)

# Calculate regression
CHANGE=$(echo "scale=2; ($BASELINE_P95 - $PREVIOUS_P95) / $PREVIOUS_P95 * 100" | bc)

if (( $(echo "$CHANGE > 15" | bc -l) )); then
    echo "⚠️ PERFORMANCE REGRESSION: P95 latency increased by $CHANGE%"
    exit 1
fi

echo "✅ No performance regression detected"
