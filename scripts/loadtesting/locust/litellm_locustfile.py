"""Load test of a LiteLLM gateway with Locust: the guide's realistic traffic mix and a stress user.

    locust -f litellm_locustfile.py --host http://localhost:4000          # web UI on :8089
    locust -f litellm_locustfile.py --host http://localhost:4000 \\
        --users 50 --spawn-rate 5 --run-time 5m --headless --html report.html
    locust -f litellm_locustfile.py LiteLLMStressUser --host ...            # no pause between requests

LiteLLMUser (the default): the inventory's models by weight (60 % primary, 25 % secondary, 15 %
specialized), varied prompt sizes, 30 % streamed, TTFT and end-to-end latency measured on every
chunk as it arrives. `locust -f litellm_locustfile.py --help` lists the options of the "llmobs"
group (--models, --stream-share, --max-tokens, --samples, ...). The users live in the llmobs
package (llmobs.loadtesting.locust_users), installed on the load hosts by the locust role.
"""

import sys
from pathlib import Path

try:
    import llmobs  # noqa: F401  (installed: the load hosts' venv, the control node's .venv)
except ImportError:  # a checkout run without installing: the package's sources beside this file
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))

from llmobs.loadtesting.locust_users import LiteLLMStressUser, LiteLLMUser

__all__ = ["LiteLLMStressUser", "LiteLLMUser"]
