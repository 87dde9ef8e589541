"""A bounded mixed load on the lab's gateways, run on a load generator by the stack's tests.

usage: python3 - KEY SECONDS MAX_REQUESTS WORKERS GATEWAY_URL... < lab_load.py

Every model in the guide's traffic mix, a third of the requests streamed (time to first token),
one prompt in four repeated (cache hits in Redis), spread over every gateway. It stops at
SECONDS or MAX_REQUESTS, whichever comes first, and prints a JSON summary (stdlib only: the lab
hosts have nothing else).
"""

import json
import random
import sys
import threading
import time
import urllib.error
import urllib.request

key, seconds, limit, workers = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
gateways = sys.argv[5:]
MODELS = ["llama3.1:8b"] * 60 + ["qwen-coder-vllm"] * 25 + ["llama-3.2-3b-llamacpp"] * 15
deadline = time.monotonic() + seconds
lock = threading.Lock()
counts: dict[str, int] = {}
sent = 0


def take() -> int | None:
    """The next request's number, or None once the time or the request budget is spent."""
    global sent
    with lock:
        if sent >= limit or time.monotonic() >= deadline:
            return None
        sent += 1
        return sent


def one(rng: random.Random, n: int) -> str:
    stream = n % 3 == 0
    content = "what is the capital of France?" if n % 4 == 0 else f"load {n} {rng.random()}"
    body = {
        "model": rng.choice(MODELS),
        "max_tokens": 16,
        "stream": stream,
        "messages": [{"role": "user", "content": content}],
    }
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    url = f"{gateways[n % len(gateways)]}/v1/chat/completions"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            return str(response.status)
    except urllib.error.HTTPError as error:
        return str(error.code)
    except OSError as error:
        return type(error).__name__


def worker(seed: int) -> None:
    rng = random.Random(seed)
    while (n := take()) is not None:
        outcome = one(rng, n)
        with lock:
            counts[outcome] = counts.get(outcome, 0) + 1


threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"sent": sent, "outcomes": counts}))
