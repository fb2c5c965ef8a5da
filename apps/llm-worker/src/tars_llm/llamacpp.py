"""Local chat model on llama.cpp, reusing the KV cache of the shared prompt prefix."""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tars.contracts.tools import ToolSpec
from tars.runtime import ModelExecutor
from tars_llm.assets import ASSETS, ProgressCallback, default_cache_dir, ensure_model
from tars_llm.config import LlamaCppConfig
from tars_llm.errors import ModelLoadError, PromptTooLongError
from tars_llm.model import stream_from_thread
from tars_llm.prefixcache import PrefixCache
from tars_llm.rules import CALL_FORMAT, tool_rules
from tars_llm.stops import StopScanner
from tars_llm.toolcalls import parse_tool_calls
from tars_llm.types import (
    CancelToken,
    ChatEvent,
    ChatRequest,
    ChatResult,
    FinishReason,
    JSONDict,
    ModelMessage,
    TextDelta,
)

if TYPE_CHECKING:
    from llama_cpp import Llama

log = logging.getLogger(__name__)

Formatter = Callable[[Sequence[ModelMessage], Sequence[ToolSpec]], tuple[str, list[str]]]


@dataclass(slots=True)
class _Run:
    """Counters of one generation."""

    started: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    first_text_at: float | None = None
    tokens: int = 0
    text: list[str] = field(default_factory=list)


PREFILL_STEP = 32
"""Tokens a prefill evaluates between checks for a turn waiting for the model."""


