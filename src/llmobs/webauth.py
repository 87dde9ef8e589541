"""Basic-auth hashes for the web config of Prometheus, Alertmanager and the exporters, and which
listen addresses stay on the host (a web UI beyond them must ask for a login).

Their web config (exporter-toolkit) wants bcrypt hashes. A random salt would rewrite the file on
every run; a salt derived from a seed (host and user name) keeps re-runs idempotent while two
hosts with the same password still get different hashes.
"""

import base64
import hashlib
import ipaddress

# bcrypt's base64 alphabet, in the order of the standard one it replaces.
_STANDARD = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

# exporter-toolkit checks the hash on every request it has not cached: cost 10 is ~50 ms.
DEFAULT_COST = 10


def bcrypt_salt(seed: str, cost: int = DEFAULT_COST) -> bytes:
    """A bcrypt salt ("$2b$<cost>$" + 22 characters) derived from seed."""
    raw = hashlib.sha256(seed.encode()).digest()[:16]
    encoded = base64.b64encode(raw)[:22].translate(bytes.maketrans(_STANDARD, _BCRYPT))
    return b"$2b$%02d$" % cost + encoded


def bcrypt_hash(password: str, seed: str, cost: int = DEFAULT_COST) -> str:
    """The bcrypt hash of password, the same for the same password and seed."""
    import bcrypt  # control node only (requirements.txt); hosts never hash

    return bcrypt.hashpw(str(password).encode(), bcrypt_salt(seed, cost)).decode()


def loopback(host: str) -> bool:
    """Whether a listen address keeps a service on this host ("", "*" and names do not)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
