"""The Locust users of ``scripts/loadtesting/locust/litellm_locustfile.py``.

``LiteLLMUser`` sends the inventory's traffic mix (each model by its weight: the guide's 60 %
primary, 25 % secondary, 15 % specialized), prompts of varied sizes that no cache answers, a share
of them streamed, with a pause between requests; ``LiteLLMStressUser`` sends the same without a
pause. Locust runs every user class of a file unless told: here ``LiteLLMUser`` alone runs unless
a class is named on the command line (``locust -f litellm_locustfile.py LiteLLMStressUser``).

Timing. Locust's own timer stops at the response headers on a stream, and its statistics round
response times to about two significant digits. Each request is therefore sent with
``llmobs.client`` (it stamps every chunk as it arrives: TTFT is the first content chunk) and
reported to Locust with the measured times: ``chat`` or ``chat-stream`` (end to end, by model) and,
for streams, ``TTFT`` (by model). With ``--samples FILE`` every request is also kept raw, in the
profiling export's schema (``llmobs.profile/1``, tool ``locust``): the verdict merges those of every
host, never Locust's percentiles.

The mix comes from ``--models a=60,b=25`` (or ``$LLMOBS_MODELS``), else ``--mix-file`` (the locust
role writes ``/etc/llmobs/traffic-mix.json`` from the inventory), else the gateway's first three
models at 60/25/15. The key is found as the profiling tools find it (``--key``,
``$LITELLM_API_KEY``, ``$LITELLM_MASTER_KEY``, ``/etc/litellm/litellm.env``, the repository's
secrets).
"""

from __future__ import annotations

import os
import random
import socket
import time
from pathlib import Path
from typing import Any

import gevent
from locust import User, events, task
from locust.runners import MasterRunner, WorkerRunner

from llmobs import access
from llmobs.cli import printable
from llmobs.client import Client, ClientError, Unreachable
from llmobs.loadtesting import webui  # noqa: F401  (the web UI's guard and login)
from llmobs.loadtesting.mix import GUIDE_SHARES, MIX_FILE, UsageError, parse_models, read_mix_file
from llmobs.measuring import BAD_ANSWER, HTTP, STREAM, TIMEOUT, UNREACHABLE, Sample, gateway_fields
from llmobs.profiling import export
from llmobs.profiling.run import LAG_TICK_S, Measurement, Planned, Record, prompt_of, validity

PROMPT_SIZES = ((16, 0.5), (128, 0.35), (1024, 0.15))  # prompt words, share of requests
MAX_TOKENS = (32, 64, 128, 256)


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("llmobs (the LiteLLM users)")
    group.add_argument(
        "--models",
        default="",
        env_var="LLMOBS_MODELS",
        help="the traffic mix, model=weight,... (default: --mix-file, else the gateway's first three "
        "models at 60/25/15)",
    )
    group.add_argument(
        "--mix-file",
        default=str(MIX_FILE),
        help=f"a JSON list of [model, weight] pairs (default: {MIX_FILE}, written from the inventory)",
    )
    group.add_argument(
        "--stream-share", type=float, default=0.3, help="share of streamed requests, 0 to 1 (default 0.3)"
    )
    group.add_argument(
        "--max-tokens", type=int, default=0, help="answer length asked for (default: varied, 32 to 256)"
    )
    group.add_argument(
        "--request-timeout", type=float, default=120.0, help="seconds before a request fails (default 120)"
    )
    group.add_argument("--key", default="", help="the gateway key (default: found as the tools find it)")
    group.add_argument(
        "--samples", default="", help="keep every request raw in this file (the verdict's input)"
    )
    group.add_argument("--run-id", default="", help="prefix of the request ids (default: a fresh one)")
    group.add_argument(
        "--pacing",
        type=float,
        default=0.0,
        help="LiteLLMUser: one request every PACING seconds per user (users / PACING requests per second) "
        "instead of a pause of 1 to 3 s",
    )


