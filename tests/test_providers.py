"""The providers list: checks that name the bad entry, and what each part of the bundle gets from it."""

from llmobs import providers

GOOD = [
    {
        "name": "ollama",
        "type": "ollama",
        "api_base": "http://127.0.0.1:11434",
        "simulate": True,
        "models": [{"name": "llama3.1:8b", "weight": 60}],
    },
    {
        "name": "vllm",
        "type": "vllm",
        "api_base": "http://gpu2:8001/v1",
        "models": [{"name": "qwen-coder-vllm", "backend_model": "qwen-coder"}],
    },
    {
        "name": "cloud",
        "type": "openai",
        "api_base": "https://api.example.com/v1",
        "api_key": "k",
        "models": [{"name": "gpt"}],
    },
]


def test_a_good_list_has_no_problems():
    assert providers.problems(GOOD) == []


def test_each_problem_names_the_entry():
    bad = [
        {"name": "a", "type": "tgi", "api_base": "http://x:1", "models": [{"name": "m1"}]},
        {"name": "b", "type": "vllm", "models": [{"name": "m2"}]},
        {"name": "c", "type": "ollama", "api_base": "localhost:11434", "models": [{"name": "m1"}]},
        {"name": "a", "type": "ollama", "api_base": "http://x:2", "models": []},
        "not a mapping",
    ]
    found = providers.problems(bad)
    assert "provider 'a' (entry 1): unknown type 'tgi' (one of ollama, vllm, llamacpp, openai)" in found
    assert "provider 'b' (entry 2): no api_base" in found
    assert "provider 'c' (entry 3): api_base 'localhost:11434' is not an http(s) URL" in found
    assert "provider 'c' (entry 3): model 'm1' is served by 'a' already" in found
    assert "provider 'a' (entry 4): name used already by entry 1" in found
    assert "provider 'a' (entry 4): no models" in found
    assert "entry 5 is not a mapping" in found
    assert providers.problems({"name": "x"}) == ["the providers list must be a list, not dict"]


def test_the_traffic_mix_is_every_model_by_its_weight_and_weights_are_checked():
    assert providers.traffic_mix(GOOD) == [("llama3.1:8b", 60.0), ("qwen-coder-vllm", 1.0), ("gpt", 1.0)]
    odd = [{"models": [{"name": "a", "weight": 0}, {"name": "b", "weight": "x"}, "c", {"name": "d"}]}, 7]
    assert providers.traffic_mix(odd) == [("d", 1.0)] and providers.traffic_mix(None) == []
    entry = {"name": "p", "type": "vllm", "api_base": "http://x:1/v1"}
    for weight in (-1, "60", True, None, float("nan"), 1e99):
        found = providers.problems([{**entry, "models": [{"name": "m", "weight": weight}]}])
        assert found == [f"provider 'p' (entry 1): model 'm' has weight {weight!r}, not a number from 0 up"]
    assert providers.problems([{**entry, "models": [{"name": "m", "weight": 0}]}]) == [
        "every model has weight 0: the load-test traffic mix would be empty"
    ]


def test_fallbacks_must_name_known_models():
    assert providers.fallback_problems(GOOD, [{"qwen-coder-vllm": ["llama3.1:8b"]}]) == []
    assert providers.fallback_problems(GOOD, [{"qwen-coder-vllm": ["nope"]}]) == [
        "fallback 'qwen-coder-vllm' -> 'nope': no such model"
    ]


def test_litellm_model_list_uses_the_right_prefix_and_stable_ids():
    deployments = providers.litellm_model_list(GOOD, 600)
    assert [(d["model_name"], d["litellm_params"]["model"], d["model_info"]["id"]) for d in deployments] == [
        ("llama3.1:8b", "ollama_chat/llama3.1:8b", "ollama/llama3.1:8b"),
        ("qwen-coder-vllm", "hosted_vllm/qwen-coder", "vllm/qwen-coder-vllm"),
        ("gpt", "openai/gpt", "cloud/gpt"),
    ]
    assert "api_key" not in deployments[0]["litellm_params"]  # Ollama takes none
    assert deployments[1]["litellm_params"]["api_key"] == "none"  # OpenAI-style clients insist on one
    assert deployments[2]["litellm_params"]["api_key"] == "k"


def test_a_provider_may_have_its_own_timeout():
    slow = [{**GOOD[0], "timeout_s": 20}, GOOD[1]]
    deployments = providers.litellm_model_list(slow, 600)
    assert [(d["litellm_params"]["timeout"], d["litellm_params"]["stream_timeout"]) for d in deployments] == [
        (20, 20),
        (600, 600),
    ]
    for bad in (0, -1, "20", True, float("nan"), 10**6):
        (problem,) = providers.problems([{**GOOD[0], "timeout_s": bad}])
        assert "timeout_s" in problem and "above 0" in problem


def test_simulated_instances_and_their_profiles():
    instances = providers.simulated_instances(GOOD)
    assert instances == [
        {
            "name": "ollama",
            "type": "ollama",
            "simulate": True,
            "host": "127.0.0.1",
            "port": 11434,
            "address": "127.0.0.1:11434",
            "models": ["llama3.1:8b"],
        }
    ]
    profile = providers.simulator_profile(
        instances[0], {"ttft_ms": 20}, {"llama3.1:8b": {"batch_capacity": 2}}, 7
    )
    assert profile == {
        "seed": 7,
        "defaults": {"ttft_ms": 20, "types": ["ollama"]},
        "models": {"llama3.1:8b": {"batch_capacity": 2}},
    }


def test_simulate_is_true_false_or_auto():
    for value in (True, False, "auto"):
        assert providers.problems([{**GOOD[0], "simulate": value}]) == []
    for value in ("yes", 1, 0, None, "Auto"):
        assert providers.problems([{**GOOD[0], "simulate": value}]) == [
            f"provider 'ollama' (entry 1): simulate {value!r} is not true, false or auto"
        ]


def test_auto_simulates_only_where_no_backend_answers_and_says_why():
    listed = [{**GOOD[0], "name": n, "simulate": s} for n, s in (("a", "auto"), ("b", "auto"), ("c", "auto"))]
    listed.append({**GOOD[0], "name": "d", "simulate": True})
    listed.append({**GOOD[0], "name": "e", "simulate": False})
    instances = providers.simulated_instances(listed)
    assert [i["name"] for i in instances] == ["a", "b", "c", "d"]
    # a: nothing answers; b: a real backend answers; c: our simulator runs (and so answers); d: true
    chosen = providers.choose_simulated(instances, running=["c"], answering=["b", "c", "d"])
    assert [i["name"] for i in chosen["run"]] == ["a", "c", "d"]
    assert chosen["said"] == [
        "a: nothing answers on 127.0.0.1:11434; simulated there (simulate: auto)",
        "b: a backend answers on 127.0.0.1:11434; used as it is, not simulated (simulate: auto)",
        "c: simulated on 127.0.0.1:11434 (simulate: auto; the simulator runs already)",
        "d: simulated on 127.0.0.1:11434 (simulate: true)",
    ]
