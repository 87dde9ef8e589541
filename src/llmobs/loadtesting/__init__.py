"""The load-testing layer: Locust users and k6 runs on the load hosts, their raw results merged and
judged once (the profiling layer's client, statistics, exports and report, reused)."""
