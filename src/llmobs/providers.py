"""The providers list of the inventory (``llm_providers``): checked, and turned into what each part
of the bundle needs. Roles use it through the ``llmobs`` Ansible filters; tools import it.

One entry per backend::

    - name: ollama                  # unique
      type: ollama                  # ollama | vllm | llamacpp | openai
      api_base: http://127.0.0.1:11434       # vllm, llamacpp, openai: ending in /v1
      api_key: ...                  # optional (openai); supply it with ansible-vault
      simulate: auto                # the synthetic provider on gateway hosts: true, false, or auto
                                    # (only where nothing answers on api_base; default false)
      timeout_s: 120                # optional: how long the gateway waits for this backend, per
                                    # attempt (default litellm_request_timeout_s); then 408
      models:
        - name: llama3.1:8b         # the model name clients ask the gateway for; unique
          backend_model: llama3.1:8b   # the name at the backend (default: name)
          weight: 60                # share of the load-test traffic mix (default 1)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from llmobs import wiring

# How LiteLLM calls each type (shared/reference/litellm.md: "which prefix calls what").
LITELLM_PREFIX = {"ollama": "ollama_chat", "vllm": "hosted_vllm", "llamacpp": "openai", "openai": "openai"}
TYPES = tuple(LITELLM_PREFIX)


def problems(providers: Any) -> list[str]:
    """Everything wrong with the list, each naming the entry; empty when it is usable."""
    if not isinstance(providers, list):
        return [f"the providers list must be a list, not {type(providers).__name__}"]
    found: list[str] = []
    names: dict[str, int] = {}
    models: dict[str, str] = {}
    for index, provider in enumerate(providers, 1):
        if not isinstance(provider, dict):
            found.append(f"entry {index} is not a mapping")
            continue
        label = f"provider {provider.get('name', '?')!r} (entry {index})"
        name = provider.get("name")
        if not name:
            found.append(f"{label}: no name")
        elif name in names:
            found.append(f"{label}: name used already by entry {names[name]}")
        else:
            names[name] = index
        if provider.get("type") not in TYPES:
            found.append(f"{label}: unknown type {provider.get('type')!r} (one of {', '.join(TYPES)})")
        api_base = provider.get("api_base")
        if not api_base:
            found.append(f"{label}: no api_base")
        elif urlsplit(str(api_base)).scheme not in ("http", "https") or not urlsplit(str(api_base)).hostname:
            found.append(f"{label}: api_base {api_base!r} is not an http(s) URL")
        timeout = provider.get("timeout_s")
        if timeout is not None and not (_number_ok(timeout) and 0 < timeout <= 86400):
            found.append(f"{label}: timeout_s {timeout!r} is not a number of seconds above 0, at most 86400")
        simulate = provider.get("simulate", False)
        if not (isinstance(simulate, bool) or simulate == "auto"):
            found.append(f"{label}: simulate {simulate!r} is not true, false or auto")
        entries = provider.get("models")
        if not isinstance(entries, list) or not entries:
            found.append(f"{label}: no models")
            continue
        for model in entries:
            model_name = model.get("name") if isinstance(model, dict) else None
            if not model_name:
                found.append(f"{label}: a model without a name: {model!r}")
            elif model_name in models:
                found.append(f"{label}: model {model_name!r} is served by {models[model_name]!r} already")
            else:
                models[model_name] = str(name)
            weight = model.get("weight", 1) if isinstance(model, dict) else 1
            if not _weight_ok(weight):
                found.append(f"{label}: model {model_name!r} has weight {weight!r}, not a number from 0 up")
    if not found and not any(w for _, w in traffic_mix(providers)):
        found.append("every model has weight 0: the load-test traffic mix would be empty")
    return found


def traffic_mix(providers: Any) -> list[tuple[str, float]]:
    """The load tests' traffic mix: (model name clients ask for, weight) for every model with a
    weight above 0 (default 1), in the inventory's order; what ``problems`` rejects is left out."""
    listed = providers if isinstance(providers, list) else []
    entries = [
        m for p in listed if isinstance(p, dict) and isinstance(p.get("models"), list) for m in p["models"]
    ]
    return [
        (m["name"], float(m.get("weight", 1)))
        for m in entries
        if isinstance(m, dict) and isinstance(m.get("name"), str) and _weight_ok(m.get("weight", 1))
        if m.get("weight", 1) > 0
    ]


