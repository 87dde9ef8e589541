"""The order of the stack's tests beside the idempotence run (lab/molecule-check.sh).

The tests that only read the hosts or send them load go first, while site.yml may still be running
a second time. The ones that change what site.yml manages (they stop and restart services, mount a
small filesystem, add and remove simulators) come after them, and each of their modules waits for
that run to end first: they would make it report changes, and it would undo their faults. The
security checks come last."""

import os
from pathlib import Path

import pytest

from llmobs.waiting import wait_until

CHANGE_WHAT_SITE_YML_MANAGES = ("test_drills.py", "test_simulators.py")
# the security checks look for secrets in every result and log line the other tests left behind
LAST = ("test_security.py",)
IDEMPOTENCE_RUN_S = 1800  # site.yml's second run takes about 5 min on two cores


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def place(item: pytest.Item) -> int:
        return 2 if item.path.name in LAST else int(item.path.name in CHANGE_WHAT_SITE_YML_MANAGES)

    items.sort(key=place)  # stable: in the order found otherwise


@pytest.fixture(scope="module", autouse=True)
def after_the_idempotence_run(request: pytest.FixtureRequest) -> None:
    ended = os.environ.get("LLMOBS_IDEMPOTENCE_RC")
    if ended and request.path.name in CHANGE_WHAT_SITE_YML_MANAGES:
        wait_until(lambda: Path(ended).exists(), IDEMPOTENCE_RUN_S, "the idempotence run beside these tests")
