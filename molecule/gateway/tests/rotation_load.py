"""Run inside the gateway host by test_gateway.py: N concurrent requests, logrotate forced halfway.

usage: python3 - GATEWAY KEY RUN_ID N < rotation_load.py
"""

import json
import subprocess
import sys
import threading
import urllib.request

gateway, key, run_id, total = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def one(i: int) -> None:
    body = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": f"r{run_id} {i}"}]}
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "x-litellm-call-id": f"rot-{run_id}-{i}",
    }
    request = urllib.request.Request(f"{gateway}/v1/chat/completions", json.dumps(body).encode(), headers)
    urllib.request.urlopen(request, timeout=60).read()


def batch(start: int, count: int) -> None:
    threads = [threading.Thread(target=one, args=(i,)) for i in range(start, start + count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


batch(0, total // 2)
subprocess.run(["logrotate", "-f", "/etc/logrotate.d/litellm"], check=True)
batch(total // 2, total - total // 2)
