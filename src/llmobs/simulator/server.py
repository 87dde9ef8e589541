"""HTTP endpoints of the simulator: the Ollama API, the OpenAI API as vLLM and llama.cpp serve it,
vLLM's /metrics, and the admin endpoint.

Endpoints by provider type (``--type``):

=================  ==========================================================================
every type         ``GET|POST|DELETE /admin/faults``, ``GET /admin/timings`` (below)
ollama             ``GET /``, ``GET /api/tags``, ``GET /api/version``, ``GET /api/ps``,
                   ``POST /api/show``, ``POST /api/chat``, ``POST /api/generate`` (NDJSON streams,
                   ``stream`` true by default), and the OpenAI API under ``/v1`` as Ollama has it
vllm               ``GET /v1/models``, ``POST /v1/chat/completions``, ``POST /v1/completions``
                   (SSE streams), ``GET /health``, ``GET /version``, ``GET /metrics``
llamacpp, openai   as vllm without ``/metrics`` and ``/version``
=================  ==========================================================================

Streams start when the first token is due (headers, the role-only chunk and the first token
together, as vLLM sends them). Error bodies are shaped like the emulated backend's: Ollama
``{"error": "..."}``; vLLM ``{"object": "error", "message", "type", "param", "code"}``; llama.cpp
``{"error": {"code", "message", "type"}}``; OpenAI ``{"error": {"message", "type", "param", "code"}}``.

Admin endpoint (same port; with ``--admin-token`` or ``LLMOBS_SIMULATOR_ADMIN_TOKEN`` set it wants
``Authorization: Bearer <token>``, otherwise it is open, so bind to a trusted address):

* ``GET /admin/faults``: the fault rates in force per model, and the overrides;
* ``POST /admin/faults`` with a JSON object: ``model`` (one model; all when absent or ``"*"``) and
  either ``{"error_rate": 1.0, "status": 500}`` (HTTP errors with that status at that rate),
  ``{"error_rate": 0.5, "kind": "timeout"}`` (kind ``timeout``, ``stall`` or ``http_NNN``),
  ``{"errors": {"http_429": 0.1, "stall": 0.05}}`` (a whole fault table as in the profile), or
  ``{"reset": true}`` (back to the profile). An override replaces the profile's rates; a model's
  own override wins over the one for all. Answers with the new state;
* ``DELETE /admin/faults``: every override removed;
* ``GET /admin/timings``: the simulator's own record of its last 100,000 successful requests, the
  ground truth a measuring client is checked against: ``id`` (the request's x-litellm-call-id or
  x-request-id header), ``response_id`` (the id of the answer, OpenAI dialects), ``model``,
  ``stream``, and CLOCK_MONOTONIC seconds (comparable with ``time.perf_counter()`` of any process
  on the same host): ``arrived`` (its first bytes read, before any parsing), ``admitted`` (a batch
  slot granted), ``first_token`` and ``last_token`` (handed to the connection), ``ended`` (the whole
  answer handed to it: a stream's closing chunks and ``[DONE]`` included).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import os
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from llmobs.simulator import metrics
from llmobs.simulator.engine import Generation, ModelState, Simulator, Stalled, estimate_tokens
from llmobs.simulator.httpd import REASONS, Connection, Request, serve
from llmobs.simulator.profile import FAULT_KINDS, Profile, ProfileError, parse_errors

OLLAMA_VERSION = "0.12.0"  # what /api/version reports
VLLM_VERSION = "0.10.2"  # what vLLM's /version reports
JSON = "application/json"
NDJSON = "application/x-ndjson"
SSE = "text/event-stream"
OWNERS = {"ollama": "library", "vllm": "vllm", "llamacpp": "llamacpp", "openai": "system"}
LLAMACPP_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error"}
LLAMACPP_TYPES |= {404: "not_found_error", 501: "not_supported_error", 503: "unavailable_error"}


Endpoint = Callable[[Request, Connection], Awaitable[None]]


def dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


class ApiError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _ns(seconds: float) -> int:
    return max(0, int(seconds * 1e9))


def _text_of(content: Any) -> str:
    """The text of an OpenAI or Ollama message content: a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def _cap(value: Any, name: str, ollama: bool = False) -> int | None:
    """max_tokens / num_predict as a cap on the output, or None for no cap."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{name} must be an integer", param=name)
    if ollama:
        return value if value > 0 else None  # -1 and -2 mean "no limit" in Ollama
    if value < 1:
        raise ApiError(400, f"{name} must be at least 1, got {value}", param=name)
    return value


class App:
    """Routes requests of one provider type to the simulator."""

    def __init__(self, simulator: Simulator, admin_token: str | None = None) -> None:
        self.sim = simulator
        self.kind = simulator.kind
        self.admin_token = admin_token or None
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(4).hex()
        self.started = time.time()
        self.timings: deque[tuple[Any, ...]] = deque(maxlen=100_000)
        routes: dict[str, dict[str, Endpoint]] = {
            "/admin/faults": {"GET": self.admin_get, "POST": self.admin_post, "DELETE": self.admin_delete},
            "/admin/timings": {"GET": self.admin_timings},
            "/v1/models": {"GET": self.openai_models},
            "/v1/chat/completions": {"POST": self.openai_chat},
            "/v1/completions": {"POST": self.openai_completions},
        }
        if self.kind == "ollama":
            routes |= {
                "/": {"GET": self.ollama_root, "HEAD": self.ollama_root},
                "/api/tags": {"GET": self.ollama_tags},
                "/api/version": {"GET": self.ollama_version},
                "/api/ps": {"GET": self.ollama_ps},
                "/api/show": {"POST": self.ollama_show},
                "/api/chat": {"POST": self.ollama_chat},
                "/api/generate": {"POST": self.ollama_generate},
            }
        else:
            routes["/health"] = {"GET": self.health}
        if self.kind == "vllm":
            routes |= {"/metrics": {"GET": self.vllm_metrics}, "/version": {"GET": self.vllm_version}}
        self.routes = routes

    # dispatch and errors
    async def handle(self, request: Request, conn: Connection) -> None:
        path = request.path.rstrip("/") or "/"
        dialect = (
            "ollama" if path.startswith("/api/") or path == "/" or path.startswith("/admin/") else "openai"
        )
        methods = self.routes.get(path)
        try:
            if methods is None:
                raise ApiError(404, "Not Found")
            handler = methods.get(request.method)
            if handler is None:
                raise ApiError(405, "Method Not Allowed")
            await handler(request, conn)
        except ApiError as error:
            if methods is None or error.status == 405:
                self.route_error(conn, error.status, error.message)
            else:
                self.error(conn, dialect, error.status, error.message, error.param, error.code)

    def route_error(self, conn: Connection, status: int, phrase: str) -> None:
        """Unknown path or method, as each server's router answers it."""
        if self.kind == "ollama":
            conn.send(status, f"{status} {phrase.lower()}".encode(), "text/plain")
        elif self.kind == "llamacpp":
            self.error(conn, "openai", status, "File Not Found" if status == 404 else phrase)
        else:
            conn.send(status, dumps({"detail": phrase}), JSON)

    def error(
        self,
        conn: Connection,
        dialect: str,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        if dialect == "ollama":
            body: dict[str, Any] = {"error": message}
        elif self.kind == "vllm":
            kind = REASONS.get(status, "Unknown").title().replace(" ", "").replace("-", "")
            kind = kind if kind.endswith("Error") else kind + "Error"
            body = {"object": "error", "message": message, "type": kind, "param": param, "code": status}
        elif self.kind == "llamacpp":
            kind = LLAMACPP_TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
            body = {"error": {"code": status, "message": message, "type": kind}}
        else:  # OpenAI itself, and Ollama's /v1
            if status == 429:
                kind, code = "requests", code or "rate_limit_exceeded"
            else:
                kind = "invalid_request_error" if status < 500 else "server_error"
            body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
        conn.send(status, dumps(body), JSON, headers)

    def fault_error(self, conn: Connection, dialect: str, status: int) -> None:
        if status == 429:
            message = "Rate limit exceeded, retry later (simulated fault)"
            self.error(conn, dialect, 429, message, headers=(("Retry-After", "1"),))
        elif dialect == "ollama" and status == 500:
            self.error(conn, dialect, 500, "llama runner process has terminated (simulated fault)")
        else:
            self.error(conn, dialect, status, f"{REASONS.get(status, 'Error')} (simulated fault)")

    @staticmethod
    def body(request: Request) -> dict[str, Any]:
        try:
            data = json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError) as error:
            raise ApiError(400, f"invalid JSON in the request body: {error}") from None
        if not isinstance(data, dict):
            raise ApiError(400, "the request body must be a JSON object")
        return data

    def model(self, name: Any, dialect: str) -> ModelState:
        models = self.sim.models
        if name is None or name == "":
            if self.kind in ("vllm", "llamacpp"):
                return next(iter(models.values()))  # both serve their one model whatever the name
            raise ApiError(400, "model is required", param="model")
        if not isinstance(name, str):
            raise ApiError(400, "model must be a string", param="model")
        state = models.get(name)
        if state is None and self.kind == "ollama" and ":" not in name:
            state = models.get(f"{name}:latest")
        if state is not None:
            return state
        if dialect == "ollama":
            raise ApiError(404, f'model "{name}" not found, try pulling it first')
        if self.kind == "vllm":
            raise ApiError(404, f"The model `{name}` does not exist.", param="model")
        if self.kind == "llamacpp":
            raise ApiError(404, f"model '{name}' not found", param="model")
        raise ApiError(404, f"The model `{name}` does not exist", param="model", code="model_not_found")

    def next_id(self, prefix: str) -> str:
        return f"{prefix}-{self._id_prefix}{next(self._ids):08x}"

    # the generation loop shared by every dialect
    async def generate(
        self, request: Request, conn: Connection, dialect: str, gen: Generation, stream: bool, fmt: _Format
    ) -> None:
        plan = gen.plan
        if plan.status is not None:
            self.fault_error(conn, dialect, plan.status)
            return
        if plan.fault == "timeout":
            await asyncio.sleep(plan.hang_s)  # unless the client gives up first (then we are cancelled)
            conn.close()
            return
        try:
            await gen.admit()
            if stream:
                started = False

                async def emit(pieces: list[str]) -> None:
                    nonlocal started
                    data = fmt.chunks(pieces)
                    if not started:
                        started = True
                        conn.start_stream(200, fmt.content_type)
                        data = fmt.opening() + data
                    await conn.write(data)

                await gen.generate(emit)
                await conn.write(fmt.closing(gen))
                conn.end_stream()
            else:
                text: list[str] = []

                async def collect(pieces: list[str]) -> None:
                    text.extend(pieces)

                await gen.generate(collect)
                conn.send(200, dumps(fmt.whole(gen, "".join(text))), JSON)
            ended = time.monotonic()  # the whole answer handed to the connection
            gen.succeeded()
            call_id = request.headers.get("x-litellm-call-id") or request.headers.get("x-request-id")
            times = (gen.arrived, gen.t_admitted, gen.t_first, gen.t_last, ended)
            self.timings.append((call_id, fmt.response_id, gen.model.profile.name, stream, *times))
        except Stalled:
            conn.close()  # mid-response: the client sees a truncated stream
        finally:
            gen.release()

    # OpenAI API (vLLM, llama.cpp, OpenAI, Ollama's /v1)
    async def openai_models(self, request: Request, conn: Connection) -> None:
        created = int(self.started)
        data = []
        for name, state in self.sim.models.items():
            card: dict[str, Any] = {
                "id": name,
                "object": "model",
                "created": created,
                "owned_by": OWNERS[self.kind],
            }
            if self.kind == "vllm":
                card |= {"root": name, "parent": None, "max_model_len": state.profile.context_length}
            data.append(card)
        conn.send(200, dumps({"object": "list", "data": data}), JSON)

    def _openai_common(self, data: dict[str, Any]) -> tuple[bool, bool]:
        stream = data.get("stream", False)
        if not isinstance(stream, bool):
            raise ApiError(400, "stream must be a boolean", param="stream")
        options = data.get("stream_options") or {}
        if not isinstance(options, dict):
            raise ApiError(400, "stream_options must be an object", param="stream_options")
        return stream, bool(options.get("include_usage")) and stream

    async def openai_chat(self, request: Request, conn: Connection) -> None:
        data = self.body(request)
        state = self.model(data.get("model"), "openai")
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ApiError(400, "messages must be a non-empty list", param="messages")
        stream, usage = self._openai_common(data)
        cap = _cap(data.get("max_completion_tokens", data.get("max_tokens")), "max_tokens")
        prompt = " ".join(_text_of(m.get("content")) for m in messages if isinstance(m, dict))
        gen = self.sim.start(state, estimate_tokens(prompt), cap, request.received)
        fmt = OpenAIChat(self.next_id("chatcmpl"), state.profile.name, data.get("model") or "", usage)
        await self.generate(request, conn, "openai", gen, stream, fmt)

    async def openai_completions(self, request: Request, conn: Connection) -> None:
        data = self.body(request)
        state = self.model(data.get("model"), "openai")
        prompt = data.get("prompt")
        if isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt):
            prompt_tokens = len(prompt)  # token ids
        elif isinstance(prompt, str) or (
            isinstance(prompt, list) and all(isinstance(p, str) for p in prompt)
        ):
            prompt_tokens = estimate_tokens(prompt if isinstance(prompt, str) else " ".join(prompt))
        else:
            raise ApiError(
                400, "prompt must be a string, a list of strings or a list of token ids", param="prompt"
            )
        stream, usage = self._openai_common(data)
        cap = _cap(data.get("max_tokens"), "max_tokens")
        gen = self.sim.start(state, prompt_tokens, cap, request.received)
        fmt = OpenAICompletion(self.next_id("cmpl"), state.profile.name, data.get("model") or "", usage)
        await self.generate(request, conn, "openai", gen, stream, fmt)

    async def health(self, request: Request, conn: Connection) -> None:
        if self.kind == "vllm":
            conn.send(200, b"", JSON)  # vLLM answers an empty 200
        else:
            conn.send(200, dumps({"status": "ok"}), JSON)

    async def vllm_version(self, request: Request, conn: Connection) -> None:
        conn.send(200, dumps({"version": VLLM_VERSION}), JSON)

    async def vllm_metrics(self, request: Request, conn: Connection) -> None:
        rows = [(name, s.running, s.waiting, s.metrics) for name, s in self.sim.models.items()]
        conn.send(200, metrics.exposition(rows).encode(), metrics.CONTENT_TYPE)

    # Ollama API
    async def ollama_root(self, request: Request, conn: Connection) -> None:
        conn.send(200, b"Ollama is running", "text/plain; charset=utf-8")

    async def ollama_version(self, request: Request, conn: Connection) -> None:
        conn.send(200, dumps({"version": OLLAMA_VERSION}), JSON)

    def _ollama_card(self, state: ModelState) -> dict[str, Any]:
        p = state.profile
        params = _parameter_count(p.parameter_size)
        return {
            "name": p.name,
            "model": p.name,
            "modified_at": datetime.fromtimestamp(self.started, UTC).isoformat(),
            "size": int(params * 0.6),  # about a 4-bit quantisation, in bytes
            "digest": hashlib.sha256(p.name.encode()).hexdigest(),
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": p.family,
                "families": [p.family],
                "parameter_size": p.parameter_size,
                "quantization_level": p.quantization_level,
            },
        }

    async def ollama_tags(self, request: Request, conn: Connection) -> None:
        models = [self._ollama_card(s) for s in self.sim.models.values()]
        conn.send(200, dumps({"models": models}), JSON)

    async def ollama_ps(self, request: Request, conn: Connection) -> None:
        models = []
        for state in self.sim.models.values():
            if state.is_loaded():
                card = self._ollama_card(state)
                cold = state.profile.cold_load
                idle = cold.after_idle_s if cold else 300.0
                expires = datetime.fromtimestamp(time.time() + idle, UTC).isoformat()
                models.append(card | {"expires_at": expires, "size_vram": card["size"]})
        conn.send(200, dumps({"models": models}), JSON)

    async def ollama_show(self, request: Request, conn: Connection) -> None:
        data = self.body(request)
        state = self.model(data.get("model") or data.get("name"), "ollama")
        p = state.profile
        card = self._ollama_card(state)
        info = {
            "general.architecture": p.family,
            "general.parameter_count": _parameter_count(p.parameter_size),
            f"{p.family}.context_length": p.context_length,
        }
        body = {
            "modelfile": f"# Modelfile of the llmobs simulator\nFROM {p.name}\n",
            "parameters": "",
            "template": "{{ .Prompt }}",
            "details": card["details"],
            "model_info": info,
            "capabilities": ["completion"],
            "modified_at": card["modified_at"],
        }
        conn.send(200, dumps(body), JSON)

    def _ollama_common(self, data: dict[str, Any]) -> tuple[bool, int | None]:
        stream = data.get("stream", True)  # Ollama streams unless told not to
        if not isinstance(stream, bool):
            raise ApiError(400, "stream must be a boolean")
        options = data.get("options") or {}
        if not isinstance(options, dict):
            raise ApiError(400, "options must be an object")
        return stream, _cap(options.get("num_predict"), "num_predict", ollama=True)

    async def _ollama_load_only(self, conn: Connection, state: ModelState, chat: bool) -> None:
        """An empty prompt loads the model and answers done_reason "load", as Ollama does."""
        cold = state.profile.cold_load
        if state.needs_load() and cold is not None:
            await state.load(cold.load_ms.mean / 1000)
        state.last_done = time.monotonic()
        body: dict[str, Any] = {"model": state.profile.name, "created_at": _now_iso()}
        body |= {"message": {"role": "assistant", "content": ""}} if chat else {"response": ""}
        body |= {"done_reason": "load", "done": True}
        conn.send(200, dumps(body), JSON)

    async def ollama_chat(self, request: Request, conn: Connection) -> None:
        data = self.body(request)
        state = self.model(data.get("model"), "ollama")
        messages = data.get("messages") or []
        if not isinstance(messages, list):
            raise ApiError(400, "messages must be a list")
        stream, cap = self._ollama_common(data)
        if not messages:
            await self._ollama_load_only(conn, state, chat=True)
            return
        prompt = " ".join(_text_of(m.get("content")) for m in messages if isinstance(m, dict))
        gen = self.sim.start(state, estimate_tokens(prompt), cap, request.received)
        await self.generate(request, conn, "ollama", gen, stream, OllamaFormat(state.profile.name, chat=True))

    async def ollama_generate(self, request: Request, conn: Connection) -> None:
        data = self.body(request)
        state = self.model(data.get("model"), "ollama")
        prompt = data.get("prompt") or ""
        if not isinstance(prompt, str):
            raise ApiError(400, "prompt must be a string")
        stream, cap = self._ollama_common(data)
        if not prompt:
            await self._ollama_load_only(conn, state, chat=False)
            return
        system = data.get("system") if isinstance(data.get("system"), str) else ""
        gen = self.sim.start(state, estimate_tokens(system + prompt), cap, request.received)
        fmt = OllamaFormat(state.profile.name, chat=False)
        await self.generate(request, conn, "ollama", gen, stream, fmt)

    # admin
    def _authorise(self, request: Request) -> None:
        if self.admin_token is None:
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {self.admin_token}".encode()):
            raise ApiError(401, "the admin endpoint wants Authorization: Bearer <admin token>")

    def admin_state(self) -> dict[str, Any]:
        return {
            "models": {
                name: {"profile": s.profile.errors, "effective": self.sim.faults_for(name)}
                for name, s in self.sim.models.items()
            },
            "overrides": self.sim.overrides,
        }

    async def admin_timings(self, request: Request, conn: Connection) -> None:
        self._authorise(request)
        fields = (
            "id",
            "response_id",
            "model",
            "stream",
            "arrived",
            "admitted",
            "first_token",
            "last_token",
            "ended",
        )
        rows = [dict(zip(fields, row, strict=True)) for row in self.timings]
        conn.send(200, dumps({"clock": "CLOCK_MONOTONIC seconds", "requests": rows}), JSON)

    async def admin_get(self, request: Request, conn: Connection) -> None:
        self._authorise(request)
        conn.send(200, dumps(self.admin_state()), JSON)

    async def admin_delete(self, request: Request, conn: Connection) -> None:
        self._authorise(request)
        self.sim.set_faults(None, None)
        conn.send(200, dumps(self.admin_state()), JSON)

    async def admin_post(self, request: Request, conn: Connection) -> None:
        self._authorise(request)
        data = self.body(request)
        model = data.get("model")
        if model in (None, "*"):
            model = None
        elif model not in self.sim.models:
            raise ApiError(404, f"model {model!r} is not served here (served: {', '.join(self.sim.models)})")
        if data.get("reset"):
            self.sim.set_faults(model, None)
        else:
            self.sim.set_faults(model, _admin_rates(data))
        conn.send(200, dumps(self.admin_state()), JSON)


