"""Basic-auth hashes for the Prometheus-family web configs: valid bcrypt, stable across runs."""

import bcrypt

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
