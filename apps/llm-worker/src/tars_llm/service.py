"""The llm worker on the bus: RAG, the tool loop over bus tools, streaming, cancel, persona."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from typing import Any

from tars.clients.memory import MemoryClient
from tars.contracts import topics as T
from tars.contracts.character import Character
from tars.contracts.errors import ErrorKind
from tars.contracts.llm import LlmCancel, LlmRequest, LlmResponse, LlmStreamChunk
from tars.contracts.memory import MemoryFilter, MemoryQuery
from tars.contracts.tools import ToolCall, ToolRegistry, ToolResult
from tars.runtime import (
    ConfigError,
    Inbound,
    ModelExecutor,
    PeerEvent,
    Peers,
    Requester,
    Service,
    TarsError,
)
from tars.runtime.clock import Clock, SystemClock
from tars_llm.config import LLMConfig
from tars_llm.context import now_text
from tars_llm.errors import LLMError, ProviderError
from tars_llm.factory import create_chat_model
from tars_llm.model import ChatModel, PrefixWarming, collect
from tars_llm.persona import load_character_file, with_defaults
from tars_llm.prompt import PromptBuilder
from tars_llm.settings import Settings
from tars_llm.tooldir import ToolDirectory
from tars_llm.toolloop import LoopResult, ToolLoop
from tars_llm.turns import Turn, TurnCancelled, TurnTable, acquire_unless_cancelled, until_cancelled
from tars_llm.types import ChatRequest, ModelMessage, SamplingParams

log = logging.getLogger("tars_llm.service")

ERROR_TEXT = "Sorry, my language model is not answering right now."
BUSY_TEXT = "I'm still busy with another question. Ask me again in a moment."
RAG_ROLES = ("user", "fact", "note")
"""Memories a turn may be given: what users said or asked to keep, not the assistant's replies."""
CANCEL_GRACE_S = 0.5
"""After a cancel, how long the model may take to stop by itself before its task is cancelled."""


class ToolFailed(TarsError):
    """A tool answered with an error or not at all (told to the model as the tool's result)."""


class _Stream:
    """Publishes one turn's reply text as numbered LLM_STREAM chunks."""

    def __init__(self, service: Service, request: Inbound[LlmRequest], started: float) -> None:
        self.service, self.request, self.started = service, request, started
        self.seq = 0
        self.parts: list[str] = []
        self.first_ms: float | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    async def delta(self, text: str) -> None:
        if not text:
            return
        if self.first_ms is None:
            self.first_ms = (time.perf_counter() - self.started) * 1000
        self.parts.append(text)
        await self._send(LlmStreamChunk(seq=self.seq, delta=text))

    async def done(self) -> None:
        await self._send(LlmStreamChunk(seq=self.seq, delta="", done=True))

    async def _send(self, chunk: LlmStreamChunk) -> None:
        self.seq += 1
        await self.service.publish(T.LLM_STREAM, chunk, correlation_id=self.request.correlation_id,
                                   site_id=self.request.site_id, in_reply_to=self.request.envelope.id)