def _admin_rates(data: dict[str, Any]) -> dict[str, float]:
    try:
        if "errors" in data:
            return parse_errors(data["errors"], "errors")
        if "error_rate" not in data:
            raise ApiError(400, "give error_rate (with status or kind), errors, or reset")
        kind = data.get("kind")
        if kind is None:
            status = data.get("status", 500)
            if isinstance(status, bool) or not isinstance(status, int):
                raise ApiError(400, f"status must be an HTTP status 400-599, got {status!r}")
            kind = f"http_{status}"
        if not isinstance(kind, str) or (kind not in FAULT_KINDS and not kind.startswith("http_")):
            raise ApiError(400, f"kind must be timeout, stall or http_NNN, got {kind!r}")
        return parse_errors({kind: data["error_rate"]}, "fault")
    except ProfileError as error:
        raise ApiError(400, str(error)) from None


def _parameter_count(size: str) -> int:
    """'8.0B' -> 8_000_000_000; 0 when unreadable."""
    units = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
    try:
        return int(float(size[:-1]) * units[size[-1].upper()])
    except (ValueError, KeyError, IndexError):
        return 0


# Response formats: how one dialect frames the opening, the token pieces, the end, a whole reply.
class _Format:
    content_type = SSE
    response_id: str | None = None  # the id the answer carries (OpenAI dialects)

    def opening(self) -> bytes:
        return b""

    def chunks(self, pieces: list[str]) -> bytes:
        raise NotImplementedError

    def closing(self, gen: Generation) -> bytes:
        raise NotImplementedError

    def whole(self, gen: Generation, text: str) -> dict[str, Any]:
        raise NotImplementedError


