"""The torch-free embedder: the real all-MiniLM-L6-v2 weights, checked on meaning and against
sentence-transformers where that is installed."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tars_memory.bert import NumpyBertEmbedder, make_embedder, supported
from tars_memory.config import EmbedderConfig
from tars_memory.embedder import DEFAULT_MODEL_NAME, SentenceTransformerEmbedder, _default_model_path
from tars_memory.errors import EmbedderError

pytestmark = pytest.mark.models
TEXTS = ["My sister is called Ada", "who is my sister", "The kettle is next to the kitchen window",
         "hi", "Ünïcödé, émojis 🙂 and 中文", "word " * 600]


@pytest.fixture(scope="module")
def numpy_embedder() -> NumpyBertEmbedder:
    emb = NumpyBertEmbedder()
    emb.load()
    return emb


def test_default_is_numpy_and_keeps_the_model_name() -> None:
    emb = make_embedder()
    assert isinstance(emb, NumpyBertEmbedder)
    assert emb.name == DEFAULT_MODEL_NAME  # stores built by sentence-transformers are not re-embedded


def test_vectors_are_unit_and_mean_something(numpy_embedder: NumpyBertEmbedder) -> None:
    vecs = numpy_embedder.embed(TEXTS)
    assert vecs.shape == (len(TEXTS), 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    sims = vecs @ vecs[1]
    assert int(np.argmax(sims[[0, 2, 3]])) == 0  # "who is my sister" is nearest to the sister fact
    assert numpy_embedder.embed([]).shape == (0, 384)


def test_batching_does_not_change_vectors(numpy_embedder: NumpyBertEmbedder) -> None:
    together = numpy_embedder.embed(TEXTS)
    alone = np.vstack([numpy_embedder.embed([t]) for t in TEXTS])
    assert np.abs(together - alone).max() < 1e-5


@pytest.mark.skipif(importlib.util.find_spec("sentence_transformers") is None,
                    reason="sentence-transformers (optional extra) is not installed")
def test_same_vectors_as_sentence_transformers(numpy_embedder: NumpyBertEmbedder) -> None:
    reference = SentenceTransformerEmbedder()
    reference.load()
    cos = (numpy_embedder.embed(TEXTS) * reference.embed(TEXTS)).sum(1)
    assert cos.min() > 0.99999


def test_other_models_go_to_sentence_transformers(tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(_default_model_path(), model)
    assert supported(model)
    cfg = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**cfg, "model_type": "mpnet"}))
    assert not supported(model)
    assert isinstance(make_embedder(EmbedderConfig(model=str(model))), SentenceTransformerEmbedder)
    assert isinstance(make_embedder(EmbedderConfig(model="some-hub-name")), SentenceTransformerEmbedder)


def test_broken_model_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(EmbedderError):
        NumpyBertEmbedder(directory=tmp_path).load()
