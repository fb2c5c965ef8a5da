"""A torch-free sentence embedder: BERT-family sentence-transformers models run in numpy."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .config import EmbedderConfig
from .embedder import DEFAULT_MODEL_NAME, Embedder, SentenceTransformerEmbedder, Vectors, normalize_rows
from .errors import EmbedderError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

F32 = npt.NDArray[np.float32]
_SQRT_HALF = np.float32(0.7071067811865476)


def _gelu(x: F32) -> F32:
    """Exact (erf) GELU; erf to ~1.5e-7 (Abramowitz & Stegun 7.1.26), computed in place.

    gelu(x) = 0.5 * (x + |x| * erf(|x| / sqrt 2)), so the sign of x never has to be taken.
    """
    ax = np.abs(x)
    a = ax * _SQRT_HALF
    t = a * np.float32(0.3275911)
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * np.float32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(c)
        poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    np.subtract(1.0, poly, out=poly)  # erf(|x| / sqrt 2)
    poly *= ax
    poly += x
    poly *= 0.5
    return poly


def _layer_norm(x: F32, w: F32, b: F32, eps: float) -> F32:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out: F32 = (x - mean) / np.sqrt(var + eps) * w + b
    return out


@dataclass(frozen=True)
class BertShape:
    """The few numbers of a BERT config.json that the forward pass needs."""

    layers: int
    heads: int
    eps: float
    max_len: int


def supported(directory: Path) -> bool:
    """True when ``directory`` holds a BERT sentence-transformers model with mean pooling."""
    try:
        cfg = json.loads((directory / "config.json").read_text())
        pooling = json.loads((directory / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return (cfg.get("model_type") == "bert" and cfg.get("hidden_act") == "gelu"
            and cfg.get("position_embedding_type", "absolute") == "absolute"
            and bool(pooling.get("pooling_mode_mean_tokens"))
            and not any(v for k, v in pooling.items() if k.startswith("pooling_mode_")
                        and k != "pooling_mode_mean_tokens" and v is True)
            and (directory / "model.safetensors").is_file() and (directory / "tokenizer.json").is_file())


class NumpyBertEmbedder:
    """all-MiniLM-L6-v2 (or another BERT sentence model) without torch: same vectors, ~60 MB RSS."""

    def __init__(self, config: EmbedderConfig | None = None, directory: Path | None = None) -> None:
        self._config = config or EmbedderConfig()
        self._directory = directory
        self._weights: dict[str, F32] = {}
        self._shape: BertShape | None = None
        self._tokenizer: Tokenizer | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._config.model or DEFAULT_MODEL_NAME

    @property
    def dim(self) -> int:
        if self._shape is None:
            raise EmbedderError("embedder not loaded: call load() first")
        return int(self._weights["embeddings.word_embeddings.weight"].shape[1])

    @property
    def loaded(self) -> bool:
        return self._shape is not None

    def load(self) -> None:
        with self._lock:
            if self._shape is not None:
                return
            directory = self._directory or Path(self._config.model or _default_dir())
            try:
                from safetensors.numpy import load_file
                from tokenizers import Tokenizer

                cfg = json.loads((directory / "config.json").read_text())
                st_cfg = directory / "sentence_bert_config.json"
                max_len = int(json.loads(st_cfg.read_text()).get("max_seq_length", 512)) \
                    if st_cfg.is_file() else int(cfg["max_position_embeddings"])
                raw: dict[str, Any] = load_file(str(directory / "model.safetensors"))
                tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
            except Exception as exc:  # foreign errors converted at the edge
                raise EmbedderError(f"cannot load embedding model {str(directory)!r}: {exc}") from exc
            self._weights = {k.removeprefix("bert."): np.ascontiguousarray(v, dtype=np.float32)
                             for k, v in raw.items() if v.dtype.kind == "f"}
            if "embeddings.word_embeddings.weight" not in self._weights:
                raise EmbedderError(f"{directory}: not a BERT checkpoint")
            tokenizer.enable_truncation(max_length=max_len)
            tokenizer.no_padding()
            self._tokenizer = tokenizer
            self._shape = BertShape(int(cfg["num_hidden_layers"]), int(cfg["num_attention_heads"]),
                                    float(cfg.get("layer_norm_eps", 1e-12)), max_len)

    def embed(self, texts: Sequence[str]) -> Vectors:
        if self._shape is None or self._tokenizer is None:
            raise EmbedderError("embedder not loaded: call load() first")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            encodings = self._tokenizer.encode_batch(list(texts))
        except Exception as exc:
            raise EmbedderError(f"embedding failed: {exc}") from exc
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # similar lengths together: little padding per batch
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        step = self._config.batch_size
        for start in range(0, len(order), step):
            idx = order[start:start + step]
            out[idx] = self._forward([encodings[i].ids for i in idx])
        return normalize_rows(out)

    def _forward(self, batch: list[list[int]]) -> F32:
        """Mean-pooled last hidden states of a batch of token id lists."""
        assert self._shape is not None
        w, shape = self._weights, self._shape
        n, length = len(batch), max(len(ids) for ids in batch)
        ids = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for row, seq in enumerate(batch):
            ids[row, :len(seq)] = seq
            mask[row, :len(seq)] = 1.0
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], shape.eps)
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for layer in range(shape.layers):
            x = self._layer(x, bias, f"encoder.layer.{layer}.")
        pooled: F32 = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled

    def _layer(self, x: F32, bias: F32, p: str) -> F32:
        assert self._shape is not None
        w, heads, eps = self._weights, self._shape.heads, self._shape.eps
        n, length, hidden = x.shape
        hd = hidden // heads

        def dense(v: F32, name: str) -> F32:
            weight = w[f"{p}{name}.weight"]
            flat = v.reshape(-1, v.shape[-1]) @ weight.T  # one 2-D GEMM, not a loop over rows
            out: F32 = (flat + w[f"{p}{name}.bias"]).reshape(*v.shape[:-1], weight.shape[0])
            return out

        def split(v: F32) -> F32:
            out: F32 = v.reshape(n, length, heads, hd).transpose(0, 2, 1, 3)
            return out

        q = split(dense(x, "attention.self.query"))
        k = split(dense(x, "attention.self.key"))
        v = split(dense(x, "attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(hd)) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(n, length, hidden)
        x = _layer_norm(x + dense(ctx, "attention.output.dense"), w[f"{p}attention.output.LayerNorm.weight"],
                        w[f"{p}attention.output.LayerNorm.bias"], eps)
        h = dense(_gelu(dense(x, "intermediate.dense")), "output.dense")
        return _layer_norm(x + h, w[f"{p}output.LayerNorm.weight"], w[f"{p}output.LayerNorm.bias"], eps)


def _default_dir() -> str:
    from .embedder import _default_model_path

    return _default_model_path()


def make_embedder(config: EmbedderConfig | None = None) -> Embedder:
    """The numpy embedder for BERT mean-pooling models (the default); sentence-transformers
    (torch, an optional extra) for anything else."""
    config = config or EmbedderConfig()
    directory = Path(config.model) if config.model else Path(_default_dir())
    if supported(directory):
        return NumpyBertEmbedder(config, directory)
    return SentenceTransformerEmbedder(config)