class LlamaCppChatModel:
    """A GGUF model run by llama-cpp-python in the caller's thread.

    One ``Llama`` object lives as long as this model, so the tokens of the previous prompt stay
    in its KV cache: llama-cpp-python re-evaluates only the part of a new prompt that differs
    from the longest common prefix (system prompt + tools + unchanged history).
    ``generate`` blocks; ``stream`` runs it on a private single-thread executor.
    """

    def __init__(self, llama: Llama, *, name: str, formatter: Formatter | None = None,
                 nice: int = 0, prefix_cache: PrefixCache | None = None) -> None:
        self._llama = llama
        self._name = name
        self._format = formatter or _template_formatter(llama, tools_in_template=False)
        self._lock = threading.Lock()
        # llama.cpp's compute threads are started from this thread and inherit its nice value
        self._executor = ModelExecutor("llm", initializer=functools.partial(lower_priority, nice))
        self.prefix_cache = prefix_cache

    @classmethod
    def load(
        cls, config: LlamaCppConfig | None = None, progress: ProgressCallback | None = None
    ) -> LlamaCppChatModel:
        """Load the configured GGUF (assembling the bundled one first if needed); blocking.

        Raises ModelAssetError for a missing/corrupt bundled model, ModelLoadError otherwise.
        """
        config = config or LlamaCppConfig()
        asset = ASSETS[config.model]
        path = config.model_path or ensure_model(
            asset, cache_dir=config.cache_dir, verify=config.verify_on_start, progress=progress
        )
        if not Path(path).is_file():
            raise ModelLoadError(f"model file not found: {path}")
        from llama_cpp import Llama  # heavy import, only when this provider is chosen

        try:
            llama = Llama(
                model_path=str(path),
                n_ctx=config.n_ctx,
                n_threads=config.n_threads or default_threads(),
                n_batch=config.n_batch,
                seed=config.seed,
                chat_format=config.chat_format,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"llama.cpp could not load {path}: {exc}") from exc
        if config.chat_format:
            formatter: Formatter = _named_formatter(config.chat_format)
        else:
            formatter = _template_formatter(llama, tools_in_template=config.tool_prompt == "template")
        cache = None
        if config.prefix_cache:
            model_id = f"sha256:{asset.sha256}" if config.model_path is None else _file_id(Path(path))
            cache = PrefixCache(config.prefix_cache_dir or default_cache_dir() / "prefix", model_id)
        return cls(llama, name=f"llamacpp:{Path(path).name}", formatter=formatter,
                   nice=config.nice, prefix_cache=cache)

    @property
    def name(self) -> str:
        """Provider and model file name."""
        return self._name

    def stream(
        self, request: ChatRequest, cancel: CancelToken
    ) -> AsyncGenerator[ChatEvent, None]:
        """Async view of ``generate``, run on this model's single-thread executor."""
        return stream_from_thread(self.generate, request, cancel, self._executor)

    async def aclose(self) -> None:
        """Free the model once a running generation has ended, then stop the executor."""
        await self._executor.run(self._close)
        self._executor.shutdown()

    def _close(self) -> None:
        with self._lock:
            self._llama.close()

    def warm(self, request: ChatRequest) -> dict[str, float]:
        """Put the prompt of ``request`` in the KV cache: restored from the prefix cache when
        it holds exactly these tokens for this model, else evaluated (and then saved)."""
        with self._lock:
            prompt, _ = self._format(request.messages, request.tools)
            tokens = self._tokenize(prompt)
            started = time.perf_counter()
            cache = self.prefix_cache
            restored = cache is not None and cache.restore(self._llama, tokens)
            if not restored:
                self._llama.n_tokens = 0  # what Llama.reset() does
                self._llama.eval(tokens)
                if cache is not None:
                    cache.save(self._llama, tokens)
            return {"prompt_tokens": len(tokens), "restored": float(restored),
                    "seconds": round(time.perf_counter() - started, 3)}

    async def awarm(self, request: ChatRequest) -> dict[str, float]:
        """``warm`` on this model's thread (not on the event loop)."""
        return await self._executor.run(self.warm, request)

    def prefill(self, request: ChatRequest, stop: CancelToken | None = None) -> dict[str, float]:
        """Evaluate the part of ``request``'s prompt after what the KV cache already holds (the
        conversation so far, ahead of its next question): that question's turn then starts from
        here, as ``generate`` reuses the longest common prefix. Background work: on one thread
        (the others stay free for speech), in steps of ``PREFILL_STEP`` tokens, ending early
        once ``stop`` is set (a turn waits for the model; what was evaluated still counts)."""
        with self._lock:
            llama = self._llama
            prompt, _ = self._format(request.messages, request.tools)
            tokens = self._tokenize(prompt)
            started = time.perf_counter()
            cached = llama.longest_token_prefix(llama.input_ids[: llama.n_tokens].tolist(), tokens)
            todo = tokens[cached:] if len(tokens) < llama.n_ctx() - 8 else []
            done = 0
            if todo:
                threads = llama.context_params.n_threads, llama.context_params.n_threads_batch
                llama._ctx.set_n_threads(1, 1)
                try:
                    llama.n_tokens = cached  # eval drops the cache after this point, then appends
                    while done < len(todo) and not (stop is not None and stop.is_set()):
                        step = todo[done:done + PREFILL_STEP]
                        llama.eval(step)
                        done += len(step)
                finally:
                    llama._ctx.set_n_threads(*threads)
            return {"prompt_tokens": len(tokens), "evaluated": done,
                    "seconds": round(time.perf_counter() - started, 3)}

    async def aprefill(self, request: ChatRequest, stop: CancelToken | None = None) -> dict[str, float]:
        """``prefill`` on this model's thread (not on the event loop)."""
        return await self._executor.run(self.prefill, request, stop)

    def count_tokens(self, messages: Sequence[ModelMessage], tools: Sequence[ToolSpec] = ()) -> int:
        """Return the prompt length in tokens of a conversation."""
        prompt, _ = self._format(messages, tools)
        return len(self._tokenize(prompt))

    def generate(self, request: ChatRequest, cancel: CancelToken) -> Iterator[ChatEvent]:
        """Stream text deltas then a ChatResult; blocks; checks ``cancel`` between tokens.

        Raises PromptTooLongError if the prompt leaves no room for the reply.
        """
        asked = time.perf_counter()
        with self._lock:
            waited = time.perf_counter() - asked
            if waited > 0.05:
                log.info("a turn waited %.0f ms for the model (a prefill step)", waited * 1000)
            yield from self._generate(request, cancel)

    def _generate(self, request: ChatRequest, cancel: CancelToken) -> Iterator[ChatEvent]:
        llama, params = self._llama, request.params
        prompt, stops = self._format(request.messages, request.tools)
        tokens = self._tokenize(prompt)
        room = llama.n_ctx() - len(tokens)
        if room < 8:
            raise PromptTooLongError(f"prompt of {len(tokens)} tokens exceeds n_ctx={llama.n_ctx()}")
        max_tokens = min(params.max_tokens, room)
        cached = llama.longest_token_prefix(llama.input_ids[: llama.n_tokens].tolist(), tokens)
        if params.seed is not None:
            llama.set_seed(params.seed)
        scanner = StopScanner([*stops, *params.stop])
        run = _Run()
        finish: FinishReason = "length"
        generator = llama.generate(
            tokens,
            top_k=params.top_k,
            top_p=params.top_p,
            temp=params.temperature,
            repeat_penalty=params.repeat_penalty,
            reset=True,
        )
        try:
            for token in generator:
                if run.first_token_at is None:
                    run.first_token_at = time.perf_counter()
                if cancel.is_set():
                    finish = "cancelled"
                    break
                if _is_eog(llama, token):
                    finish = "stop"
                    break
                run.tokens += 1
                delta = scanner.feed(llama.detokenize([token]))
                if delta:
                    yield self._emit(run, delta)
                if scanner.stopped:
                    finish = "stop"
                    break
                if run.tokens >= max_tokens:
                    break
        finally:
            generator.close()
        if rest := scanner.flush():
            yield self._emit(run, rest)
        yield self._result(request, run, finish, prompt_tokens=len(tokens), cached=cached)

    @staticmethod
    def _emit(run: _Run, text: str) -> TextDelta:
        if run.first_text_at is None:
            run.first_text_at = time.perf_counter()
        run.text.append(text)
        return TextDelta(text)

    def _tokenize(self, prompt: str) -> list[int]:
        return list(self._llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    @staticmethod
    def _result(
        request: ChatRequest, run: _Run, finish: FinishReason, *, prompt_tokens: int, cached: int
    ) -> ChatResult:
        end = time.perf_counter()
        text = "".join(run.text)
        calls = tuple(parse_tool_calls(text, request.tool_names)) if finish != "cancelled" else ()
        reason: FinishReason = "tool_calls" if calls else finish
        first = run.first_token_at
        decode_s = end - first if first is not None else 0.0
        return ChatResult(
            text=text,
            finish_reason=reason,
            tool_calls=calls,
            prompt_tokens=prompt_tokens,
            completion_tokens=run.tokens,
            cached_prompt_tokens=cached,
            time_to_first_token_s=(run.first_text_at - run.started) if run.first_text_at else None,
            prompt_eval_s=(first - run.started) if first is not None else None,
            elapsed_s=end - run.started,
            tokens_per_s=(run.tokens - 1) / decode_s if run.tokens > 1 and decode_s > 0 else None,
        )


def default_threads() -> int:
    """All cores up to 2; with more, one is left to speech recognition and synthesis."""
    cores = os.cpu_count() or 2
    return cores if cores <= 2 else cores - 1


def lower_priority(nice: int) -> None:
    """Raise the calling thread's nice value by ``nice`` (Linux: per thread; 0 = unchanged)."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError as exc:  # pragma: no cover - refused by the system
        log.warning("could not lower the llm thread's priority: %s", exc)


def _file_id(path: Path) -> str:
    st = path.stat()
    return f"file:{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def _is_eog(llama: Llama, token: int) -> bool:
    """True for end-of-generation tokens (``<|im_end|>``, ``<|endoftext|>``, EOS...)."""
    import llama_cpp

    return bool(llama_cpp.llama_vocab_is_eog(llama._model.vocab, token))


def _template_formatter(llama: Llama, *, tools_in_template: bool = True) -> Formatter:
    """Format prompts with the Jinja chat template stored in the GGUF file.

    ``tools_in_template=False``: the template gets no tools (the system text already lists
    them compactly, see tars_llm.rules), so its long JSON-schema block is left out."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    metadata: dict[str, str] = dict(llama.metadata)
    template = metadata.get("tokenizer.chat_template")
    if not template:
        return _named_formatter("chatml")
    eos_id, bos_id = llama.token_eos(), llama.token_bos()
    eos = llama._model.token_get_text(eos_id) if eos_id >= 0 else ""
    bos = llama._model.token_get_text(bos_id) if bos_id >= 0 else ""
    jinja = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)

    def fmt(messages: Sequence[ModelMessage], tools: Sequence[ToolSpec]) -> tuple[str, list[str]]:
        if tools_in_template:
            dicts: list[Any] = [m.to_openai(arguments_as_json=False) for m in messages]
        else:  # results as plain text; the model's own call JSON is left out (it copies it)
            dicts = [_plain_message(m) for m in messages if not m.tool_calls]
            if tools:
                dicts = _with_rules(dicts, tools)
        tool_dicts: list[Any] | None = [t.to_openai() for t in tools] or None
        response = jinja(messages=dicts, tools=tool_dicts if tools_in_template else None)
        stop = response.stop
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        return response.prompt, stops

    return fmt


