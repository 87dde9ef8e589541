"""The guide's debugging tools, over the request log (schema ``llmobs.request/1``) and the gateway.

records.py   reading request logs: files, globs, directories, gzip-rotated, merged by time;
             parsing and validating lines (bad ones are counted, never fatal); filters
analyze.py   analyze-logs: error patterns, latency, tokens and cost, slow requests, traces
tail.py      tail-requests: follow the live log across rotation, filtered, with rolling stats
request.py   test-request: health, one request with its timings and headers, routing, providers
"""
