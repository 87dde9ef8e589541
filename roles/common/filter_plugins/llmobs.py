"""Ansible filters over the llmobs package, so that roles, playbooks and tools share one reading
of the providers list, of the wiring between hosts and of a load test's plan
(playbooks/filter_plugins links here).

The package is imported from this checkout (src/), so no install is needed on the control node.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))

from llmobs import providers, roledoc, sweep, webauth, wiring
from llmobs.loadtesting import plan


class FilterModule:
    def filters(self):
        return {
            "llmobs_provider_problems": providers.problems,
            "llmobs_fallback_problems": providers.fallback_problems,
            "llmobs_litellm_model_list": providers.litellm_model_list,
            "llmobs_simulated_instances": providers.simulated_instances,
            "llmobs_choose_simulated": providers.choose_simulated,
            "llmobs_simulator_profile": providers.simulator_profile,
            "llmobs_traffic_mix": providers.traffic_mix,
            "llmobs_bcrypt": webauth.bcrypt_hash,
            "llmobs_loopback": webauth.loopback,
            "llmobs_loadtest_plan": plan.plan_or_problem,
            "llmobs_checked_options": roledoc.checked_options,
            "llmobs_setting": wiring.setting,
            "llmobs_address": wiring.address,
            "llmobs_address_problem": wiring.problem,
            "llmobs_split_address": lambda value: list(wiring.split(value)),
            "llmobs_prometheus_url": wiring.prometheus_url,
            "llmobs_sweep_target": sweep.target,
        }
