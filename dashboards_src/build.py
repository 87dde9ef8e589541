"""Build the dashboards' JSON: one file per dashboard, deterministic (sorted keys, ids from the
layout, trailing newline), into the grafana role.

    python -m dashboards_src.build            write roles/grafana/files/dashboards/NN-name.json
    python -m dashboards_src.build --check    exit 1 when the files there differ from a fresh build

Our own script rather than grafanalib's generate-dashboards, which neither finds the shared
modules nor writes where provisioning reads. Exit codes: 0 ok, 1 check failed, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import dashboards

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "roles" / "grafana" / "files" / "dashboards"
GENERATED = "[0-9][0-9]-*.json"  # what this script owns in the output folder


def render(board: dict) -> str:
    return json.dumps(board, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def built() -> dict[str, str]:
    return {f"{stem}.json": render(board) for stem, board in dashboards().items()}


def differences(out: Path) -> list[str]:
    """What a fresh build would change in out, one line each; empty when nothing."""
    fresh = built()
    found = []
    for name, text in fresh.items():
        path = out / name
        if not path.exists():
            found.append(f"{name}: missing")
        elif path.read_text() != text:
            found.append(f"{name}: differs from a fresh build")
    found += [f"{p.name}: no dashboard builds it" for p in sorted(out.glob(GENERATED)) if p.name not in fresh]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dashboards_src.build", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--out", type=Path, default=OUT, help=f"output folder (default: {OUT.relative_to(ROOT)})"
    )
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on a difference")
    args = parser.parse_args(argv)
    if args.check:
        problems = differences(args.out)
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            print("run make dashboards", file=sys.stderr)
        return 1 if problems else 0
    args.out.mkdir(parents=True, exist_ok=True)
    fresh = built()
    for stale in sorted(args.out.glob(GENERATED)):
        if stale.name not in fresh:
            stale.unlink()
            print(f"removed {stale.name}")
    for name, text in fresh.items():
        path = args.out / name
        state = "unchanged" if path.exists() and path.read_text() == text else "written"
        path.write_text(text)
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
