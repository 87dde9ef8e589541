"""Basic-auth hashes for the Prometheus-family web configs: valid bcrypt, stable across runs."""

import bcrypt
import pytest

from llmobs import webauth


def test_hash_is_valid_bcrypt_that_accepts_only_the_password():
    hashed = webauth.bcrypt_hash("s3cret-password", "monitor1/llmobs").encode()
    assert bcrypt.checkpw(b"s3cret-password", hashed)
    assert not bcrypt.checkpw(b"wrong-password", hashed)


def test_same_seed_same_hash_so_reruns_change_nothing():
    assert webauth.bcrypt_hash("pw", "monitor1/llmobs") == webauth.bcrypt_hash("pw", "monitor1/llmobs")


def test_other_host_or_user_gets_another_salt():
    hashes = {
        webauth.bcrypt_hash("pw", seed) for seed in ("monitor1/llmobs", "monitor2/llmobs", "monitor1/admin")
    }
    assert len(hashes) == 3


def test_cost_is_what_exporter_toolkit_checks_quickly():
    assert webauth.bcrypt_hash("pw", "h/u").startswith("$2b$10$")


@pytest.mark.parametrize(
    ("host", "stays"),
    [("127.0.0.1", True), ("127.3.4.5", True), ("::1", True), ("localhost", True), ("", False), ("*", False),
     ("0.0.0.0", False), ("172.30.77.5", False), ("loadgen1", False), ("::", False)],
)  # fmt: skip
def test_only_loopback_addresses_keep_a_web_ui_on_the_host(host, stays):
    assert webauth.loopback(host) is stays
