"""Phrase cache: a Synthesizer wrapper that keeps the audio of short, repeated sentences."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from tars_tts.synth import AudioChunk, Synthesizer, join_chunks

CacheKey = tuple[str, ...]


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    entries: int = 0


class PhraseCache:
    """Thread-safe LRU of synthesized phrases keyed by (voice settings..., text)."""

    def __init__(self, max_entries: int = 128, max_phrase_chars: int = 120) -> None:
        self.max_entries = max_entries
        self.max_phrase_chars = max_phrase_chars
        self._items: OrderedDict[CacheKey, AudioChunk] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = CacheStats()

    def cacheable(self, text: str) -> bool:
        return self.max_entries > 0 and len(text) <= self.max_phrase_chars

    def get(self, key: CacheKey) -> AudioChunk | None:
        with self._lock:
            chunk = self._items.get(key)
            if chunk is None:
                self.stats.misses += 1
                return None
            self._items.move_to_end(key)
            self.stats.hits += 1
            return chunk

    def contains(self, key: CacheKey) -> bool:
        """Whether ``key`` is cached (not counted as a hit or a miss)."""
        with self._lock:
            return key in self._items

    def put(self, key: CacheKey, chunk: AudioChunk) -> None:
        if self.max_entries <= 0:
            return
        chunk.samples.setflags(write=False)  # shared between replies: never mutated
        with self._lock:
            self._items[key] = chunk
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
            self.stats.entries = len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.stats.entries = 0

    def __len__(self) -> int:
        return len(self._items)


class CachingSynthesizer:
    """Serves short phrases from a PhraseCache, everything else from the wrapped synthesizer."""

    def __init__(self, inner: Synthesizer, cache: PhraseCache | None = None) -> None:
        self.inner = inner
        self.cache = cache if cache is not None else PhraseCache()

    @property
    def sample_rate(self) -> int:
        return self.inner.sample_rate

    @property
    def cache_key(self) -> tuple[str, ...]:
        return self.inner.cache_key

    def load(self) -> None:
        self.inner.load()

    def stream(self, text: str) -> Iterator[AudioChunk]:
        if not self.cache.cacheable(text):
            yield from self.inner.stream(text)
            return
        key = (*self.inner.cache_key, text)
        hit = self.cache.get(key)
        if hit is not None:
            yield hit
            return
        yield self._fill(key, text)

    def warm(self, text: str) -> bool:
        """Synthesize ``text`` into the cache now unless it is there already (blocking); False
        when it is too long to be cached."""
        if not self.cache.cacheable(text):
            return False
        key = (*self.inner.cache_key, text)
        if not self.cache.contains(key):
            self._fill(key, text)
        return True

    def _fill(self, key: CacheKey, text: str) -> AudioChunk:
        whole = join_chunks(list(self.inner.stream(text)), self.inner.sample_rate)
        self.cache.put(key, whole)
        return whole


__all__ = ["CacheStats", "CachingSynthesizer", "PhraseCache"]