def _with_rules(dicts: list[Any], tools: Sequence[ToolSpec]) -> list[Any]:
    """Messages whose system text lists ``tools`` (added unless the prompt builder did)."""
    if dicts and dicts[0]["role"] == "system":
        if CALL_FORMAT in str(dicts[0]["content"]):
            return dicts
        first = {**dicts[0], "content": f"{dicts[0]['content']}\n{tool_rules(tools)}"}
        return [first, *dicts[1:]]
    return [{"role": "system", "content": tool_rules(tools)}, *dicts]


def _named_formatter(chat_format: str) -> Formatter:
    """Format prompts with one of llama-cpp-python's named formats; tools go in the system text."""
    from llama_cpp import llama_chat_format

    func = getattr(llama_chat_format, "format_" + chat_format.replace("-", "_"), None)
    if func is None:
        raise ModelLoadError(f"unknown chat_format {chat_format!r}")

    def fmt(messages: Sequence[ModelMessage], tools: Sequence[ToolSpec]) -> tuple[str, list[str]]:
        dicts = [_plain_message(m) for m in messages]
        if tools:
            dicts = _with_tool_instructions(dicts, tools)
        response = func(messages=dicts)
        stop = response.stop
        return response.prompt, [stop] if isinstance(stop, str) else list(stop or [])

    return fmt


def _plain_message(message: ModelMessage) -> JSONDict:
    """A message for formats without tool roles: tool calls and results become text."""
    if message.role == "tool":
        return {"role": "user", "content": f"The {message.name or 'tool'} tool returned: {message.content}"}
    content = message.content
    for call in message.tool_calls:
        content += json.dumps({"name": call.name, "arguments": call.arguments})
    return {"role": message.role, "content": content}


def _with_tool_instructions(dicts: list[JSONDict], tools: Sequence[ToolSpec]) -> list[JSONDict]:
    listing = json.dumps([t.to_openai()["function"] for t in tools])
    note = (
        "\n\nYou can call these tools: " + listing + "\nTo call one, answer only with JSON "
        '{"name": <tool name>, "arguments": {...}}.'
    )
    if dicts and dicts[0]["role"] == "system":
        return [{"role": "system", "content": dicts[0]["content"] + note}, *dicts[1:]]
    return [{"role": "system", "content": note.strip()}, *dicts]