def _number_ok(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and value == value


def _weight_ok(weight: Any) -> bool:
    return _number_ok(weight) and 0 <= weight < 1e9


def fallback_problems(providers: list[dict[str, Any]], fallbacks: list[dict[str, list[str]]]) -> list[str]:
    known = {m["name"] for p in providers for m in p.get("models", [])}
    return [
        f"fallback {source!r} -> {target!r}: no such model"
        for entry in fallbacks
        for source, targets in entry.items()
        for target in [source, *targets]
        if target not in known
    ]


def litellm_model_list(providers: list[dict[str, Any]], timeout_s: float) -> list[dict[str, Any]]:
    """LiteLLM's model_list. Each deployment gets a stable id, ``<provider>/<model>``, which is
    the ``model_id`` label of its metrics: dashboards and logs keep their meaning across restarts.
    A provider's own ``timeout_s`` replaces ``timeout_s`` for its deployments."""
    deployments = []
    for provider in providers:
        for model in provider["models"]:
            params: dict[str, Any] = {
                "model": f"{LITELLM_PREFIX[provider['type']]}/{model.get('backend_model') or model['name']}",
                "api_base": provider["api_base"],
                "timeout": provider.get("timeout_s", timeout_s),
                "stream_timeout": provider.get("timeout_s", timeout_s),
            }
            if provider["type"] != "ollama":
                # OpenAI-style clients insist on a key; local servers ignore it.
                params["api_key"] = provider.get("api_key") or "none"
            deployments.append(
                {
                    "model_name": model["name"],
                    "litellm_params": params,
                    "model_info": {"id": f"{provider['name']}/{model['name']}"},
                }
            )
    return deployments


def provider_of(deployment_id: str | None) -> str | None:
    """The provider of a deployment id as ``litellm_model_list`` makes them (``<provider>/<model>``,
    LiteLLM's x-litellm-model-id header); None for other ids (LiteLLM's own are hashes)."""
    return deployment_id.split("/", 1)[0] if deployment_id and "/" in deployment_id else None


def simulated_instances(providers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The synthetic-provider processes a gateway host may run: one per provider whose simulate is
    true or auto (``simulate`` says which; ``choose_simulated`` settles auto on the host)."""
    instances = []
    for provider in providers:
        if provider.get("simulate") not in (True, "auto"):
            continue
        url = urlsplit(provider["api_base"])
        default_port = {"ollama": 11434, "vllm": 8001}.get(provider["type"], 8000)
        instances.append(
            {
                "name": provider["name"],
                "type": provider["type"],
                "simulate": provider["simulate"],
                "host": url.hostname,
                "port": url.port or default_port,
                "address": wiring.join(url.hostname or "", url.port or default_port),
                "models": [m.get("backend_model") or m["name"] for m in provider["models"]],
            }
        )
    return instances


def choose_simulated(
    instances: list[dict[str, Any]], running: list[str], answering: list[str]
) -> dict[str, list[Any]]:
    """Which instances a host runs, and one line each saying why. ``running``: the instances whose
    simulator runs already (it keeps its port, so that it answers is no reason to stop it);
    ``answering``: those whose address answered a connection although no simulator of ours runs
    there: a real backend, which a simulator must never shadow."""
    run, said = [], []
    for instance in instances:
        name, where = instance["name"], instance["address"]
        if instance["simulate"] is True:
            run.append(instance)
            said.append(f"{name}: simulated on {where} (simulate: true)")
        elif name in running:
            run.append(instance)
            said.append(f"{name}: simulated on {where} (simulate: auto; the simulator runs already)")
        elif name in answering:
            said.append(
                f"{name}: a backend answers on {where}; used as it is, not simulated (simulate: auto)"
            )
        else:
            run.append(instance)
            said.append(f"{name}: nothing answers on {where}; simulated there (simulate: auto)")
    return {"run": run, "said": said}


def simulator_profile(
    instance: dict[str, Any], defaults: dict[str, Any], models: dict[str, Any], seed: int
) -> dict[str, Any]:
    """The profile of one simulator instance: its models, each the defaults plus its own keys."""
    return {
        "seed": seed,
        "defaults": {**defaults, "types": [instance["type"]]},
        "models": {name: dict(models.get(name) or {}) for name in instance["models"]},
    }
