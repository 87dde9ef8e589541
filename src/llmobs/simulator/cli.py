"""llmobs-simulator: a synthetic LLM provider (Ollama, vLLM, llama.cpp, OpenAI API) for tests, rehearsals.

One process emulates one provider of the given type, serving the models of the profile that list
that type. The profile schema is in ``llmobs/simulator/profile.py``; the endpoints, including the
admin endpoint that switches faults on at run time, in ``llmobs/simulator/server.py``.

Exit codes: 0 ok (or stopped by SIGTERM/SIGINT), 2 usage error, unusable profile or address.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from llmobs.cli import EXIT_OK, argument_parser, emit, fail, progress
from llmobs.simulator.engine import Simulator
from llmobs.simulator.profile import DEFAULT_PROFILE, TYPES, Profile, ProfileError, load_profile
from llmobs.simulator.server import App, start, stop

DEFAULT_PORTS = {"ollama": 11434, "vllm": 8001, "llamacpp": 8000, "openai": 8000}
TOKEN_ENV = "LLMOBS_SIMULATOR_ADMIN_TOKEN"
EPILOG = """\
endpoints:
  ollama                 /, /api/tags, /api/version, /api/ps, /api/show, /api/chat, /api/generate, /v1/...
  vllm, llamacpp, openai /v1/models, /v1/chat/completions, /v1/completions, /health; vllm: /metrics
  every type             GET, POST, DELETE /admin/faults (switch faults on and off at run time)

examples:
  llmobs-simulator --type ollama --port 11434 --profile profile.yaml
  llmobs-simulator --validate --profile profile.yaml
  curl -d '{{"error_rate": 1.0, "status": 500}}' http://127.0.0.1:11434/admin/faults   # fail everything
  curl -d '{{"reset": true}}' http://127.0.0.1:11434/admin/faults                       # back to the profile

profile schema: llmobs/simulator/profile.py; default profile: {profile}
exit codes: 0 ok or stopped by SIGTERM/SIGINT, 2 usage error, unusable profile or address
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argument_parser(__doc__, EPILOG.format(profile=DEFAULT_PROFILE), prog="llmobs-simulator")
    parser.add_argument("--type", choices=TYPES, help="the provider to emulate (required unless --validate)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        help="port (default: ollama 11434, vllm 8001, llamacpp and openai 8000; 0 = any free port)",
    )
    parser.add_argument("--profile", default=str(DEFAULT_PROFILE), help="YAML profile (default: the example)")
    parser.add_argument(
        "--model",
        action="append",
        metavar="NAME",
        help="serve only this model of the profile (repeatable; default: every model for --type)",
    )
    parser.add_argument("--seed", type=int, help="random seed (overrides the profile's)")
    parser.add_argument(
        "--admin-token",
        default=os.environ.get(TOKEN_ENV),
        help=f"bearer token that /admin/faults requires (default: ${TOKEN_ENV}; unset = open)",
    )
    parser.add_argument("--validate", action="store_true", help="only check the profile and exit")
    parser.add_argument("--json", action="store_true", help="with --validate: print the result as JSON")
    args = parser.parse_args(argv)
    if not args.validate and args.type is None:
        parser.error("--type is required (one of " + ", ".join(TYPES) + ")")
    if args.port is not None and not 0 <= args.port <= 65535:
        parser.error(f"--port must be between 0 and 65535, got {args.port}")
    return args


def select(profile: Profile, kind: str | None, only: list[str] | None) -> dict[str, list[str]]:
    """The models each type would serve; raises ProfileError when the choice leaves nothing."""
    kinds = [kind] if kind else list(TYPES)
    served = {k: list(profile.for_type(k)) for k in kinds}
    for name in only or []:
        if name not in profile.models:
            raise ProfileError(
                f"{profile.source}: --model {name}: no such model (known: {', '.join(profile.models)})"
            )
        if kind and name not in served[kind]:
            raise ProfileError(f"{profile.source}: --model {name}: its types do not include {kind}")
    if only:
        served = {k: [n for n in names if n in only] for k, names in served.items()}
    if kind and not served[kind]:
        raise ProfileError(f"{profile.source}: no model is served by type {kind} (see each model's 'types')")
    return served


async def run(app: App, host: str, port: int, profile: Profile) -> None:
    try:
        server, connections = await start(app, host, port)
    except OSError as error:
        fail(f"cannot listen on {host}:{port}: {error.strerror or error}")
    bound = server.sockets[0].getsockname()
    sim = app.sim
    seed = "random" if sim.seed is None else sim.seed
    progress(
        f"llmobs-simulator: {sim.kind} on http://{host}:{bound[1]} serving {', '.join(sim.models)} "
        f"(profile {profile.source}, seed {seed}, admin {'token' if app.admin_token else 'open'})"
    )
    done = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, lambda: done.done() or done.set_result(None))
    await done
    await stop(server, connections)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        profile = load_profile(args.profile)
        served = select(profile, args.type, args.model)
    except ProfileError as error:
        fail(str(error))
    if args.validate:
        result = {"ok": True, "profile": profile.source, "seed": profile.seed, "models": served}
        lines = [f"{kind}: {', '.join(names) or '(none)'}" for kind, names in served.items()]
        emit(result, args.json, f"profile {profile.source} is valid\n" + "\n".join(lines))
        return EXIT_OK
    port = DEFAULT_PORTS[args.type] if args.port is None else args.port
    app = App(Simulator(profile, args.type, served[args.type], seed=args.seed), args.admin_token)
    asyncio.run(run(app, args.host, port, profile))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