def gateway_models(host: str, key: str | None) -> list[str]:
    with Client(host, key, timeout=30) as client:
        models = client.models()
    if not models:
        raise UsageError(f"the gateway at {host} lists no model (GET /v1/models)")
    return models


class Run:
    """What one Locust process measures: the settings every user shares and every request."""

    def __init__(self, environment: Any) -> None:
        options = environment.parsed_options
        if not environment.host:
            raise UsageError("no gateway: give --host, e.g. --host http://localhost:4000")
        if not 0 <= options.stream_share <= 1:
            raise UsageError(f"--stream-share {options.stream_share}: a share from 0 to 1")
        if options.request_timeout != options.request_timeout or not 0 < options.request_timeout <= 3600:
            raise UsageError(f"--request-timeout {options.request_timeout}: seconds from 0 to 3600")
        if options.pacing != options.pacing or not 0 <= options.pacing <= 3600:
            raise UsageError(f"--pacing {options.pacing}: seconds from 0 to 3600")
        self.host = environment.host.rstrip("/")
        self.key, self.key_source = access.find_key(options.key or None)
        try:
            # the gateway answers and takes the key, or the run stops now, saying which
            served = gateway_models(self.host, self.key)
            self.mix = (
                parse_models(options.models)
                if options.models
                else read_mix_file(Path(options.mix_file)) or list(zip(served, GUIDE_SHARES, strict=False))
            )
        except ClientError as error:
            detail = access.explain(error.kind, self.host, error.detail, self.key_source, error.status)
            raise UsageError(detail or str(error)) from None
        self.options = options
        self.run_id = options.run_id or f"locust-{int(time.time())}-{os.getpid()}"
        self.measurement = Measurement(started=time.perf_counter())
        self.cpu_start = time.process_time()
        self.count = 0
        self.lag_probe = gevent.spawn(self._probe)

    def _probe(self) -> None:
        """How late this process's greenlets wake up: a late stamp is a late measurement."""
        while True:
            asked = time.perf_counter()
            gevent.sleep(LAG_TICK_S)
            self.measurement.lag_s.append(max(0.0, time.perf_counter() - asked - LAG_TICK_S))

    def next_id(self, user: str) -> str:
        self.count += 1
        return f"{self.run_id}-{socket.gethostname()}-{user}-{self.count}"

    def finish(self) -> dict[str, Any]:
        self.lag_probe.kill()
        m = self.measurement
        m.finished = time.perf_counter()
        m.cpu_s = time.process_time() - self.cpu_start
        settings = {
            "mix": self.mix,
            "stream_share": self.options.stream_share,
            "max_tokens": self.options.max_tokens or list(MAX_TOKENS),
            "users": self.options.num_users,
        }
        return export.export("locust", self.host, settings, m, validity(m), self.run_id, [])


RUN: Run | None = None


@events.init.add_listener
def _only_the_named_classes(environment: Any, runner: Any = None, **_: Any) -> None:
    """The stress user runs only when named (workers keep every class: the master names them)."""
    if isinstance(runner, WorkerRunner) or environment.parsed_options is None:
        return
    if not environment.parsed_options.user_classes:
        environment.user_classes[:] = [c for c in environment.user_classes if c is not LiteLLMStressUser]


@events.test_start.add_listener
def _start(environment: Any, **_: Any) -> None:
    global RUN
    if isinstance(environment.runner, MasterRunner):
        return  # the workers send the requests
    try:
        RUN = Run(environment)
    except UsageError as error:
        environment.process_exit_code = 2
        environment.events.request.fire(  # shown in the statistics and the report, not only the log
            request_type="setup", name="llmobs", response_time=0, response_length=0, exception=error
        )
        print(f"litellm_locustfile: {printable(str(error))}", flush=True)
        gevent.spawn_later(0, environment.runner.quit)


