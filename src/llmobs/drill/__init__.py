"""Fault drills: a bounded load through every gateway, one fault, and a ledger that proves that
nothing was lost and the fault was seen (playbooks/drill.yml runs them; docs/drills.md).

The drills, written once: what each injects, the alerts that must fire (and resolve) and what the
verdict checks beyond the ledger. The playbook reads the same table (``drill-verdict --list``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Drill:
    name: str
    fault: str  # what is done, for people
    alerts_fire: tuple[str, ...] = ()  # must be firing at some point of the run
    alerts_resolve: tuple[str, ...] = ()  # ... and no longer at its end
    all_succeed: bool = False  # every request the clients sent is answered 200
    fault_s: int = 30  # how long the fault lasts by default
    tail_s: int = 20  # the load after the fault, by default


DRILLS = {
    d.name: d
    for d in (
        Drill(
            "redis",
            "Redis stopped under load, then started again",
            alerts_fire=("RedisDown",),
            alerts_resolve=("RedisDown",),
            all_succeed=True,
        ),
        Drill(
            "provider",
            "one provider's backend stopped under load (drill_model's), then started again",
            alerts_fire=("LiteLLMHighErrorRate",),
        ),
        Drill(
            "rotate",
            "the request log rotated several times under load, by rename and by copytruncate",
            all_succeed=True,
            fault_s=20,
        ),
        Drill("restart", "a gateway (drill_gateway) restarted under load", fault_s=0),
        Drill(
            "disk_full",
            "the request log's folder on a small filesystem that fills up under load, then gets room again",
            alerts_fire=("LiteLLMRequestLogLinesLost",),
            all_succeed=True,
        ),
        Drill(
            "hang",
            "drill_model's backend accepts requests and never answers, on every gateway host",
            # each attempt hangs until the provider's timeout_s and the router tries three times, so
            # only a request whose third attempt began while the backend hung ends in 408 (a retry
            # after the fault mends the others): with timeout_s 20 the hang lasts 60 s, and the
            # load goes on until the last hung attempt has ended
            fault_s=60,
            tail_s=60,
        ),
        Drill(
            "soak",
            "no fault: a constant load for drill_duration_s, the services' memory sampled throughout",
            all_succeed=True,
            fault_s=0,
        ),
    )
}