class LlmWorker:
    """Serves T.LLM_REQUEST one generation at a time (bounded queue) on ``model``."""

    def __init__(self, settings: Settings, service: Service, model: ChatModel,
                 character: Character, config: LLMConfig | None = None, *,
                 owns_model: bool = True, clock: Clock | None = None) -> None:
        self.settings, self.service, self.model = settings, service, model
        self.owns_model = owns_model
        self.clock: Clock = clock or SystemClock(settings.zone())
        self.config = config or settings.engine_config()
        self.builder = PromptBuilder.from_config(self.config, character)
        self.tool_calls: Requester[ToolResult] = Requester(
            service, T.TOOLS_CALL, T.TOOLS_RESULT, timeout_s=settings.tool_timeout_s)
        self.directory = ToolDirectory()
        self.turns = TurnTable()
        self.peers = Peers(service, "memory", "router")
        self.memory = MemoryClient(service, timeout_s=settings.rag_timeout_s, peers=self.peers)
        self.peers.listen(self.on_peer)
        embedded = self.config.provider == "llamacpp"
        self._prefill_stop = threading.Event()
        self._slots = asyncio.Semaphore(1 if embedded else self.config.openai.max_connections)
        self._waiting = 0
        self._warmed_key: tuple[str, tuple[str, ...]] | None = None
        self._dirty = asyncio.Event()
        self.warm_stats: dict[str, float] = {}
        self._connects = 0

    # -- wiring -------------------------------------------------------------------------------
    def install(self) -> None:
        s = self.service
        s.handle(T.LLM_REQUEST, self.on_request)
        s.handle(T.LLM_CANCEL, self.on_cancel)
        s.handle(T.TOOLS_REGISTRY, self.on_registry)
        s.handle(T.CHARACTER_CURRENT, self.on_character)
        s.bus.on_connect(self.on_connect)
        s.models = {"llm": self.model.name}
        s.capabilities = ["llm.request", "llm.stream", "llm.cancel", "tools", "rag"]
        s.on_start(self.start)
        s.add_cleanup(self.close)

    async def start(self) -> None:
        await self.memory.start(self.memory.query)
        await self.tool_calls.start()
        if self._warms():
            await asyncio.sleep(0.3)  # let retained registries and the character arrive
            await self.warm()
            self.service.spawn(self._rewarm(), name="llm-rewarm")

    async def on_peer(self, event: PeerEvent) -> None:
        """A router that went offline waits for nothing: its turns stop generating."""
        gone = event.status.instance if event.name == "router" and event.status.state == "offline" else None
        if gone and (n := self.turns.cancel_all(owner=gone)):
            log.warning("router %s went offline: cancelled %d turn(s)", gone, n)

    @property
    def memory_online(self) -> bool:
        """Whether the memory worker's last status says online (RAG is skipped otherwise)."""
        return self.memory.online

    async def on_connect(self) -> None:
        """Connected again after losing the broker: routers end the turns in flight (their
        streams and cancels may be lost), so generating them on is wasted."""
        self._connects += 1
        if self._connects > 1 and (n := self.turns.cancel_all()):
            log.warning("the broker was lost: cancelled %d turn(s) in flight", n)

    async def close(self) -> None:
        self.turns.cancel_all()
        await self.memory.close()
        await self.tool_calls.close()
        if self.owns_model:
            await self.model.aclose()

    # -- state from the bus -------------------------------------------------------------------
    async def on_registry(self, msg: Inbound[ToolRegistry]) -> None:
        if self.directory.update(msg.payload):
            log.info("tools now: %s", ", ".join(t.name for t in self.directory.tools()) or "none")
            self._dirty.set()

    async def on_character(self, msg: Inbound[Character]) -> None:
        character = with_defaults(msg.payload, self.builder.character)
        if character != self.builder.character:
            self.builder = dataclasses.replace(self.builder, character=character)
            log.info("persona updated: %s", character.name)
            self._dirty.set()

    async def on_cancel(self, msg: Inbound[LlmCancel]) -> None:
        running = self.turns.cancel(msg.correlation_id)
        log.info("cancel %s (%s)", msg.correlation_id, "running" if running else "not running")

    # -- one turn -----------------------------------------------------------------------------
    async def on_request(self, msg: Inbound[LlmRequest]) -> None:
        if msg.payload.prefill:
            return await self.prefill(msg.payload)
        turn = self.turns.open(msg.correlation_id, msg.envelope.source)
        try:
            response = await self.serve(msg, turn)
        finally:
            self.turns.close(turn)
        await self.service.reply(msg, T.LLM_RESPONSE, response)

    async def serve(self, msg: Inbound[LlmRequest], turn: Turn) -> LlmResponse:
        stream = _Stream(self.service, msg, time.perf_counter())
        request = msg.payload
        memories: list[str] = []
        timing: dict[str, float] = {}
        try:
            if request.use_rag:
                memories = await self.recall(msg, turn)
            timing["recall"] = stream.elapsed_ms()
            if self._waiting >= self.settings.queue_max and self._slots.locked():
                await self.service.report_error("request", "generation queue full", topic=msg.topic,
                                                correlation_id=msg.correlation_id)
                return LlmResponse(text=BUSY_TEXT, finish_reason="error", error="busy: queue full")
            self._waiting += 1
            self._prefill_stop.set()  # a prefill under way yields the model to this turn
            try:
                acquired = await acquire_unless_cancelled(self._slots, turn)
            finally:
                self._waiting -= 1
            if not acquired:
                raise TurnCancelled
            timing["slot"] = stream.elapsed_ms()
            try:
                result = await until_cancelled(turn, self._generate(msg, turn, memories, stream),
                                               grace_s=CANCEL_GRACE_S)
            finally:
                self._slots.release()
        except TurnCancelled:
            result = None
        except Exception as exc:
            return await self._failed(msg, stream, exc)
        await stream.done()
        if result is not None and result.steps:
            first = result.steps[0]
            log.info("turn %s: recall %.0f ms, model free %.0f ms, prompt %d tokens (%d cached), "
                     "first text %s ms, %d step(s)", msg.correlation_id[:8],
                     timing.get("recall", 0.0), timing.get("slot", 0.0), first.prompt_tokens,
                     first.cached_prompt_tokens,
                     "-" if stream.first_ms is None else f"{stream.first_ms:.0f}", len(result.steps))
        if result is None or result.cancelled:
            return LlmResponse(text=stream.text.strip(), finish_reason="cancelled",
                               memories=self.builder.memory_count(memories),
                               first_token_ms=stream.first_ms)
        return self._response(result, stream, memories)

    async def _generate(self, msg: Inbound[LlmRequest], turn: Turn, memories: list[str],
                        stream: _Stream) -> LoopResult:
        request = msg.payload
        history = [ModelMessage.from_chat(m) for m in request.history]
        tools = self.directory.tools() if request.use_tools else ()
        now = now_text(self.clock)
        messages = self.builder.build(request.text, history, memories, tools=tools, now=now)
        params = self._params(request)

        async def call_tool(name: str, arguments: dict[str, Any]) -> str:
            return await self.call_tool(msg, turn, name, arguments)

        loop = ToolLoop(self.model, call_tool, max_tool_steps=self.config.max_tool_steps, params=params)
        return await loop.run(messages, tools, on_delta=stream.delta, cancel=turn.token,
                              question=(request.text, f"Now: {now}"),  # neither is an answer
                              said=request.text)

    def _params(self, request: LlmRequest) -> SamplingParams:
        base = self.config.sampling.to_params()
        return dataclasses.replace(base, max_tokens=min(request.max_tokens, base.max_tokens),
                                   temperature=request.temperature)

    def _response(self, result: LoopResult, stream: _Stream, memories: list[str]) -> LlmResponse:
        steps = result.steps
        completion = sum(s.completion_tokens for s in steps)
        rated = [(s.completion_tokens, s.tokens_per_s) for s in steps if s.tokens_per_s]
        decode_s = sum(n / rate for n, rate in rated)
        tools = list(dict.fromkeys(i.call.name for i in result.invocations))
        return LlmResponse(
            text=result.reply.strip(), finish_reason=result.finish_reason, tools=tools,
            memories=self.builder.memory_count(memories), first_token_ms=stream.first_ms,
            tokens_per_s=(sum(n for n, _ in rated) / decode_s) if decode_s > 0 else None,
            prompt_tokens=sum(s.prompt_tokens for s in steps), completion_tokens=completion,
        )

    async def _failed(self, msg: Inbound[LlmRequest], stream: _Stream, exc: Exception) -> LlmResponse:
        if not isinstance(exc, LLMError):
            log.exception("generation failed")
        reason = f"{type(exc).__name__}: {exc}"
        kind: ErrorKind = "dependency" if isinstance(exc, ProviderError) else "handler"
        await self.service.report_error(kind, reason, topic=msg.topic, correlation_id=msg.correlation_id)
        await stream.done()
        return LlmResponse(text=ERROR_TEXT, finish_reason="error", error=reason[:500],
                           first_token_ms=stream.first_ms)

    # -- memory and tools over the bus --------------------------------------------------------
    async def recall(self, msg: Inbound[LlmRequest], turn: Turn) -> list[str]:
        """Memories relevant to the request; [] when memory is offline, slow or failing."""
        if not self.memory_online:
            return []
        # scoped to this site, and only what people said: never an assistant reply
        scope = MemoryFilter(site_id=msg.site_id or self.settings.site_id,
                             roles=list(RAG_ROLES))
        query = MemoryQuery(text=msg.payload.text, k=self.settings.rag_k,
                            threshold=self.settings.rag_min_score, filter=scope)
        try:
            results = await until_cancelled(turn, self.memory.search(
                query, correlation_id=msg.correlation_id, site_id=msg.site_id))
        except TarsError as exc:
            log.warning("answering without memory: %s", exc)
            return []
        if results.error:
            log.warning("answering without memory: %s", results.error)
            return []
        hits = [h for h in results.hits
                if h.score >= self.settings.rag_min_score and h.role in RAG_ROLES]
        return [h.text for h in hits]

    async def call_tool(self, msg: Inbound[LlmRequest], turn: Turn, name: str,
                        arguments: dict[str, Any]) -> str:
        """Call a tool over the bus; its error or silence raises ToolFailed."""
        try:
            reply = await until_cancelled(turn, self.tool_calls.request(
                ToolCall(name=name, arguments=arguments), correlation_id=msg.correlation_id,
                site_id=msg.site_id))
        except TarsError as exc:
            raise ToolFailed(f"the {name} tool did not answer in time") from exc
        if not reply.payload.ok:
            raise ToolFailed(reply.payload.error or f"the {name} tool failed")
        return reply.payload.content

    # -- warming the system + tools prefix ----------------------------------------------------
    def _warms(self) -> bool:
        return self.settings.warm_up and self.config.provider == "llamacpp"

    async def warm(self) -> None:
        """Evaluate system + tools once, so the next real turn finds them in the KV cache."""
        tools = self.directory.tools()
        key = (self.builder.system_text(tools), tuple(t.name for t in tools))
        if key == self._warmed_key:
            return
        messages = self.builder.build("Hello.", tools=tools)
        request = ChatRequest(tuple(messages), tools, SamplingParams(max_tokens=1))
        async with self._slots:
            started = time.perf_counter()
            try:
                if isinstance(self.model, PrefixWarming):
                    stats = await self.model.awarm(request)
                else:
                    _, result = await collect(self.model.stream(request, threading.Event()))
                    stats = {"prompt_tokens": result.prompt_tokens, "restored": 0.0}
            except (LLMError, OSError, RuntimeError) as exc:
                log.warning("warm-up failed: %s", exc)
                return
        self._warmed_key = key
        self.warm_stats = {**stats, "seconds": round(time.perf_counter() - started, 3)}
        how = "restored from the prefix cache" if stats.get("restored") else "evaluated"
        log.info("warmed the system+tools prefix: %d prompt tokens %s in %.2f s, %d tools",
                 stats["prompt_tokens"], how, self.warm_stats["seconds"], len(tools))

    async def prefill(self, request: LlmRequest) -> None:
        """Evaluate a conversation's system, tools and history while it waits for its next
        question (the router asks after each turn): that question's turn then evaluates only
        itself. Skipped while a turn generates, or when the model keeps no cache."""
        if not (self._warms() and isinstance(self.model, PrefixWarming)) or self._slots.locked():
            return
        tools = self.directory.tools() if request.use_tools else ()
        history = self.builder.trim_history([ModelMessage.from_chat(m) for m in request.history])
        messages = (ModelMessage(role="system", content=self.builder.system_text(tools)), *history)
        self._prefill_stop.clear()
        async with self._slots:
            try:
                stats = await self.model.aprefill(ChatRequest(messages, tools,
                                                              SamplingParams(max_tokens=1)),
                                                  self._prefill_stop)
            except (LLMError, OSError, RuntimeError) as exc:
                log.warning("prefill failed: %s", exc)
                return
        log.debug("prefilled %d of %d prompt tokens in %.2f s", stats["evaluated"],
                  stats["prompt_tokens"], stats["seconds"])

    async def _rewarm(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(0.5)  # registries of several providers tend to come together
            self._dirty.clear()
            await self.warm()


def _progress_logger() -> Any:
    last = [-1]

    def progress(done: int, total: int) -> None:
        tenth = done * 10 // max(total, 1)
        if tenth != last[0]:
            last[0] = tenth
            log.info("assembling the bundled model: %d%% (%d / %d MB)", tenth * 10, done >> 20, total >> 20)

    return progress


async def load_model(config: LLMConfig) -> ChatModel:
    """Build the configured provider off the event loop (assembling the GGUF on first run)."""
    executor = ModelExecutor("llm-load")
    started = time.perf_counter()
    try:
        model = await executor.run(create_chat_model, config, _progress_logger())
    except LLMError as exc:
        raise ConfigError(f"llm: cannot load the model: {exc}") from exc
    finally:
        executor.shutdown()
    log.info("model %s ready in %.1f s", model.name, time.perf_counter() - started)
    return model


async def build_worker(settings: Settings, service: Service, model: ChatModel | None = None,
                       clock: Clock | None = None) -> LlmWorker:
    """Load the persona and the model, then register the handlers on ``service``.

    A ``model`` given by the caller is used as is and not closed at stop; ``clock`` (default:
    the system clock in the configured zone) gives each turn's Now line."""
    character = await asyncio.to_thread(load_character_file, settings.character_file)
    config = settings.engine_config()
    worker = LlmWorker(settings, service, model or await load_model(config), character, config,
                       owns_model=model is None, clock=clock)
    worker.install()
    return worker


async def build(settings: Settings, service: Service) -> None:
    """The runner's build hook."""
    await build_worker(settings, service)