def _usage(gen: Generation) -> dict[str, int]:
    n = len(gen.plan.pieces)
    return {"prompt_tokens": gen.prompt_tokens, "completion_tokens": n, "total_tokens": gen.prompt_tokens + n}


def _sse(data: dict[str, Any]) -> bytes:
    return b"data: " + dumps(data) + b"\n\n"


class OpenAIChat(_Format):
    obj = "chat.completion"

    def __init__(self, rid: str, model: str, requested: str, include_usage: bool) -> None:
        self.response_id = rid
        self.base = {
            "id": rid,
            "object": f"{self.obj}.chunk",
            "created": int(time.time()),
            "model": requested or model,
        }
        self.include_usage = include_usage

    def chunk(self, choice: dict[str, Any]) -> bytes:
        data = self.base | {"choices": [{"index": 0, **choice, "logprobs": None}]}
        if self.include_usage:
            data["usage"] = None  # as OpenAI and vLLM do until the usage chunk
        return _sse(data)

    def opening(self) -> bytes:
        return self.chunk({"delta": {"role": "assistant", "content": ""}, "finish_reason": None})

    def chunks(self, pieces: list[str]) -> bytes:
        return b"".join(self.chunk({"delta": {"content": p}, "finish_reason": None}) for p in pieces)

    def closing(self, gen: Generation) -> bytes:
        out = self.chunk({"delta": {}, "finish_reason": gen.plan.finish_reason})
        if self.include_usage:
            out += _sse(self.base | {"choices": [], "usage": _usage(gen)})
        return out + b"data: [DONE]\n\n"

    def whole(self, gen: Generation, text: str) -> dict[str, Any]:
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None}
        choice["finish_reason"] = gen.plan.finish_reason
        return self.base | {"object": self.obj, "choices": [choice], "usage": _usage(gen)}


