"""The load tests' traffic mix: which models, by which weight. Read from the command line or the
file the load-test roles write from the inventory (``providers.traffic_mix``); untrusted text."""

from __future__ import annotations

from pathlib import Path

from llmobs.client import parse_json

MIX_FILE = Path("/etc/llmobs/traffic-mix.json")
GUIDE_SHARES = (60.0, 25.0, 15.0)  # primary, secondary, specialized: the guide's mix


class UsageError(Exception):
    """A setting that cannot work; the run stops with exit code 2, saying why."""


def parse_models(text: str) -> list[tuple[str, float]]:
    """``a=60,b=25`` (a bare name weighs 1) -> [(model, weight)]; UsageError naming a bad item."""
    mix = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, weight = item.rpartition("=")
        if not sep:
            name, weight = item, "1"
        try:
            value = float(weight)
        except ValueError:
            value = float("nan")
        if not name or not 0 <= value < 1e9:
            raise UsageError(f"--models: {item!r} is not model=weight with a weight from 0 up")
        mix.append((name, value))
    return checked_mix(mix, "--models")


def checked_mix(mix: list[tuple[str, float]], source: str) -> list[tuple[str, float]]:
    if not any(weight for _, weight in mix):
        raise UsageError(f"{source}: no model with a weight above 0")
    return [(model, weight) for model, weight in mix if weight > 0]


def read_mix_file(path: Path) -> list[tuple[str, float]] | None:
    """The role's mix file; None when there is none; UsageError when it is not a mix."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise UsageError(f"--mix-file {path}: cannot read it: {error.strerror}") from None
    data = parse_json(text)  # None for what is not JSON (or nests too deep to read)
    pairs = data if isinstance(data, list) else []
    mix = [
        (p[0], float(p[1]))
        for p in pairs
        if isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)
        if isinstance(p[1], int | float) and not isinstance(p[1], bool) and 0 <= p[1] < 1e9
    ]
    if len(mix) != len(pairs) or not mix:
        raise UsageError(f"--mix-file {path}: not a JSON list of [model, weight] pairs")
    return checked_mix(mix, f"--mix-file {path}")