@events.test_stop.add_listener
def _stop(environment: Any, **_: Any) -> None:
    global RUN
    run, RUN = RUN, None
    if run is None:
        return
    data = run.finish()
    if environment.parsed_options.samples:
        export.write(Path(environment.parsed_options.samples), data)
    problems = data["validity"]["problems"]
    for problem in problems:
        print(f"litellm_locustfile: not a valid measurement: {problem}", flush=True)


def error_class(failure: ClientError, stream: bool) -> str:
    """The profiling layer's class of a failed request (llmobs.measuring)."""
    if isinstance(failure, Unreachable):
        return TIMEOUT if failure.timed_out else UNREACHABLE
    if failure.status == 200:  # an answer of the wrong shape, or an error inside the stream
        return STREAM if stream else BAD_ANSWER
    return HTTP


class LiteLLMUser(User):
    """The realistic mix: the inventory's models by weight, varied prompts, a share streamed."""

    def wait_time(self) -> float:
        pacing = RUN.options.pacing if RUN is not None else 0.0
        if not pacing:
            return random.uniform(1, 3)  # a person reading the answer
        return max(0.0, pacing - (time.perf_counter() - self.task_started))  # a constant rate

    def on_start(self) -> None:
        self.chat_client: Client | None = None
        self.task_started = time.perf_counter()

    def on_stop(self) -> None:
        if self.chat_client is not None:
            self.chat_client.close()

    @task
    def chat(self) -> None:
        run = RUN
        if run is None:
            return
        self.task_started = time.perf_counter()
        if self.chat_client is None:
            self.chat_client = Client(run.host, run.key, timeout=run.options.request_timeout)
        models, weights = zip(*run.mix, strict=True)
        model = random.choices(models, weights)[0]
        sizes, shares = zip(*PROMPT_SIZES, strict=True)
        request_id = run.next_id(type(self).__name__)
        prompt = prompt_of(random.choices(sizes, shares)[0], request_id)
        stream = random.random() < run.options.stream_share
        max_tokens = run.options.max_tokens or random.choice(MAX_TOKENS)
        sample = Sample(request_id, model, stream, time.perf_counter())
        sample.sent = sample.intended
        error: ClientError | None = None
        try:
            result = self.chat_client.chat(
                model, prompt, stream=stream, max_tokens=max_tokens, request_id=request_id
            )
        except ClientError as failure:
            error = failure
            sample.end = time.perf_counter()
            sample.status = failure.status
            sample.error = error_class(failure, stream)
            sample.detail = str(failure)[:500]
        else:
            sample.status = result.status
            sample.first_byte = sample.sent + result.ttfb_s
            sample.token_times = [sample.sent + t for t in result.token_times_s]
            if sample.token_times:
                sample.first_token, sample.last_token = sample.token_times[0], sample.token_times[-1]
            sample.end = sample.sent + result.total_s
            sample.prompt_tokens = result.prompt_tokens
            sample.output_tokens = result.completion_tokens
            sample.tokens_source = "usage" if result.completion_tokens is not None else None
            sample.echoed_id = result.echoed_id
            sample.gateway = gateway_fields(result.headers)
        run.measurement.records.append(Record(Planned(model, b"", stream, group=type(self).__name__), sample))
        fire = self.environment.events.request.fire
        total_ms = (sample.end - sample.sent) * 1000
        kind = "chat-stream" if stream else "chat"
        length = sample.output_tokens or 0
        fire(request_type=kind, name=model, response_time=total_ms, response_length=length, exception=error)
        if sample.first_token is not None:
            ttft_ms = (sample.first_token - sample.sent) * 1000
            fire(request_type="TTFT", name=model, response_time=ttft_ms, response_length=0, exception=None)


class LiteLLMStressUser(LiteLLMUser):
    """The same requests without a pause: as much load as one user can send."""

    def wait_time(self) -> float:
        return 0.0