class OpenAICompletion(OpenAIChat):
    obj = "text_completion"

    def __init__(self, rid: str, model: str, requested: str, include_usage: bool) -> None:
        super().__init__(rid, model, requested, include_usage)
        self.base["object"] = self.obj  # completions stream chunks are text_completion objects too

    def opening(self) -> bytes:
        return b""  # no role chunk: completions have no roles

    def chunks(self, pieces: list[str]) -> bytes:
        return b"".join(self.chunk({"text": p, "finish_reason": None}) for p in pieces)

    def closing(self, gen: Generation) -> bytes:
        out = self.chunk({"text": "", "finish_reason": gen.plan.finish_reason})
        if self.include_usage:
            out += _sse(self.base | {"choices": [], "usage": _usage(gen)})
        return out + b"data: [DONE]\n\n"

    def whole(self, gen: Generation, text: str) -> dict[str, Any]:
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": gen.plan.finish_reason}
        return self.base | {"choices": [choice], "usage": _usage(gen)}


class OllamaFormat(_Format):
    content_type = NDJSON

    def __init__(self, model: str, chat: bool) -> None:
        self.model = model
        self.chat = chat

    def _content(self, text: str) -> dict[str, Any]:
        return {"message": {"role": "assistant", "content": text}} if self.chat else {"response": text}

    def chunks(self, pieces: list[str]) -> bytes:
        stamp = _now_iso()
        return b"".join(
            dumps({"model": self.model, "created_at": stamp, **self._content(p), "done": False}) + b"\n"
            for p in pieces
        )

    def _final(self, gen: Generation, text: str) -> dict[str, Any]:
        end = time.monotonic()
        return {
            "model": self.model,
            "created_at": _now_iso(),
            **self._content(text),
            "done_reason": gen.plan.finish_reason,
            "done": True,
            "total_duration": _ns(end - gen.arrived),
            "load_duration": _ns(gen.load_s),
            "prompt_eval_count": gen.prompt_tokens,
            "prompt_eval_duration": _ns(gen.t_first - gen.t_admitted),
            "eval_count": len(gen.plan.pieces),
            "eval_duration": _ns(gen.t_last - gen.t_first),
        }

    def closing(self, gen: Generation) -> bytes:
        return dumps(self._final(gen, "")) + b"\n"

    def whole(self, gen: Generation, text: str) -> dict[str, Any]:
        return self._final(gen, text)


