"""Profiles of the synthetic LLM provider: what each simulated model does, read from YAML.

A profile is a YAML mapping with three keys::

    seed: 42                    # optional int: same seed + same request sequence = same draws
    defaults:                   # optional: keys every model starts from (a model's key replaces it)
      hang_max_s: 120
    models:                     # required: model name -> settings (an empty value = all defaults)
      llama3.1:8b:
        types: [ollama]         # provider types serving it (ollama, vllm, llamacpp, openai); default all
        ttft_ms: {dist: lognormal, mean: 180, stddev: 60}   # time to first token after admission
        tokens_per_second: 45   # decode rate of one request; 0 or .inf = no decode time
        output_tokens: {dist: normal, mean: 200, stddev: 80, min: 1, max: 1024}
        batch_capacity: 4       # requests generated at once; more wait in a FIFO queue; 0 = unlimited
        batch_slowdown: 0.05    # each more request decoding at once slows every token by this share
        cold_load: {after_idle_s: 300, load_ms: 2500, at_start: true}
        errors: {http_500: 0.01, http_429: 0.01, timeout: 0.001, stall: 0.001}
        hang_max_s: 120         # how long a timeout or stall fault holds the connection at most
        context_length: 131072  # reported by /api/show and vLLM's /v1/models
        family: llama           # Ollama details reported by /api/tags and /api/show
        parameter_size: 8.0B
        quantization_level: Q4_K_M

Distributions (``ttft_ms``, ``tokens_per_second``, ``output_tokens``, ``cold_load.load_ms``) are
either a number (fixed) or a mapping:

* ``{dist: fixed, value: V}``
* ``{dist: normal, mean: M, stddev: S}``
* ``{dist: lognormal, mean: M, stddev: S}``: mean and stddev of the values themselves (not of their log)
* ``{dist: uniform, min: A, max: B}``

plus optional ``min`` and ``max`` clamps on normal and lognormal (draws never go below 0).
``output_tokens`` is rounded and at least 1, then capped by the request's ``max_tokens`` /
``num_predict`` (finish reason ``length`` when the cap cut it).

Timing of one request: arrival -> cold load (when due) -> queue (until a batch slot is free) ->
first token after ``ttft_ms`` -> one more token every ``1 / tokens_per_second`` s, stretched by
the batch: with ``n`` requests of the model decoding at once (holding a batch slot, so at most
``batch_capacity``), the gap before each next token is::

    (1 / tokens_per_second) x (1 + batch_slowdown x (n - 1))

the way a GPU decodes more slowly as its batch fills (``batch_slowdown`` 0, the default: no
slowdown). At a steady concurrency c <= batch_capacity a request's time per output token is
therefore TPOT(c) = TPOT(1) x (1 + s x (c - 1)), and the largest concurrency that keeps TPOT under
a limit L is c* = floor(1 + (L / TPOT(1) - 1) / s). A model is cold
at start when ``cold_load.at_start`` is true (the default) and again once it has had no request in
flight for ``after_idle_s`` seconds; the request that finds it cold pays ``load_ms`` (requests
arriving during a load wait for the same load), like Ollama unloading an idle model.

Faults (``errors``) are rates between 0 and 1 whose sum is at most 1, drawn once per request:

* ``http_NNN`` (any status 400-599, typically ``http_500`` and ``http_429``): answer at once with
  that status and an error body shaped like the provider's;
* ``timeout``: accept the request and never answer; the connection is closed without a response
  after ``hang_max_s`` unless the client gives up first;
* ``stall``: the request takes a batch slot, streams half of its tokens, then sends nothing more and
  closes the connection after ``hang_max_s`` (a non-streamed request just never gets its answer).

Random draws come from one generator per model, seeded from ``seed`` and the model name, and every
request draws the same quantities in the same order (fault, TTFT, decode rate, length, words), so a
run with the same seed and the same request sequence per model gets the same outputs and timings.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TYPES = ("ollama", "vllm", "llamacpp", "openai")
DISTRIBUTIONS = ("fixed", "normal", "lognormal", "uniform")
FAULT_KINDS = ("timeout", "stall")  # besides http_NNN
DEFAULT_PROFILE = Path(__file__).with_name("profiles") / "default.yaml"

MODEL_KEYS = {
    "types",
    "ttft_ms",
    "tokens_per_second",
    "output_tokens",
    "batch_capacity",
    "batch_slowdown",
    "cold_load",
    "errors",
    "hang_max_s",
    "context_length",
    "family",
    "parameter_size",
    "quantization_level",
}
MODEL_DEFAULTS: dict[str, Any] = {
    "ttft_ms": 150,
    "tokens_per_second": 50,
    "output_tokens": {"dist": "uniform", "min": 16, "max": 256},
    "batch_capacity": 8,
    "hang_max_s": 60,
    "context_length": 8192,
    "family": "llama",
    "parameter_size": "8.0B",
    "quantization_level": "Q4_K_M",
}


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Dist:
    """A distribution of non-negative numbers (milliseconds, tokens, tokens per second)."""

    kind: str
    a: float  # value, mean or min
    b: float = 0.0  # stddev or max
    low: float = 0.0
    high: float = math.inf

    def draw(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            value = self.a
        elif self.kind == "uniform":
            value = rng.uniform(self.a, self.b)
        elif self.kind == "normal":
            value = rng.gauss(self.a, self.b)
        else:  # lognormal from the mean and stddev of the values
            if self.a <= 0:
                value = 0.0
            else:
                sigma2 = math.log1p((self.b / self.a) ** 2)
                value = rng.lognormvariate(math.log(self.a) - sigma2 / 2, math.sqrt(sigma2))
        return min(max(value, self.low), self.high)

    @property
    def mean(self) -> float:
        return (self.a + self.b) / 2 if self.kind == "uniform" else self.a


@dataclass(frozen=True)
class ColdLoad:
    after_idle_s: float
    load_ms: Dist
    at_start: bool = True


@dataclass(frozen=True)
class ModelProfile:
    name: str
    ttft_ms: Dist
    tokens_per_second: Dist
    output_tokens: Dist
    batch_capacity: int  # 0 = unlimited
    cold_load: ColdLoad | None
    errors: dict[str, float]
    hang_max_s: float
    context_length: int
    batch_slowdown: float = 0.0  # the share each more request decoding at once adds to the token gaps
    types: tuple[str, ...] = TYPES
    family: str = "llama"
    parameter_size: str = "8.0B"
    quantization_level: str = "Q4_K_M"


@dataclass(frozen=True)
class Profile:
    models: dict[str, ModelProfile]
    seed: int | None = None
    source: str = "<profile>"
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def for_type(self, kind: str) -> dict[str, ModelProfile]:
        """The models a provider of this type serves, in profile order."""
        return {name: m for name, m in self.models.items() if kind in m.types}


def _number(value: Any, where: str, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProfileError(f"{where}: expected a number, got {value!r}")
    if math.isnan(value) or value < minimum:
        raise ProfileError(f"{where}: must be a number >= {minimum:g}, got {value!r}")
    return float(value)


def _mapping(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ProfileError(f"{where}: expected a mapping, got {value!r}")
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise ProfileError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})")
    return dict(value)


def parse_dist(value: Any, where: str) -> Dist:
    if not isinstance(value, Mapping):
        number = _number(value, where)
        return Dist("fixed", number)
    spec = _mapping(value, where, {"dist", "value", "mean", "stddev", "min", "max"})
    kind = spec.get("dist")
    if kind not in DISTRIBUTIONS:
        raise ProfileError(f"{where}.dist: unknown distribution {kind!r} (one of {', '.join(DISTRIBUTIONS)})")
    needed = {"fixed": ("value",), "normal": ("mean", "stddev"), "lognormal": ("mean", "stddev")}
    needed["uniform"] = ("min", "max")
    for key in needed[kind]:
        if key not in spec:
            raise ProfileError(f"{where}: a {kind} distribution needs '{key}'")
    extra = sorted(set(spec) - {"dist", "min", "max", *needed[kind]})
    if extra:
        raise ProfileError(f"{where}: '{extra[0]}' does not apply to a {kind} distribution")
    low = _number(spec.get("min", 0.0), f"{where}.min")
    high = _number(spec.get("max", math.inf), f"{where}.max")
    if low > high:
        raise ProfileError(f"{where}: min {low:g} is above max {high:g}")
    if kind == "fixed":
        return Dist("fixed", _number(spec["value"], f"{where}.value"))
    if kind == "uniform":
        return Dist("uniform", low, high, low, high)
    mean = _number(spec["mean"], f"{where}.mean")
    stddev = _number(spec["stddev"], f"{where}.stddev")
    return Dist(kind, mean, stddev, low, high)


def parse_errors(value: Any, where: str) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ProfileError(f"{where}: expected a mapping of fault kind to rate, got {value!r}")
    rates: dict[str, float] = {}
    for key, rate in value.items():
        key = str(key)
        if key not in FAULT_KINDS and not _http_fault(key):
            raise ProfileError(
                f"{where}: unknown fault {key!r} (http_NNN with 400 <= NNN <= 599, timeout, stall)"
            )
        rate = _number(rate, f"{where}.{key}")
        if rate > 1:
            raise ProfileError(f"{where}.{key}: a rate is between 0 and 1, got {rate:g}")
        if rate > 0:
            rates[key] = rate
    if sum(rates.values()) > 1 + 1e-9:
        raise ProfileError(f"{where}: the rates add up to {sum(rates.values()):g}, more than 1")
    return dict(sorted(rates.items()))  # a stable order keeps the draws repeatable


def _http_fault(key: str) -> bool:
    return key.startswith("http_") and key[5:].isdigit() and 400 <= int(key[5:]) <= 599


def parse_model(name: str, spec: Mapping[str, Any], where: str) -> ModelProfile:
    spec = _mapping(spec, where, MODEL_KEYS)
    types = spec.get("types", list(TYPES))
    if isinstance(types, str):
        types = [types]
    if not isinstance(types, list) or not types or any(t not in TYPES for t in types):
        raise ProfileError(
            f"{where}.types: a list of provider types out of {', '.join(TYPES)}, got {types!r}"
        )
    capacity = spec["batch_capacity"]
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
        raise ProfileError(f"{where}.batch_capacity: a whole number >= 0 (0 = unlimited), got {capacity!r}")
    context = spec["context_length"]
    if isinstance(context, bool) or not isinstance(context, int) or context < 1:
        raise ProfileError(f"{where}.context_length: a whole number >= 1, got {context!r}")
    cold = None
    if spec.get("cold_load") is not None:
        c = _mapping(spec["cold_load"], f"{where}.cold_load", {"after_idle_s", "load_ms", "at_start"})
        if "load_ms" not in c:
            raise ProfileError(f"{where}.cold_load: 'load_ms' is required")
        at_start = c.get("at_start", True)
        if not isinstance(at_start, bool):
            raise ProfileError(f"{where}.cold_load.at_start: true or false, got {at_start!r}")
        cold = ColdLoad(
            after_idle_s=_number(c.get("after_idle_s", 300), f"{where}.cold_load.after_idle_s"),
            load_ms=parse_dist(c["load_ms"], f"{where}.cold_load.load_ms"),
            at_start=at_start,
        )
    output = parse_dist(spec["output_tokens"], f"{where}.output_tokens")
    output = Dist(output.kind, output.a, output.b, max(output.low, 1.0), output.high)
    for key in ("family", "parameter_size", "quantization_level"):
        if not isinstance(spec[key], str):
            raise ProfileError(f"{where}.{key}: expected a string, got {spec[key]!r}")
    return ModelProfile(
        name=name,
        ttft_ms=parse_dist(spec["ttft_ms"], f"{where}.ttft_ms"),
        tokens_per_second=parse_dist(spec["tokens_per_second"], f"{where}.tokens_per_second"),
        output_tokens=output,
        batch_capacity=capacity,
        cold_load=cold,
        errors=parse_errors(spec.get("errors"), f"{where}.errors"),
        hang_max_s=_number(spec["hang_max_s"], f"{where}.hang_max_s"),
        batch_slowdown=_number(spec.get("batch_slowdown", 0.0), f"{where}.batch_slowdown"),
        context_length=context,
        types=tuple(types),
        family=spec["family"],
        parameter_size=spec["parameter_size"],
        quantization_level=spec["quantization_level"],
    )


def parse_profile(data: Any, source: str = "<profile>") -> Profile:
    """Check a loaded YAML document and turn it into a Profile; ProfileError names what is wrong."""
    if not isinstance(data, Mapping):
        raise ProfileError(f"{source}: expected a mapping with 'models', got {type(data).__name__}")
    top = _mapping(data, source, {"seed", "defaults", "models"})
    seed = top.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ProfileError(f"{source}: seed: expected a whole number, got {seed!r}")
    defaults = top.get("defaults") or {}
    _mapping(defaults, f"{source}: defaults", MODEL_KEYS)
    models = top.get("models")
    if not isinstance(models, Mapping) or not models:
        raise ProfileError(f"{source}: 'models' must be a non-empty mapping of model name to settings")
    parsed: dict[str, ModelProfile] = {}
    for name, spec in models.items():
        if not isinstance(name, str) or not name.strip():
            raise ProfileError(f"{source}: models: a model name must be a non-empty string, got {name!r}")
        merged = {**MODEL_DEFAULTS, **defaults, **(spec or {})} if isinstance(spec, Mapping | None) else spec
        parsed[name] = parse_model(name, merged, f"{source}: models.{name}")
    return Profile(models=parsed, seed=seed, source=source, raw=dict(top))


def load_profile(path: Path | str) -> Profile:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ProfileError(f"{path}: cannot read the profile: {error.strerror or error}") from error
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ProfileError(f"{path}: not valid YAML: {error}") from error
    return parse_profile(data, str(path))
