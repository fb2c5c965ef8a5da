"""The warmed system + tools prefix of llama.cpp, saved to disk and restored on the next start.

Files (raw bytes and JSON, no pickle), in ``<cache_dir>/``:

    prefix-<key>.state   llama.cpp's own session file: the KV cache and the prompt tokens
    prefix-<key>.json    {"key", "model", "n_tokens", "llama_cpp"}

``key`` is a sha256 over the model's identity (the bundled model's sha256, or path, size and
mtime of a user GGUF), n_ctx, the llama-cpp-python version and the prompt tokens themselves, so
a changed model, prompt, persona or tool list never restores a stale state. Only the newest
few states per model are kept.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llama_cpp import Llama

log = logging.getLogger(__name__)


def prefix_key(model_id: str, n_ctx: int, tokens: Sequence[int]) -> str:
    """The cache key of a prompt prefix evaluated by one model."""
    import llama_cpp

    digest = hashlib.sha256(f"{model_id}\n{n_ctx}\n{llama_cpp.__version__}\n".encode())
    digest.update(b"".join(int(t).to_bytes(4, "little", signed=True) for t in tokens))
    return digest.hexdigest()[:32]


class PrefixCache:
    """Saves and restores the KV state of one prompt for one model (blocking calls)."""

    def __init__(self, directory: Path, model_id: str, keep: int = 3) -> None:
        self.directory = directory
        self.model_id = model_id
        self.keep = keep
        self._tag = hashlib.sha256(model_id.encode()).hexdigest()[:12]

    def _paths(self, key: str) -> tuple[Path, Path]:
        stem = self.directory / f"prefix-{self._tag}-{key}"
        return stem.with_suffix(".state"), stem.with_suffix(".json")

    def restore(self, llama: Llama, tokens: Sequence[int]) -> bool:
        """Load the saved state of exactly ``tokens``; False (nothing changed) if none fits."""
        key = prefix_key(self.model_id, llama.n_ctx(), tokens)
        state, meta = self._paths(key)
        try:
            info = json.loads(meta.read_text())
        except (OSError, ValueError):
            return False
        if info.get("key") != key or info.get("n_tokens") != len(tokens) or not state.is_file():
            return False
        import llama_cpp

        out = (llama_cpp.llama_token * llama.n_ctx())()
        count = ctypes.c_size_t(0)
        llama.n_tokens = 0  # what Llama.reset() does
        ok = llama_cpp.llama_state_load_file(llama.ctx, str(state).encode(), out, llama.n_ctx(),
                                             ctypes.byref(count))
        if not ok or list(out[: count.value]) != list(tokens):
            log.warning("saved prefix state %s unusable: evaluating the prompt", state.name)
            llama.n_tokens = 0  # what Llama.reset() does
            return False
        llama.input_ids[: len(tokens)] = tokens
        llama.n_tokens = len(tokens)
        return True

    def save(self, llama: Llama, tokens: Sequence[int]) -> Path | None:
        """Save the state after ``tokens`` were evaluated; the oldest states of this model go."""
        import llama_cpp

        key = prefix_key(self.model_id, llama.n_ctx(), tokens)
        state, meta = self._paths(key)
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = state.with_suffix(".state.tmp")
            array = (llama_cpp.llama_token * len(tokens))(*tokens)
            if not llama_cpp.llama_state_save_file(llama.ctx, str(tmp).encode(), array, len(tokens)):
                raise OSError("llama.cpp could not write the state")
            os.chmod(tmp, 0o600)
            os.replace(tmp, state)
            info = {"key": key, "model": self.model_id, "n_tokens": len(tokens),
                    "llama_cpp": llama_cpp.__version__}
            meta.write_text(json.dumps(info))
            os.chmod(meta, 0o600)
        except OSError as exc:
            log.warning("prefix state not saved (%s): the next start evaluates it again", exc)
            return None
        self._prune()
        return state

    def _prune(self) -> None:
        """Keep the ``keep`` newest states of this model (e.g. with and without the tools)."""
        states = sorted(self.directory.glob(f"prefix-{self._tag}-*.state"),
                        key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in states[self.keep:]:
            old.unlink(missing_ok=True)
            old.with_suffix(".json").unlink(missing_ok=True)