# running it
async def start(app: App, host: str, port: int) -> tuple[asyncio.Server, set[Connection]]:
    return await serve(app.handle, host, port)


async def stop(server: asyncio.Server, connections: set[Connection]) -> None:
    server.close()
    for conn in list(connections):
        if conn.transport is not None:
            conn.transport.abort()
    await server.wait_closed()


class BackgroundSimulator:
    """The simulator on its own thread and event loop, for tests and scripts::

    with BackgroundSimulator(profile, "vllm") as sim:
        urllib.request.urlopen(sim.url + "/v1/models")
    """

    def __init__(
        self,
        profile: Profile,
        kind: str,
        host: str = "127.0.0.1",
        port: int = 0,
        admin_token: str | None = None,
        seed: int | None = None,
    ) -> None:
        self.app = App(Simulator(profile, kind, seed=seed), admin_token)
        self.host, self.port = host, port
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"simulator-{kind}", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Future[None] | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = self._loop.create_future()
            server, connections = await start(self.app, self.host, self.port)
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop
            await stop(server, connections)

        try:
            asyncio.run(main())
        except BaseException as error:  # reported to the starting thread
            self._error = error
            self._ready.set()

    def __enter__(self) -> BackgroundSimulator:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(lambda: self._stop.done() or self._stop.set_result(None))
        self._thread.join(10)
